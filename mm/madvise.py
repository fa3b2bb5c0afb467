"""madvise: MADV_PAGEOUT (reclaim a range now) and MADV_DONTNEED (drop it).

Models: mm/madvise.c (``madvise_pageout``, ``madvise_cold_or_pageout_pte_range``,
``madvise_dontneed_single_vma``).

Invariants this module owns:
  - The PTE walk calls ``flush_tlb_batched_pending`` under the PTE lock first.
  - MADV_PAGEOUT leaves alone any folio mapped more than once ("do not
    interfere with other mappings"), and folios not on an LRU.
"""

from __future__ import annotations

from minikernel.hw.mmu import PAGE_SHIFT, PAGE_SIZE, pte_pfn, pte_present
from minikernel.mm.memory import zap_page_range_single
from minikernel.mm.mm_types import Folio, TaskStruct, VmAreaStruct
from minikernel.mm.mmap import vmas_in_range
from minikernel.mm.rmap import flush_tlb_batched_pending
from minikernel.mm.vmscan import folio_isolate_lru, reclaim_pages

MADV_DONTNEED = 4
MADV_PAGEOUT = 21


def madvise_cold_or_pageout_pte_range(current: TaskStruct, vma: VmAreaStruct, start: int,
                                      end: int) -> list[Folio]:
    """Models: madvise_cold_or_pageout_pte_range() for pageout: isolate the range's folios."""
    m = current.machine
    cpu = current.cpu
    mm = vma.vm_mm
    pgd = mm.pgd
    flush_tlb_batched_pending(current, mm)
    if m.probes:
        m.probe("madvise_cold_or_pageout_pte_range:locked", current, mm=mm, start=start, end=end)
    cost = m.kernel_ns["madvise_cold_or_pageout_pte_range"]
    mem_map = m.page_alloc.mem_map
    folio_list: list[Folio] = []
    for addr in range(start, end, PAGE_SIZE):
        pte = pgd.get(addr >> PAGE_SHIFT, 0)
        if not pte_present(pte):
            continue
        cpu.charge("madvise_cold_or_pageout_pte_range", cost)
        folio = mem_map[pte_pfn(pte)]
        if not folio.lru or folio.mapcount != 1:
            continue
        if folio_isolate_lru(current, folio):
            folio_list.append(folio)
    return folio_list


def madvise_pageout(current: TaskStruct, vma: VmAreaStruct, start: int, end: int) -> int:
    """Models: madvise_pageout(): isolate, then reclaim_pages(); returns pages reclaimed."""
    folio_list = madvise_cold_or_pageout_pte_range(current, vma, start, end)
    return reclaim_pages(current, folio_list)


def madvise_dontneed_single_vma(current: TaskStruct, vma: VmAreaStruct, start: int,
                                end: int) -> None:
    """Models: madvise_dontneed_single_vma(): zap the range (it refaults as zero/shmem pages)."""
    zap_page_range_single(current, vma, start, end)


def do_madvise(current: TaskStruct, start: int, length: int, advice: int) -> int:
    """Models: do_madvise(): apply *advice* to every VMA of the range; returns pages reclaimed."""
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
