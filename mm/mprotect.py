"""mprotect: change the protection of a range, through an mmu_gather of the PTEs it changed.

Models: mm/mprotect.c (``do_mprotect_pkey``, ``change_protection``,
``change_pte_range``) as it is since 4a18419f71cd ("mm/mprotect: use
mmu_gather", 6.0) -- every baseline the model names (6.1 and later).

Invariants this module owns:
  - ``change_pte_range`` calls ``flush_tlb_batched_pending`` under each PTE
    table's lock before it reads any PTE.  Without that, a PTE that reclaim
    cleared with its flush deferred is invisible here ("nothing to change"),
    no flush is issued for it, and mprotect returns while some CPU still
    holds a writable entry for the page -- the 2017 race (3ea277194daa).
  - Only the PTEs it changed (and that the arch's ``pte_needs_flush`` says
    need it) go into the gather, and the flush at the end of each VMA
    covers [min, max) of them.  So a PTE reclaim cleared with its flush
    still pending is flushed only if it happens to lie inside that span --
    or by flush_tlb_batched_pending, which on the 6.6 arm64 variant is a
    DSB that completes nothing reclaim issued on another CPU.  Before 6.0
    the kernel flushed the whole range whenever any PTE changed.

PROT_NONE makes present PTEs inaccessible (the hardware walker faults on
them; ``pte_present`` stays true, as for the kernel's _PAGE_PROTNONE /
PTE_PROT_NONE).

# MODEL: adding write permission changes no PTE (the next write fault
# upgrades it; the kernel's MM_CP_TRY_CHANGE_WRITABLE shortcut is not
# modelled), but the PTE is still visited and, where the arch says so
# (arm64), flushed.  No pkeys, no NUMA hinting (prot_numa).
"""

from __future__ import annotations

from minikernel.hw.cpu import (
    S_change_pte_range,
)
from minikernel.hw.mmu import (
    PAGE_SHIFT,
    PAGE_SIZE,
    is_writable_migration_entry,
    make_readable_migration_entry,
    pte_mknone,
    pte_mkpresent,
    pte_present,
    pte_protnone,
    pte_write,
    pte_wrprotect,
)
from minikernel.mm.memory import MmuGather, tlb_flush_mmu_tlbonly
from minikernel.mm.mm_types import VM_READ, VM_WRITE, TaskStruct, VmAreaStruct
from minikernel.mm.mmap import PROT_READ, PROT_WRITE, vmas_in_range
from minikernel.mm.pgtable_generic import pmd_addr_end
from minikernel.mm.rmap import pte_offset_map_lock


def pte_modify(pte: int, newflags: int) -> int:
    """Models: pte_modify(pte, vm_get_page_prot(newflags)): the PTE under the new protection."""
    if not newflags & VM_READ:
        return pte_mknone(pte)
    if pte_protnone(pte):
        pte = pte_mkpresent(pte)            # read-only; a write fault adds write
    if not newflags & VM_WRITE and pte_write(pte):
        pte = pte_wrprotect(pte)
    return pte


def change_pte_range(current: TaskStruct, tlb: MmuGather, start: int, end: int,
                     newflags: int) -> int:
    """Models: change_pte_range(): apply *newflags* to the present PTEs of one PTE table.

    Returns pages changed.  Each PTE whose change needs a flush
    (``pte_needs_flush``, an arch verb) is added to *tlb*
    (tlb_flush_pte_range); nothing is flushed here.
    """
    m = current.machine
    cpu = current.cpu
    mm = tlb.vma.vm_mm
    pgd = pte_offset_map_lock(current, mm, "change_pte_range", start, end)
    cost = m.kns[S_change_pte_range]
    needs_flush = m.arch.pte_needs_flush
    pages = 0
    for addr in range(start, end, PAGE_SIZE):
        vpn = addr >> PAGE_SHIFT
        pte = pgd.get(vpn, 0)
        cpu.charge("change_pte_range", cost)
        if not pte_present(pte):
            if is_writable_migration_entry(pte) and not newflags & VM_WRITE:
                # A writable migration entry becomes readable (change_pte_range's
                # non-present case), or remove_migration_ptes() would restore write.
                pgd[vpn] = make_readable_migration_entry(pte)
            continue
        new = pte_modify(pte, newflags)
        pgd[vpn] = new                      # ptep_modify_prot_start/commit
        if needs_flush(pte, new):
            tlb.tlb_remove_tlb_entry(addr)  # tlb_flush_pte_range(tlb, addr, PAGE_SIZE)
        pages += 1
    return pages


def change_protection(current: TaskStruct, vma: VmAreaStruct, start: int, end: int,
                      newflags: int) -> int:
    """Models: change_protection() -> change_protection_range(): one VMA, table by table.

    tlb_start_vma/tlb_end_vma bracket the walk: the gathered span is flushed
    at the end of the VMA (tlb_end_vma -> tlb_flush_mmu_tlbonly).
    """
    tlb = MmuGather(vma)
    pages = 0
    addr = start
    while addr < end:
        next_ = pmd_addr_end(addr, end)
        pages += change_pte_range(current, tlb, addr, next_, newflags)
        addr = next_
    tlb_flush_mmu_tlbonly(current, tlb)
    return pages


def do_mprotect_pkey(current: TaskStruct, start: int, length: int, prot: int) -> None:
    """Models: do_mprotect_pkey(): split VMAs, set their flags, change their PTEs."""
    end = start + ((length + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
    for vma in vmas_in_range(current.mm, start, end):
        newflags = vma.vm_flags & ~(VM_READ | VM_WRITE)
        if prot & (PROT_READ | PROT_WRITE):
            newflags |= VM_READ
        if prot & PROT_WRITE:
            newflags |= VM_WRITE
        vma.vm_flags = newflags
        change_protection(current, vma, vma.vm_start, vma.vm_end, newflags)
