"""The scenario data model: probe points, steps, tasks, scenarios and what a run produced.

Model-only.  Plain data: nothing here parses, runs or writes a file (those
are ``parse``, ``run`` and ``write``; the operations a step may name are the
registry in ``ops``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minikernel.sanitizer import distinct_kinds

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
    "try_to_migrate_one:cleared":
        "migration (move_pages, mbind, migrate_pages): a PTE just became a migration entry; "
        "its flush was done (up to 6.2) or deferred to the batch (6.3+)",
    "migrate_pages_batch:unmapped":
        "migration: every folio of the batch is unmapped (one at a time up to 6.2: this one), "
        "none copied yet",
    "migrate_pages_batch:flush":
        "migration, 6.3+: right before the batch's one try_to_unmap_flush() "
        "(after the first copy with MODEL_MIGRATE_COPY_BEFORE_FLUSH)",
    "migrate_folio_move:copy":
        "migration: a folio is about to be copied to its new page (move_to_new_folio)",
}
#: Probe points inside a PTE-lock section: a nested step that would take that
#: table's lock (a fault in it, a syscall on it, a reclaim unmapping a folio
#: mapped there) waits.  The locks are split per PTE table (512 pages), as
#: USE_SPLIT_PTE_PTLOCKS gives on SMP: the probe's start/end name the table.
LOCKED_PROBES = frozenset({"change_pte_range:locked", "move_ptes:locked", "zap_pte_range:locked",
                           "madvise_cold_or_pageout_pte_range:locked", "zap_pte_range:cleared",
                           "flush_tlb_batched_pending:flushed"})


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
        a = " ".join(f"{k}={fmt(v)}" for k, v in self.args.items())
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
    """A parsed scenario file (see the package docstring and README.md)."""

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


def fmt(v: Any) -> str:
    """A value as messages and step descriptions show it."""
    if v is None:
        return "nothing"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int) and v > 0xFFFF:
        return f"{v:#x}"
    return repr(v) if isinstance(v, str) else str(v)
