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
from minikernel.mm.memory import zap_page_range_single
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


def do_munmap(current: TaskStruct, start: int, length: int) -> None:
    """Models: do_vmi_munmap() -> unmap_region(): zap, flush, free, then drop the VMAs.

    # MODEL: no free_pgtables(): page tables are not pages here (see
    # zap_page_range_single), so a PTE table left with no VMA is not freed
    # and the flush the kernel owes it is not issued: one more mmu_gather
    # flush with freed_tables set, of the table's first page -- x86
    # flush_tlb_mm_range(freed_tables) also interrupts lazy CPUs, arm64 one
    # non-leaf TLBI VAE1IS and a DSB on the unmapping CPU, riscv 6.8
    # flush_tlb_mm().  It comes after the zap's own flush; mremap's
    # unmapping of the old range owes the same.
    """
    end = start + ((length + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
    mm = current.mm
    for vma in vmas_in_range(mm, start, end):
        zap_page_range_single(current, vma, vma.vm_start, vma.vm_end)
        remove_vma(mm, vma)

