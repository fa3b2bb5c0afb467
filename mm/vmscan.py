"""Page reclaim: isolate folios, unmap them, write them to swap, free them.

Models: mm/vmscan.c (as the machine's baseline kernel has it):
``reclaim_pages``, ``shrink_folio_list``, ``folio_check_references``,
``pageout``, ``__remove_mapping``, ``folio_isolate_lru``,
``folio_putback_lru`` and, for reclaim under memory pressure,
``shrink_active_list`` / ``shrink_inactive_list`` driven by
``try_to_free_pages``.

Invariants this module owns (the order the kernel keeps in shrink_folio_list):
  1. every folio is unmapped with TTU_BATCH_FLUSH, so its TLB flush may be
     deferred into ``current->tlb_ubc``;
  2. ``try_to_unmap_flush_dirty`` runs before any folio is queued for IO
     (pageout), so no CPU can still store to a page being written out;
  3. ``try_to_unmap_flush`` runs before any folio of the list is freed, so no
     CPU can still reach a page that gets reused.
  When it frees (and so flushes) follows the baseline kernel: see
  shrink_folio_list.  Direct reclaim hands it SWAP_CLUSTER_MAX folios at a
  time; MADV_PAGEOUT one PTE table's worth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minikernel.hw.cpu import (
    S___remove_mapping,
    S__raw_spin_lock,
    S__raw_spin_lock_irqsave,
    S__raw_spin_unlock_irq,
    S__raw_spin_unlock_irqrestore,
    S_folio_add_lru,
    S_folio_isolate_lru,
    S_free_unref_folios,
    S_pageout,
    S_reclaim_pages,
    S_shrink_active_list,
    S_shrink_folio_list,
)
from minikernel.mm.mm_types import (
    AddressSpace,
    AnonVma,
    Folio,
    PG_active,
    PG_dirty,
    PG_gathered,
    PG_isolated,
    PG_locked,
    PG_lru,
    PG_referenced,
    PG_swapcache,
    TaskStruct,
    VmBug,
)
from minikernel.mm.rmap import (
    TTU_BATCH_FLUSH,
    folio_referenced,
    try_to_unmap,
    try_to_unmap_flush,
    try_to_unmap_flush_dirty,
)
from minikernel.mm.shmem import shmem_writeout

if TYPE_CHECKING:
    from minikernel.hw.cpu import Cpu

SWAP_CLUSTER_MAX = 32


class LruList:
    """One LRU list (``lruvec->lists[lru]``), a doubly linked list threaded through the folios.

    Threaded through ``lru_prev`` / ``lru_next`` as the kernel threads
    ``folio->lru``: no per-page container entry, which matters for host
    memory per simulated page.  Iterating yields the folios oldest first
    (the tail the kernel scans from); ``len()`` counts them.
    """

    __slots__ = ("head", "tail", "nr")

    def __init__(self) -> None:
        self.head: Folio | None = None      # oldest
        self.tail: Folio | None = None      # newest
        self.nr = 0

    def add(self, folio: Folio) -> None:
        """Models: list_add_tail(&folio->lru, list): append as the newest."""
        folio.lru_prev = self.tail
        folio.lru_next = None
        if self.tail is None:
            self.head = folio
        else:
            self.tail.lru_next = folio
        self.tail = folio
        self.nr += 1

    def remove(self, folio: Folio) -> None:
        """Models: list_del(&folio->lru)."""
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

    def __iter__(self):
        f = self.head
        while f is not None:
            nxt = f.lru_next
            yield f
            f = nxt

    def __len__(self) -> int:
        return self.nr


class Lruvec:
    """struct lruvec (include/linux/mmzone.h): an inactive and an active list of evictable folios.

    Iterating yields the inactive list oldest first (what reclaim isolates
    from); ``active`` is the active list; ``len()`` counts both.  A folio
    goes to the list its PG_active bit names.

    # MODEL: one anon/swap-backed pair of lists (every modelled folio is
    # swap-backed: anon or shmem), no file LRU, no MGLRU generations, no
    # memcg.
    """

    __slots__ = ("inactive", "active")

    def __init__(self) -> None:
        self.inactive = LruList()
        self.active = LruList()

    def add_folio(self, folio: Folio) -> None:
        """Models: lruvec_add_folio(): append as the newest of its list."""
        flags = folio.flags
        lst = self.active if flags & PG_active else self.inactive
        # lst.add(folio) (list_add_tail()), inlined: the same stores in the same order
        tail = lst.tail
        folio.lru_prev = tail
        folio.lru_next = None
        if tail is None:
            lst.head = folio
        else:
            tail.lru_next = folio
        lst.tail = folio
        lst.nr += 1
        folio.flags = flags | PG_lru    # folio_set_lru()

    def del_folio(self, folio: Folio) -> None:
        """Models: lruvec_del_folio()."""
        flags = folio.flags
        lst = self.active if flags & PG_active else self.inactive
        # lst.remove(folio) (list_del()), inlined: the same stores in the same order
        prev, nxt = folio.lru_prev, folio.lru_next
        if prev is None:
            lst.head = nxt
        else:
            prev.lru_next = nxt
        if nxt is None:
            lst.tail = prev
        else:
            nxt.lru_prev = prev
        folio.lru_prev = folio.lru_next = None
        lst.nr -= 1
        folio.flags = flags & ~PG_lru   # folio_clear_lru()

    def __iter__(self):
        return iter(self.inactive)

    def __len__(self) -> int:
        return self.inactive.nr + self.active.nr


def _lru_lock_irq(cpu: Cpu, k: list[float]) -> None:
    """lruvec->lru_lock taken and released with interrupts off.

    With IRQs masked, perf's sampling interrupt is held back until
    spin_unlock_irq re-enables them, so the hold time is charged there --
    which is why _raw_spin_unlock_irq tops the published profile.
    """
    # cpu.charge() twice, inlined: same additions, same order.  folio_isolate_lru()
    # and __remove_mapping() have this helper inlined (twice per reclaimed page).
    prof = cpu.ns
    ns = k[S__raw_spin_lock]
    cpu.now += ns
    prof[S__raw_spin_lock] += ns
    ns = k[S__raw_spin_unlock_irq]
    cpu.now += ns
    prof[S__raw_spin_unlock_irq] += ns


def folio_add_lru(current: TaskStruct, folio: Folio) -> None:
    """Models: folio_add_lru(): a new folio becomes reclaimable."""
    m = current.machine
    cpu = current.cpu
    k = m.kns
    prof = cpu.ns
    ns = k[S_folio_add_lru]             # cpu.charge(), inlined
    cpu.now += ns
    prof[S_folio_add_lru] += ns
    # lruvec->lru_lock taken with spin_lock_irqsave, as the LRU-add batch drain
    # takes it (the former helper _lru_lock_irqsave, inlined: its two charges,
    # same additions, same order).  Same perf effect as _lru_lock_irq: the hold
    # time lands at the irq-restore, hence _raw_spin_unlock_irqrestore in the
    # published profile.
    # MODEL: the kernel adds folios to a per-CPU batch and takes the lock
    # once per batch (folio_batch_move_lru); the model charges a per-folio
    # share of that on every call.
    ns = k[S__raw_spin_lock_irqsave]
    cpu.now += ns
    prof[S__raw_spin_lock_irqsave] += ns
    ns = k[S__raw_spin_unlock_irqrestore]
    cpu.now += ns
    prof[S__raw_spin_unlock_irqrestore] += ns
    m.lru.add_folio(folio)


def folio_isolate_lru(current: TaskStruct, folio: Folio) -> bool:
    """Models: folio_isolate_lru(): take *folio* off the LRU for reclaim (False if not on it)."""
    if not folio.flags & PG_lru:        # folio_test_lru()
        return False
    m = current.machine
    cpu = current.cpu
    k = m.kns
    prof = cpu.ns
    ns = k[S_folio_isolate_lru]         # cpu.charge(), inlined
    cpu.now += ns
    prof[S_folio_isolate_lru] += ns
    # _lru_lock_irq(cpu, k), inlined: its two charges, same additions, same order
    ns = k[S__raw_spin_lock]
    cpu.now += ns
    prof[S__raw_spin_lock] += ns
    ns = k[S__raw_spin_unlock_irq]
    cpu.now += ns
    prof[S__raw_spin_unlock_irq] += ns
    m.lru.del_folio(folio)
    folio.flags |= PG_isolated
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
    if m.debug_vm and current.tlb_ubc.writable and not m.revert_flush_dirty:
        raise VmBug(f"pageout: pfn {folio.pfn} queued for IO with tlb_ubc.writable set: "
                    "try_to_unmap_flush_dirty() did not run first")
    cpu = current.cpu
    ns = m.kns[S_pageout]     # cpu.charge(), inlined
    cpu.now += ns
    cpu.ns[S_pageout] += ns
    anon = folio.mapping.__class__ is AnonVma       # folio_test_anon() (isinstance; no subclasses)
    if m.trace is not None:
        wb = "RECLAIM_WB_ANON" if anon else "RECLAIM_WB_FILE"
        m.trace_event(cpu, "mm_vmscan_write_folio",
                      f"pfn=0x{folio.pfn:x} flags={wb}|RECLAIM_WB_SYNC")
    if m.probes:
        m.probe("pageout:before_io", current, folio=folio)
    if m.sanitizer is not None:
        m.sanitizer.before_io(cpu, folio)
    if anon:
        m.swap.swap_writepage(current.cpu, folio)
    else:
        shmem_writeout(current, folio)


def __remove_mapping(current: TaskStruct, folio: Folio) -> bool:
    """Models: __remove_mapping(): drop a clean, unmapped folio from the swap or page cache.

    Returns False if the folio cannot be freed yet.
    """
    m = current.machine
    cpu = current.cpu
    k = m.kns
    prof = cpu.ns
    ns = k[S___remove_mapping]      # cpu.charge(), inlined
    cpu.now += ns
    prof[S___remove_mapping] += ns
    # _lru_lock_irq(cpu, k), inlined (xa_lock_irq on the swap cache): same charges, same order
    ns = k[S__raw_spin_lock]
    cpu.now += ns
    prof[S__raw_spin_lock] += ns
    ns = k[S__raw_spin_unlock_irq]
    cpu.now += ns
    prof[S__raw_spin_unlock_irq] += ns
    flags = folio.flags
    if folio.mapcount or flags & (PG_dirty | PG_gathered):
        return False                # still mapped, dirty, or referenced by an mmu_gather
    if flags & PG_swapcache:
        m.swap.delete_from_swap_cache(folio)
        return True
    mapping = folio.mapping
    if mapping.__class__ is AddressSpace and mapping.i_pages.get(folio.index) is folio:
        # A clean shmem folio was never written (a swapped-in one is dirty):
        # it holds zeroes; drop it, and a later fault allocates a new zeroed page.
        del mapping.i_pages[folio.index]     # __filemap_remove_folio()
        return True
    return False


# folio_check_references() verdicts (enum folio_references in mm/vmscan.c)
FOLIOREF_RECLAIM = 0
FOLIOREF_KEEP = 1
FOLIOREF_ACTIVATE = 2


def folio_check_references(current: TaskStruct, folio: Folio) -> int:
    """Models: folio_check_references(): reclaim this folio, keep it inactive, or activate it?

    Looks at the young PTEs (folio_referenced, which also makes them old,
    on arm64 with a TLBI each) and PG_referenced.  A folio referenced
    through more than one PTE, or referenced again after a first trip round
    the inactive list, is activated; referenced once, it is marked and kept.
    Every modelled folio is swap-backed, so "referenced but clean file
    folio" (FOLIOREF_RECLAIM_CLEAN) does not arise.
    """
    referenced_ptes = folio_referenced(current, folio)
    flags = folio.flags
    referenced_folio = flags & PG_referenced
    folio.flags = flags & ~PG_referenced        # folio_test_clear_referenced()
    if referenced_ptes:
        folio.flags |= PG_referenced            # folio_set_referenced()
        if referenced_folio or referenced_ptes > 1:
            return FOLIOREF_ACTIVATE
        return FOLIOREF_KEEP
    return FOLIOREF_RECLAIM


def _free_folio_batch(current: TaskStruct, folios: list[Folio], saved_sym: int) -> None:
    """try_to_unmap_flush(), then free_unref_folios() / free_unref_page_list() of *folios*.

    The flush comes first: a freed page must not be reachable through any
    stale TLB entry (vmscan's contract with the batch).

    # MODEL: the profile's free_unref_folios figure is per SWAP_CLUSTER_MAX
    # folios (what it was fitted over); a call is charged pro rata to the
    # folios it frees, so the per-page cost is the same whatever the cadence.
    """
    m = current.machine
    cpu = current.cpu
    if m.probes:
        m.probe("shrink_folio_list:before_flush", current, folios=folios)
    try_to_unmap_flush(current)
    if not folios:
        return
    cpu.sym = S_free_unref_folios
    try:
        cpu.charge("free_unref_folios",
                   m.kns[S_free_unref_folios] * len(folios) / SWAP_CLUSTER_MAX)
        alloc = m.page_alloc
        debug_vm = m.debug_vm
        for folio in folios:
            if debug_vm and (folio.mapcount or folio.flags & PG_gathered):
                raise VmBug(f"shrink_folio_list: freeing pfn {folio.pfn} still "
                            f"{'mapped' if folio.mapcount else 'held by an mmu_gather'}")
            folio.flags &= ~PG_isolated
            alloc.free_folio(cpu, folio)
    finally:
        cpu.sym = saved_sym


def shrink_folio_list(current: TaskStruct, folio_list: list[Folio],
                      ignore_references: bool) -> int:
    """Models: shrink_folio_list(): try to free every folio of an isolated list.

    Returns the number reclaimed; the others are put back on the LRU (on the
    active list when folio_check_references() said so).  See the module
    docstring for the ordering this function guarantees.  When it frees is
    the baseline's (``reclaim_free_batch``): up to 6.8 once, after the whole
    list, behind one try_to_unmap_flush(); since 6.9 every time the
    folio_batch of freed folios fills (15, then 31 from 6.10), each time
    behind a try_to_unmap_flush(), and once more for the rest.
    """
    m = current.machine
    cpu = current.cpu
    k = m.kns
    swap = m.swap
    vs = m.vmstat
    batch_size = m.baseline.reclaim_free_batch
    free_folios: list[Folio] = []
    ret_folios: list[Folio] = []
    nr_reclaimed = 0
    saved = cpu.sym
    prof = cpu.ns
    cost = k[S_shrink_folio_list]
    try:
        for folio in folio_list:
            cpu.sym = S_shrink_folio_list
            cpu.now += cost                 # cpu.charge(), inlined
            prof[S_shrink_folio_list] += cost
            folio.flags |= PG_locked        # folio_trylock(); isolated folios are ours
            vs.pgscan_direct += 1
            if not ignore_references:
                ref = folio_check_references(current, folio)
                cpu.sym = S_shrink_folio_list
                if ref == FOLIOREF_ACTIVATE:
                    folio.flags |= PG_active    # activate_locked: folio_set_active()
                    vs.pgactivate += 1
                    ret_folios.append(folio)
                    continue
                if ref == FOLIOREF_KEEP:
                    ret_folios.append(folio)
                    continue
            # folio_test_anon() && !folio_test_swapcache()
            # (isinstance(), as a class test: AnonVma has no subclasses)
            if folio.mapping.__class__ is AnonVma and not folio.flags & PG_swapcache:
                if not swap.add_to_swap(cpu, folio):
                    ret_folios.append(folio)
                    continue
            if folio.mapcount:
                try_to_unmap(current, folio, TTU_BATCH_FLUSH)
                if folio.mapcount:
                    ret_folios.append(folio)
                    continue
            if folio.flags & PG_dirty:
                if m.probes:
                    m.probe("shrink_folio_list:before_flush_dirty", current, folio=folio)
                try_to_unmap_flush_dirty(current)
                pageout(current, folio)
                if folio.flags & PG_dirty:
                    ret_folios.append(folio)
                    continue
            if not __remove_mapping(current, folio):
                ret_folios.append(folio)
                continue
            folio.flags &= ~PG_locked       # __folio_clear_locked() before free_it:
            nr_reclaimed += 1
            vs.pgsteal_direct += 1
            free_folios.append(folio)
            if batch_size and len(free_folios) == batch_size:
                # 6.9+: folio_batch_add() returned 0 -- the batch is full.
                _free_folio_batch(current, free_folios, S_shrink_folio_list)
                free_folios = []
        cpu.sym = saved
        for folio in ret_folios:
            folio.flags &= ~PG_locked       # folio_unlock() (keep_locked:)
        _free_folio_batch(current, free_folios, saved)
    finally:
        cpu.sym = saved
    for folio in ret_folios:
        folio_putback_lru(current, folio)
    return nr_reclaimed


def reclaim_pages(current: TaskStruct, folio_list: list[Folio]) -> int:
    """Models: reclaim_pages() -> reclaim_folio_list(): reclaim an isolated list (MADV_PAGEOUT).

    The whole list goes to one shrink_folio_list() call (one node here), as
    upstream hands it over -- MADV_PAGEOUT calls this once per PTE table, so
    up to 512 folios.  References are checked up to 6.8 and ignored since
    2864f3d0f583 (6.9), the baseline's ``pageout_clears_young``.
    """
    m = current.machine
    current.cpu.charge("reclaim_pages", m.kns[S_reclaim_pages])
    if not folio_list:
        return 0
    return shrink_folio_list(current, folio_list, not m.baseline.pageout_clears_young)


def shrink_active_list(current: TaskStruct, nr_to_scan: int) -> None:
    """Models: shrink_active_list(): move the oldest active folios to the inactive list.

    Each is checked with folio_referenced() (which ages its PTEs, on arm64
    with a TLBI each) but deactivated regardless: only executable file
    folios stay active, and the model has none.
    """
    m = current.machine
    cpu = current.cpu
    k = m.kns
    lru = m.lru
    taken: list[Folio] = []
    for folio in lru.active:
        if len(taken) == nr_to_scan:
            break
        cpu.charge("folio_isolate_lru", k[S_folio_isolate_lru])
        lru.del_folio(folio)
        taken.append(folio)
    _lru_lock_irq(cpu, k)
    for folio in taken:
        cpu.charge("shrink_active_list", k[S_shrink_active_list])
        if folio.mapcount:
            folio_referenced(current, folio)
        folio.active = False            # folio_clear_active()
        m.vmstat.pgdeactivate += 1
    _lru_lock_irq(cpu, k)
    for folio in taken:
        lru.add_folio(folio)


def try_to_free_pages(current: TaskStruct, nr_to_reclaim: int) -> int:
    """Models: try_to_free_pages() -> shrink_lruvec(): direct reclaim.

    Each round deactivates SWAP_CLUSTER_MAX folios when the inactive list is
    smaller than the active one (inactive_is_low() at ratio 1, as for small
    memory), then isolates up to SWAP_CLUSTER_MAX of the oldest inactive
    folios and hands them to shrink_folio_list() with references checked
    (shrink_inactive_list), until *nr_to_reclaim* are freed or nothing more
    can be.  Unlike MADV_PAGEOUT this path also takes folios mapped by
    several processes, which is what exercises one flush per mapping; a
    folio every process just read (several young PTEs) is activated, not
    reclaimed, and comes back to the inactive list old.

    # MODEL: no scan priorities, no anon/file balancing; the scan gives up
    # after isolating three times the LRU's size without reaching the target.
    # No kswapd and no memcg: reclaim runs in the task that asks for it
    # (here, or MADV_PAGEOUT).  kswapd's case -- the reclaimer on another CPU
    # than the process, so even a single-threaded x86 process's mm_cpumask
    # names a CPU other than the reclaimer's and the flush defers -- is a
    # scenario "reclaim" step by a task on another CPU.
    """
    m = current.machine
    if m.trace is not None:
        m.trace_event(current.cpu, "mm_vmscan_direct_reclaim_begin",
                      f"order=0 gfp_flags=GFP_HIGHUSER_MOVABLE nr_to_reclaim={nr_to_reclaim}")
    lru = m.lru
    nr = 0
    budget = 3 * len(lru)
    while nr < nr_to_reclaim and budget > 0:
        if len(lru.inactive) < len(lru.active):
            shrink_active_list(current, SWAP_CLUSTER_MAX)
        batch: list[Folio] = []
        for folio in lru:                   # oldest first; isolation unlinks behind us
            if len(batch) == SWAP_CLUSTER_MAX:
                break
            if folio_isolate_lru(current, folio):
                batch.append(folio)
        if not batch:
            break
        budget -= len(batch)
        nr += shrink_folio_list(current, batch, False)
    if m.trace is not None:
        m.trace_event(current.cpu, "mm_vmscan_direct_reclaim_end", f"nr_reclaimed={nr}")
    return nr
