"""Page migration: move a folio to a page on another node, its virtual addresses unchanged.

Models: mm/migrate.c of the baseline kernel.  Since Linux 6.3 (7e12beb8ca2a,
"migrate_pages: batch flushing TLB", with 2ef7dbb26990's migrate_pages_sync)::

    migrate_pages()                  cut the list into NR_MAX_BATCHED_MIGRATION folios
      migrate_pages_sync()           (MIGRATE_SYNC callers: move_pages, mbind, migrate_pages)
        migrate_pages_batch(MIGRATE_ASYNC)   the whole batch, then the failures one by one
          migrate_folio_unmap()      per folio: lock, allocate dst,
            try_to_migrate(TTU_BATCH_FLUSH)  migration entries in the PTEs, flushes deferred
          try_to_unmap_flush()       ONE flush for the batch
          migrate_folio_move()       per folio: move_to_new_folio() (the copy),
                                     remove_migration_ptes(), free the old folio

Up to 6.2 (the 6.1 baseline) there is no batch: ``unmap_and_move()`` unmaps
one folio with ``try_to_migrate(0)`` -- every PTE flushed at once by
``ptep_clear_flush`` -- then copies it and restores its PTEs before the next.
Which path runs is the baseline's ``migrate_batch`` (0: one at a time).

A fault on a migration entry waits for the migration to end
(``migration_entry_wait``) and then finds the new page.

Invariants this module owns:
  - No copy starts before every TLB entry of the old page is gone: in the
    batched path try_to_unmap_flush() runs between the unmap loop and the
    move loop.  Otherwise a CPU could store to the old page through a stale
    writable entry after the copy read it, and the store would be lost with
    the old page.  (MODEL_MIGRATE_COPY_BEFORE_FLUSH, model-only, moves that
    flush to after the batch's first copy to replay exactly that.)
  - The old folio stays locked from unmap to the end of its move, which is
    what a fault on its migration entry waits for; it is freed only after
    its migration entries were replaced (remove_migration_ptes).
  - The copy is charged to ``copy_page`` at the machine's NUMA copy cost
    (minikernel.hw.numa): local or remote by the two pages' nodes.
  - vmstat pgmigrate_success / pgmigrate_fail count pages, as upstream.

Probes: ``try_to_migrate_one:cleared`` after each PTE became a migration
entry, ``migrate_pages_batch:unmapped`` after the unmap loop,
``migrate_pages_batch:flush`` before the batch's try_to_unmap_flush(),
``migrate_folio_move:copy`` before each copy (all with ``folio`` or
``folios`` in their context).

# MODEL: order-0 folios only (no THP split, no hugetlb); no movable_ops
# pages; a folio is "busy" (-EAGAIN) only when another path holds its lock;
# the retry passes run back to back (the kernel's cond_resched between them
# does not matter to a model with no other work queued).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minikernel.hw.cpu import (
    S_copy_page,
    S_do_pages_move,
    S_migrate_folio_move,
    S_migrate_folio_unmap,
    S_migrate_pages,
    S_migrate_pages_batch,
    S_migration_entry_wait,
    S_remove_migration_pte,
    S_unmap_and_move,
)
from minikernel.hw.mmu import (
    PAGE_SHIFT,
    is_migration_entry,
    is_writable_migration_entry,
    migration_entry_to_pfn,
    mk_pte,
    pte_dirty,
    pte_young,
)
from minikernel.mm.mm_types import AnonVma, FolioLocked
from minikernel.mm.page_alloc import OutOfMemory, folio_put
from minikernel.mm.rmap import (
    TTU_BATCH_FLUSH,
    TtuFlags,
    folio_add_anon_rmap_pte,
    folio_add_file_rmap_pte,
    try_to_migrate,
    try_to_unmap_flush,
)
from minikernel.mm.vmscan import folio_add_lru, folio_isolate_lru

if TYPE_CHECKING:
    from minikernel.mm.mm_types import Folio, TaskStruct, VmAreaStruct

# enum migrate_mode (include/linux/migrate_mode.h)
MIGRATE_ASYNC = 0
MIGRATE_SYNC_LIGHT = 1
MIGRATE_SYNC = 2
# enum migrate_reason (include/linux/migrate_mode.h), the ones the model has
MR_SYSCALL = 3
MR_MEMPOLICY_MBIND = 4

MIGRATEPAGE_SUCCESS = 0
MIGRATEPAGE_UNMAP = 1
EAGAIN = -11
ENOMEM = -12
ENOENT = -2
EFAULT = -14

#: 6.3+: folios per migrate_pages_batch() call (HPAGE_PMD_NR with
#: CONFIG_TRANSPARENT_HUGEPAGE, else 512: the same 512 with 4 KiB pages).
NR_MAX_BATCHED_MIGRATION = 512
NR_MAX_MIGRATE_PAGES_RETRY = 10
NR_MAX_MIGRATE_ASYNC_RETRY = 3
NR_MAX_MIGRATE_SYNC_RETRY = NR_MAX_MIGRATE_PAGES_RETRY - NR_MAX_MIGRATE_ASYNC_RETRY


class MigrationEntryWait(FolioLocked):
    """Model-only: a fault met a migration entry; migration_entry_wait() would sleep.

    Raised before the fault changes anything, like FolioLocked (of which it
    is a kind, so the scenario runner and the explorer retry the step once
    the paused migration has finished).  Python callers that pause a
    migration at a probe catch it and retry the access afterwards.
    """


class _Stats:
    """struct migrate_pages_stats: pages migrated / failed."""

    __slots__ = ("nr_succeeded", "nr_failed_pages")

    def __init__(self) -> None:
        self.nr_succeeded = 0
        self.nr_failed_pages = 0


# --- faults ---

def migration_entry_wait(current: TaskStruct, vma: VmAreaStruct, addr: int, pte: int) -> None:
    """Models: migration_entry_wait(): a fault on a migration entry waits for the old folio's lock.

    The migration holds the old folio locked from unmap until its PTEs point
    at the new page; the fault sleeps on it (folio_wait_bit PG_locked) and
    then returns, and the retried access faults in the new page.  In the
    model a migration only pauses at a probe, so a fault that would sleep
    raises MigrationEntryWait instead; one whose entry is already gone
    returns and the access retries.
    """
    m = current.machine
    current.cpu.charge("migration_entry_wait", m.kns[S_migration_entry_wait])
    folio = m.page_alloc.mem_map[migration_entry_to_pfn(pte)]
    if folio is not None and folio.locked:
        raise MigrationEntryWait(folio)


# --- the move ---

def move_to_new_folio(current: TaskStruct, dst: Folio, src: Folio) -> None:
    """Models: move_to_new_folio() -> migrate_folio(): copy *src* into *dst* and move its mapping.

    folio_migrate_mapping() makes *dst* the page cache's (shmem) or the swap
    cache's folio at *src*'s index; folio_copy() -> copy_highpage() copies
    the contents (``copy_page``, at the NUMA cost between the two nodes);
    folio_migrate_flags() carries dirty, active and referenced over.
    Caller's contract: every TLB entry of *src* is gone (the batch flushed),
    or a store through one lands in *src* after this copy read it.
    """
    m = current.machine
    cpu = current.cpu
    if m.sanitizer is not None:
        m.sanitizer.migrate_copy(cpu, src, dst)
    numa = m.numa
    saved = cpu.sym
    cpu.sym = S_copy_page
    try:
        cpu.charge("copy_page", numa.copy_ns(numa.pfn_to_nid(src.pfn), numa.pfn_to_nid(dst.pfn)))
    finally:
        cpu.sym = saved
    m.mem.data[dst.pfn] = m.mem.data[src.pfn]
    # folio_migrate_mapping()
    mapping = src.mapping
    dst.mapping = mapping
    dst.index = src.index
    if src.swapcache:
        m.swap.swap_cache[src.swap] = dst
        dst.swap = src.swap
        dst.swapcache = True
        src.swapcache = False
        src.swap = 0
    elif mapping is not None and not src.anon and mapping.i_pages.get(src.index) is src:
        mapping.i_pages[src.index] = dst
    # folio_migrate_flags()
    dst.dirty = src.dirty
    dst.active = src.active
    dst.referenced = src.referenced
    src.dirty = False


def remove_migration_ptes(current: TaskStruct, src: Folio, dst: Folio) -> None:
    """Models: remove_migration_ptes() -> rmap_walk(dst) -> remove_migration_pte().

    Every migration entry naming *src* becomes a PTE mapping *dst*, writable
    if the entry was, with the young and dirty bits the entry kept.  Nothing
    is flushed: the entries were not present, so no TLB holds them.
    """
    m = current.machine
    cpu = current.cpu
    cost = m.kns[S_remove_migration_pte]
    mapping = dst.mapping
    vmas = (mapping.vmas if isinstance(mapping, AnonVma)
            else mapping.i_mmap if mapping is not None else ())
    for vma in tuple(vmas):
        addr = vma.address_of(dst.index)
        if addr is None:
            continue
        cpu.charge("remove_migration_pte", cost)
        pgd = vma.vm_mm.pgd
        vpn = addr >> PAGE_SHIFT
        pte = pgd.get(vpn, 0)
        if not is_migration_entry(pte) or migration_entry_to_pfn(pte) != src.pfn:
            continue
        pgd[vpn] = mk_pte(dst.pfn, is_writable_migration_entry(pte), dirty=pte_dirty(pte),
                          young=pte_young(pte))
        if dst.anon:
            folio_add_anon_rmap_pte(dst, vma, addr)
        else:
            folio_add_file_rmap_pte(dst)


def _undo_dst(current: TaskStruct, dst: Folio) -> None:
    """Models: migrate_folio_undo_dst(): free the unused destination folio."""
    dst.locked = False
    folio_put(current.machine, current.cpu, dst)


def migrate_folio_done(current: TaskStruct, src: Folio) -> None:
    """Models: migrate_folio_done(): drop isolation's reference; the old folio is freed."""
    src.isolated = False
    src.locked = False
    folio_put(current.machine, current.cpu, src)


def migrate_folio_unmap(current: TaskStruct, src: Folio, nid: int, mode: int,
                        ) -> tuple[int, Folio | None]:
    """Models: migrate_folio_unmap(): lock *src*, allocate its new page, replace its PTEs.

    Returns (MIGRATEPAGE_UNMAP, dst) when *src* is unmapped and ready to
    move, (MIGRATEPAGE_SUCCESS, None) when it was freed under us, EAGAIN
    when another path holds its lock, ENOMEM when node *nid* has no free
    page (__GFP_THISNODE).  try_to_migrate() gets TTU_BATCH_FLUSH only in
    MIGRATE_ASYNC mode: only then may a flush be left to the batch.
    """
    m = current.machine
    cpu = current.cpu
    cpu.charge("migrate_folio_unmap", m.kns[S_migrate_folio_unmap])
    if not src.mapcount and src.mapping is None:
        migrate_folio_done(current, src)      # freed from under us: nothing to move
        return MIGRATEPAGE_SUCCESS, None
    try:
        dst = m.page_alloc.folio_alloc(cpu, False, nid, 1 << nid)
    except OutOfMemory:
        return ENOMEM, None
    if src.locked:                             # folio_trylock() failed
        _undo_dst(current, dst)
        return EAGAIN, None
    src.locked = True
    dst.locked = True
    if src.mapcount:
        try_to_migrate(current, src, TTU_BATCH_FLUSH if mode == MIGRATE_ASYNC else TtuFlags(0))
    return MIGRATEPAGE_UNMAP, dst


def migrate_folio_move(current: TaskStruct, src: Folio, dst: Folio) -> int:
    """Models: migrate_folio_move(): copy, put *dst* on the LRU, restore the PTEs, free *src*."""
    m = current.machine
    cpu = current.cpu
    saved = cpu.sym
    cpu.sym = S_migrate_folio_move
    try:
        cpu.charge("migrate_folio_move", m.kns[S_migrate_folio_move])
        if m.probes:
            m.probe("migrate_folio_move:copy", current, folio=src, dst=dst)
        move_to_new_folio(current, dst, src)
        if m.migrate_copy_before_flush:
            # MODEL: MODEL_MIGRATE_COPY_BEFORE_FLUSH (a hazard, never upstream): the
            # batch's flush runs after the first copy instead of before the move
            # loop, so that copy read the old page while other CPUs could still
            # store to it.  Later folios of the batch find the batch flushed.
            if m.probes and current.tlb_ubc.flush_required:
                m.probe("migrate_pages_batch:flush", current, folios=[src])
            try_to_unmap_flush(current)
        folio_add_lru(current, dst)
        remove_migration_ptes(current, src, dst)
        dst.locked = False
        migrate_folio_done(current, src)
    finally:
        cpu.sym = saved
    return MIGRATEPAGE_SUCCESS


def migrate_pages_batch(current: TaskStruct, from_: list[Folio], nid: int, mode: int,
                        nr_pass: int, stats: _Stats, ret: list[Folio]) -> int:
    """Models: migrate_pages_batch(): unmap every folio, flush once, then move every folio.

    *from_* keeps the folios to retry; permanent failures go to *ret*.
    Returns the number of folios not migrated, or ENOMEM.  The one
    try_to_unmap_flush() between the two loops is what 7e12beb8ca2a
    bought: one TLB shootdown for the batch instead of one per PTE.
    """
    m = current.machine
    cpu = current.cpu
    saved = cpu.sym
    cpu.sym = S_migrate_pages_batch
    try:
        cpu.charge("migrate_pages_batch", m.kns[S_migrate_pages_batch])
        unmapped: list[tuple[Folio, Folio]] = []
        nr_failed = 0
        rc_saved = 0
        retry = 1
        for _ in range(nr_pass):
            if not retry:
                break
            retry = 0
            for folio in list(from_):
                rc, dst = migrate_folio_unmap(current, folio, nid, mode)
                if rc == ENOMEM:
                    nr_failed += 1
                    stats.nr_failed_pages += 1
                    rc_saved = rc
                    break
                if rc == EAGAIN:
                    retry += 1
                    continue
                from_.remove(folio)
                if rc == MIGRATEPAGE_SUCCESS:
                    stats.nr_succeeded += 1
                else:
                    assert dst is not None
                    unmapped.append((folio, dst))
            if rc_saved:
                break
        if not rc_saved:
            nr_failed += retry
            stats.nr_failed_pages += retry
            if retry:
                for folio in from_:                 # gave up on them: back to the caller
                    ret.append(folio)
                from_.clear()
        if m.probes:
            m.probe("migrate_pages_batch:unmapped", current, folios=[s for s, _ in unmapped])
        if not m.migrate_copy_before_flush:
            if m.probes:
                m.probe("migrate_pages_batch:flush", current, folios=[s for s, _ in unmapped])
            try_to_unmap_flush(current)           # flush TLBs for all unmapped folios
        for src, dst in unmapped:
            migrate_folio_move(current, src, dst)
            stats.nr_succeeded += 1
    finally:
        cpu.sym = saved
    return rc_saved or nr_failed


def migrate_pages_sync(current: TaskStruct, from_: list[Folio], nid: int, mode: int,
                       stats: _Stats, ret: list[Folio]) -> int:
    """Models: migrate_pages_sync(): the batch in MIGRATE_ASYNC mode, then each failure alone in *mode*.

    Batching only in async mode keeps a migration from sleeping on a lock
    while it holds other folios locked (2ef7dbb26990, 6.3).
    """
    retry: list[Folio] = []
    astats = _Stats()
    rc = migrate_pages_batch(current, from_, nid, MIGRATE_ASYNC, NR_MAX_MIGRATE_ASYNC_RETRY,
                             astats, retry)
    stats.nr_succeeded += astats.nr_succeeded
    if rc < 0:
        stats.nr_failed_pages += astats.nr_failed_pages
        ret.extend(retry)
        ret.extend(from_)
        from_.clear()
        return rc
    pending = retry + from_
    from_.clear()
    nr_failed = 0
    for folio in pending:
        one = [folio]
        rc = migrate_pages_batch(current, one, nid, mode, NR_MAX_MIGRATE_SYNC_RETRY, stats, ret)
        ret.extend(one)
        if rc < 0:
            return rc
        nr_failed += rc
    return nr_failed


def unmap_and_move(current: TaskStruct, src: Folio, nid: int, mode: int, stats: _Stats) -> int:
    """Models: unmap_and_move() -> __unmap_and_move() (up to 6.2): one folio, start to end.

    try_to_migrate(folio, 0): each PTE is flushed as it is cleared
    (ptep_clear_flush), then the copy, then the PTEs are restored.  A
    batch of N pages mapped on several CPUs costs N TLB shootdowns.
    """
    m = current.machine
    cpu = current.cpu
    saved = cpu.sym
    cpu.sym = S_unmap_and_move
    try:
        cpu.charge("unmap_and_move", m.kns[S_unmap_and_move])
        rc, dst = migrate_folio_unmap(current, src, nid, mode)
        if rc == MIGRATEPAGE_UNMAP:
            assert dst is not None
            if m.probes:
                m.probe("migrate_pages_batch:unmapped", current, folios=[src])
            rc = migrate_folio_move(current, src, dst)
        if rc == MIGRATEPAGE_SUCCESS:
            stats.nr_succeeded += 1
    finally:
        cpu.sym = saved
    return rc


def migrate_pages(current: TaskStruct, from_: list[Folio], nid: int, mode: int = MIGRATE_SYNC,
                  reason: int = MR_SYSCALL) -> int:
    """Models: migrate_pages(): migrate the isolated folios of *from_* to node *nid*.

    The baseline decides the path (``migrate_batch``): since 6.3 batches of
    NR_MAX_BATCHED_MIGRATION through migrate_pages_batch() (via
    migrate_pages_sync() for MIGRATE_SYNC callers); before, unmap_and_move()
    one folio at a time, up to NR_MAX_MIGRATE_PAGES_RETRY passes.  On
    return *from_* holds the folios not migrated (the caller puts them back,
    putback_movable_pages).  Returns their number, or ENOMEM.
    """
    m = current.machine
    cpu = current.cpu
    saved = cpu.sym
    cpu.sym = S_migrate_pages
    try:
        cpu.charge("migrate_pages", m.kns[S_migrate_pages])
        stats = _Stats()
        ret: list[Folio] = []
        batch = m.baseline.migrate_batch
        rc_gather = 0
        if not batch:
            for _ in range(NR_MAX_MIGRATE_PAGES_RETRY):
                if not from_:
                    break
                for folio in list(from_):
                    rc = unmap_and_move(current, folio, nid, mode, stats)
                    if rc == EAGAIN:
                        continue
                    from_.remove(folio)
                    if rc == ENOMEM:
                        stats.nr_failed_pages += 1 + len(from_)
                        ret.append(folio)
                        ret.extend(from_)
                        from_.clear()
                        rc_gather = ENOMEM
                        break
                if rc_gather:
                    break
            if not rc_gather:
                rc_gather = len(from_)
                stats.nr_failed_pages += len(from_)
                ret.extend(from_)
                from_.clear()
        else:
            rest = list(from_)
            from_.clear()
            while rest:
                folios, rest = rest[:batch], rest[batch:]
                if mode == MIGRATE_ASYNC:
                    rc = migrate_pages_batch(current, folios, nid, mode, NR_MAX_MIGRATE_PAGES_RETRY,
                                             stats, ret)
                else:
                    rc = migrate_pages_sync(current, folios, nid, mode, stats, ret)
                ret.extend(folios)
                if rc < 0:
                    rc_gather = rc
                    ret.extend(rest)
                    break
                rc_gather += rc
        from_.extend(ret)
        m.vmstat.pgmigrate_success += stats.nr_succeeded
        m.vmstat.pgmigrate_fail += stats.nr_failed_pages
    finally:
        cpu.sym = saved
    return rc_gather


# --- callers: isolate, migrate, put back ---

def putback_movable_pages(current: TaskStruct, folios: list[Folio]) -> None:
    """Models: putback_movable_pages(): return folios migration did not move to the LRU."""
    from minikernel.mm.vmscan import folio_putback_lru
    for folio in folios:
        if folio.freed:
            continue
        folio_putback_lru(current, folio)
    folios.clear()


def migrate_pages_to_nodes(current: TaskStruct, moves: list[tuple[Folio, int]], mode: int,
                           reason: int) -> int:
    """Model-only: isolate each (folio, node) and migrate runs of one target node together.

    What do_pages_move() (and queue_pages_range() + migrate_pages() for
    mbind and migrate_pages(2)) do: pages bound for one node go to one
    migrate_pages() call, a new call starts when the node changes.  Returns
    the number of folios not migrated (isolation failures included).
    """
    failed = 0
    run: list[Folio] = []
    run_nid = -1
    for folio, nid in moves:
        if nid != run_nid:
            failed += _migrate_run(current, run, run_nid, mode, reason)
            run_nid = nid
        if folio.freed or not folio_isolate_lru(current, folio):
            failed += 1
            continue
        run.append(folio)
    failed += _migrate_run(current, run, run_nid, mode, reason)
    return failed


def _migrate_run(current: TaskStruct, run: list[Folio], nid: int, mode: int, reason: int) -> int:
    """do_move_pages_to_node(): migrate_pages() one run, put back what stayed; the count left."""
    if not run:
        return 0
    migrate_pages(current, run, nid, mode, reason)
    left = len(run)
    putback_movable_pages(current, run)
    return left


def do_pages_move(current: TaskStruct, target: TaskStruct, addrs: list[int],
                  nodes: list[int]) -> list[int]:
    """Models: kernel_move_pages() -> do_pages_move(): move each page to its node; per-page status.

    Status: the node the page is on afterwards, -ENOENT when no page is
    mapped there (or it could not be isolated), -EFAULT when no VMA maps
    the address.  Pages mapped by more than one process move too
    (MPOL_MF_MOVE_ALL, as for a privileged caller).
    """
    from minikernel.hw.mmu import pte_pfn, pte_present
    m = current.machine
    current.cpu.charge("do_pages_move", m.kns[S_do_pages_move])
    numa = m.numa
    mm = target.mm
    status = [0] * len(addrs)
    moves: list[tuple[Folio, int]] = []
    where: list[tuple[int, Folio]] = []
    for i, (addr, nid) in enumerate(zip(addrs, nodes)):
        if mm.find_vma(addr) is None:
            status[i] = EFAULT
            continue
        pte = mm.pgd.get(addr >> PAGE_SHIFT, 0)
        if not pte_present(pte):
            status[i] = ENOENT
            continue
        folio = m.page_alloc.mem_map[pte_pfn(pte)]
        assert folio is not None
        where.append((i, folio))
        if numa.pfn_to_nid(folio.pfn) != nid and all(f is not folio for f, _ in moves):
            moves.append((folio, nid))
    migrate_pages_to_nodes(current, moves, MIGRATE_SYNC, MR_SYSCALL)
    for i, _folio in where:
        addr = addrs[i]
        pte = mm.pgd.get(addr >> PAGE_SHIFT, 0)
        status[i] = numa.pfn_to_nid(pte_pfn(pte)) if pte_present(pte) else ENOENT
    return status


def do_pages_stat(current: TaskStruct, target: TaskStruct, addrs: list[int]) -> list[int]:
    """Models: do_pages_stat(): move_pages(2) with no nodes: the node of each page, or -errno."""
    from minikernel.hw.mmu import pte_pfn, pte_present
    numa = current.machine.numa
    mm = target.mm
    out = []
    for addr in addrs:
        if mm.find_vma(addr) is None:
            out.append(EFAULT)
            continue
        pte = mm.pgd.get(addr >> PAGE_SHIFT, 0)
        out.append(numa.pfn_to_nid(pte_pfn(pte)) if pte_present(pte) else ENOENT)
    return out
