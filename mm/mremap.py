"""mremap: move a mapping to a new address, carrying its PTEs along.

Models: mm/mremap.c (``do_mremap`` restricted to moving one whole VMA,
``move_vma``, ``move_page_tables`` -> ``move_ptes``).

Invariants this module owns:
  - ``move_ptes`` calls ``flush_tlb_batched_pending`` under the old range's
    PTE lock before it reads any PTE (3ea277194daa added it there too): a PTE
    reclaim cleared with its flush deferred is not moved, so nothing here
    would flush it, and mremap could return while a CPU still uses the old
    translation.
  - If any present PTE moved, the old range is flushed before return: no CPU
    may keep using the old virtual address.
  - The moved VMA keeps ``vm_pgoff``, so rmap's ``linear_page_index`` of
    every folio stays valid at the new address.

# MODEL: only MREMAP_MAYMOVE of a whole VMA to a fresh address with the same
# size; no growing, shrinking or MREMAP_FIXED.
"""

from __future__ import annotations

from dataclasses import replace

from minikernel.hw.mmu import PAGE_SHIFT, PAGE_SIZE, pte_present
from minikernel.mm.mm_types import TaskStruct, VmAreaStruct
from minikernel.mm.mmap import (
    get_unmapped_area,
    insert_vma,
    remove_vma,
    unmap_region,
    vmas_in_range,
)
from minikernel.mm.pgtable_generic import PMD_SHIFT, pmd_addr_end
from minikernel.mm.rmap import pte_offset_map_lock


def move_ptes(current: TaskStruct, vma: VmAreaStruct, old_addr: int, old_end: int,
              new_addr: int) -> None:
    """Models: move_ptes(): move every PTE of [old_addr, old_end), one PTE table, to *new_addr* on.

    Caller's contract: the new VMA is in place.  Flushes the old range if a
    present PTE moved (the kernel's ``force_flush``).
    """
    m = current.machine
    mm = vma.vm_mm
    pgd = pte_offset_map_lock(current, mm, "move_ptes", old_addr, old_end)
    force_flush = False
    delta = (new_addr - old_addr) >> PAGE_SHIFT
    for vpn in range(old_addr >> PAGE_SHIFT, old_end >> PAGE_SHIFT):
        pte = pgd.pop(vpn, 0)
        if pte == 0:
            continue
        if pte_present(pte):
            force_flush = True
        pgd[vpn + delta] = pte
    if force_flush:
        m.arch.flush_tlb_range(current.cpu, vma, old_addr, old_end)


def do_mremap(current: TaskStruct, addr: int, length: int) -> int:
    """Models: do_mremap() with MREMAP_MAYMOVE -> move_vma(): move one VMA; returns the new address.

    Raises ValueError (the kernel's -EFAULT/-EINVAL) unless [addr, addr+length)
    is exactly one VMA.
    """
    mm = current.mm
    end = addr + ((length + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
    vmas = vmas_in_range(mm, addr, end)
    if len(vmas) != 1 or vmas[0].vm_start != addr or vmas[0].vm_end != end:
        raise ValueError(f"mremap of {addr:#x}+{length:#x}: not exactly one mapping")
    vma = vmas[0]
    new_addr = get_unmapped_area(mm, end - addr)
    new = replace(vma, vm_start=new_addr, vm_end=new_addr + (end - addr))
    insert_vma(mm, new)
    # move_page_tables(): one move_ptes() per PTE table of the old range that
    # exists, each into a table allocated at the new address (alloc_new_pmd).
    old = addr
    while old < end:
        next_ = pmd_addr_end(old, end)
        if old >> PMD_SHIFT in mm.pte_tables:
            new_start = new_addr + (old - addr)
            mm.pte_tables.update((new_start >> PMD_SHIFT, (new_start + next_ - old - 1) >> PMD_SHIFT))
            move_ptes(current, vma, old, next_, new_start)
        old = next_
    # do_vmi_munmap() of the old range: its (now empty) PTE tables are zapped
    # and freed with their own flush (unmap_region -> free_pgtables).
    unmap_region(current, [vma])
    remove_vma(mm, vma)
    return new_addr
