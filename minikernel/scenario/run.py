"""Running a scenario: a fresh machine, steps in file order, paused ones at their probe points.

Model-only.  ``ScenarioRun`` boots the machine, creates the tasks, and runs
each step through its op's implementation (``ops.REGISTRY``).  A paused step
installs a callback for its probe point (``Machine.observers.probing``); when its task
reaches the hit-th firing, the nested steps run there (on other CPUs), those
that would sleep on a lock the paused operation holds (``locks.blocked``, or
a FolioLocked / MigrationEntryWait raised by the step) are retried after it
returns.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from minikernel.errors import UserError
from minikernel.hw.mmu import PAGE_SIZE
from minikernel.mm.memory import SegmentationFault
from minikernel.mm.mm_types import FolioLocked
from minikernel.scenario.locks import blocked, locked_tables
from minikernel.scenario.model import Infeasible, Scenario, ScenarioResult, Step
from minikernel.scenario.ops import REGISTRY


def run_scenario(sc: Scenario, *, cfg: Any = None, mem_pages: int | None = None) -> ScenarioResult:
    """Boot a fresh machine for *sc*, run its steps, and return what happened.

    *cfg* may pass an already loaded KernelConfig (the explorer reuses one);
    *mem_pages* shrinks simulated RAM for fast property tests.
    Raises UserError for a step that cannot run as written, Infeasible for
    an order the explorer generated that cannot happen.
    """
    run = ScenarioRun(sc, cfg, mem_pages)
    run.setup()
    for step in sc.steps:
        run.step(step)
    san = run.m.sanitizer
    return ScenarioResult(sc, run.log, list(san.violations) if san else [], run.failures,
                          san is not None)


def override_config(sc: Scenario, extra: list[str]) -> Scenario:
    """*sc* with ``--set`` assignments laid over its machine.config.

    An override replaces the file's assignment of the same symbol, and one
    that selects a member of a Kconfig choice (``MODEL_ARM64_BATCHED_TLB_6_6=y``)
    drops the file's assignments to the other members of that choice.
    """
    if not extra:
        return sc
    from minikernel.kconfig import parse_tree, renamed_symbol
    kconf = parse_tree(sc.arch)

    def sym(a: str) -> str:
        n = a.split("=", 1)[0].strip()
        return renamed_symbol(n[len("CONFIG_"):] if n.startswith("CONFIG_") else n)

    drop = set()
    for a in extra:
        n = sym(a)
        drop.add(n)
        ks = kconf.syms.get(n)
        if ks is not None and ks.choice is not None:
            drop.update(c.name for c in ks.choice.syms)
    return replace(sc, config=[a for a in sc.config if sym(a) not in drop] + list(extra))


def machine_config(sc: Scenario):
    """The KernelConfig a scenario runs on: arch defconfig + its assignments (+ the sanitizer)."""
    from minikernel.kconfig import load_kernel_config
    sets = list(sc.config)
    if sc.sanitizer:
        sets.append("DEBUG_TLB_SANITIZER=y")
    try:
        return load_kernel_config(sc.arch, sets=sets)
    except UserError as e:
        raise UserError(f"{sc.path}: machine.config: {e}") from None


class ScenarioRun:
    """One run of a scenario on a fresh machine."""

    def __init__(self, sc: Scenario, cfg: Any, mem_pages: int | None) -> None:
        from minikernel.machine import Machine
        self.sc = sc
        cfg = cfg if cfg is not None else machine_config(sc)
        profile = _profile(sc)
        if mem_pages is not None:
            profile = replace(profile, mem_pages=mem_pages)
        if cfg.NR_CPUS < profile.cpus:
            raise UserError(f"{sc.path}: machine.cpus: {profile.cpus} CPUs but "
                            f"CONFIG_NR_CPUS={cfg.NR_CPUS}: expected at most {cfg.NR_CPUS} (or "
                            "raise NR_CPUS in machine.config)")
        self.m = Machine(cfg, profile)
        self.procs: dict[str, Any] = {}
        self.regions: dict[str, tuple[int, int]] = {}
        self.log: list[str] = []
        self.failures: list[str] = []
        self.paused: set[int] = set()      # CPUs inside a paused operation
        self.held: tuple | None = None     # (mm, "read"/"write"/None, PTL held) of the paused op
        self.nwrites = 0

    def setup(self) -> None:
        from minikernel.user import Process
        first: dict[str, Any] = {}
        for t in self.sc.tasks:
            if t.process not in first:
                p = Process.spawn(self.m, t.name, t.cpu)
                first[t.process] = p
            else:
                p = first[t.process].clone_thread(t.cpu, t.name)
            self.procs[t.name] = p

    def step(self, st: Step, nested: bool = False) -> None:
        p = self.procs.get(st.task)
        if p is None:
            raise Infeasible(f"{st.where}: task {st.task!r} does not exist yet")
        if p.task.cpu.id in self.paused:
            raise Infeasible(f"{st.where}: {st.task} runs on CPU{p.task.cpu.id}, which is "
                             "inside the paused operation")
        if REGISTRY[st.op].footprint == "task" and st.args["cpu"] in self.paused:
            raise Infeasible(f"{st.where}: cannot move {st.task} onto CPU{st.args['cpu']}, "
                             "which is inside the paused operation")
        if st.pause_at is None:
            out = self._do(p, st)
            self.log.append(f"{'    ' if nested else ''}{st.describe()} -> {out}")
            return
        self._paused_step(p, st)

    def _paused_step(self, p: Any, st: Step) -> None:
        """Run *st* with its nested steps at the hit-th time its task reaches st.pause_at."""
        fired: list[bool] = []
        deferred: list[Step] = []
        me = p.task
        hits = 0

        def at_probe(current, **ctx):
            nonlocal hits
            if current is not me or fired:
                return
            hits += 1
            if hits != st.hit:
                return
            fired.append(True)
            self.log.append(f"{st.describe()} -- paused")
            self.paused.add(me.cpu.id)
            self.held = (me.mm, REGISTRY[st.op].held_at_probes, locked_tables(probe, ctx))
            try:
                deferred.extend(self._nested(st.during))
            finally:
                self.paused.discard(me.cpu.id)
                self.held = None

        probe = st.pause_at
        assert probe is not None
        with self.m.observers.probing(probe, at_probe):
            out = self._do(p, st)
        self.log.append(f"{st.task}: {st.op} resumed and returned -> {out}")
        if not fired:
            self.failures.append(f"{st.where}: {st.task}'s {st.op} never reached "
                                 f"{st.pause_at} (hit {st.hit}); its nested steps did not run")
        for d in deferred:
            self.step(d, nested=True)

    def _nested(self, during: list[Step]) -> list[Step]:
        """Run the nested steps inside the pause; return those that sleep until it returns."""
        deferred: list[Step] = []
        asleep: set[str] = set()        # tasks sleeping on a lock: their later steps wait
        for d in during:
            why = ("its task is still asleep in an earlier step" if d.task in asleep
                   else blocked(self, d))
            if why is None:
                try:
                    self.step(d, nested=True)
                    continue
                except FolioLocked as e:
                    self.log.append(f"    {d.describe()} -> blocked: {e} (retried after resume)")
            else:
                self.log.append(f"    {d.describe()} -> blocked: {why} (retried after resume)")
            deferred.append(d)
            asleep.add(d.task)
        return deferred

    def _do(self, p, st: Step) -> str:
        """One operation, through its op's implementation; returns its outcome as text."""
        try:
            return REGISTRY[st.op].run(self, p, st)
        except SegmentationFault:
            return "SIGSEGV"
        except ValueError as e:
            return f"EINVAL ({e})"
        except OSError as e:                 # ENOSYS: a migration syscall without CONFIG_MIGRATION
            return f"ENOSYS ({e.strerror})"

    # Helpers the op implementations use.

    def spawn(self, st: Step, fn) -> str:
        """fork/clone: the new task, named by the step's ``child``, on its ``cpu``."""
        a = st.args
        if a["child"] in self.procs:
            raise UserError(f"{self.sc.path}: {st.where}.child: task "
                            f"{a['child']!r} already exists")
        self.procs[a["child"]] = fn(a["cpu"], a["child"])
        return f"{a['child']} on CPU{a['cpu']}"

    def addr_of(self, st: Step) -> int:
        base, pages = self._region(st)
        page = st.args.get("page", 0)
        if page >= pages:
            raise UserError(f"{self.sc.path}: {st.where}.page: {page} is past the end of "
                            f"{st.args['addr']!r} ({pages} pages)")
        return base + page * PAGE_SIZE

    def range_of(self, st: Step) -> tuple[int, int]:
        base, pages = self._region(st)
        return base, st.args.get("pages", pages)

    def _region(self, st: Step) -> tuple[int, int]:
        name = st.args["addr"]
        r = self.regions.get(name)
        if r is None:
            raise Infeasible(f"{st.where}.addr: no mapping named {name!r} yet")
        return r

    # The names older callers (tests, the explorer) use.
    _addr = addr_of
    _range = range_of

    def _blocked(self, d: Step) -> str | None:
        return blocked(self, d)


def _profile(sc: Scenario):
    from minikernel.profile import default_profile
    if sc.profile is None:
        return default_profile(sc.arch, sc.cpus)
    from minikernel import profile as prof
    loader = getattr(prof, "load_profile", None)
    if loader is None:
        raise UserError(f"{sc.path}: machine.profile: machine profiles are not available in "
                        "this build; expected machine.cpus instead")
    try:
        p = loader(sc.profile)
    except UserError as e:      # name the file and key the profile came from
        raise UserError(f"{sc.path}: machine.profile = {sc.profile!r}: {e}") from None
    if p.arch is not None and p.arch != sc.arch:
        raise UserError(f"{sc.path}: machine.profile: {sc.profile!r} is an {p.arch} machine, "
                        f"expected one for machine.arch = {sc.arch!r}")
    try:
        p.check_arch(sc.arch)   # a profile for any arch: riscv needs its [riscv] table
    except UserError as e:
        raise UserError(f"{sc.path}: machine.profile = {sc.profile!r}: {e}") from None
    return p if sc.cpus is None else p.with_cpus(sc.cpus)
