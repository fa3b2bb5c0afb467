"""Page faults, and tearing down PTEs with an mmu_gather.

Models: mm/memory.c (``handle_mm_fault``, ``do_anonymous_page``,
``do_read_fault``/``do_shared_fault`` with fault-around, ``do_swap_page``,
``do_wp_page``, ``zap_pte_range``, ``zap_page_range_single``), mm/filemap.c
(``filemap_map_pages``), mm/mmu_gather.c (``tlb_flush_mmu``,
``tlb_finish_mmu``) and the user
fault entry of arch/*/mm/fault.c (``do_user_addr_fault``).

Invariants this module owns:
  - A fault installs a PTE only; the TLB is filled by the retried access.
  - ``zap_pte_range`` calls ``flush_tlb_batched_pending`` under the PTE lock
    before it looks at PTEs, and frees the folios it unmapped only after
    the gather flushed the range (``tlb_flush_mmu`` / ``tlb_finish_mmu``);
    a dirty shmem PTE is flushed before the PTE lock is dropped.
  - A private anonymous page shared after fork is mapped read-only in every
    process until a write copies it (or reuses it when it is the last one).

# MODEL: no zero page -- a read fault on private anonymous memory allocates a
# zeroed page, mapped writable-clean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import filterfalse

from minikernel.compat import SLOTS
from minikernel.hw.cpu import (
    FAULT,
    SYMBOL_IDS,
    S__raw_spin_lock,
    S__raw_spin_unlock,
    S_do_anonymous_page,
    S_do_fault,
    S_do_swap_page,
    S_do_wp_page,
    S_filemap_map_pages,
    S_finish_fault,
    S_handle_mm_fault,
    S_main,
    S_tlb_finish_mmu,
    S_tlb_flush_mmu,
    S_zap_pte_range,
)
from minikernel.hw.mmu import (
    _PAGE_ACCESSED,
    _PAGE_DIRTY,
    _PAGE_PRESENT,
    _PAGE_RW,
    PAGE_SHIFT,
    PAGE_SIZE,
    PTE_PFN_SHIFT,
    is_migration_entry,
    is_swap_pte,
    mk_pte,
    pte_dirty,
    pte_pfn,
    pte_present,
    pte_to_swp_offset,
    pte_write,
)
from minikernel.mm.mempolicy import vma_alloc_folio
from minikernel.mm.mm_types import (
    VM_READ,
    VM_SHARED,
    VM_WRITE,
    AnonVma,
    Folio,
    FolioLocked,
    PG_dirty,
    PG_gathered,
    PG_locked,
    TaskStruct,
    VmAreaStruct,
)
from minikernel.mm.page_alloc import folio_put
from minikernel.mm.pgtable_generic import PMD_SHIFT, PMD_SIZE, pmd_addr_end, ptep_clear_flush
from minikernel.mm.rmap import (
    folio_add_anon_rmap_pte,
    folio_add_file_rmap_pte,
    folio_add_new_anon_rmap,
    folio_remove_rmap_pte,
    pte_offset_map_lock,
)
from minikernel.mm.shmem import shmem_fault
from minikernel.mm.vmscan import folio_add_lru

# filemap_map_pages() maps at most this many pages around a fault (fault_around_bytes = 64 KiB).
FAULT_AROUND_PAGES = 16


class SegmentationFault(Exception):
    """Model-only: a user access the kernel answers with SIGSEGV (no VMA, or no permission)."""

    def __init__(self, task: TaskStruct, addr: int, write: bool) -> None:
        super().__init__(f"{task.comm}[{task.pid}]: SIGSEGV {'write' if write else 'read'} "
                         f"at {addr:#x}")
        self.task = task
        self.addr = addr
        self.write = write


# --- faults ---

def filemap_map_pages(current: TaskStruct, vma: VmAreaStruct, addr: int) -> None:
    """Models: filemap_map_pages(): fault-around, mapping cached neighbours of a faulting page.

    Only folios already in the page cache get mapped (read-only-clean, or
    writable-clean in a shared writable VMA); swapped-out ones are skipped.
    """
    cpu = current.cpu
    ns = current.machine.kns[S_filemap_map_pages]
    cpu.now += ns                               # cpu.charge(), inlined
    cpu.ns[S_filemap_map_pages] += ns
    pgd = vma.vm_mm.pgd
    writable = bool(vma.vm_flags & VM_WRITE)
    start_vpn = vma.vm_start >> PAGE_SHIFT
    first = addr >> PAGE_SHIFT & ~(FAULT_AROUND_PAGES - 1)
    if first < start_vpn:                       # max(), without the call
        first = start_vpn
    last = first + FAULT_AROUND_PAGES
    end_vpn = vma.vm_end >> PAGE_SHIFT
    if end_vpn < last:                          # min(), without the call
        last = end_vpn
    i_pages_get = vma.vm_file.i_pages.get
    delta = vma.vm_pgoff - start_vpn            # index = vpn + delta (linear_page_index)
    # Skip the pages already mapped (each tested when the loop reaches it, as
    # before: filterfalse is lazy), without a Python-level test per page.
    for vpn in filterfalse(pgd.__contains__, range(first, last)):
        folio = i_pages_get(vpn + delta)
        # folio_trylock() failed (PG_locked): skip
        if folio.__class__ is Folio and not folio.flags & PG_locked:
            pgd[vpn] = mk_pte(folio.pfn, writable)
            folio_add_file_rmap_pte(folio)


def do_fault(current: TaskStruct, vma: VmAreaStruct, addr: int, write: bool) -> None:
    """Models: do_fault() -> do_read_fault() (with fault-around) / do_shared_fault() for shmem."""
    cpu = current.cpu
    k = current.machine.kns
    prof = cpu.ns
    ns = k[S_do_fault]                              # cpu.charge(), inlined
    cpu.now += ns
    prof[S_do_fault] += ns
    vpn = addr >> PAGE_SHIFT
    pgd = vma.vm_mm.pgd
    if not write:
        filemap_map_pages(current, vma, addr)
        if vpn in pgd:
            return
    folio = shmem_fault(current, vma, addr)
    # finish_fault() installs the PTE under the page-table lock.
    ns = k[S_finish_fault]                          # cpu.charge(), inlined
    cpu.now += ns
    prof[S_finish_fault] += ns
    ns = k[S__raw_spin_lock]                        # cpu.charge(), inlined
    cpu.now += ns
    prof[S__raw_spin_lock] += ns
    ns = k[S__raw_spin_unlock]                      # cpu.charge(), inlined
    cpu.now += ns
    prof[S__raw_spin_unlock] += ns
    # mk_pte(pfn, writable, dirty=write, young=True), written out
    pte = folio.pfn << PTE_PFN_SHIFT | _PAGE_PRESENT | _PAGE_ACCESSED
    if vma.vm_flags & VM_WRITE:
        pte |= _PAGE_RW
    if write:
        pte |= _PAGE_DIRTY
    pgd[vpn] = pte
    folio_add_file_rmap_pte(folio)
    if write:
        folio.flags |= PG_dirty                 # folio_mark_dirty()


def do_anonymous_page(current: TaskStruct, vma: VmAreaStruct, addr: int, write: bool) -> None:
    """Models: do_anonymous_page(): first touch of private anonymous memory."""
    m = current.machine
    cpu = current.cpu
    cpu.now += m.kns[S_do_anonymous_page]     # cpu.charge(), inlined
    cpu.ns[S_do_anonymous_page] += m.kns[S_do_anonymous_page]
    folio = vma_alloc_folio(current, vma, addr, True)
    folio_add_new_anon_rmap(folio, vma, addr)
    # Not marked dirty: a write dirties the PTE; add_to_swap() dirties the
    # folio when reclaim first gives it a slot.
    vma.vm_mm.pgd[addr >> PAGE_SHIFT] = mk_pte(folio.pfn, bool(vma.vm_flags & VM_WRITE),
                                               dirty=write, young=True)
    folio_add_lru(current, folio)


def do_swap_page(current: TaskStruct, vma: VmAreaStruct, addr: int, pte: int,
                 write: bool) -> None:
    """Models: do_swap_page(): bring a private anonymous page back from swap.

    A slot named by this PTE alone skips the swap cache (zram is
    SWP_SYNCHRONOUS_IO) and is released at once; one shared with other
    processes' PTEs goes through the swap cache so they all find the same
    folio.  The page is mapped writable only when nobody else shares it.
    """
    m = current.machine
    cpu = current.cpu
    cpu.now += m.kns[S_do_swap_page]          # cpu.charge(), inlined
    cpu.ns[S_do_swap_page] += m.kns[S_do_swap_page]
    swap = m.swap
    off = pte_to_swp_offset(pte)
    folio = swap.swap_cache_get_folio(cpu, off)
    if folio is not None and folio.locked:
        raise FolioLocked(folio)               # folio_lock_or_retry() would sleep
    if folio is None:
        folio = vma_alloc_folio(current, vma, addr, False)
        swap.swap_read_folio(cpu, folio, off)
        m.vmstat.pgmajfault += 1
        if swap.swap_count(off) > 1:
            swap.add_to_swap_cache(folio, off)
        folio_add_lru(current, folio)
    exclusive = swap.swap_count(off) == 1 and folio.mapcount == 0
    if folio.mapping is None:
        folio_add_new_anon_rmap(folio, vma, addr)
    else:
        folio_add_anon_rmap_pte(folio, vma, addr)
    swap.swap_free(off)
    if folio.swapcache and swap.swap_count(off) == 0:
        swap.delete_from_swap_cache(folio)     # folio_free_swap()
    if not folio.swapcache:
        folio.dirty = True                     # the swap copy is gone
    writable = exclusive and bool(vma.vm_flags & VM_WRITE)
    vma.vm_mm.pgd[addr >> PAGE_SHIFT] = mk_pte(folio.pfn, writable, dirty=write and writable,
                                               young=True)


def do_wp_page(current: TaskStruct, vma: VmAreaStruct, addr: int, pte: int) -> None:
    """Models: do_wp_page(): a write to a present, write-protected private page.

    Reuses the page when this PTE is its only user; otherwise copies it and
    flushes the old translation with ptep_clear_flush() before the new PTE
    goes in, so no CPU keeps writing to the shared original.
    """
    m = current.machine
    cpu = current.cpu
    cpu.charge("do_wp_page", m.kns[S_do_wp_page])
    mm = vma.vm_mm
    vpn = addr >> PAGE_SHIFT
    old = m.page_alloc.mem_map[pte_pfn(pte)]
    swap = m.swap
    # Reuse needs folio_trylock(); a folio reclaim holds locked is copied instead.
    if (old.mapcount == 1 and not old.locked
            and not (old.swapcache and swap.swap_count(old.swap) > 0)):
        if old.swapcache:
            swap.delete_from_swap_cache(old)
            old.dirty = True                   # folio_free_swap(): the swap copy is gone
        mm.pgd[vpn] = mk_pte(old.pfn, True, dirty=True, young=True)
        return
    new = vma_alloc_folio(current, vma, addr, False)
    m.mem.data[new.pfn] = m.mem.data[old.pfn]
    ptep_clear_flush(cpu, vma, addr)
    folio_add_new_anon_rmap(new, vma, addr)
    mm.pgd[vpn] = mk_pte(new.pfn, True, dirty=True, young=True)
    folio_add_lru(current, new)
    folio_remove_rmap_pte(old)
    folio_put(m, cpu, old)


def handle_mm_fault(current: TaskStruct, vma: VmAreaStruct, addr: int, write: bool) -> None:
    """Models: handle_mm_fault() -> handle_pte_fault(): dispatch on what the PTE holds."""
    cpu = current.cpu
    ns = current.machine.kns[S_handle_mm_fault]     # cpu.charge(), inlined
    cpu.now += ns
    cpu.ns[S_handle_mm_fault] += ns
    mm = vma.vm_mm
    pte = mm.pgd.get(addr >> PAGE_SHIFT, 0)
    if pte == 0:
        mm.pte_tables.add(addr >> PMD_SHIFT)            # __pte_alloc(), if none yet
        if vma.vm_file is not None:
            do_fault(current, vma, addr, write)
        else:
            do_anonymous_page(current, vma, addr, write)
    elif is_swap_pte(pte):
        do_swap_page(current, vma, addr, pte, write)
    elif is_migration_entry(pte):
        # do_swap_page()'s non_swap_entry() case upstream
        from minikernel.mm.migrate import migration_entry_wait
        migration_entry_wait(current, vma, addr, pte)
    elif write and not pte_write(pte):
        if vma.vm_flags & VM_SHARED:
            mm.pgd[addr >> PAGE_SHIFT] = mk_pte(pte_pfn(pte), True, dirty=True, young=True)
        else:
            do_wp_page(current, vma, addr, pte)
    # else: a spurious fault (the PTE is fine; a stale TLB entry was dropped).


def do_user_addr_fault(current: TaskStruct, addr: int, write: bool) -> None:
    """Models: do_user_addr_fault() (x86) / do_page_fault() (arm64): check the VMA, then fault in."""
    m = current.machine
    cpu = current.cpu
    saved = cpu.sym
    k = m.kns
    prof = cpu.ns
    try:
        for sym in m.arch.fault_entry_syms:  # arm64 el0_da; x86 asm_exc_page_fault, exc_page_fault
            i = SYMBOL_IDS[sym]
            cpu.sym = i
            ns = k[i]                       # cpu.charge(sym, ns), inlined
            cpu.now += ns
            prof[i] += ns
        m.vmstat.pgfault += 1
        vma = current.mm.find_vma(addr)
        if vma is None or not vma.vm_flags & VM_READ or (write and not vma.vm_flags & VM_WRITE):
            raise SegmentationFault(current, addr, write)
        cpu.sym = S_handle_mm_fault
        handle_mm_fault(current, vma, addr, write)
    finally:
        cpu.sym = saved


def access_user(current: TaskStruct, addr: int, write: bool, value: int = 0) -> int:
    """Model-only: one load or store by *current*'s user code, faulting as needed.

    Returns the value read (or written).  Raises SegmentationFault.
    """
    cpu = current.cpu
    vpn = addr >> PAGE_SHIFT
    ns = current.machine.kns[S_main]          # cpu.charge(), inlined
    cpu.now += ns
    cpu.ns[S_main] += ns
    for _ in range(4):
        r = cpu.access(vpn, write, value)
        if r is not FAULT:
            return r
        do_user_addr_fault(current, addr, write)
    raise RuntimeError(f"fault loop at {addr:#x}: the fault handler made no progress")


# --- unmapping ranges ---

@dataclass(eq=False, **SLOTS)
class MmuGather:
    """struct mmu_gather (include/asm-generic/tlb.h): a range to flush and pages to free after.

    start, end: the span of cleared PTEs still to be flushed (end == 0: none)
    folios:     folios whose last PTE went away; freed only after the flush
    freed_tables: free_pgtables() freed page tables into it, so its flush
                must also reach what may cache them (the arch's tlb_flush)
    """

    vma: VmAreaStruct
    start: int = 0
    end: int = 0
    folios: list[Folio] = field(default_factory=list)
    freed_tables: bool = False

    def tlb_remove_tlb_entry(self, addr: int) -> None:
        """Models: tlb_remove_tlb_entry(): widen the range to flush."""
        end = self.end
        if end == 0:
            self.start, self.end = addr, addr + PAGE_SIZE
        else:
            if addr < self.start:               # min(), without the call
                self.start = addr
            end_addr = addr + PAGE_SIZE
            if end_addr > end:                  # max(), without the call
                self.end = end_addr


def zap_pte_range(current: TaskStruct, tlb: MmuGather, start: int, end: int) -> None:
    """Models: zap_pte_range(): clear every PTE in [start, end), which lies in one PTE table.

    Under the table's lock: flush_tlb_batched_pending() first (a PTE reclaim
    cleared here may still be cached, and the range flush below would not
    cover a PTE this function never sees), then each present PTE is cleared
    into the gather, which keeps a reference on its folio until it is freed
    after the flush.  Swap entries release their slot.

    A dirty PTE of a shmem folio marks the folio dirty and forces the TLB
    flush before the lock is dropped: otherwise reclaim could write the
    folio out while a stale dirty entry still stores to it.  Up to 6.1 the
    folio's rmap is dropped at once, before that flush -- so reclaim no
    longer sees the mapping, needs no page-table lock, and can start IO
    in between; since 6.2 (5df397dec7c4, the baseline's ``zap_delay_rmap``)
    the rmap of such folios is dropped only after the flush, still under
    the lock (tlb_flush_rmaps).

    Probes: ``zap_pte_range:cleared`` after each present PTE (lock held),
    ``zap_pte_range:unlocked`` after the lock is dropped and before the
    gather's remaining range is flushed.
    """
    m = current.machine
    cpu = current.cpu
    vma = tlb.vma
    mm = vma.vm_mm
    pgd = pte_offset_map_lock(current, mm, "zap_pte_range", start, end)
    cost = m.kns[S_zap_pte_range]
    mem_map = m.page_alloc.mem_map
    delay_rmap_ok = m.baseline.zap_delay_rmap
    force_flush = False
    delayed: list[Folio] = []
    for addr in range(start, end, PAGE_SIZE):
        pte = pgd.pop(addr >> PAGE_SHIFT, 0)
        if pte == 0:
            continue
        cpu.now += cost                             # cpu.charge(), inlined
        cpu.ns[S_zap_pte_range] += cost
        if pte_present(pte):
            folio = mem_map[pte_pfn(pte)]
            delay_rmap = False
            if pte_dirty(pte):
                folio.flags |= PG_dirty             # folio_mark_dirty()
                if not isinstance(folio.mapping, AnonVma):  # !folio_test_anon()
                    force_flush = True
                    delay_rmap = delay_rmap_ok      # tlb_delay_rmap(): always, generic gather
            tlb.tlb_remove_tlb_entry(addr)
            if delay_rmap:
                delayed.append(folio)
            else:
                folio_remove_rmap_pte(folio)
            folio.flags |= PG_gathered              # __tlb_remove_page() keeps a reference
            tlb.folios.append(folio)
            if m.probes:
                m.probe("zap_pte_range:cleared", current, mm=mm, start=start, end=end,
                        addr=addr, folio=folio)
        elif is_swap_pte(pte):
            m.swap.swap_free(pte_to_swp_offset(pte))
    if force_flush:
        # "Do the actual TLB flush before dropping ptl"
        tlb_flush_mmu_tlbonly(current, tlb)
        for folio in delayed:                       # tlb_flush_rmaps()
            folio_remove_rmap_pte(folio)
    # pte_unmap_unlock()
    if m.probes:
        m.probe("zap_pte_range:unlocked", current, mm=mm, start=start, end=end)
    if force_flush:
        tlb_flush_mmu(current, tlb)


def tlb_flush_mmu_tlbonly(current: TaskStruct, tlb: MmuGather) -> None:
    """Models: tlb_flush_mmu_tlbonly(): flush the gathered span [start, end) and reset it.

    The arch flush, tlb_flush() (arm64: a TLBI per page and one DSB, or
    ASIDE1IS past MAX_TLBI_OPS; x86: INVLPGs or a full flush past 33 pages,
    plus an IPI round to the mm's other CPUs; with freed page tables also
    to lazy CPUs), is inline below tlb_flush_mmu, which is where perf puts
    its cycles.
    """
    if not tlb.end:
        return
    m = current.machine
    cpu = current.cpu
    saved = cpu.sym
    cpu.sym = S_tlb_flush_mmu
    try:
        cpu.charge("tlb_flush_mmu", m.kns[S_tlb_flush_mmu])
        m.arch.tlb_flush(cpu, tlb)
    finally:
        cpu.sym = saved
    tlb.start = tlb.end = 0                     # __tlb_reset_range()
    tlb.freed_tables = False


def tlb_flush_mmu(current: TaskStruct, tlb: MmuGather) -> None:
    """Models: tlb_flush_mmu(): flush the gathered span, then release the gathered folios."""
    m = current.machine
    cpu = current.cpu
    tlb_flush_mmu_tlbonly(current, tlb)
    for folio in tlb.folios:
        folio.flags &= ~PG_gathered
        if isinstance(folio.mapping, AnonVma) and not folio.mapcount:     # folio_test_anon()
            # An anonymous folio nobody maps is garbage, swap copy included.
            if folio.swapcache and m.swap.swap_count(folio.swap) == 0:
                m.swap.delete_from_swap_cache(folio)
        folio_put(m, cpu, folio)
    tlb.folios.clear()


def tlb_finish_mmu(current: TaskStruct, tlb: MmuGather) -> None:
    """Models: tlb_finish_mmu(): the last tlb_flush_mmu() of a gather."""
    m = current.machine
    current.cpu.charge("tlb_finish_mmu", m.kns[S_tlb_finish_mmu])
    tlb_flush_mmu(current, tlb)


def unmap_page_range(current: TaskStruct, tlb: MmuGather, start: int, end: int) -> None:
    """Models: unmap_page_range() -> zap_pmd_range(): one zap_pte_range() per PTE table that exists."""
    tables = tlb.vma.vm_mm.pte_tables
    addr = start
    while addr < end:
        next_ = pmd_addr_end(addr, end)
        if addr >> PMD_SHIFT in tables:         # pmd_none(): no table, nothing to zap
            zap_pte_range(current, tlb, addr, next_)
        addr = next_


def zap_page_range_single(current: TaskStruct, vma: VmAreaStruct, start: int, end: int) -> None:
    """Models: zap_page_range_single(): unmap a range of one VMA and flush it (MADV_DONTNEED).

    One zap_pte_range() per PTE table, one gather for all; the page tables
    stay (only munmap frees them: unmap_region).
    """
    tlb = MmuGather(vma)
    unmap_page_range(current, tlb, start, end)
    tlb_finish_mmu(current, tlb)


def free_pgtables(current: TaskStruct, tlb: MmuGather, start: int, end: int, floor: int,
                  ceiling: int) -> None:
    """Models: free_pgtables() -> free_pgd_range() down to free_pte_range(): free unused PTE tables.

    [start, end) was just unmapped; *floor* is where the previous VMA ends
    (0 if none) and *ceiling* where the next begins (0: none).  A PTE table
    is freed only if its whole 2 MiB lies in [floor, ceiling), i.e. no other
    VMA shares it.  Each freed table goes into the gather (pte_free_tlb():
    one page at the table's address, ``freed_tables`` set), so the gather's
    last flush reaches what may still cache it before it is reused.

    # MODEL: the table's page is not taken from or returned to the page
    # allocator (it would shift every folio's pfn); only its lifetime
    # (mm.pte_tables) and the flush it owes are modelled.  Higher levels
    # (PMD/PUD tables) are not modelled: they would widen the same flush.
    """
    addr = start & ~(PMD_SIZE - 1)
    if addr < floor:
        addr += PMD_SIZE
    if ceiling:
        ceiling &= ~(PMD_SIZE - 1)
        if not ceiling:
            return
        if end - 1 > ceiling - 1:
            end -= PMD_SIZE
    tables = tlb.vma.vm_mm.pte_tables
    while addr < end:
        t = addr >> PMD_SHIFT
        if t in tables:
            tables.discard(t)                   # pte_free_tlb():
            tlb.tlb_remove_tlb_entry(addr)      # tlb_flush_pmd_range(tlb, addr, PAGE_SIZE)
            tlb.freed_tables = True
        addr = (t + 1) << PMD_SHIFT
