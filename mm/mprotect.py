"""mprotect: change the protection of a range, write-protecting its PTEs.

Models: mm/mprotect.c (``do_mprotect_pkey``, ``change_protection``,
``change_pte_range``).

Invariants this module owns:
  - ``change_pte_range`` calls ``flush_tlb_batched_pending`` under the PTE
    lock before it reads any PTE.  Without that, a PTE that reclaim cleared
    with its flush deferred is invisible here ("nothing to change"), no flush
    is issued for it, and mprotect returns while some CPU still holds a
    writable entry for the page -- the 2017 race (3ea277194daa).
  - If any PTE lost write permission, the range is flushed before return.

# MODEL: PROT_NONE is not modelled; protections are read-only or read-write.
# Adding write permission changes no PTE: the next write fault upgrades it.
"""

from __future__ import annotations

from minikernel.hw.mmu import PAGE_SHIFT, PAGE_SIZE, pte_present, pte_write, pte_wrprotect
from minikernel.mm.mm_types import VM_READ, VM_WRITE, TaskStruct, VmAreaStruct
from minikernel.mm.mmap import PROT_READ, PROT_WRITE, vmas_in_range
from minikernel.mm.rmap import flush_tlb_batched_pending


def change_pte_range(current: TaskStruct, vma: VmAreaStruct, start: int, end: int,
                     newflags: int) -> int:
    """Models: change_pte_range(): apply *newflags* to the present PTEs; returns pages changed."""
    m = current.machine
    cpu = current.cpu
    mm = vma.vm_mm
    pgd = mm.pgd
    flush_tlb_batched_pending(current, mm)
    if m.probes:
        m.probe("change_pte_range:locked", current, mm=mm, start=start, end=end)
    cost = m.kernel_ns["change_pte_range"]
    pages = 0
    if newflags & VM_WRITE:
        return 0
    for addr in range(start, end, PAGE_SIZE):
        vpn = addr >> PAGE_SHIFT
        pte = pgd.get(vpn, 0)
        cpu.charge("change_pte_range", cost)
        if pte_present(pte) and pte_write(pte):
            pgd[vpn] = pte_wrprotect(pte)
            pages += 1
    return pages


def change_protection(current: TaskStruct, vma: VmAreaStruct, start: int, end: int,
                      newflags: int) -> int:
    """Models: change_protection(): change PTEs, then flush the range if any changed."""
    pages = change_pte_range(current, vma, start, end, newflags)
    if pages:
        current.machine.arch.flush_tlb_range(current.cpu, vma, start, end)
    return pages


def do_mprotect_pkey(current: TaskStruct, start: int, length: int, prot: int) -> None:
    """Models: do_mprotect_pkey(): split VMAs, set their flags, change their PTEs."""
    if not prot & PROT_READ:
        raise ValueError("PROT_NONE is not modelled")
    end = start + ((length + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
    for vma in vmas_in_range(current.mm, start, end):
        newflags = vma.vm_flags & ~(VM_READ | VM_WRITE) | VM_READ
        if prot & PROT_WRITE:
            newflags |= VM_WRITE
        vma.vm_flags = newflags
        change_protection(current, vma, vma.vm_start, vma.vm_end, newflags)
