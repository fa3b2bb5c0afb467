"""The explorer: run every bounded interleaving of a scenario's operations and report violations.

Model-only.  Input is a scenario file with an ``[explore]`` table: the
top-level ``[[step]]`` list is a setup run first, in order; the
``[[explore.step]]`` list names operations, each by one task, in that task's
program order -- nothing says when they run relative to other tasks or where
anything pauses.  The explorer enumerates, deterministically:

  for k = 1, 2, ... steps inside the pause (smallest first),
   for every kernel operation P among the explore steps (the paused one),
    for every merge of all tasks' programs, with P split in two halves
    (entry .. pause point, pause point .. return), so that exactly k of the
    other tasks' steps fall inside P,
      for every probe point P reaches in that order (first ``max_hits`` hits
      of each; steps that would sleep on a lock P holds are retried after it,
      as scenario runs do),
        run it on a fresh machine with the TLB sanitizer on;
  plus, last, every merge with nothing paused.

Bounds: ``max_hits`` (default 2) hits per probe point, ``max_runs`` (default
5000) runs in all, ``max_nested`` (default: all) steps inside one pause;
``pause_at`` may restrict the probe points.  Each distinct
violation (its kinds, with the task and, for stale-after-syscall, the syscall
involved, and the probe point) is reported once, by its
smallest interleaving -- fewest steps inside the pause, then fewest before
it -- as a scenario file that replays it with ``minikernel scenario``.

Partial-order reduction (on by default; ``por=False`` / ``--exhaustive``
turns it off): two adjacent steps of different tasks in the same part of a
merge (before the pause, inside it, after it) *commute* when neither writes
anything the other reads or writes (:func:`footprint`, the one place that
says what a step touches: its task, the CPUs its task runs on, its mm --
processes related by fork count as one --, the mapping names and pages it
uses, and the shared page allocator / LRU / swap; reclaim and ``dsb`` touch
everything).  Merges that differ only by swapping commuting steps reach the
same state, so only one of each class is run: the lexicographically
smallest (the first the exhaustive enumeration would run), which is why the
findings -- each the smallest violating interleaving of its kind -- are the
same as without reduction.  Skipped runs are counted as ``pruned``.

Invariants this module owns:
  - Deterministic: the same file gives the same runs in the same order
    (for any ``jobs``: runs execute in worker processes, results are taken
    in run order).
  - An order that cannot happen (a step on the paused CPU, an address not
    mapped yet) is counted as infeasible and skipped, never reported.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from minikernel.errors import UserError
from minikernel.mm.mm_types import FolioLocked
from minikernel.parallel import check_jobs, fork_map
from minikernel.sanitizer import distinct_kinds
from minikernel.scenario import (
    PROBE_POINTS,
    REGISTRY,
    Infeasible,
    Scenario,
    ScenarioResult,
    ScenarioRun,
    Step,
    machine_config,
    to_toml,
)

DEFAULT_MAX_HITS = 2
DEFAULT_MAX_RUNS = 5000
#: Fewer runs than this stay in this process whatever ``jobs`` says (a run takes
#: a few ms; starting workers costs more than a handful of runs).
MIN_PARALLEL_RUNS = 100


@dataclass
class Finding:
    """One distinct violating interleaving.

    kinds:    violation kinds found (as the replay file expects them)
    paused:   "task: op" that was paused, and where (probe, hit)
    nested:   number of steps run inside the pause
    scenario: the replayable Scenario; ``toml`` its file text
    result:   the run's ScenarioResult (log, violations with trails)
    """

    kinds: list[str]
    paused: str
    probe: str | None
    hit: int
    nested: int
    before: int
    run: int
    scenario: Scenario
    result: ScenarioResult
    toml: str = ""

    def as_dict(self) -> dict:
        return {"kinds": self.kinds, "paused": self.paused, "probe": self.probe, "hit": self.hit,
                "nested_steps": self.nested, "run": self.run, "scenario": self.toml,
                "log": self.result.log,
                "sanitizer": {"enabled": True,
                              "violations": [v.as_dict() for v in self.result.violations]}}


@dataclass
class ExploreResult:
    """Everything the explorer did and found."""

    path: str
    runs: int
    infeasible: int
    violating: int
    truncated: bool
    max_hits: int
    max_runs: int
    findings: list[Finding] = field(default_factory=list)
    pruned: int = 0                 # runs partial-order reduction skipped (0 with por=False)
    por: bool = True
    jobs: int = 1
    wall_s: float = 0.0             # host wall-clock seconds of the whole exploration

    @property
    def runs_per_s(self) -> float:
        return self.runs / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def violations(self) -> list:
        return [v for f in self.findings for v in f.result.violations]

    def as_dict(self) -> dict:
        return {"scenario": self.path, "runs": self.runs, "infeasible": self.infeasible,
                "violating_runs": self.violating, "truncated": self.truncated,
                "bounds": {"max_hits": self.max_hits, "max_runs": self.max_runs},
                "findings": [f.as_dict() for f in self.findings],
                "sanitizer": {"enabled": True,
                              "violations": [v.as_dict() for v in self.violations]},
                "pruned_runs": self.pruned,
                "reduction": "partial-order" if self.por else "none",
                # host figures: they vary from run to run, nothing else here does
                "timing": {"wall_s": round(self.wall_s, 3),
                           "runs_per_s": round(self.runs_per_s, 1), "jobs": self.jobs}}

    def render_text(self) -> str:
        out = [f"explore {self.path}: {self.runs} runs ({self.infeasible} infeasible), "
               f"{self.violating} violating, {len(self.findings)} distinct"
               + (f" -- TRUNCATED at max_runs={self.max_runs}" if self.truncated else ""),
               f"bounds: max_hits={self.max_hits} per probe point, max_runs={self.max_runs}",
               (f"partial-order reduction: {self.pruned} equivalent runs pruned"
                if self.por else "no reduction (exhaustive)")
               + f"; {self.runs_per_s:.0f} runs/s on {self.jobs} job(s)"]
        for i, f in enumerate(self.findings, 1):
            where = f"paused at {f.probe}" + (f" #{f.hit}" if f.hit != 1 else "") \
                if f.probe else "nothing paused"
            out.append("")
            out.append(f"[{i}] {', '.join(f.kinds)}: {f.paused} {where}, "
                       f"{f.nested} step(s) inside (run {f.run})")
            out += ["    " + line for line in f.result.log]
            out.append(f.result.violations[0].report())
            out.append("replay with `minikernel scenario FILE` on:")
            out += ["    " + line for line in f.toml.splitlines()]
        return "\n".join(out)

    def save(self, directory: str | Path) -> list[Path]:
        """Write each finding as ``<stem>-finding-N.toml`` into *directory*.

        A finding file already there with other contents (an earlier run's,
        perhaps edited: it is a scenario file the user runs and changes) is kept
        as ``<name>.old`` first, as the config verbs keep ``.config.old``.
        """
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        stem = Path(self.path).stem
        paths = []
        for i, f in enumerate(self.findings, 1):
            p = d / f"{stem}-finding-{i}.toml"
            if p.is_file() and p.read_text(errors="replace") != f.toml:
                p.with_name(p.name + ".old").write_bytes(p.read_bytes())
            p.write_text(f.toml)
            paths.append(p)
        return paths


def explore(sc: Scenario, *, max_hits: int | None = None, max_runs: int | None = None,
            max_nested: int | None = None, por: bool = True,
            jobs: int | None = 1) -> ExploreResult:
    """Run the bounded exploration of *sc* (which must have an [explore] table).

    *por*: partial-order reduction (module docstring); *jobs*: worker
    processes for the runs (None: one per usable core); neither changes the
    findings.
    """
    t0 = time.perf_counter()
    check_jobs(jobs)
    if jobs is None:
        from minikernel.parallel import usable_cores
        jobs = usable_cores()
    if sc.explore is None:
        raise UserError(f"{sc.path}: explore: no [explore] table; expected [[explore.step]] "
                        "entries naming the operations to interleave")
    spec = sc.explore
    sc = replace(sc, sanitizer=True)       # the explorer's oracle, whatever the file says
    max_hits = max_hits or spec.get("max_hits", DEFAULT_MAX_HITS)
    max_runs = max_runs or spec.get("max_runs", DEFAULT_MAX_RUNS)
    max_nested = max_nested or spec.get("max_nested")
    allowed = set(spec.get("pause_at") or PROBE_POINTS)
    cfg = machine_config(sc)
    ex = _Explorer(sc, cfg, max_hits, max_runs, allowed, por=por, jobs=jobs)
    if max_nested is not None:
        ex.max_nested = max_nested
    ex.run()
    return ExploreResult(sc.path, ex.runs, ex.infeasible, ex.violating, ex.truncated,
                         max_hits, max_runs, ex.findings(), ex.pruned, por, ex.jobs,
                         time.perf_counter() - t0)


#
# Partial-order reduction: which steps commute
#

#: Written by reclaim and ``dsb``: they conflict with every step.
EVERYTHING = "*"
#: The ops :func:`footprint` knows: every op of the registry (each declares its
#: ``footprint``); any other (an op not registered) commutes with nothing.
FOOTPRINT_OPS = frozenset(REGISTRY)


def footprint(sc: Scenario, st: Step) -> tuple[frozenset, frozenset]:
    """(reads, writes): the abstract resources explore step *st* may touch, conservatively.

    The one place the reduction's independence relation is defined; two
    steps commute iff neither writes what the other reads or writes.  It
    reads the scenario's facts (which task runs where, which tasks share an
    mm, what each op does) and over-approximates:

      - ``("task", T)``: program order -- a task's own steps never commute;
      - ``("cpu", c)`` for every CPU the task is ever on (its declared CPU,
        its ``move``s): TLB contents, the CPU's clock, context switches;
        a syscall that flushes writes every CPU its mm's tasks are ever on
        (IPIs, broadcast TLBIs, ``flush_tlb_batched_pending``);
      - ``("mm", D)``: the mm -- VMAs, PTEs, its ``mmap_lock`` and page-table
        locks (whatever the lock granularity, one resource per mm covers it);
        every process of a fork family is one D, since fork shares pages
        copy-on-write and MAP_SHARED pages outright.  A syscall writes it, a
        user access reads it and writes its own ``("page", D, name, n)``;
      - ``("name", N)``: the mapping name a step binds (mmap, mremap) or uses;
      - ``("mem",)``: the page allocator, the LRU, swap and zram -- written by
        anything that may allocate, free, isolate or swap (a user access may
        fault a page in; munmap, madvise), since their order picks which
        pfn is reused and which folio reclaim finds oldest;
      - ``("ids",)``: pid and ASID allocation (fork, clone);
      - ``("writes",)``: the scenario's counter of default store values;
      - reclaim and ``dsb`` write EVERYTHING (global LRU scan, rmap walks of
        every mm, TLBIs completed on every CPU).
    """
    dom, cpus = _task_facts(sc)
    t = st.task
    d = dom.get(t, t)
    mine = {("cpu", c) for c in cpus.get(t, ())}
    flushed = {("cpu", c) for u, du in dom.items() if du == d for c in cpus.get(u, ())}
    reads: set = set()
    writes: set = {("task", t)} | mine
    kind = REGISTRY[st.op].footprint if st.op in REGISTRY else "everything"
    _by_kind(kind, st, d, flushed, reads, writes)
    return frozenset(reads), frozenset(writes)


def _by_kind(kind: str, st: Step, d: str, flushed: set, reads: set, writes: set) -> None:
    """What an op of footprint *kind* (its registry declaration) adds to *reads*/*writes*."""
    a = st.args
    if kind == "everything":
        writes.add(EVERYTHING)              # reclaim, dsb, or an op this relation does not know
    elif kind in ("access", "check"):
        reads |= {("mm", d), ("name", a["addr"])}
        if kind == "access":
            writes |= {("page", d, a["addr"], a.get("page", 0)), ("mem",)}
            if st.op == "write" and "value" not in a:
                writes.add(("writes",))
    elif kind == "spawn":
        writes |= {("mm", d), ("ids",), ("task", a["child"]), ("cpu", a["cpu"])} | flushed
    elif kind == "syscall":                 # mmap, munmap, ..., the migration syscalls
        writes |= {("mm", d)} | flushed
        writes.update(("name", a[k]) for k in ("addr", "as") if k in a)
        if REGISTRY[st.op].frees:
            writes.add(("mem",))
    # "task" (move): its CPUs are already in the task's own writes


def independent(fa: tuple[frozenset, frozenset], fb: tuple[frozenset, frozenset]) -> bool:
    """Do two steps with footprints *fa*, *fb* commute?"""
    (ra, wa), (rb, wb) = fa, fb
    if EVERYTHING in wa or EVERYTHING in wb:
        return False
    return not (wa & (rb | wb) or wb & ra)


def _task_facts(sc: Scenario) -> tuple[dict[str, str], dict[str, set[int]]]:
    """task -> its fork family (the process it or its fork ancestor was declared in),
    and task -> every CPU it is ever on (declared, forked/cloned onto, moved to)."""
    dom = {t.name: t.process for t in sc.tasks}
    cpus = {t.name: {t.cpu} for t in sc.tasks}

    def walk(steps: list[Step]) -> None:
        for st in steps:
            op = REGISTRY.get(st.op)
            if op is not None and op.spawns:
                dom[st.args["child"]] = dom.get(st.task, st.task)
                cpus.setdefault(st.args["child"], set()).add(st.args["cpu"])
            elif op is not None and op.footprint == "task":
                cpus.setdefault(st.task, set()).add(st.args["cpu"])
            walk(st.during)

    walk(list(sc.steps) + list(sc.explore_steps))
    return dom, cpus


#
# Private helpers
#

@dataclass(frozen=True, eq=False)
class _Mark:
    """Where the paused operation begins / resumes, in a merged order."""

    what: str
    step: Step


class _Explorer:
    """The enumeration.  Runs are planned first (in the exhaustive order, skipping
    merges the reduction proves equivalent to an earlier one), then executed --
    in worker processes when jobs > 1 -- and their outcomes taken in plan order,
    so the result does not depend on the job count."""

    def __init__(self, sc: Scenario, cfg: Any, max_hits: int, max_runs: int,
                 allowed: set[str], *, por: bool = True, jobs: int = 1) -> None:
        self.sc = sc
        self.cfg = cfg
        self.max_hits = max_hits
        self.max_runs = max_runs
        self.allowed = allowed
        self.por = por
        self.jobs = jobs
        self.runs = 0
        self.infeasible = 0
        self.violating = 0
        self.pruned = 0
        self.truncated = False
        self.max_nested: int | None = None
        self.best: dict[tuple, Finding] = {}
        self._probe_cache: dict[tuple, list[tuple[str, int]] | None] = {}
        progs: dict[str, list[Step]] = {}
        for st in sc.explore_steps:
            progs.setdefault(st.task, []).append(st)
        self.progs = progs
        # The reduction's facts, per explore step (by identity): footprint, and
        # rank = its task's place in the merge order (the exhaustive order is
        # lexicographic in it).
        rank = {t: i for i, t in enumerate(progs)}
        self._fp = {id(st): footprint(sc, st) for st in sc.explore_steps}
        self._rank = {id(st): rank[st.task] for st in sc.explore_steps}

    def run(self) -> None:
        """Plan, execute, collect (smallest first: 1 step inside the pause, then 2, ...;
        unpaused orders last)."""
        plan = self._plan()
        if len(plan) > self.max_runs:
            self.truncated = True
            plan = plan[:self.max_runs]
        if len(plan) < MIN_PARALLEL_RUNS:
            self.jobs = 1                   # forking would cost more than the runs take
        outcomes = fork_map(_execute, range(len(plan)), jobs=self.jobs,
                            context=(self, plan), chunksize=8)
        for spec, out in zip(plan, outcomes):
            self._collect(spec, out)

    def findings(self) -> list[Finding]:
        out = sorted(self.best.values(), key=lambda f: (f.nested, f.before, f.run))
        for f in out:
            f.toml = to_toml(f.scenario, header=(
                f"Found by `minikernel explore {self.sc.path}` (run {f.run}).\n"
                f"{f.paused}, paused at {f.probe or 'nothing'}: {', '.join(f.kinds)}."))
        return out

    # --- planning ---

    def _plan(self) -> list[tuple]:
        """Every run, in the exhaustive order: (prefix, P, (probe, hit), nested, suffix)."""
        merges, skipped = self._paused_merges()
        unpaused = self._unpaused_merges()
        # Pass 2: the probe points each distinct prefix reaches (one run each, in workers).
        todo = list({self._key(pr, p): (pr, p) for pr, p, _, _ in merges}.items())
        found = fork_map(_probe, [v for _, v in todo], context=self,
                         jobs=self.jobs if len(todo) >= MIN_PARALLEL_RUNS else 1)
        for (key, _), probes in zip(todo, found):
            self._probe_cache[key] = probes
        # Pass 3: the runs.
        plan = [(prefix, p, probe, nested, suffix)
                for prefix, p, nested, suffix in merges
                for probe in self._probe_cache[self._key(prefix, p)] or []]
        plan += [(order, None, None, [], []) for order in unpaused]
        # Each skipped merge would have run once per probe point its prefix reaches.
        self.pruned += sum(n * len(self._probe_cache.get(key) or [])
                           for key, n in skipped.items())
        return plan

    def _candidates(self) -> list[tuple[Step, list[list]]]:
        """Each pausable explore step P, with the programs in which P is split in two halves."""
        cands = []
        for task, prog in self.progs.items():
            for i, p in enumerate(prog):
                if REGISTRY[p.op].pausable:
                    cands.append((p, [q if t != task else
                                      [*q[:i], _Mark("begin", p), _Mark("end", p), *q[i + 1:]]
                                      for t, q in self.progs.items()]))
        return cands

    def _paused_merges(self) -> tuple[list[tuple], dict[tuple, int]]:
        """Pass 1: the canonical merges with a pause, smallest k (steps inside) first; and
        the skipped ones, counted by their prefix's class."""
        others = len(self.sc.explore_steps) - 1
        if self.max_nested is not None:
            others = min(others, self.max_nested)
        # Each candidate's merges once, bucketed by steps inside the pause (same order).
        buckets = []
        for p, seqs in self._candidates():
            by_k: dict[int, list] = {}
            for order in _merges(seqs):
                b, e = (j for j, x in enumerate(order) if isinstance(x, _Mark))
                by_k.setdefault(e - b - 1, []).append((order, b, e))
            buckets.append((p, by_k))
        merges = []
        skipped: dict[tuple, int] = {}
        for k in range(1, others + 1):
            for p, by_k in buckets:
                for order, b, e in by_k.get(k, ()):
                    parts = order[:b], order[b + 1:e], order[e + 1:]
                    if self.por and not all(self._canonical(x) for x in parts):
                        key = self._key(self._normal(parts[0]), p)
                        skipped[key] = skipped.get(key, 0) + 1
                        continue
                    merges.append((parts[0], p, parts[1], parts[2]))
        return merges, skipped

    def _unpaused_merges(self) -> list[list]:
        unpaused = []
        for order in _merges(list(self.progs.values())):
            if self.por and not self._canonical(order):
                self.pruned += 1
                continue
            unpaused.append(order)
        return unpaused

    @staticmethod
    def _key(prefix: list, p: Step) -> tuple:
        return tuple(id(s) for s in prefix) + (id(p),)

    def _canonical(self, seg: list) -> bool:
        """Is *seg* the lexicographically smallest of the orders equivalent to it?

        (Anisimov-Knuth: no step is preceded by a run of steps it commutes
        with that holds a step of a later task.)"""
        fp, rank = self._fp, self._rank
        for j in range(1, len(seg)):
            a = seg[j]
            for i in range(j - 1, -1, -1):
                b = seg[i]
                if not independent(fp[id(b)], fp[id(a)]):
                    break
                if rank[id(b)] > rank[id(a)]:
                    return False
        return True

    def _normal(self, seg: list) -> list:
        """The canonical order equivalent to *seg* (repeatedly take the smallest-ranked
        step that commutes with every step left before it)."""
        fp, rank = self._fp, self._rank
        rest, out = list(seg), []
        while rest:
            best = None
            for j, a in enumerate(rest):
                if all(independent(fp[id(b)], fp[id(a)]) for b in rest[:j]) and \
                        (best is None or rank[id(a)] < rank[id(rest[best])]):
                    best = j
            out.append(rest.pop(best))
        return out

    def _probes(self, prefix: list, p: Step) -> list[tuple[str, int]] | None:
        """The (probe point, hit) pairs *p*'s task reaches in *p* after *prefix*
        (None: that order cannot happen)."""
        seen: list[tuple[str, int]] = []
        try:
            run = ScenarioRun(self._base(prefix), self.cfg, None)
            run.m.sanitizer.log_violations = False
            run.setup()
            for st in run.sc.steps:
                run.step(st)
            me = run.procs[p.task].task
            counts: dict[str, int] = {}

            def recorder(name):
                def cb(current, **ctx):
                    if current is me:
                        counts[name] = counts.get(name, 0) + 1
                        if counts[name] <= self.max_hits and name in self.allowed:
                            seen.append((name, counts[name]))
                return cb

            for name in PROBE_POINTS:
                run.m.probes[name] = recorder(name)
            run.step(replace(p))
        except (Infeasible, FolioLocked):
            return None
        return seen

    def _base(self, prefix: list) -> Scenario:
        return replace(self.sc, steps=list(self.sc.steps) + [replace(s) for s in prefix],
                       expect=[], explore=None, explore_steps=[])

    # --- running ---

    def _scenario(self, spec: tuple) -> Scenario:
        prefix, p, probe, nested, suffix = spec
        steps = list(self.sc.steps) + [replace(s) for s in prefix]
        if p is not None:
            steps.append(replace(p, pause_at=probe[0], hit=probe[1],
                                 during=[replace(s, pause_at=None, during=[]) for s in nested]))
        steps += [replace(s) for s in suffix]
        return replace(self.sc, steps=steps, expect=[], explore=None, explore_steps=[])

    def _run(self, spec: tuple) -> tuple:
        """One run: ("infeasible",), ("clean",) or ("violating", log, violations)."""
        sc = self._scenario(spec)
        try:
            run = ScenarioRun(sc, self.cfg, None)
            run.m.sanitizer.log_violations = False     # thousands of runs: report findings only
            run.setup()
            for st in sc.steps:
                run.step(st)
        except (Infeasible, FolioLocked):
            return ("infeasible",)
        if run.failures:
            return ("infeasible",)        # the pause point moved: not this interleaving
        san = run.m.sanitizer
        if not san.violations:
            return ("clean",)
        return ("violating", run.log, list(san.violations))

    def _collect(self, spec: tuple, out: tuple) -> None:
        self.runs += 1
        if out[0] == "infeasible":
            self.infeasible += 1
            return
        if out[0] == "clean":
            return
        prefix, p, probe, nested, suffix = spec
        _, log, violations = out
        self.violating += 1
        sc = self._scenario(spec)
        kinds = distinct_kinds(violations)
        result = ScenarioResult(replace(sc, expect=kinds), log, violations, [], True)
        # Distinct = which kinds, by which task, through which syscall, at which pause point.
        sig = (tuple(sorted({(v.kind, (v.task or "").split("/")[0], v.syscall or "")
                             for v in violations})), probe[0] if probe else None)
        f = Finding(kinds, f"{p.task}: {p.op}" if p else "-", probe[0] if probe else None,
                    probe[1] if probe else 1, len(nested), len(prefix), self.runs,
                    replace(sc, expect=kinds, description=f"explorer finding: {', '.join(kinds)}"),
                    result)
        old = self.best.get(sig)
        if old is None or (f.nested, f.before, f.run) < (old.nested, old.before, old.run):
            self.best[sig] = f


def _probe(ex: _Explorer, item: tuple) -> list[tuple[str, int]] | None:
    return ex._probes(*item)


def _execute(context: tuple, i: int) -> tuple:
    ex, plan = context
    return ex._run(plan[i])


def _merges(seqs: list[list]) -> Iterator[list]:
    """Every interleaving of *seqs* that keeps each one's order (lexicographic by sequence)."""
    seqs = [s for s in seqs if s]
    if not seqs:
        yield []
        return
    idx = [0] * len(seqs)
    total = sum(len(s) for s in seqs)
    out: list = []

    def rec():
        if len(out) == total:
            yield list(out)
            return
        for k, s in enumerate(seqs):
            if idx[k] < len(s):
                out.append(s[idx[k]])
                idx[k] += 1
                yield from rec()
                idx[k] -= 1
                out.pop()

    yield from rec()
