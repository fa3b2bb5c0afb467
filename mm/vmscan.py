"""Page reclaim: isolate folios, unmap them, write them to swap, free them.

Models: mm/vmscan.c (Linux 6.x): ``reclaim_pages``, ``shrink_folio_list``,
``pageout``, ``__remove_mapping``, ``folio_isolate_lru``,
``folio_putback_lru`` and, for reclaim under memory pressure,
``shrink_inactive_list`` driven by ``try_to_free_pages``.

Invariants this module owns (the order the kernel keeps in shrink_folio_list):
  1. every folio is unmapped with TTU_BATCH_FLUSH, so its TLB flush may be
     deferred into ``current->tlb_ubc``;
  2. ``try_to_unmap_flush_dirty`` runs before any folio is queued for IO
     (pageout), so no CPU can still store to a page being written out;
  3. ``try_to_unmap_flush`` runs before any folio of the list is freed, so no
     CPU can still reach a page that gets reused.
  A list handed to shrink_folio_list holds at most SWAP_CLUSTER_MAX folios.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minikernel.mm.mm_types import Folio, TaskStruct
from minikernel.mm.rmap import (
    TTU_BATCH_FLUSH,
    try_to_unmap,
    try_to_unmap_flush,
    try_to_unmap_flush_dirty,
)
from minikernel.mm.shmem import shmem_writeout

if TYPE_CHECKING:
    from minikernel.hw.cpu import Cpu

SWAP_CLUSTER_MAX = 32


class Lruvec:
    """struct lruvec (include/linux/mmzone.h), reduced to one list of evictable folios.

    A doubly linked list threaded through the folios themselves (``lru_prev``
    / ``lru_next``), as the kernel threads ``folio->lru``: no per-page
    container entry, which matters for host memory per simulated page.
    Iterating yields the folios oldest first (the tail the kernel scans from);
    ``len()`` counts them.

    # MODEL: no active/inactive split and no generations; reclaim scans oldest
    # first and (like MADV_PAGEOUT) ignores references.
    """

    __slots__ = ("head", "tail", "nr")

    def __init__(self) -> None:
        self.head: Folio | None = None      # oldest
        self.tail: Folio | None = None      # newest
        self.nr = 0

    def add_folio(self, folio: Folio) -> None:
        """Models: lruvec_add_folio(): append as the newest."""
        folio.lru_prev = self.tail
        folio.lru_next = None
        if self.tail is None:
            self.head = folio
        else:
            self.tail.lru_next = folio
        self.tail = folio
        self.nr += 1
        folio.lru = True

    def del_folio(self, folio: Folio) -> None:
        """Models: lruvec_del_folio()."""
        prev, nxt = folio.lru_prev, folio.lru_next
        if prev is None:
            self.head = nxt
        else:
            prev.lru_next = nxt
        if nxt is None:
            self.tail = prev
        else:
            nxt.lru_prev = prev
        folio.lru_prev = folio.lru_next = None
        self.nr -= 1
        folio.lru = False

    def __iter__(self):
        f = self.head
        while f is not None:
            nxt = f.lru_next
            yield f
            f = nxt

    def __len__(self) -> int:
        return self.nr


def _lru_lock_irq(cpu: Cpu, k: dict[str, float]) -> None:
    """lruvec->lru_lock taken and released with interrupts off.

    With IRQs masked, perf's sampling interrupt is held back until
    spin_unlock_irq re-enables them, so the hold time is charged there --
    which is why _raw_spin_unlock_irq tops the published profile.
    """
    cpu.charge("_raw_spin_lock", k["_raw_spin_lock"])
    cpu.charge("_raw_spin_unlock_irq", k["_raw_spin_unlock_irq"])


def _lru_lock_irqsave(cpu: Cpu, k: dict[str, float]) -> None:
    """lruvec->lru_lock taken with spin_lock_irqsave, as the LRU-add batch drain takes it.

    Same perf effect as :func:`_lru_lock_irq`: the hold time lands at the
    irq-restore, hence _raw_spin_unlock_irqrestore in the published profile.

    # MODEL: the kernel adds folios to a per-CPU batch and takes the lock
    # once per batch (folio_batch_move_lru); the model charges a per-folio
    # share of that on every call.
    """
    cpu.charge("_raw_spin_lock_irqsave", k["_raw_spin_lock_irqsave"])
    cpu.charge("_raw_spin_unlock_irqrestore", k["_raw_spin_unlock_irqrestore"])


def folio_add_lru(current: TaskStruct, folio: Folio) -> None:
    """Models: folio_add_lru(): a new folio becomes reclaimable."""
    m = current.machine
    cpu = current.cpu
    k = m.kernel_ns
    cpu.charge("folio_add_lru", k["folio_add_lru"])
    _lru_lock_irqsave(cpu, k)
    m.lru.add_folio(folio)


def folio_isolate_lru(current: TaskStruct, folio: Folio) -> bool:
    """Models: folio_isolate_lru(): take *folio* off the LRU for reclaim (False if not on it)."""
    if not folio.lru:
        return False
    m = current.machine
    cpu = current.cpu
    k = m.kernel_ns
    cpu.charge("folio_isolate_lru", k["folio_isolate_lru"])
    _lru_lock_irq(cpu, k)
    m.lru.del_folio(folio)
    folio.isolated = True
    return True


def folio_putback_lru(current: TaskStruct, folio: Folio) -> None:
    """Models: folio_putback_lru(): reclaim gives a folio it could not free back to the LRU."""
    folio.isolated = False
    folio_add_lru(current, folio)


def pageout(current: TaskStruct, folio: Folio) -> None:
    """Models: pageout(): write a dirty folio through its mapping's writepage.

    Anonymous folios (already in the swap cache) go to swap_writepage();
    shmem folios to shmem_writeout(), which moves them to the swap cache
    first.  zram completes the write before returning.

    Caller's contract: try_to_unmap_flush_dirty() has run.
    """
    m = current.machine
    current.cpu.charge("pageout", m.kernel_ns["pageout"])
    if m.trace is not None:
        wb = "RECLAIM_WB_ANON" if folio.anon else "RECLAIM_WB_FILE"
        m.trace_event(current.cpu, "mm_vmscan_write_folio",
                      f"pfn=0x{folio.pfn:x} flags={wb}|RECLAIM_WB_SYNC")
    if m.probes:
        m.probe("pageout:before_io", current, folio=folio)
    if m.sanitizer is not None:
        m.sanitizer.before_io(current.cpu, folio)
    if folio.anon:
        m.swap.swap_writepage(current.cpu, folio)
    else:
        shmem_writeout(current, folio)


def __remove_mapping(current: TaskStruct, folio: Folio) -> bool:
    """Models: __remove_mapping(): drop a clean, unmapped folio from the swap cache.

    Returns False if the folio cannot be freed yet.
    """
    m = current.machine
    cpu = current.cpu
    k = m.kernel_ns
    cpu.charge("__remove_mapping", k["__remove_mapping"])
    _lru_lock_irq(cpu, k)           # xa_lock_irq on the swap cache
    if folio.mapcount or folio.dirty:
        return False
    if folio.swapcache:
        m.swap.delete_from_swap_cache(folio)
        return True
    return False


def shrink_folio_list(current: TaskStruct, folio_list: list[Folio],
                      ignore_references: bool = True) -> int:
    """Models: shrink_folio_list(): try to free every folio of an isolated list.

    Returns the number reclaimed; the others are put back on the LRU.  See the
    module docstring for the ordering this function guarantees.
    """
    m = current.machine
    cpu = current.cpu
    k = m.kernel_ns
    assert len(folio_list) <= SWAP_CLUSTER_MAX, "callers batch by SWAP_CLUSTER_MAX"
    swap = m.swap
    vs = m.vmstat
    free_folios: list[Folio] = []
    ret_folios: list[Folio] = []
    saved = cpu.sym
    for folio in folio_list:
        cpu.sym = "shrink_folio_list"
        cpu.charge("shrink_folio_list", k["shrink_folio_list"])
        folio.locked = True             # folio_trylock(); isolated folios are ours
        vs.pgscan_direct += 1
        if not ignore_references:
            cpu.charge("folio_referenced", k["folio_referenced"])
        if folio.anon and not folio.swapcache:
            if not swap.add_to_swap(cpu, folio):
                ret_folios.append(folio)
                continue
        if folio.mapcount:
            try_to_unmap(current, folio, TTU_BATCH_FLUSH)
            if folio.mapcount:
                ret_folios.append(folio)
                continue
        if folio.dirty:
            if m.probes:
                m.probe("shrink_folio_list:before_flush_dirty", current, folio=folio)
            try_to_unmap_flush_dirty(current)
            pageout(current, folio)
            if folio.dirty:
                ret_folios.append(folio)
                continue
        if not __remove_mapping(current, folio):
            ret_folios.append(folio)
            continue
        free_folios.append(folio)
    cpu.sym = saved
    for folio in folio_list:
        folio.locked = False            # folio_unlock() (keep_locked: / before free_it:)
    vs.pgsteal_direct += len(free_folios)
    if m.probes:
        m.probe("shrink_folio_list:before_flush", current, folios=free_folios)
    try_to_unmap_flush(current)
    if free_folios:
        cpu.sym = "free_unref_folios"
        cpu.charge("free_unref_folios", k["free_unref_folios"])
        alloc = m.page_alloc
        for folio in free_folios:
            folio.isolated = False
            alloc.free_folio(cpu, folio)
        cpu.sym = saved
    for folio in ret_folios:
        folio_putback_lru(current, folio)
    return len(free_folios)


def reclaim_pages(current: TaskStruct, folio_list: list[Folio]) -> int:
    """Models: reclaim_pages(): reclaim an isolated list (MADV_PAGEOUT's path).

    # MODEL: upstream hands shrink_folio_list() one node's whole list; the
    # model cuts it into SWAP_CLUSTER_MAX pieces, as the LRU scanners
    # (shrink_inactive_list) do, so a deferred flush covers at most 32 pages.
    """
    m = current.machine
    current.cpu.charge("reclaim_pages", m.kernel_ns["reclaim_pages"])
    nr = 0
    for i in range(0, len(folio_list), SWAP_CLUSTER_MAX):
        nr += shrink_folio_list(current, folio_list[i:i + SWAP_CLUSTER_MAX], True)
    return nr


def try_to_free_pages(current: TaskStruct, nr_to_reclaim: int) -> int:
    """Models: try_to_free_pages() -> shrink_lruvec() -> shrink_inactive_list(): direct reclaim.

    Isolates up to SWAP_CLUSTER_MAX of the oldest folios at a time and hands
    them to shrink_folio_list() until *nr_to_reclaim* are freed or nothing
    more can be.  Unlike MADV_PAGEOUT this path also takes folios mapped by
    several processes, which is what exercises one flush per mapping.

    # MODEL: references are ignored here too (no second-chance aging).
    """
    m = current.machine
    if m.trace is not None:
        m.trace_event(current.cpu, "mm_vmscan_direct_reclaim_begin",
                      f"order=0 gfp_flags=GFP_HIGHUSER_MOVABLE nr_to_reclaim={nr_to_reclaim}")
    nr = 0
    scanned_all = False
    while nr < nr_to_reclaim and not scanned_all:
        batch: list[Folio] = []
        for folio in m.lru:                 # oldest first; isolation unlinks behind us
            if len(batch) == SWAP_CLUSTER_MAX:
                break
            if folio_isolate_lru(current, folio):
                batch.append(folio)
        if not batch:
            break
        got = shrink_folio_list(current, batch, True)
        nr += got
        scanned_all = got == 0
    if m.trace is not None:
        m.trace_event(current.cpu, "mm_vmscan_direct_reclaim_end", f"nr_reclaimed={nr}")
    return nr
