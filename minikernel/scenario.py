"""Scenario files: a machine, tasks and an ordered list of steps, some paused mid-kernel.

Model-only.  A scenario (TOML; the format is documented in README.md) names
a machine (arch, CPUs or profile, Kconfig assignments over the arch
defconfig), tasks (name, CPU, process -- tasks of one process are threads
sharing its mm), and steps: one task doing one operation.  A step may be
*paused*: its operation (a reclaim or a syscall) stops at a named probe point
-- e.g. right after try_to_unmap_one() cleared a PTE and deferred its flush --
while a nested list of steps runs on other CPUs, then resumes.  The file
states what the TLB sanitizer must find: ``expect = "clean"`` or a list of
violation kinds.

Invariants this module owns:
  - Loading never runs anything; every problem with the file is a UserError
    naming the file, the key and what was expected (exit 2 in the CLI).
  - A run is deterministic: a fresh Machine per run, steps in file order,
    values written default to a fixed function of the step's position.
  - Nested steps never run on the paused task's CPU (that CPU is inside the
    paused operation; the model has no preemption).
  - Locks the paused operation holds are honoured: a nested step that would
    sleep -- on the mmap_lock of the same mm (madvise holds it for read;
    mmap, munmap, mprotect, mremap and fork for write; a user access needs
    it only if it faults), on the page-table lock of the PTE table a locked
    probe is in (split per table), or in a fault on a folio reclaim holds
    locked -- is retried after the paused operation returns, which is when
    the kernel's sleeper would wake.
  - Expectations hold when no check step failed and the set of violation
    kinds found equals the set expected.
"""

# File layout:
#
#   Public interface
#     PROBE_POINTS, LOCKED_PROBES, OPS, Step, TaskDecl, Scenario, ScenarioResult,
#     Infeasible, load_scenario(), parse_scenario(), run_scenario(), machine_config(),
#     override_config(), to_toml()
#   Step execution (class ScenarioRun)
#   Parsing helpers

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from minikernel.compat import tomllib
from minikernel.errors import UserError
from minikernel.hw.mmu import PAGE_SHIFT, PAGE_SIZE
from minikernel.mm.memory import SegmentationFault
from minikernel.mm.mm_types import FolioLocked
from minikernel.mm.pgtable_generic import pte_table
from minikernel.sanitizer import distinct_kinds

#
# Public interface
#

#: Probe points a paused step may stop at (name -> where it is).
PROBE_POINTS: dict[str, str] = {
    "try_to_unmap_one:cleared":
        "reclaim: a PTE was just cleared; its TLB flush was done or deferred to tlb_ubc",
    "shrink_folio_list:before_flush_dirty":
        "reclaim: a dirty folio is about to get try_to_unmap_flush_dirty() and pageout",
    "pageout:before_io": "reclaim: pageout() is about to write the folio",
    "shrink_folio_list:before_flush":
        "reclaim: the batch is about to be flushed (try_to_unmap_flush) and pages freed",
    "change_pte_range:locked":
        "mprotect: under the PTE lock, after flush_tlb_batched_pending()",
    "move_ptes:locked": "mremap: under the PTE lock, after flush_tlb_batched_pending()",
    "zap_pte_range:locked":
        "munmap / madvise(MADV_DONTNEED): under the PTE lock, after flush_tlb_batched_pending()",
    "madvise_cold_or_pageout_pte_range:locked":
        "madvise(MADV_PAGEOUT): under the PTE lock, after flush_tlb_batched_pending(), "
        "before isolating the range's folios",
    "zap_pte_range:cleared":
        "munmap / madvise(MADV_DONTNEED): under the PTE lock, a present PTE was just cleared "
        "into the gather (its rmap dropped at once up to 6.1; for a dirty shmem PTE only "
        "after the flush since 6.2)",
    "zap_pte_range:unlocked":
        "munmap / madvise(MADV_DONTNEED): the PTE lock is dropped; the gather's remaining "
        "span is not flushed yet and its folios not freed",
    "flush_tlb_batched_pending:flushed":
        "mprotect, munmap, madvise, mremap: under the PTE lock, inside "
        "flush_tlb_batched_pending() between the arch flush and the generation update "
        "(atomic_cmpxchg)",
}
#: Probe points inside a PTE-lock section: a nested step that would take that
#: table's lock (a fault in it, a syscall on it, a reclaim unmapping a folio
#: mapped there) waits.  The locks are split per PTE table (512 pages), as
#: USE_SPLIT_PTE_PTLOCKS gives on SMP: the probe's start/end name the table.
LOCKED_PROBES = frozenset({"change_pte_range:locked", "move_ptes:locked", "zap_pte_range:locked",
                           "madvise_cold_or_pageout_pte_range:locked", "zap_pte_range:cleared",
                           "flush_tlb_batched_pending:flushed"})

# op -> (required keys, optional keys)
OPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "mmap": (("as",), ("pages", "shared", "prot")),
    "munmap": (("addr",), ("pages",)),
    "mprotect": (("addr", "prot"), ("pages",)),
    "madvise": (("addr", "advice"), ("pages",)),
    "mremap": (("addr",), ("pages", "as")),
    "read": (("addr",), ("page",)),
    "write": (("addr",), ("page", "value")),
    "fork": (("child", "cpu"), ()),
    "clone": (("child", "cpu"), ()),
    "move": (("cpu",), ()),
    "reclaim": ((), ("pages",)),
    "dsb": ((), ()),
    "cached": (("addr", "expect"), ("page",)),
}
#: Operations that enter the kernel and so can be paused.
PAUSABLE = frozenset({"mmap", "munmap", "mprotect", "madvise", "mremap", "fork", "clone",
                      "reclaim"})
_STEP_KEYS = frozenset({"task", "op", "pause_at", "hit", "during"})
# What an operation holds of its mm's mmap_lock while it runs (None: nothing).
_MMAP_LOCK: dict[Any, str | None] = {
    "mmap": "write", "munmap": "write", "mprotect": "write", "mremap": "write",
    "fork": "write", ("madvise", "pageout"): "read", ("madvise", "dontneed"): "read",
    "madvise": "read",
}
_ADVICE = ("pageout", "dontneed")
_PROT = ("none", "r", "rw")
_PROT_BITS = {"none": 0x0, "r": 0x1, "rw": 0x3}      # PROT_NONE, PROT_READ, |PROT_WRITE


class Infeasible(Exception):
    """A step cannot run in this order (e.g. its task's CPU is inside the paused operation)."""


@dataclass
class Step:
    """One task doing one operation.

    where:    "step[3]" / "step[3].during[0]" / "explore.step[1]", for messages
    args:     the op's keys, validated
    pause_at: probe point to pause at (then ``during`` runs there), or None
    hit:      pause at the hit-th time the paused task reaches that probe (1-based)
    """

    task: str
    op: str
    args: dict[str, Any]
    where: str = ""
    pause_at: str | None = None
    hit: int = 1
    during: list[Step] = field(default_factory=list)

    def describe(self) -> str:
        a = " ".join(f"{k}={_fmt(v)}" for k, v in self.args.items())
        s = f"{self.task}: {self.op}{' ' + a if a else ''}"
        if self.pause_at:
            s += f" [paused at {self.pause_at}" + (f" #{self.hit}" if self.hit != 1 else "") + "]"
        return s


@dataclass
class TaskDecl:
    """A task declared in ``[[task]]``: name, CPU, and the process whose mm it uses."""

    name: str
    cpu: int
    process: str


@dataclass
class Scenario:
    """A parsed scenario file (see the module docstring and README.md)."""

    path: str
    arch: str
    cpus: int | None
    profile: str | None
    config: list[str]
    sanitizer: bool
    tasks: list[TaskDecl]
    steps: list[Step]
    expect: list[str]
    description: str = ""
    explore: dict[str, Any] | None = None
    explore_steps: list[Step] = field(default_factory=list)


@dataclass
class ScenarioResult:
    """What one run produced.

    log:        one line per step, with its outcome
    violations: the sanitizer's Violations
    failures:   check steps that failed and pause points never reached
    """

    scenario: Scenario
    log: list[str]
    violations: list
    failures: list[str]
    sanitizer_enabled: bool

    @property
    def kinds(self) -> list[str]:
        return distinct_kinds(self.violations)

    @property
    def ok(self) -> bool:
        return not self.failures and set(self.kinds) == set(self.scenario.expect)

    def as_dict(self) -> dict:
        return {"scenario": self.scenario.path, "ok": self.ok,
                "expect": self.scenario.expect or "clean", "found": self.kinds or "clean",
                "failures": self.failures, "log": self.log,
                "sanitizer": {"enabled": self.sanitizer_enabled,
                              "violations": [v.as_dict() for v in self.violations]}}

    def render_text(self) -> str:
        sc = self.scenario
        out = [f"scenario {sc.path}: {'OK' if self.ok else 'FAILED'} "
               f"(expected {', '.join(sc.expect) or 'clean'}; found "
               f"{', '.join(self.kinds) or 'clean'})"]
        out += ["  " + line for line in self.log]
        out += [f"  check failed: {f}" for f in self.failures]
        if not self.ok or self.violations:
            out += [v.report() for v in self.violations]
        return "\n".join(out)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; UserError on anything malformed."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise UserError(f"{p}: cannot read scenario: {e.strerror}") from None
    except UnicodeDecodeError:
        raise UserError(f"{p}: not a text file: expected a scenario in TOML (UTF-8)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{p}: not valid TOML: {e}") from None
    return parse_scenario(data, str(p))


def parse_scenario(data: dict, path: str = "<scenario>") -> Scenario:
    """Validate a scenario already read from TOML (or built in code)."""
    return _Parser(path).scenario(data)


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


def to_toml(sc: Scenario, *, header: str = "") -> str:
    """A scenario as a TOML file ``load_scenario`` reads back to the same scenario."""
    out = []
    for line in header.splitlines():
        out.append(f"# {line}".rstrip())
    if sc.description:
        out.append(f"description = {_toml(sc.description)}")
    out.append(f"expect = {_toml(sc.expect) if sc.expect else _toml('clean')}")
    out.append("")
    out.append("[machine]")
    out.append(f"arch = {_toml(sc.arch)}")
    if sc.profile:
        out.append(f"profile = {_toml(sc.profile)}")
    if sc.cpus is not None:
        out.append(f"cpus = {sc.cpus}")
    out.append(f"config = {_toml(sc.config)}")
    if not sc.sanitizer:
        out.append("sanitizer = false")
    for t in sc.tasks:
        out += ["", "[[task]]", f"name = {_toml(t.name)}", f"cpu = {t.cpu}",
                f"process = {_toml(t.process)}"]
    for st in sc.steps:
        out += ["", "[[step]]"] + _step_lines(st)
        for d in st.during:
            out += ["", "  [[step.during]]"] + ["  " + x for x in _step_lines(d)]
    return "\n".join(out) + "\n"


#
# Step execution
#

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
                            f"CONFIG_NR_CPUS={cfg.NR_CPUS}")
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
        if st.op == "move" and st.args["cpu"] in self.paused:
            raise Infeasible(f"{st.where}: cannot move {st.task} onto CPU{st.args['cpu']}, "
                             "which is inside the paused operation")
        if st.pause_at is None:
            out = self._do(p, st)
            self.log.append(f"{'    ' if nested else ''}{st.describe()} -> {out}")
            return
        fired: list[bool] = []
        deferred: list[Step] = []
        me = p.task
        mode = _MMAP_LOCK.get((st.op, st.args.get("advice")), _MMAP_LOCK.get(st.op))

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
            tables = frozenset()
            if st.pause_at in LOCKED_PROBES:
                lo, hi = ctx["start"], max(ctx["end"], ctx["start"] + 1)
                tables = frozenset(range(pte_table(lo), pte_table(hi - 1) + 1))
            self.held = (me.mm, mode, tables)
            asleep: set[str] = set()        # tasks sleeping on a lock: their later steps wait
            try:
                for d in st.during:
                    why = ("its task is still asleep in an earlier step" if d.task in asleep
                           else self._blocked(d))
                    if why is not None:
                        self.log.append(f"    {d.describe()} -> blocked: {why} "
                                        "(retried after resume)")
                        deferred.append(d)
                        asleep.add(d.task)
                        continue
                    try:
                        self.step(d, nested=True)
                    except FolioLocked as e:
                        self.log.append(f"    {d.describe()} -> blocked: {e} (retried after resume)")
                        deferred.append(d)
                        asleep.add(d.task)
            finally:
                self.paused.discard(me.cpu.id)
                self.held = None

        probes = self.m.probes
        saved = probes.get(st.pause_at)
        probes[st.pause_at] = at_probe
        try:
            out = self._do(p, st)
        finally:
            if saved is None:
                probes.pop(st.pause_at, None)
            else:
                probes[st.pause_at] = saved
        self.log.append(f"{st.task}: {st.op} resumed and returned -> {out}")
        if not fired:
            self.failures.append(f"{st.where}: {st.task}'s {st.op} never reached "
                                 f"{st.pause_at} (hit {st.hit}); its nested steps did not run")
        for d in deferred:
            self.step(d, nested=True)

    def _blocked(self, d: Step) -> str | None:
        """Would nested step *d* sleep on a lock the paused operation holds?

        The paused operation holds its mm's mmap_lock (madvise: read;
        mmap, munmap, mprotect, mremap, fork: write; reclaim: none) and, at
        a locked probe, the page-table lock of one PTE table.  A user access
        needs the mmap_lock (read) only if it faults, i.e. unless its CPU's
        TLB already has an entry that serves it, and the page-table lock
        only if it faults in that table.

        # MODEL: a nested reclaim is taken to need the lock if one of the
        # SWAP_CLUSTER_MAX oldest inactive folios -- the first batch it would
        # isolate -- is mapped in the locked table (try_to_unmap takes it).
        """
        held = self.held
        p = self.procs.get(d.task)
        if held is None or p is None:
            return None
        mm, mode, tables = held
        task = p.task
        if d.op in ("read", "write"):
            if task.mm is not mm:
                return None
            try:
                addr = self._addr(d)
            except Infeasible:
                return None
            ptl = pte_table(addr) in tables
            if not (mode == "write" or ptl):
                return None
            e = self.m.tlbs.lookup(task.cpu.id, mm.asid, addr >> PAGE_SHIFT)
            if e is not None and (d.op == "read" or (e.writable and e.dirty)):
                return None                # served by the TLB: no fault, no lock
            return ("the fault needs the page-table lock the paused operation holds" if ptl
                    else "the fault needs mmap_lock, held for write by the paused operation")
        if d.op == "reclaim":
            if tables and self._reclaim_needs(mm, tables):
                return "the page-table lock held by the paused operation"
            return None
        if tables and task.mm is mm and self._op_tables(d, tables):
            return "the page-table lock held by the paused operation"
        need = _MMAP_LOCK.get((d.op, d.args.get("advice")), _MMAP_LOCK.get(d.op))
        if need is None or task.mm is not mm or mode is None:
            return None
        if mode == "write" or need == "write":
            return f"mmap_lock ({need}), held for {mode} by the paused operation"
        return None

    def _reclaim_needs(self, mm, tables: frozenset) -> bool:
        """Would the next direct-reclaim batch unmap a folio mapped in *tables* of *mm*?"""
        from minikernel.mm.rmap import _folio_vmas
        from minikernel.mm.vmscan import SWAP_CLUSTER_MAX
        for i, folio in enumerate(self.m.lru):
            if i == SWAP_CLUSTER_MAX:
                break
            if not folio.mapcount:
                continue
            for vma in _folio_vmas(folio):
                if vma.vm_mm is not mm:
                    continue
                addr = vma.address_of(folio.index)
                if addr is not None and pte_table(addr) in tables:
                    return True
        return False

    def _op_tables(self, d: Step, tables: frozenset) -> bool:
        """Would syscall step *d* take the page-table lock of one of *tables*?"""
        if d.op in ("move", "dsb", "cached", "clone", "mmap"):
            return False
        if d.op == "fork":
            return True                     # copies every page table
        try:
            addr, pages = self._range(d)
        except Infeasible:
            return False
        first, last = pte_table(addr), pte_table(addr + pages * PAGE_SIZE - 1)
        return any(first <= t <= last for t in tables)

    # One operation; returns its outcome as text.
    def _do(self, p, st: Step) -> str:
        from minikernel.user import (
            MADV_DONTNEED,
            MADV_PAGEOUT,
            MAP_ANONYMOUS,
            MAP_PRIVATE,
            MAP_SHARED,
        )
        a = st.args
        op = st.op
        try:
            if op == "mmap":
                flags = MAP_ANONYMOUS | (MAP_SHARED if a.get("shared") else MAP_PRIVATE)
                prot = _PROT_BITS[a.get("prot", "rw")]
                pages = a.get("pages", 1)
                addr = p.mmap(pages * PAGE_SIZE, prot, flags)
                self.regions[a["as"]] = (addr, pages)
                return f"{a['as']} = {addr:#x}"
            if op == "munmap":
                addr, pages = self._range(st)
                p.munmap(addr, pages * PAGE_SIZE)
                return "ok"
            if op == "mprotect":
                addr, pages = self._range(st)
                p.mprotect(addr, pages * PAGE_SIZE, _PROT_BITS[a["prot"]])
                return "ok"
            if op == "madvise":
                addr, pages = self._range(st)
                adv = MADV_PAGEOUT if a["advice"] == "pageout" else MADV_DONTNEED
                n = p.madvise(addr, pages * PAGE_SIZE, adv)
                return f"{n} reclaimed" if adv == MADV_PAGEOUT else "ok"
            if op == "mremap":
                addr, pages = self._range(st)
                new = p.mremap(addr, pages * PAGE_SIZE)
                self.regions[a.get("as", a["addr"])] = (new, pages)
                return f"{a.get('as', a['addr'])} = {new:#x}"
            if op == "read":
                v = p.read(self._addr(st))
                return f"{v:#x}"
            if op == "write":
                self.nwrites += 1
                v = a.get("value", 0x5EED0000 + self.nwrites)
                p.write(self._addr(st), v)
                return f"wrote {v:#x}"
            if op in ("fork", "clone"):
                if a["child"] in self.procs:
                    raise UserError(f"{self.sc.path}: {st.where}.child: task "
                                    f"{a['child']!r} already exists")
                fn = p.fork if op == "fork" else p.clone_thread
                self.procs[a["child"]] = fn(a["cpu"], a["child"])
                return f"{a['child']} on CPU{a['cpu']}"
            if op == "move":
                p.move_to(a["cpu"])
                return f"now on CPU{a['cpu']}"
            if op == "reclaim":
                from minikernel import sched
                sched.run_on(p.task)
                return f"{p.reclaim(a.get('pages', 32))} reclaimed"
            if op == "dsb":
                dvm = getattr(self.m.arch, "dvm", None)   # arm64's interconnect only
                if dvm is None:
                    raise UserError(f"{self.sc.path}: {st.where}.op: 'dsb' needs an arm64 "
                                    f"machine (DSB ISH), this one is {self.sc.arch}")
                from minikernel import sched
                cpu = sched.run_on(p.task)
                dvm.dsb_ish(cpu)
                return f"DSB ISH on CPU{cpu.id}"
            if op == "cached":
                addr = self._addr(st)
                cpu = p.task.cpu
                e = self.m.tlbs.lookup(cpu.id, p.task.mm.asid, addr >> PAGE_SHIFT)
                got = e is not None
                if got != a["expect"]:
                    self.failures.append(
                        f"{st.where}: CPU{cpu.id} {'holds' if got else 'does not hold'} a TLB "
                        f"entry for {a['addr']} ({addr:#x}); expected "
                        f"{'one' if a['expect'] else 'none'}")
                return "cached" if got else "not cached"
        except SegmentationFault:
            return "SIGSEGV"
        except ValueError as e:
            return f"EINVAL ({e})"
        raise AssertionError(op)

    def _addr(self, st: Step) -> int:
        base, pages = self._region(st)
        page = st.args.get("page", 0)
        if page >= pages:
            raise UserError(f"{self.sc.path}: {st.where}.page: {page} is past the end of "
                            f"{st.args['addr']!r} ({pages} pages)")
        return base + page * PAGE_SIZE

    def _range(self, st: Step) -> tuple[int, int]:
        base, pages = self._region(st)
        return base, st.args.get("pages", pages)

    def _region(self, st: Step) -> tuple[int, int]:
        name = st.args["addr"]
        r = self.regions.get(name)
        if r is None:
            raise Infeasible(f"{st.where}.addr: no mapping named {name!r} yet")
        return r


def _profile(sc: Scenario):
    from minikernel.profile import default_profile
    if sc.profile is None:
        return default_profile(sc.arch, sc.cpus)
    from minikernel import profile as prof
    loader = getattr(prof, "load_profile", None)
    if loader is None:
        raise UserError(f"{sc.path}: machine.profile: machine profiles are not available in "
                        "this build; expected machine.cpus instead")
    p = loader(sc.profile)
    if p.arch != sc.arch:
        raise UserError(f"{sc.path}: machine.profile: {sc.profile!r} is an {p.arch} machine, "
                        f"expected one for machine.arch = {sc.arch!r}")
    return p if sc.cpus is None else p.with_cpus(sc.cpus)


#
# Parsing helpers
#

class _Parser:
    def __init__(self, path: str) -> None:
        self.path = path

    def err(self, key: str, found: Any, expected: str) -> UserError:
        return UserError(f"{self.path}: {key}: got {_fmt(found)}, expected {expected}")

    def scenario(self, d: dict) -> Scenario:
        known = {"description", "expect", "machine", "task", "step", "explore"}
        self._no_unknown(d, known, "top level")
        mach = d.get("machine")
        if not isinstance(mach, dict):
            raise self.err("machine", mach, "a [machine] table with arch and cpus")
        self._no_unknown(mach, {"arch", "cpus", "profile", "config", "sanitizer"}, "machine")
        arch = mach.get("arch")
        if arch not in ("arm64", "x86"):
            raise self.err("machine.arch", arch, '"arm64" or "x86"')
        cpus = mach.get("cpus")
        profile = mach.get("profile")
        if cpus is None and profile is None:
            raise self.err("machine.cpus", None, "a CPU count (2..512) or machine.profile")
        if cpus is not None and (type(cpus) is not int or not 1 <= cpus <= 512):
            raise self.err("machine.cpus", cpus, "an integer 1..512")
        if profile is not None and not isinstance(profile, str):
            raise self.err("machine.profile", profile, "a profile name (string)")
        config = mach.get("config", [])
        if not isinstance(config, list) or not all(isinstance(c, str) and "=" in c
                                                   for c in config):
            raise self.err("machine.config", config, 'a list of "SYM=VAL" strings')
        san = mach.get("sanitizer", True)
        if type(san) is not bool:
            raise self.err("machine.sanitizer", san, "true or false")
        ncpu = cpus if cpus is not None else 4096
        tasks = self.tasks(d.get("task"), ncpu)
        names = {t.name for t in tasks}
        regions: set[str] = set()
        steps = self.steps(d.get("step", []), "step", names, regions, ncpu)
        expect = self.expect(d.get("expect"))
        desc = d.get("description", "")
        if not isinstance(desc, str):
            raise self.err("description", desc, "a string")
        explore = d.get("explore")
        esteps: list[Step] = []
        if explore is not None:
            if not isinstance(explore, dict):
                raise self.err("explore", explore, "an [explore] table")
            self._no_unknown(explore, {"step", "pause_at", "max_hits", "max_runs", "max_nested"},
                             "explore")
            esteps = self.steps(explore.get("step", []), "explore.step", names, regions, ncpu,
                                allow_pause=False)
            if not esteps:
                raise self.err("explore.step", None, "at least one [[explore.step]]")
            pa = explore.get("pause_at", [])
            if not isinstance(pa, list) or any(x not in PROBE_POINTS for x in pa):
                raise self.err("explore.pause_at", pa,
                               f"a list of probe points ({', '.join(PROBE_POINTS)})")
            for k, lo in (("max_hits", 1), ("max_runs", 1), ("max_nested", 1)):
                v = explore.get(k)
                if v is not None and (type(v) is not int or v < lo):
                    raise self.err(f"explore.{k}", v, f"an integer >= {lo}")
        return Scenario(self.path, arch, cpus, profile, list(config), san, tasks, steps, expect,
                        desc, explore, esteps)

    def tasks(self, lst: Any, ncpu: int) -> list[TaskDecl]:
        if not isinstance(lst, list) or not lst:
            raise self.err("task", lst, "at least one [[task]] with name, cpu, process")
        out: list[TaskDecl] = []
        for i, t in enumerate(lst):
            w = f"task[{i}]"
            if not isinstance(t, dict):
                raise self.err(w, t, "a table")
            self._no_unknown(t, {"name", "cpu", "process"}, w)
            name = t.get("name")
            if not isinstance(name, str) or not name:
                raise self.err(f"{w}.name", name, "a non-empty string")
            if any(o.name == name for o in out):
                raise self.err(f"{w}.name", name, "a name not used by another task")
            cpu = t.get("cpu")
            if type(cpu) is not int or not 0 <= cpu < ncpu:
                raise self.err(f"{w}.cpu", cpu, f"a CPU number 0..{ncpu - 1}")
            proc = t.get("process", name)
            if not isinstance(proc, str):
                raise self.err(f"{w}.process", proc, "a process name (string)")
            out.append(TaskDecl(name, cpu, proc))
        return out

    def expect(self, e: Any) -> list[str]:
        from minikernel.sanitizer import KINDS
        if e is None:
            raise self.err("expect", None, '"clean" or a list of violation kinds '
                                           f"({', '.join(KINDS)})")
        if e == "clean":
            return []
        if isinstance(e, str):
            e = [e]
        if not isinstance(e, list) or not e or any(k not in KINDS for k in e):
            raise self.err("expect", e, f'"clean" or a list of violation kinds ({", ".join(KINDS)})')
        return list(dict.fromkeys(e))

    def steps(self, lst: Any, prefix: str, tasks: set[str], regions: set[str], ncpu: int,
              allow_pause: bool = True, nested_of: str | None = None) -> list[Step]:
        if not isinstance(lst, list):
            raise self.err(prefix, lst, "an array of tables ([[...]])")
        out = []
        for i, s in enumerate(lst):
            w = f"{prefix}[{i}]"
            if not isinstance(s, dict):
                raise self.err(w, s, "a table")
            op = s.get("op")
            if op not in OPS:
                raise self.err(f"{w}.op", op, f"one of {', '.join(OPS)}")
            req, opt = OPS[op]
            self._no_unknown(s, _STEP_KEYS | set(req) | set(opt), w)
            task = s.get("task")
            if task not in tasks:
                raise self.err(f"{w}.task", task, f"a task declared earlier ({', '.join(sorted(tasks))})")
            if nested_of is not None and task == nested_of:
                raise self.err(f"{w}.task", task, "a task other than the paused one")
            args = {}
            for k in req:
                if k not in s:
                    raise self.err(f"{w}.{k}", None, f"a value ('{op}' needs {', '.join(req)})")
            for k in req + opt:
                if k in s:
                    args[k] = self.arg(f"{w}.{k}", k, s[k], regions, ncpu)
            if op in ("fork", "clone"):
                if args["child"] in tasks:
                    raise self.err(f"{w}.child", args["child"], "a new task name")
                tasks.add(args["child"])
            if op == "mmap":
                regions.add(args["as"])
            if op == "mremap" and "as" in args:
                regions.add(args["as"])
            st = Step(task, op, args, w)
            if "pause_at" in s:
                if not allow_pause:
                    raise self.err(f"{w}.pause_at", s["pause_at"],
                                   "no pause here (nested steps and explore steps cannot pause)")
                if op not in PAUSABLE:
                    raise self.err(f"{w}.pause_at", s["pause_at"],
                                   f"a pausable operation ({', '.join(sorted(PAUSABLE))}), not {op}")
                if s["pause_at"] not in PROBE_POINTS:
                    raise self.err(f"{w}.pause_at", s["pause_at"],
                                   f"a probe point ({', '.join(PROBE_POINTS)})")
                st.pause_at = s["pause_at"]
                hit = s.get("hit", 1)
                if type(hit) is not int or hit < 1:
                    raise self.err(f"{w}.hit", hit, "an integer >= 1")
                st.hit = hit
                st.during = self.steps(s.get("during", []), f"{w}.during", tasks, regions, ncpu,
                                       allow_pause=False, nested_of=task)
            elif "during" in s or "hit" in s:
                raise self.err(f"{w}.during", s.get("during", s.get("hit")),
                               "nothing: 'during'/'hit' need pause_at")
            out.append(st)
        return out

    def arg(self, w: str, k: str, v: Any, regions: set[str], ncpu: int) -> Any:
        if k in ("as", "child"):
            if not isinstance(v, str) or not v:
                raise self.err(w, v, "a name (string)")
            return v
        if k == "addr":
            if v not in regions:
                raise self.err(w, v, f"the name of a mapping made earlier ({', '.join(sorted(regions)) or 'none yet'})")
            return v
        if k == "pages":
            if type(v) is not int or not 1 <= v <= 4096:
                raise self.err(w, v, "a page count 1..4096")
            return v
        if k == "page":
            if type(v) is not int or v < 0:
                raise self.err(w, v, "a page index >= 0")
            return v
        if k == "value":
            if type(v) is not int or v < 0:
                raise self.err(w, v, "a non-negative integer")
            return v
        if k == "cpu":
            if type(v) is not int or not 0 <= v < ncpu:
                raise self.err(w, v, f"a CPU number 0..{ncpu - 1}")
            return v
        if k in ("shared", "expect"):
            if type(v) is not bool:
                raise self.err(w, v, "true or false")
            return v
        if k == "prot":
            if v not in _PROT:
                raise self.err(w, v, '"none", "r" or "rw"')
            return v
        if k == "advice":
            if v not in _ADVICE:
                raise self.err(w, v, '"pageout" or "dontneed"')
            return v
        raise AssertionError(k)

    def _no_unknown(self, d: dict, known: set[str] | frozenset[str], where: str) -> None:
        for k in d:
            if k not in known:
                raise UserError(f"{self.path}: {where}: unknown key {k!r}, expected one of "
                                f"{', '.join(sorted(known))}")


def _fmt(v: Any) -> str:
    if v is None:
        return "nothing"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int) and v > 0xFFFF:
        return f"{v:#x}"
    return repr(v) if isinstance(v, str) else str(v)


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v:#x}" if v > 0xFFFF else str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    raise TypeError(v)


def _step_lines(st: Step) -> list[str]:
    out = [f"task = {_toml(st.task)}", f"op = {_toml(st.op)}"]
    out += [f"{k} = {_toml(v)}" for k, v in st.args.items()]
    if st.pause_at:
        out.append(f"pause_at = {_toml(st.pause_at)}")
        if st.hit != 1:
            out.append(f"hit = {st.hit}")
    return out
