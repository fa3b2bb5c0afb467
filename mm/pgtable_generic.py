"""Generic PTE helpers that combine a PTE update with a TLB flush.

Models: mm/pgtable-generic.c (``ptep_clear_flush``) and the
``ptep_get_and_clear`` / ``set_pte_at`` accessors of asm/pgtable.h.

Invariants this module owns:
  - ``ptep_clear_flush`` returns only when no CPU can use a translation made
    from the cleared PTE: it flushes synchronously whenever the PTE was
    accessible.  That flush is the cost deferred batching removes.
  - ``ptep_get_and_clear`` flushes nothing: its caller owes the flush.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minikernel.hw.cpu import S_ptep_clear_flush, S_ptep_get_and_clear
from minikernel.hw.mmu import _PAGE_PRESENT, PAGE_SHIFT

# One PTE table maps PTRS_PER_PTE pages (2 MiB with 4 KiB pages); each has its
# own page-table lock on SMP (USE_SPLIT_PTE_PTLOCKS), and the PTE walks of
# mprotect, munmap, madvise and mremap take them one table at a time.
PTRS_PER_PTE = 512
PMD_SHIFT = PAGE_SHIFT + 9
PMD_SIZE = 1 << PMD_SHIFT


def pmd_addr_end(addr: int, end: int) -> int:
    """Models: pmd_addr_end(): the end of the PTE table holding *addr*, capped at *end*."""
    boundary = (addr + PMD_SIZE) & ~(PMD_SIZE - 1)
    return boundary if boundary < end else end


def pte_table(addr: int) -> int:
    """Model-only: which PTE table (and so which split page-table lock) maps *addr*."""
    return addr >> PMD_SHIFT

if TYPE_CHECKING:
    from minikernel.hw.cpu import Cpu
    from minikernel.mm.mm_types import MmStruct, VmAreaStruct


def ptep_get_and_clear(cpu: Cpu, mm: MmStruct, addr: int) -> int:
    """Models: ptep_get_and_clear(): atomically read and clear one PTE; no flush.

    Caller's contract: flush the TLB for *addr* (now or through the batch)
    before the page can be freed or written back.
    """
    ns = mm.machine.kns[S_ptep_get_and_clear]    # cpu.charge(), inlined
    cpu.now += ns
    cpu.ns[S_ptep_get_and_clear] += ns
    return mm.pgd.pop(addr >> PAGE_SHIFT, 0)


def ptep_clear_flush(cpu: Cpu, vma: VmAreaStruct, addr: int) -> int:
    """Models: ptep_clear_flush(): clear one PTE and flush it from every TLB before returning.

    On arm64 the inlined flush_tlb_page() stalls in DSB ISH for the broadcast
    TLBI; on x86 it is flush_tlb_mm_range(), IPIs included when the mm runs
    elsewhere.  Either way the cost is charged to this symbol (arm64) or below
    it (x86), as perf shows it.
    """
    mm = vma.vm_mm
    m = mm.machine
    saved = cpu.sym
    cpu.sym = S_ptep_clear_flush
    try:
        ns = m.kns[S_ptep_clear_flush]     # cpu.charge(), inlined: a per-page path
        cpu.now += ns
        cpu.ns[S_ptep_clear_flush] += ns
        pte = mm.pgd.pop(addr >> PAGE_SHIFT, 0)
        if pte & _PAGE_PRESENT:                  # pte_accessible()
            m.arch.flush_tlb_page(cpu, vma, addr)
    finally:
        cpu.sym = saved
    return pte
