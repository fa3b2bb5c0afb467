"""mmap and munmap of anonymous memory, private or shared.

Models: mm/mmap.c and mm/vma.c (``do_mmap``, ``__split_vma``,
``do_vmi_munmap`` -> ``unmap_region``) for MAP_ANONYMOUS mappings.

Invariants this module owns:
  - ``mm.mmap`` stays sorted and non-overlapping; a partial munmap or
    mprotect splits VMAs at page boundaries first.
  - munmap flushes the unmapped range (through the mmu_gather) before it
    frees any page or returns.
"""

from __future__ import annotations

from dataclasses import replace

from minikernel.hw.mmu import PAGE_SHIFT, PAGE_SIZE
from minikernel.mm.memory import (
    MmuGather,
    free_pgtables,
    tlb_finish_mmu,
    tlb_flush_mmu_tlbonly,
    unmap_page_range,
)
from minikernel.mm.mm_types import (
    VM_MAYWRITE,
    VM_READ,
    VM_SHARED,
    VM_WRITE,
    AnonVma,
    MmStruct,
    TaskStruct,
    VmAreaStruct,
)
from minikernel.mm.shmem import shmem_zero_setup

PROT_NONE = 0x0
PROT_READ = 0x1
PROT_WRITE = 0x2
MAP_SHARED = 0x01
MAP_PRIVATE = 0x02
MAP_ANONYMOUS = 0x20

# Where the model starts placing mappings (bottom-up; the kernel goes top-down).
MMAP_MIN_ADDR = 0x10000000


def calc_vm_flags(prot: int, flags: int) -> int:
    """Models: calc_vm_prot_bits() | calc_vm_flag_bits(): VM_* flags for a new mapping."""
    vm_flags = VM_MAYWRITE
    if prot & PROT_READ:
        vm_flags |= VM_READ
    if prot & PROT_WRITE:
        vm_flags |= VM_WRITE | VM_READ
    if flags & MAP_SHARED:
        vm_flags |= VM_SHARED
    return vm_flags


def get_unmapped_area(mm: MmStruct, length: int) -> int:
    """Models: get_unmapped_area(): the lowest gap of *length* bytes above MMAP_MIN_ADDR."""
    addr = MMAP_MIN_ADDR
    for vma in mm.mmap:
        if vma.vm_start - addr >= length:
            break
        addr = max(addr, vma.vm_end)
    return addr


def insert_vma(mm: MmStruct, vma: VmAreaStruct) -> None:
    """Model-only: link a VMA into the mm's sorted list and its rmap structure."""
    mm.mmap.append(vma)
    mm.mmap.sort(key=lambda v: v.vm_start)
    if vma.anon_vma is not None:
        vma.anon_vma.vmas.append(vma)
    if vma.vm_file is not None:
        vma.vm_file.i_mmap.append(vma)


def remove_vma(mm: MmStruct, vma: VmAreaStruct) -> None:
    """Models: remove_vma() plus unlink_anon_vmas()/unlink_file_vma()."""
    mm.mmap.remove(vma)
    if vma.anon_vma is not None:
        vma.anon_vma.vmas.remove(vma)
    if vma.vm_file is not None:
        vma.vm_file.i_mmap.remove(vma)


def do_mmap(current: TaskStruct, length: int, prot: int, flags: int) -> int:
    """Models: do_mmap() for MAP_ANONYMOUS: create a VMA; pages come later, by fault.

    MAP_SHARED gets a fresh shmem object (shmem_zero_setup); MAP_PRIVATE an
    anon_vma for its rmap.
    """
    if not flags & MAP_ANONYMOUS:
        raise ValueError("only MAP_ANONYMOUS mappings are modelled")
    if length <= 0:
        raise ValueError("mmap length must be positive")
    mm = current.mm
    length = (length + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
    addr = get_unmapped_area(mm, length)
    vm_flags = calc_vm_flags(prot, flags)
    if flags & MAP_SHARED:
        vma = VmAreaStruct(mm, addr, addr + length, vm_flags, 0,
                           vm_file=shmem_zero_setup(length >> PAGE_SHIFT))
    else:
        vma = VmAreaStruct(mm, addr, addr + length, vm_flags, addr >> PAGE_SHIFT,
                           anon_vma=AnonVma())
    insert_vma(mm, vma)
    return addr


def __split_vma(mm: MmStruct, vma: VmAreaStruct, addr: int) -> VmAreaStruct:
    """Models: __split_vma(): cut *vma* at *addr*; returns the new upper part."""
    new = replace(vma, vm_start=addr,
                  vm_pgoff=vma.vm_pgoff + ((addr - vma.vm_start) >> PAGE_SHIFT))
    vma.vm_end = addr
    insert_vma(mm, new)
    return new


def vmas_in_range(mm: MmStruct, start: int, end: int) -> list[VmAreaStruct]:
    """Model-only: split VMAs at *start* and *end*, return the ones inside [start, end)."""
    for vma in list(mm.mmap):
        if vma.vm_start < start < vma.vm_end:
            __split_vma(mm, vma, start)
    for vma in list(mm.mmap):
        if vma.vm_start < end < vma.vm_end:
            __split_vma(mm, vma, end)
    return [v for v in mm.mmap if start <= v.vm_start and v.vm_end <= end]


def unmap_region(current: TaskStruct, vmas: list[VmAreaStruct]) -> None:
    """Models: unmap_region(): zap *vmas* (adjacent, sorted), free their page tables, flush once more.

    One gather: each VMA's PTEs are zapped and flushed at its end
    (tlb_end_vma), then free_pgtables() frees the PTE tables no other VMA
    shares -- bounded by the previous VMA's end and the next one's start --
    and tlb_finish_mmu() flushes those with ``freed_tables`` set (x86: lazy
    CPUs interrupted too; arm64: a TLBI per 2 MiB; riscv 6.8: flush_tlb_mm)
    before freeing the gathered folios.
    """
    mm = current.mm
    start, end = vmas[0].vm_start, vmas[-1].vm_end
    floor = max((v.vm_end for v in mm.mmap if v.vm_end <= start), default=0)
    ceiling = min((v.vm_start for v in mm.mmap if v.vm_start >= end), default=0)
    tlb = MmuGather(vmas[0])
    for vma in vmas:
        tlb.vma = vma
        unmap_page_range(current, tlb, vma.vm_start, vma.vm_end)
        tlb_flush_mmu_tlbonly(current, tlb)             # tlb_end_vma()
    free_pgtables(current, tlb, start, end, floor, ceiling)
    tlb_finish_mmu(current, tlb)


def do_munmap(current: TaskStruct, start: int, length: int) -> None:
    """Models: do_vmi_munmap() -> do_vmi_align_munmap(): unmap_region(), then drop the VMAs."""
    end = start + ((length + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
    mm = current.mm
    vmas = vmas_in_range(mm, start, end)
    if not vmas:
        return
    unmap_region(current, vmas)
    for vma in vmas:
        remove_vma(mm, vma)
