"""Shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS): shmem faults, swap-out and swap-in.

# MODEL: shmem is the only file-backed memory: no regular-file page cache,
# so no folio_mkclean() and no writeback of file folios; a shmem folio is
# written to swap.  The batched flush's contract with IO (flush the dirty
# batch before pageout) is the same for both, and shmem is what the
# published benchmark pages out.

Models: mm/shmem.c (``shmem_zero_setup``, ``shmem_fault``,
``shmem_swapin_folio``, ``shmem_writeout``) -- the path the seed benchmark
takes, since its buffer is MAP_SHARED|MAP_ANONYMOUS.

Invariants this module owns:
  - Each index of a shmem object holds either a folio or the swap slot of the
    folio that was written out (the kernel stores it as an xa_value), which
    counts as one reference on that slot.
  - A folio swapped back in is dirty again (its slot is released at once), so
    every reclaim pass writes it out anew -- why __zram_bvec_write appears
    in the benchmark profile on every iteration.

A newly allocated shmem folio is zeroed and clean, as upstream: it becomes
dirty when a write fault marks it (do_shared_fault), or when reclaim or zap
finds a PTE the hardware dirtied (try_to_unmap_one, zap_pte_range).  A clean
one that reclaim unmaps is dropped: a later fault gets a new zeroed page,
which is what it held.
"""

from __future__ import annotations

import importlib
from typing import Any

from minikernel.hw.cpu import (
    S_shmem_add_to_page_cache,
    S_shmem_fault,
    S_shmem_get_folio_gfp,
    S_shmem_swapin_folio,
    S_shmem_writeout,
    S_xas_load,
)
from minikernel.hw.mmu import PAGE_SHIFT
from minikernel.mm.mempolicy import vma_alloc_folio
from minikernel.mm.mm_types import (
    AddressSpace,
    Folio,
    FolioLocked,
    PG_dirty,
    PG_locked,
    TaskStruct,
    VmAreaStruct,
)

# minikernel.mm.vmscan (folio_add_lru), bound on first use: vmscan imports this
# module for shmem_writeout, and an import statement inside shmem_get_folio
# would run on every shmem fault (microseconds each on CPython).
_vmscan: Any = None


def shmem_zero_setup(nr_pages: int) -> AddressSpace:
    """Models: shmem_zero_setup(): the anonymous shmem object behind a MAP_SHARED|MAP_ANONYMOUS mmap."""
    return AddressSpace(nr_pages=nr_pages)


def shmem_swapin_folio(current: TaskStruct, mapping: AddressSpace, index: int,
                       off: int) -> Folio:
    """Models: shmem_swapin_folio(): read slot *off* back into a new folio at *index*."""
    m = current.machine
    cpu = current.cpu
    k = m.kns
    prof = cpu.ns
    ns = k[S_shmem_swapin_folio]                    # cpu.charge(), inlined
    cpu.now += ns
    prof[S_shmem_swapin_folio] += ns
    swap = m.swap
    folio = swap.swap_cache_get_folio(cpu, off)
    if folio is not None and folio.flags & PG_locked:     # folio_test_locked()
        raise FolioLocked(folio)           # reclaim holds it; shmem_swapin_folio() would sleep
    if folio is None:
        folio = vma_alloc_folio(current, None, 0, False)
        swap.swap_read_folio(cpu, folio, off)
        m.vmstat.pgmajfault += 1
    else:
        swap.delete_from_swap_cache(folio)
    ns = k[S_shmem_add_to_page_cache]               # cpu.charge(), inlined
    cpu.now += ns
    prof[S_shmem_add_to_page_cache] += ns
    folio.mapping = mapping
    folio.index = index
    mapping.i_pages[index] = folio
    swap.swap_free(off)                # the page cache's reference to the slot
    folio.flags |= PG_dirty            # no copy on swap any more
    return folio


def shmem_get_folio(current: TaskStruct, mapping: AddressSpace, index: int) -> Folio:
    """Models: shmem_get_folio_gfp(): the folio at *index*, swapped in or allocated as needed."""
    global _vmscan
    cpu = current.cpu
    k = current.machine.kns
    prof = cpu.ns
    ns = k[S_shmem_get_folio_gfp]             # cpu.charge(), inlined
    cpu.now += ns
    prof[S_shmem_get_folio_gfp] += ns
    ns = k[S_xas_load]                        # the page-cache lookup
    cpu.now += ns
    prof[S_xas_load] += ns
    entry = mapping.i_pages.get(index)
    if entry.__class__ is Folio:              # isinstance(): Folio has no subclasses
        if entry.flags & PG_locked:    # folio_test_locked()
            raise FolioLocked(entry)       # filemap_fault() would sleep in folio_lock()
        return entry
    if entry is not None:
        folio = shmem_swapin_folio(current, mapping, index, entry)
    else:
        folio = vma_alloc_folio(current, None, 0, True)
        folio.mapping = mapping
        folio.index = index
        mapping.i_pages[index] = folio
    if _vmscan is None:
        _vmscan = importlib.import_module("minikernel.mm.vmscan")
    _vmscan.folio_add_lru(current, folio)
    return folio


def shmem_fault(current: TaskStruct, vma: VmAreaStruct, addr: int) -> Folio:
    """Models: shmem_fault(): the ->fault of a shmem VMA."""
    cpu = current.cpu
    ns = current.machine.kns[S_shmem_fault]   # cpu.charge(), inlined
    cpu.now += ns
    cpu.ns[S_shmem_fault] += ns
    mapping = vma.vm_file
    assert mapping is not None                # a shmem VMA always has its object
    # vma.linear_page_index(addr) (linear_page_index()), inlined
    return shmem_get_folio(current, mapping, vma.vm_pgoff + ((addr - vma.vm_start) >> PAGE_SHIFT))


def shmem_writeout(current: TaskStruct, folio: Folio) -> None:
    """Models: shmem_writeout() (shmem_writepage() before 6.15): move a folio to swap.

    The page cache slot is replaced by the folio's new swap slot, the folio
    goes into the swap cache, and swap_writepage() writes it.  Caller's
    contract: the folio is unmapped everywhere.
    """
    m = current.machine
    cpu = current.cpu
    ns = m.kns[S_shmem_writeout]              # cpu.charge(), inlined
    cpu.now += ns
    cpu.ns[S_shmem_writeout] += ns
    swap = m.swap
    off = swap.folio_alloc_swap()
    if off is None:
        return                          # no swap: the folio stays dirty and is kept
    mapping: AddressSpace = folio.mapping
    swap.add_to_swap_cache(folio, off)
    mapping.i_pages[folio.index] = off
    swap.swap_duplicate(off)            # the page cache slot's reference
    swap.swap_writepage(cpu, folio)
