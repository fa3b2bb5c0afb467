"""The lock model: would a step nested in a paused operation sleep on a lock it holds?

Model-only.  The paused operation holds what its op declares (``Op.holds``
of its mm's mmap_lock: madvise, move_pages' isolation and migrate_pages
read; mmap, munmap, mprotect, mremap, fork and mbind write; reclaim and
move_pages' migration nothing) and, at a locked probe (``LOCKED_PROBES``),
the page-table lock of the PTE tables the probe's start/end name.  A nested
step meets those locks as its op's ``locking`` says:

  - "access" (read, write): it needs the mmap_lock (read) only if it faults,
    i.e. unless its CPU's TLB already has an entry that serves it, and the
    page-table lock only if it faults in a locked table;
  - "reclaim": the page-table lock, if the first batch it would isolate
    holds a folio mapped in a locked table;
  - "syscall": the page-table locks of the tables its ``page_tables`` cover,
    then its ``mmap_lock`` against the one held.

A step that would sleep is retried after the paused operation returns
(``ScenarioRun``), which is when the kernel's sleeper would wake.

# MODEL: a fault always takes mmap_lock for read, as up to 6.3; since 6.4
# (CONFIG_PER_VMA_LOCK) a fault first tries the VMA's own lock and munmap
# can drop mmap_lock to read before zapping, so the kernel allows some
# interleavings -- a fault during a paused munmap or mprotect of another
# VMA -- that these rules refuse as "would sleep".  Refusing never makes a
# race look clean that the kernel has: it only leaves some schedules out.
"""

from __future__ import annotations

from typing import Any

from minikernel.hw.mmu import PAGE_SHIFT, PAGE_SIZE
from minikernel.mm.pgtable_generic import pte_table
from minikernel.scenario.model import Infeasible, Step
from minikernel.scenario.ops import REGISTRY


def blocked(run: Any, d: Step) -> str | None:
    """Why nested step *d* would sleep on a lock the paused operation holds, or None."""
    held = run.held
    p = run.procs.get(d.task)
    if held is None or p is None:
        return None
    op = REGISTRY[d.op]
    if op.locking == "access":
        return _access_blocked(run, d, p.task, held)
    if op.locking == "reclaim":
        mm, _, tables = held
        if tables and _reclaim_needs(run, mm, tables):
            return "the page-table lock held by the paused operation"
        return None
    return _syscall_blocked(run, d, p.task, held)


def _access_blocked(run: Any, d: Step, task: Any, held: tuple) -> str | None:
    mm, mode, tables = held
    if task.mm is not mm:
        return None
    try:
        addr = run.addr_of(d)
    except Infeasible:
        return None
    ptl = pte_table(addr) in tables
    if not (mode == "write" or ptl):
        return None
    e = run.m.tlbs.lookup(task.cpu.id, mm.asid, addr >> PAGE_SHIFT)
    if e is not None and (d.op == "read" or (e.writable and e.dirty)):
        return None                # served by the TLB: no fault, no lock
    return ("the fault needs the page-table lock the paused operation holds" if ptl
            else "the fault needs mmap_lock, held for write by the paused operation")


def _syscall_blocked(run: Any, d: Step, task: Any, held: tuple) -> str | None:
    mm, mode, tables = held
    if tables and task.mm is mm and _op_tables(run, d, tables):
        return "the page-table lock held by the paused operation"
    need = REGISTRY[d.op].mmap_lock
    if need is None or task.mm is not mm or mode is None:
        return None
    if mode == "write" or need == "write":
        return f"mmap_lock ({need}), held for {mode} by the paused operation"
    return None


def _reclaim_needs(run: Any, mm: Any, tables: frozenset) -> bool:
    """Would the next direct-reclaim batch unmap a folio mapped in *tables* of *mm*?

    # MODEL: a nested reclaim is taken to need the lock if one of the
    # SWAP_CLUSTER_MAX oldest inactive folios -- the first batch it would
    # isolate -- is mapped in the locked table (try_to_unmap takes it).
    """
    from minikernel.mm.rmap import _folio_vmas
    from minikernel.mm.vmscan import SWAP_CLUSTER_MAX
    for i, folio in enumerate(run.m.lru):
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


def _op_tables(run: Any, d: Step, tables: frozenset) -> bool:
    """Would syscall step *d* take the page-table lock of one of *tables*?"""
    which = REGISTRY[d.op].page_tables
    if which == "none":
        return False
    if which == "all":
        return True                     # fork copies every page table; a whole-mm walk
    try:
        addr, pages = run.range_of(d)
    except Infeasible:
        return False
    first, last = pte_table(addr), pte_table(addr + pages * PAGE_SIZE - 1)
    return any(first <= t <= last for t in tables)


def locked_tables(probe: str, ctx: dict) -> frozenset:
    """The PTE tables whose lock is held at *probe* (empty unless it is a locked probe)."""
    from minikernel.scenario.model import LOCKED_PROBES
    if probe not in LOCKED_PROBES:
        return frozenset()
    lo, hi = ctx["start"], max(ctx["end"], ctx["start"] + 1)
    return frozenset(range(pte_table(lo), pte_table(hi - 1) + 1))
