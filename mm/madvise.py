"""madvise: MADV_PAGEOUT (reclaim a range now) and MADV_DONTNEED (drop it).

Models: mm/madvise.c (``madvise_pageout``, ``madvise_cold_or_pageout_pte_range``,
``madvise_dontneed_single_vma``), as the machine's baseline kernel has them.

Invariants this module owns:
  - The PTE walk calls ``flush_tlb_batched_pending`` under each PTE table's
    lock first, and hands each table's folios to ``reclaim_pages`` after
    dropping it.
  - MADV_PAGEOUT leaves alone any folio mapped more than once ("do not
    interfere with other mappings"), and folios not on an LRU.
"""

from __future__ import annotations

from minikernel.hw.cpu import (
    S_madvise_cold_or_pageout_pte_range,
)
from minikernel.hw.mmu import (
    _PAGE_ACCESSED,
    _PAGE_PRESENT,
    _PAGE_PROTNONE,
    PAGE_SHIFT,
    PAGE_SIZE,
    PTE_PFN_SHIFT,
)
from minikernel.mm.memory import MmuGather, tlb_finish_mmu, zap_page_range_single
from minikernel.mm.mm_types import Folio, PG_lru, PG_referenced, TaskStruct, VmAreaStruct
from minikernel.mm.mmap import vmas_in_range
from minikernel.mm.pgtable_generic import pmd_addr_end
from minikernel.mm.rmap import pte_offset_map_lock
from minikernel.mm.vmscan import folio_isolate_lru, reclaim_pages

MADV_DONTNEED = 4
MADV_PAGEOUT = 21


def madvise_cold_or_pageout_pte_range(current: TaskStruct, tlb: MmuGather, start: int,
                                      end: int) -> int:
    """Models: madvise_cold_or_pageout_pte_range() for pageout, one PTE table at a time.

    Under each table's lock: flush_tlb_batched_pending(), then isolate the
    table's exclusively mapped LRU folios.  Up to 6.8 (the baseline's
    ``pageout_clears_young``) each young PTE is first made old --
    ptep_get_and_clear_full, pte_mkold, set_pte_at -- and gathered with
    tlb_remove_tlb_entry(), so madvise_pageout()'s tlb_finish_mmu() flushes
    that span after reclaim; 2864f3d0f583 (6.9) dropped this for pageout.
    After the lock is dropped, reclaim_pages() gets the table's list.
    Returns the pages reclaimed.

    # MODEL: the young-clearing PTE work is inline in the kernel and is
    # part of this function's per-PTE figure; only its flush is extra.
    """
    m = current.machine
    cpu = current.cpu
    mm = tlb.vma.vm_mm
    clear_young = m.baseline.pageout_clears_young
    cost = m.kns[S_madvise_cold_or_pageout_pte_range]
    mem_map = m.page_alloc.mem_map
    prof = cpu.ns
    nr = 0
    addr = start
    while addr < end:
        next_ = pmd_addr_end(addr, end)
        pgd = pte_offset_map_lock(current, mm, "madvise_cold_or_pageout_pte_range", addr,
                                  next_)
        folio_list: list[Folio] = []
        for a in range(addr, next_, PAGE_SIZE):
            vpn = a >> PAGE_SHIFT
            pte = pgd.get(vpn, 0)
            if not pte & (_PAGE_PRESENT | _PAGE_PROTNONE):     # pte_present()
                continue
            cpu.now += cost                         # cpu.charge(), inlined
            prof[S_madvise_cold_or_pageout_pte_range] += cost
            folio = mem_map[pte >> PTE_PFN_SHIFT]           # pte_pfn()
            if not folio.flags & PG_lru or folio.mapcount != 1:      # folio_test_lru()
                continue
            if clear_young and pte & _PAGE_ACCESSED:        # pte_young()
                # ptep_get_and_clear_full + set_pte_at, pte_mkold() written out
                del pgd[vpn]                        # pgd.pop(vpn): it is *pte*
                pgd[vpn] = pte & ~_PAGE_ACCESSED
                tlb.tlb_remove_tlb_entry(a)
            folio.flags &= ~PG_referenced              # folio_clear_referenced()
            if folio_isolate_lru(current, folio):
                folio_list.append(folio)
        # pte_unmap_unlock(), then:
        nr += reclaim_pages(current, folio_list)
        addr = next_
    return nr


def madvise_pageout(current: TaskStruct, vma: VmAreaStruct, start: int, end: int) -> int:
    """Models: madvise_pageout(): tlb_gather_mmu, the PTE-table walk, tlb_finish_mmu.

    Returns pages reclaimed.  Up to 6.8 the final tlb_finish_mmu() flushes
    the young PTEs the walk made old (arm64: one TLBI per page and a DSB;
    x86: past 33 pages a full flush and an IPI round); since 6.9 the
    gather is empty and flushes nothing.
    """
    tlb = MmuGather(vma)
    nr = madvise_cold_or_pageout_pte_range(current, tlb, start, end)
    tlb_finish_mmu(current, tlb)
    return nr


def madvise_dontneed_single_vma(current: TaskStruct, vma: VmAreaStruct, start: int,
                                end: int) -> None:
    """Models: madvise_dontneed_single_vma(): zap the range (it refaults as zero/shmem pages)."""
    zap_page_range_single(current, vma, start, end)


def do_madvise(current: TaskStruct, start: int, length: int, advice: int) -> int:
    """Models: do_madvise(): apply *advice* to every VMA of the range; returns pages reclaimed.

    # MODEL: MADV_PAGEOUT and MADV_DONTNEED only.  MADV_COLD (the pageout
    # walk without reclaim) and MADV_FREE (madvise_free_pte_range, which also
    # calls flush_tlb_batched_pending under the PTE lock, and the lazyfree
    # discard in try_to_unmap_one) are not in the published benchmarks, and
    # their PTE-lock walk has the shape of the walkers modelled (zap,
    # mprotect, mremap, pageout).
    """
    end = start + ((length + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
    nr = 0
    for vma in vmas_in_range(current.mm, start, end):
        if advice == MADV_PAGEOUT:
            nr += madvise_pageout(current, vma, vma.vm_start, vma.vm_end)
        elif advice == MADV_DONTNEED:
            madvise_dontneed_single_vma(current, vma, vma.vm_start, vma.vm_end)
        else:
            raise ValueError(f"madvise advice {advice} is not modelled "
                             f"(MADV_PAGEOUT={MADV_PAGEOUT}, MADV_DONTNEED={MADV_DONTNEED})")
    return nr
