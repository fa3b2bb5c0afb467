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

Invariants this module owns:
  - Deterministic: the same file gives the same runs in the same order.
  - An order that cannot happen (a step on the paused CPU, an address not
    mapped yet) is counted as infeasible and skipped, never reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from minikernel.errors import UserError
from minikernel.mm.mm_types import FolioLocked
from minikernel.scenario import (
    PAUSABLE,
    PROBE_POINTS,
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

    @property
    def violations(self) -> list:
        return [v for f in self.findings for v in f.result.violations]

    def as_dict(self) -> dict:
        return {"scenario": self.path, "runs": self.runs, "infeasible": self.infeasible,
                "violating_runs": self.violating, "truncated": self.truncated,
                "bounds": {"max_hits": self.max_hits, "max_runs": self.max_runs},
                "findings": [f.as_dict() for f in self.findings],
                "sanitizer": {"enabled": True,
                              "violations": [v.as_dict() for v in self.violations]}}

    def render_text(self) -> str:
        out = [f"explore {self.path}: {self.runs} runs ({self.infeasible} infeasible), "
               f"{self.violating} violating, {len(self.findings)} distinct"
               + (f" -- TRUNCATED at max_runs={self.max_runs}" if self.truncated else ""),
               f"bounds: max_hits={self.max_hits} per probe point, max_runs={self.max_runs}"]
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
        """Write each finding as ``<stem>-finding-N.toml`` into *directory*."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        stem = Path(self.path).stem
        paths = []
        for i, f in enumerate(self.findings, 1):
            p = d / f"{stem}-finding-{i}.toml"
            p.write_text(f.toml)
            paths.append(p)
        return paths


def explore(sc: Scenario, *, max_hits: int | None = None, max_runs: int | None = None,
            max_nested: int | None = None) -> ExploreResult:
    """Run the bounded exploration of *sc* (which must have an [explore] table)."""
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
    ex = _Explorer(sc, cfg, max_hits, max_runs, allowed)
    if max_nested is not None:
        ex.max_nested = max_nested
    ex.run()
    return ExploreResult(sc.path, ex.runs, ex.infeasible, ex.violating, ex.truncated,
                         max_hits, max_runs, ex.findings())


#
# Private helpers
#

class _Truncated(Exception):
    pass


@dataclass(frozen=True, eq=False)
class _Mark:
    """Where the paused operation begins / resumes, in a merged order."""

    what: str
    step: Step


class _Explorer:
    def __init__(self, sc: Scenario, cfg: Any, max_hits: int, max_runs: int,
                 allowed: set[str]) -> None:
        self.sc = sc
        self.cfg = cfg
        self.max_hits = max_hits
        self.max_runs = max_runs
        self.allowed = allowed
        self.runs = 0
        self.infeasible = 0
        self.violating = 0
        self.truncated = False
        self.max_nested: int | None = None
        self.best: dict[tuple, Finding] = {}
        self._probe_cache: dict[tuple, list[tuple[str, int]] | None] = {}
        progs: dict[str, list[Step]] = {}
        for st in sc.explore_steps:
            progs.setdefault(st.task, []).append(st)
        self.progs = progs

    def run(self) -> None:
        """Smallest first: 1 step inside the pause, then 2, ...; unpaused orders last."""
        cands = []
        for task, prog in self.progs.items():
            for i, p in enumerate(prog):
                if p.op in PAUSABLE:
                    cands.append((p, [q if t != task else
                                      [*q[:i], _Mark("begin", p), _Mark("end", p), *q[i + 1:]]
                                      for t, q in self.progs.items()]))
        others = len(self.sc.explore_steps) - 1
        if self.max_nested is not None:
            others = min(others, self.max_nested)
        try:
            for k in range(1, others + 1):
                for p, seqs in cands:
                    for order in _merges(seqs):
                        b, e = (j for j, x in enumerate(order) if isinstance(x, _Mark))
                        if e - b - 1 != k:
                            continue
                        prefix, nested, suffix = order[:b], order[b + 1:e], order[e + 1:]
                        for probe, hit in self._probes(prefix, p):
                            self._try(prefix, p, (probe, hit), nested, suffix)
            for order in _merges(list(self.progs.values())):
                self._try(order, None, None, [], [])
        except _Truncated:
            self.truncated = True

    def findings(self) -> list[Finding]:
        out = sorted(self.best.values(), key=lambda f: (f.nested, f.before, f.run))
        for f in out:
            f.toml = to_toml(f.scenario, header=(
                f"Found by `minikernel explore {self.sc.path}` (run {f.run}).\n"
                f"{f.paused}, paused at {f.probe or 'nothing'}: {', '.join(f.kinds)}."))
        return out

    def _probes(self, prefix: list, p: Step) -> list[tuple[str, int]]:
        """The (probe point, hit) pairs *p*'s task reaches in *p* after *prefix*."""
        key = tuple(id(s) for s in prefix) + (id(p),)
        if key in self._probe_cache:
            return self._probe_cache[key] or []
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
            self._probe_cache[key] = None
            return []
        self._probe_cache[key] = seen
        return seen

    def _base(self, prefix: list) -> Scenario:
        return replace(self.sc, steps=list(self.sc.steps) + [replace(s) for s in prefix],
                       expect=[], explore=None, explore_steps=[])

    def _try(self, prefix: list, p: Step | None, probe, nested: list, suffix: list) -> None:
        if self.runs >= self.max_runs:
            raise _Truncated()
        self.runs += 1
        steps = list(self.sc.steps) + [replace(s) for s in prefix]
        if p is not None:
            steps.append(replace(p, pause_at=probe[0], hit=probe[1],
                                 during=[replace(s, pause_at=None, during=[]) for s in nested]))
        steps += [replace(s) for s in suffix]
        sc = replace(self.sc, steps=steps, expect=[], explore=None, explore_steps=[])
        try:
            run = ScenarioRun(sc, self.cfg, None)
            run.m.sanitizer.log_violations = False     # thousands of runs: report findings only
            run.setup()
            for st in sc.steps:
                run.step(st)
        except (Infeasible, FolioLocked):
            self.infeasible += 1
            return
        san = run.m.sanitizer
        if run.failures:
            self.infeasible += 1          # the pause point moved: not this interleaving
            return
        if not san.violations:
            return
        self.violating += 1
        kinds = san.kinds
        result = ScenarioResult(replace(sc, expect=kinds), run.log, list(san.violations), [], True)
        # Distinct = which kinds, by which task, through which syscall, at which pause point.
        sig = (tuple(sorted({(v.kind, (v.task or "").split("/")[0], v.syscall or "")
                             for v in san.violations})), probe[0] if probe else None)
        f = Finding(kinds, f"{p.task}: {p.op}" if p else "-", probe[0] if probe else None,
                    probe[1] if probe else 1, len(nested), len(prefix), self.runs,
                    replace(sc, expect=kinds, description=f"explorer finding: {', '.join(kinds)}"),
                    result)
        old = self.best.get(sig)
        if old is None or (f.nested, f.before, f.run) < (old.nested, old.before, old.run):
            self.best[sig] = f


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
