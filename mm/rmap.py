"""Reverse mapping: find every PTE of a folio and unmap it, with batched TLB flushing.

Models: mm/rmap.c (Linux 6.x, with the arm64 series' arch hooks):
``try_to_unmap``, ``rmap_walk``, ``try_to_unmap_one``, ``should_defer_flush``,
``set_tlb_ubc_flush_pending``, ``try_to_unmap_flush``,
``try_to_unmap_flush_dirty``, ``flush_tlb_batched_pending``, and the rmap
add/remove helpers.

Invariants this module owns:
  - A PTE cleared with ``ptep_get_and_clear`` under TTU_BATCH_FLUSH leaves
    ``current->tlb_ubc.flush_required`` set until ``try_to_unmap_flush``; the
    folio must not be freed before then (vmscan's contract).
  - If any such PTE was dirty, ``tlb_ubc.writable`` is set: some CPU may
    still write the page through its stale entry, so
    ``try_to_unmap_flush_dirty`` must run before the page is queued for IO.
  - Every deferred PTE bumps ``mm->tlb_flush_batched``'s pending count, so a
    later PTE-lock holder (mprotect, munmap, madvise, mremap) can tell that
    this mm may have stale entries and flush them via
    ``flush_tlb_batched_pending`` *before* relying on the PTEs it sees.
  - With ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH=n every function here that deals
    with the batch is the kernel's empty stub (an early return).
  - The model-only MODEL_REVERT_* options turn ``flush_tlb_batched_pending``
    (3ea277194daa) and ``try_to_unmap_flush_dirty`` (d950c9477d51) back into
    no-ops, to replay the races those commits closed.  Boot resolves them
    into ``machine.revert_*`` booleans.
  - When the TLB sanitizer is on, the batch's life (PTE cleared, deferred,
    flushed) is reported to it as events; with it off each site costs one
    ``is not None`` test.
"""

from __future__ import annotations

import enum

from minikernel.hw.cpu import (
    S_flush_tlb_batched_pending,
    S_folio_referenced,
    S_folio_referenced_one,
    S_page_vma_mapped_walk,
    S_rmap_walk,
    S_set_tlb_ubc_flush_pending,
    S_try_to_migrate_one,
    S_try_to_unmap_flush,
    S_try_to_unmap_flush_dirty,
    S_try_to_unmap_one,
)
from minikernel.hw.mmu import (
    _PAGE_DIRTY,
    _PAGE_PRESENT,
    _PAGE_PROTNONE,
    PAGE_SHIFT,
    PAGE_SIZE,
    PTE_PFN_SHIFT,
    make_migration_entry,
    pte_dirty,
    pte_pfn,
    pte_present,
    swp_entry_to_pte,
)
from minikernel.mm.mm_types import (
    TLB_FLUSH_BATCH_FLUSHED_SHIFT,
    TLB_FLUSH_BATCH_PENDING_LARGE,
    TLB_FLUSH_BATCH_PENDING_MASK,
    AddressSpace,
    AnonVma,
    Folio,
    MmStruct,
    PG_dirty,
    TaskStruct,
    VmAreaStruct,
)
from minikernel.mm.pgtable_generic import ptep_clear_flush, ptep_get_and_clear


class TtuFlags(enum.IntFlag):
    """enum ttu_flags (include/linux/rmap.h), the ones reclaim passes."""

    TTU_SYNC = 0x10
    TTU_BATCH_FLUSH = 0x40


# Plain ints, not the IntFlag members: ``flags & TTU_BATCH_FLUSH`` runs per
# unmapped page, and an IntFlag's ``&`` is Python-level arithmetic
# (enum.Flag.__and__ builds a new member); the values are the enum's.
TTU_SYNC = int(TtuFlags.TTU_SYNC)
TTU_BATCH_FLUSH = int(TtuFlags.TTU_BATCH_FLUSH)


# --- Batched unmap flushing (CONFIG_ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH) ---

def try_to_unmap_flush(current: TaskStruct) -> None:
    """Models: try_to_unmap_flush(): complete every flush reclaim deferred.

    Caller's contract (vmscan): call it before any folio whose PTE went into
    the batch is freed.  Its cost -- on arm64 one DSB stall for the whole
    batch -- is what replaces a DSB per page.
    """
    m = current.machine
    if not m.batched_unmap:
        return                        # = the #else stub
    tlb_ubc = current.tlb_ubc
    if not tlb_ubc.flush_required:
        return
    cpu = current.cpu
    saved = cpu.sym
    cpu.sym = S_try_to_unmap_flush
    try:
        cpu.charge("try_to_unmap_flush", m.kns[S_try_to_unmap_flush])
        m.arch.arch_tlbbatch_flush(cpu, tlb_ubc.arch)
    finally:
        cpu.sym = saved
    tlb_ubc.flush_required = False
    tlb_ubc.writable = False
    m.vmstat.tlb_batch_flush += 1
    if m.sanitizer is not None:
        m.sanitizer.event(cpu, "try_to_unmap_flush: deferred batch flushed")


def try_to_unmap_flush_dirty(current: TaskStruct) -> None:
    """Models: try_to_unmap_flush_dirty(): flush now if a deferred PTE was dirty.

    A dirty PTE means a CPU may still store through its stale writable entry;
    writing the page out before that entry is gone would lose the store
    (the 2015 fix d950c9477d51).
    """
    m = current.machine
    if not m.batched_unmap:
        return                        # = the #else stub
    if m.revert_flush_dirty:
        # MODEL: MODEL_REVERT_FLUSH_DIRTY_BEFORE_PAGEOUT -- before d950c9477d51
        # nothing flushed the batch ahead of IO.
        if m.sanitizer is not None and current.tlb_ubc.writable:
            m.sanitizer.event(current.cpu, "try_to_unmap_flush_dirty: reverted "
                              "(d950c9477d51), dirty batch NOT flushed before IO")
        return
    cpu = current.cpu
    ns = m.kns[S_try_to_unmap_flush_dirty]  # cpu.charge(), inlined
    cpu.now += ns
    cpu.ns[S_try_to_unmap_flush_dirty] += ns
    if current.tlb_ubc.writable:
        m.vmstat.tlb_flush_dirty += 1
        try_to_unmap_flush(current)


def set_tlb_ubc_flush_pending(current: TaskStruct, mm: MmStruct, pteval: int,
                              uaddr: int) -> None:
    """Models: set_tlb_ubc_flush_pending(): add one cleared PTE to current's batch.

    Also records in *mm* that a flush is pending, so other PTE-lock holders
    know to call flush_tlb_batched_pending().
    """
    m = current.machine
    cpu = current.cpu
    ns = m.kns[S_set_tlb_ubc_flush_pending]  # cpu.charge(), inlined
    cpu.now += ns
    cpu.ns[S_set_tlb_ubc_flush_pending] += ns
    if not pteval & _PAGE_PRESENT:      # pte_accessible()
        return
    tlb_ubc = current.tlb_ubc
    m.arch.arch_tlbbatch_add_pending(cpu, tlb_ubc.arch, mm, uaddr)
    tlb_ubc.flush_required = True
    m.vmstat.tlb_deferred_pte += 1
    batch = mm.tlb_flush_batched
    if (batch & TLB_FLUSH_BATCH_PENDING_MASK) > TLB_FLUSH_BATCH_PENDING_LARGE:
        # Keep "pending" from wrapping around onto "flushed": restart at 1/0.
        mm.tlb_flush_batched = 1
    else:
        mm.tlb_flush_batched = batch + 1
    if pteval & _PAGE_DIRTY:            # pte_dirty()
        tlb_ubc.writable = True


def should_defer_flush(current: TaskStruct, mm: MmStruct, flags: int) -> bool:
    """Models: should_defer_flush(): may this unmap leave its TLB flush for later?

    Only callers passing TTU_BATCH_FLUSH may defer -- reclaim
    (shrink_folio_list), and since 6.3 migration (migrate_folio_unmap ->
    try_to_migrate, in MIGRATE_ASYNC mode) and since 6.7 THP splitting
    (unmap_folio); the model has reclaim and migration -- and then the arch
    decides whether deferring pays on this machine for this mm.
    """
    m = current.machine
    if not m.batched_unmap:
        return False                  # = the #else stub
    if not flags & TTU_BATCH_FLUSH:
        return False
    return m.arch.arch_tlbbatch_should_defer(current.cpu, mm)


def flush_tlb_batched_pending(current: TaskStruct, mm: MmStruct, addr: int = 0) -> None:
    """Models: flush_tlb_batched_pending(): flush what reclaim deferred for *mm*, if anything.

    Caller's contract: hold the page-table lock of the range it is about to
    change (*addr*, model-only: an address in that PTE table, for the probe).
    Reclaim may have cleared a PTE there and deferred the flush; a caller
    that saw "no PTE" would skip its own flush and return while a CPU can
    still use the old translation (the 2017 race, fixed by 3ea277194daa).

    The page-table locks are split per PTE table, so reclaim can defer a
    flush for this mm under another table's lock while this runs.  Hence two
    generations and a cmpxchg: if a deferral landed between the arch flush
    and the update, ``pending`` moved on and the update is skipped, so the
    next caller flushes again.  With a plain "flush batched" boolean the
    update would clear that deferral (the race Huang Ying fixed in 5.17,
    "mm/rmap: fix potential batched TLB flush race"); the probe
    ``flush_tlb_batched_pending:flushed`` sits between the two steps so a
    scenario can replay it.
    """
    m = current.machine
    if not m.batched_unmap:
        return                        # = the #else stub
    cpu = current.cpu
    if m.revert_batched_pending:
        # MODEL: MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING -- before 3ea277194daa
        # no PTE-lock holder looked at reclaim's deferred flushes.
        if m.sanitizer is not None:
            m.sanitizer.event(cpu, "flush_tlb_batched_pending: reverted (3ea277194daa), "
                              "nothing flushed", mm=mm)
        return
    cpu.charge("flush_tlb_batched_pending", m.kns[S_flush_tlb_batched_pending])
    batch = mm.tlb_flush_batched
    pending = batch & TLB_FLUSH_BATCH_PENDING_MASK
    flushed = batch >> TLB_FLUSH_BATCH_FLUSHED_SHIFT
    if m.sanitizer is not None:
        m.sanitizer.event(cpu, "flush_tlb_batched_pending: " +
                          ("deferred flush pending -> arch_flush_tlb_batched_pending()"
                           if pending != flushed else "nothing pending"), mm=mm)
    if pending != flushed:
        saved = cpu.sym
        cpu.sym = S_flush_tlb_batched_pending
        try:
            m.arch.arch_flush_tlb_batched_pending(cpu, mm)
        finally:
            cpu.sym = saved
        m.vmstat.tlb_batched_pending_flush += 1
        if m.probes:
            m.probe("flush_tlb_batched_pending:flushed", current, mm=mm, start=addr,
                    end=addr + PAGE_SIZE)
        # atomic_cmpxchg(&mm->tlb_flush_batched, batch, pending | pending << SHIFT):
        # a deferral that arrived since the read above keeps pending != flushed.
        if mm.tlb_flush_batched == batch:
            mm.tlb_flush_batched = pending | (pending << TLB_FLUSH_BATCH_FLUSHED_SHIFT)


def pte_offset_map_lock(current: TaskStruct, mm: MmStruct, walker: str, start: int,
                        end: int) -> dict[int, int]:
    """Models: pte_offset_map_lock() + flush_tlb_batched_pending(), the PTE walkers' prologue.

    Every walker that changes PTEs one PTE table at a time --
    change_pte_range (mprotect), zap_pte_range (munmap, MADV_DONTNEED),
    madvise_cold_or_pageout_pte_range (MADV_PAGEOUT) and move_ptes
    (mremap) -- maps the table of [start, end) and takes its split
    page-table lock, then calls flush_tlb_batched_pending(mm) before it
    reads a PTE (3ea277194daa added the call to all four).  Returns the
    page table the caller walks (the kernel returns the mapped PTE page).

    The probe ``<walker>:locked`` follows, with the lock held: a scenario
    pausing there holds this table's lock (minikernel/scenario.py's
    LOCKED_PROBES) until the walker resumes.

    # MODEL: the lock itself is not an object here; the scenario runner
    # models who waits for it.  What each walker charges per PTE differs
    # (every PTE, present ones, non-none ones, none), so the per-PTE loops
    # stay in the walkers.
    """
    flush_tlb_batched_pending(current, mm, start)
    m = current.machine
    if m.probes:
        m.probe(walker + ":locked", current, mm=mm, start=start, end=end)
    return mm.pgd


# --- rmap bookkeeping ---

def folio_add_new_anon_rmap(folio: Folio, vma: VmAreaStruct, addr: int) -> None:
    """Models: folio_add_new_anon_rmap(): a fresh anonymous folio gets its first mapping."""
    folio.mapping = vma.anon_vma
    folio.index = vma.linear_page_index(addr)
    folio.mapcount = 1


def folio_add_anon_rmap_pte(folio: Folio, vma: VmAreaStruct, addr: int) -> None:
    """Models: folio_add_anon_rmap_pte(): one more PTE maps an existing anonymous folio."""
    if folio.mapping is None:
        folio.mapping = vma.anon_vma
        folio.index = vma.linear_page_index(addr)
    folio.mapcount += 1


def folio_add_file_rmap_pte(folio: Folio) -> None:
    """Models: folio_add_file_rmap_pte(): one more PTE maps a shmem folio."""
    folio.mapcount += 1


def folio_remove_rmap_pte(folio: Folio) -> None:
    """Models: folio_remove_rmap_pte(): one PTE mapping *folio* is gone."""
    folio.mapcount -= 1


# --- folio_referenced ---

def _folio_vmas(folio: Folio) -> tuple:
    """The VMAs rmap_walk() visits for *folio* (anon_vma chain or shmem i_mmap)."""
    mapping = folio.mapping
    if isinstance(mapping, AnonVma):
        return tuple(mapping.vmas)
    if isinstance(mapping, AddressSpace):
        return tuple(mapping.i_mmap)
    return ()


def folio_referenced(current: TaskStruct, folio: Folio) -> int:
    """Models: folio_referenced() -> rmap_walk() -> folio_referenced_one(): count young PTEs.

    Every PTE mapping *folio* that is young is made old through the arch's
    ptep_clear_flush_young() -- on arm64 a TLBI left outstanding for the
    caller's next DSB, on x86 nothing -- and counted.  Returns the count
    (``referenced_ptes``).  Reclaim's folio_check_references() decides on it.
    """
    m = current.machine
    cpu = current.cpu
    k = m.kns
    prof = cpu.ns
    saved = cpu.sym
    cpu.sym = S_folio_referenced
    try:
        # cpu.charge() inlined on this per-page path (same additions, same order)
        ns = k[S_folio_referenced]
        cpu.now += ns
        prof[S_folio_referenced] += ns
        ns = k[S_rmap_walk]
        cpu.now += ns
        prof[S_rmap_walk] += ns
        arch = m.arch
        referenced = 0
        mapcount = folio.mapcount
        index = folio.index
        pfn = folio.pfn
        # _folio_vmas(folio), inlined: isinstance() as class tests (no subclasses)
        mapping = folio.mapping
        cls = mapping.__class__
        if cls is AnonVma:
            vmas: tuple = tuple(mapping.vmas)
        elif cls is AddressSpace:
            vmas = tuple(mapping.i_mmap)
        else:
            vmas = ()
        for vma in vmas:
            if not mapcount:
                break
            # vma.address_of(index) (vma_address()), inlined
            start = vma.vm_start
            addr = start + ((index - vma.vm_pgoff) << PAGE_SHIFT)
            if not start <= addr < vma.vm_end:
                continue
            pte = vma.vm_mm.pgd.get(addr >> PAGE_SHIFT, 0)
            # not pte_present(pte) or pte_pfn(pte) != folio.pfn
            if not pte & (_PAGE_PRESENT | _PAGE_PROTNONE) or pte >> PTE_PFN_SHIFT != pfn:
                continue
            cpu.sym = S_folio_referenced_one
            ns = k[S_folio_referenced_one]
            cpu.now += ns
            prof[S_folio_referenced_one] += ns
            ns = k[S_page_vma_mapped_walk]
            cpu.now += ns
            prof[S_page_vma_mapped_walk] += ns
            mapcount -= 1
            if arch.ptep_clear_flush_young(cpu, vma, addr):
                referenced += 1
            cpu.sym = S_folio_referenced
    finally:
        cpu.sym = saved
    return referenced


# --- try_to_unmap ---

def try_to_unmap_one(current: TaskStruct, folio: Folio, vma: VmAreaStruct, address: int,
                     flags: int) -> bool:
    """Models: try_to_unmap_one(): clear the PTE mapping *folio* at *address* in *vma*.

    Either flushes at once (ptep_clear_flush, one TLB shootdown per PTE) or,
    when should_defer_flush() agrees, clears the PTE and adds it to
    current->tlb_ubc.  An anonymous folio's PTE becomes a swap entry; a shmem
    folio's PTE becomes none (the swap entry lives in the page cache).
    Returns False if the walk must stop (never, in the model).
    """
    m = current.machine
    cpu = current.cpu
    k = m.kns
    mm = vma.vm_mm
    saved = cpu.sym
    cpu.sym = S_try_to_unmap_one
    try:
        # cpu.charge() inlined on this per-page path (same additions, same order)
        prof = cpu.ns
        ns = k[S_try_to_unmap_one]
        cpu.now += ns
        prof[S_try_to_unmap_one] += ns
        ns = k[S_page_vma_mapped_walk]
        cpu.now += ns
        prof[S_page_vma_mapped_walk] += ns
        vpn = address >> PAGE_SHIFT
        pte = mm.pgd.get(vpn, 0)
        # not pte_present(pte) or pte_pfn(pte) != folio.pfn
        if not pte & (_PAGE_PRESENT | _PAGE_PROTNONE) or pte >> PTE_PFN_SHIFT != folio.pfn:
            return True               # page_vma_mapped_walk() found nothing here
        deferred = should_defer_flush(current, mm, flags)
        if deferred:
            pteval = ptep_get_and_clear(cpu, mm, address)
            set_tlb_ubc_flush_pending(current, mm, pteval, address)
        else:
            pteval = ptep_clear_flush(cpu, vma, address)
            m.vmstat.tlb_sync_flush += 1
        pte_cleared = m.observers.pte_cleared
        if pte_cleared is not None:
            pte_cleared(cpu, mm, address, folio.pfn, pteval, deferred, "try_to_unmap_one")
        if pteval & _PAGE_DIRTY:      # pte_dirty()
            folio.flags |= PG_dirty   # move the dirty bit to the folio
        if folio.mapping.__class__ is AnonVma:      # folio_test_anon() (isinstance; no subclasses)
            m.swap.swap_duplicate(folio.swap)
            mm.pgd[vpn] = swp_entry_to_pte(folio.swap)
        folio_remove_rmap_pte(folio)
    finally:
        cpu.sym = saved
    if m.probes:
        m.probe("try_to_unmap_one:cleared", current, folio=folio, mm=mm, addr=address)
    return True


def rmap_walk(current: TaskStruct, folio: Folio, flags: int, rmap_one=None) -> None:
    """Models: rmap_walk() -> rmap_walk_anon() / rmap_walk_file() for try_to_unmap.

    Visits every VMA that may map the folio -- through its anon_vma, or the
    shmem object's i_mmap -- and unmaps it there (``rwc->rmap_one``:
    try_to_unmap_one, or try_to_migrate_one for try_to_migrate).
    """
    if rmap_one is None:
        rmap_one = try_to_unmap_one
    cpu = current.cpu
    ns = current.machine.kns[S_rmap_walk]     # cpu.charge(), inlined
    cpu.now += ns
    cpu.ns[S_rmap_walk] += ns
    mapping = folio.mapping
    cls = mapping.__class__                   # isinstance() as class tests (no subclasses)
    if cls is AnonVma:
        vmas = mapping.vmas
    elif cls is AddressSpace:
        vmas = mapping.i_mmap
    else:
        return
    index = folio.index
    for vma in tuple(vmas):
        # vma.address_of(index) (vma_address()), inlined: once per mapping per folio
        start = vma.vm_start
        addr = start + ((index - vma.vm_pgoff) << PAGE_SHIFT)
        if not start <= addr < vma.vm_end:
            continue
        rmap_one(current, folio, vma, addr, flags)
        if not folio.mapcount:
            break


def try_to_unmap(current: TaskStruct, folio: Folio, flags: int) -> None:
    """Models: try_to_unmap(): remove every PTE mapping *folio*.

    With TTU_BATCH_FLUSH the caller takes on the flushes: see
    try_to_unmap_flush_dirty() and try_to_unmap_flush().
    """
    rmap_walk(current, folio, flags)


# --- try_to_migrate (migration, mm/migrate.c's caller) ---

def try_to_migrate_one(current: TaskStruct, folio: Folio, vma: VmAreaStruct, address: int,
                       flags: int) -> bool:
    """Models: try_to_migrate_one(): replace the PTE mapping *folio* with a migration entry.

    Like try_to_unmap_one(): since 6.3 (7e12beb8ca2a) it may defer the flush
    (should_defer_flush with TTU_BATCH_FLUSH, the batch's try_to_unmap_flush()
    then owes it); up to 6.2 it always flushed with ptep_clear_flush().  The
    entry remembers the PTE's write permission and young/dirty bits; the
    dirty bit also moves to the folio.  A fault on the entry waits for the
    migration (migration_entry_wait).
    """
    m = current.machine
    cpu = current.cpu
    mm = vma.vm_mm
    saved = cpu.sym
    cpu.sym = S_try_to_migrate_one
    try:
        cpu.charge("try_to_migrate_one", m.kns[S_try_to_migrate_one])
        cpu.charge("page_vma_mapped_walk", m.kns[S_page_vma_mapped_walk])
        vpn = address >> PAGE_SHIFT
        pte = mm.pgd.get(vpn, 0)
        if not pte_present(pte) or pte_pfn(pte) != folio.pfn:
            return True
        deferred = should_defer_flush(current, mm, flags)
        if deferred:
            pteval = ptep_get_and_clear(cpu, mm, address)
            set_tlb_ubc_flush_pending(current, mm, pteval, address)
        else:
            pteval = ptep_clear_flush(cpu, vma, address)
            m.vmstat.tlb_sync_flush += 1
        pte_cleared = m.observers.pte_cleared
        if pte_cleared is not None:
            pte_cleared(cpu, mm, address, folio.pfn, pteval, deferred, "try_to_migrate_one")
        if pte_dirty(pteval):
            folio.dirty = True
        mm.pgd[vpn] = make_migration_entry(folio.pfn, pteval)
        folio_remove_rmap_pte(folio)
    finally:
        cpu.sym = saved
    if m.probes:
        m.probe("try_to_migrate_one:cleared", current, folio=folio, mm=mm, addr=address)
    return True


def try_to_migrate(current: TaskStruct, folio: Folio, flags: int) -> None:
    """Models: try_to_migrate(): every PTE mapping *folio* becomes a migration entry.

    With TTU_BATCH_FLUSH the caller (migrate_pages_batch) owes the flush:
    try_to_unmap_flush() before the first copy.
    """
    rmap_walk(current, folio, flags, try_to_migrate_one)
