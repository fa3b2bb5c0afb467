"""fork: duplicate an mm, sharing private anonymous pages copy-on-write.

Models: kernel/fork.c (``dup_mmap``) and mm/memory.c (``copy_page_range``,
``copy_present_pte``), kept in mm/ because the model has no kernel/ tree.

Invariants this module owns:
  - After fork every private anonymous page present in the parent is
    mapped read-only in both processes (mapcount 2) and every swap entry has
    one more reference; shared (shmem) VMAs copy no PTEs -- the child faults
    them in from the shmem object.
  - The parent's TLB is flushed (flush_tlb_mm) before fork returns, so no CPU
    keeps writing through a now write-protected entry.  Like upstream the
    flush is unconditional: reclaim may have cleared a PTE with its flush
    deferred, and the stale writable entry would otherwise let the parent
    write into a page the child will read back from swap.
"""

from __future__ import annotations

from dataclasses import replace

from minikernel.hw.mmu import (
    PAGE_SHIFT,
    is_swap_pte,
    is_writable_migration_entry,
    make_readable_migration_entry,
    pte_pfn,
    pte_present,
    pte_to_swp_offset,
    pte_write,
    pte_wrprotect,
)
from minikernel.mm.mm_types import VM_SHARED, MmStruct, TaskStruct
from minikernel.mm.mmap import insert_vma
from minikernel.mm.pgtable_generic import PMD_SHIFT


def dup_mmap(current: TaskStruct, mm: MmStruct) -> None:
    """Models: dup_mmap(): copy current's VMAs (and private PTEs) into the new *mm*."""
    m = current.machine
    oldmm = current.mm
    mem_map = m.page_alloc.mem_map
    for vma in oldmm.mmap:
        new = replace(vma, vm_mm=mm)
        insert_vma(mm, new)
        if vma.vm_flags & VM_SHARED:
            continue                    # copy_page_range() skips shared file-backed VMAs
        src, dst = oldmm.pgd, mm.pgd
        start, end = vma.vm_start >> PAGE_SHIFT, vma.vm_end >> PAGE_SHIFT
        for vpn in range(start, end):
            pte = src.get(vpn, 0)
            if pte == 0:
                continue
            if is_swap_pte(pte):
                m.swap.swap_duplicate(pte_to_swp_offset(pte))
            elif is_writable_migration_entry(pte):
                # copy_nonpresent_pte(): a COW mapping's migration entry becomes
                # readable in both, so remove_migration_ptes() maps it read-only.
                pte = make_readable_migration_entry(pte)
                src[vpn] = pte
            elif pte_present(pte):
                if pte_write(pte):
                    pte = pte_wrprotect(pte)
                    src[vpn] = pte
                mem_map[pte_pfn(pte)].mapcount += 1
            dst[vpn] = pte
            mm.pte_tables.add(vpn >> (PMD_SHIFT - PAGE_SHIFT))    # copy_pte_range(): pte_alloc()
    m.arch.flush_tlb_mm(current.cpu, oldmm)   # kernel/fork.c: dup_mmap() "out:" path
