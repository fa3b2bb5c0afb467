"""mm/vmscan.py: shrink_folio_list's ordering, SWAP_CLUSTER_MAX batches, direct reclaim."""

from minikernel.hw.mmu import PAGE_SIZE
from minikernel.mm.vmscan import SWAP_CLUSTER_MAX
from minikernel.user import MADV_PAGEOUT, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, Process


def _events(m, p):
    """Record the reclaim path's steps for one pageout of a written buffer."""
    log = []
    m.probes["try_to_unmap_one:cleared"] = lambda cur, folio, mm, addr: log.append(("unmap", folio.pfn))
    m.probes["pageout:before_io"] = lambda cur, folio: log.append(("io", folio.pfn, cur.tlb_ubc.writable))
    m.probes["shrink_folio_list:before_flush"] = lambda cur, folios: log.append(("flush", len(folios)))
    m.page_alloc.on_free = lambda cpu, folio: log.append(
        ("free", folio.pfn, p.task.tlb_ubc.flush_required))
    return log


def test_dirty_pte_flushed_before_pageout_and_all_flushed_before_free(make_machine):
    m = make_machine("arm64", "EXPERT=y", cpus=16)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(3 * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    for i in range(3):
        p.write(buf + i * PAGE_SIZE, i)              # dirty PTEs
    log = _events(m, p)
    p.madvise(buf, 3 * PAGE_SIZE, MADV_PAGEOUT)
    kinds = [e[0] for e in log]
    assert kinds == ["unmap", "io", "unmap", "io", "unmap", "io", "flush",
                     "free", "free", "free"]
    assert all(e[2] is False for e in log if e[0] == "io")      # writable flushed before IO
    assert all(e[2] is False for e in log if e[0] == "free")    # nothing owed when freeing


def test_madvise_pageout_batches_by_swap_cluster_max(make_machine):
    m = make_machine("arm64", "EXPERT=y", cpus=16)
    p = Process.spawn(m, cpu=0)
    n = 100
    buf = p.mmap(n * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    for i in range(n):
        p.read(buf + i * PAGE_SIZE)
    sizes = []
    m.probes["shrink_folio_list:before_flush"] = lambda cur, folios: sizes.append(len(folios))
    assert p.madvise(buf, n * PAGE_SIZE, MADV_PAGEOUT) == n
    assert sizes == [32, 32, 32, 4]
    assert max(sizes) <= SWAP_CLUSTER_MAX


def test_madvise_pageout_skips_folios_mapped_twice(make_machine):
    m = make_machine("x86", cpus=4)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(4 * PAGE_SIZE, flags=MAP_PRIVATE | MAP_ANONYMOUS)
    for i in range(4):
        p.write(buf + i * PAGE_SIZE, i)
    child = p.fork(cpu=1)
    assert p.madvise(buf, 4 * PAGE_SIZE, MADV_PAGEOUT) == 0
    assert child.madvise(buf, 4 * PAGE_SIZE, MADV_PAGEOUT) == 0


def test_direct_reclaim_takes_shared_folios_and_frees_them(make_machine):
    m = make_machine("x86", cpus=4)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(40 * PAGE_SIZE, flags=MAP_PRIVATE | MAP_ANONYMOUS)
    for i in range(40):
        p.write(buf + i * PAGE_SIZE, i)
    p.fork(cpu=1)
    free_before = len(m.page_alloc.free_list)
    assert p.reclaim(40) == 40
    assert len(m.page_alloc.free_list) == free_before + 40
    assert m.vmstat.pswpout == 40 and len(m.lru) == 0


def test_no_swap_means_nothing_reclaimed_and_folios_go_back(make_machine):
    m = make_machine("arm64", "SWAP=n", cpus=4)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(4 * PAGE_SIZE, flags=MAP_PRIVATE | MAP_ANONYMOUS)
    for i in range(4):
        p.write(buf + i * PAGE_SIZE, i)
    assert p.madvise(buf, 4 * PAGE_SIZE, MADV_PAGEOUT) == 0
    assert len(m.lru) == 4
    assert [p.read(buf + i * PAGE_SIZE) for i in range(4)] == [0, 1, 2, 3]


def test_direct_reclaim_isolates_swap_cluster_max_folios_at_a_time(make_machine):
    """shrink_inactive_list() isolates at most SWAP_CLUSTER_MAX (32) folios per pass.

    65 folios on the LRU: two full passes and one of a single folio, each
    handed to shrink_folio_list() on its own (so a deferred flush never
    covers more than one pass).
    """
    m = make_machine("arm64", "EXPERT=y", cpus=16)
    p = Process.spawn(m, cpu=0)
    n = 2 * 32 + 1
    buf = p.mmap(n * PAGE_SIZE, flags=MAP_PRIVATE | MAP_ANONYMOUS)
    for i in range(n):
        p.write(buf + i * PAGE_SIZE, i + 1)
    sizes = []
    m.probes["shrink_folio_list:before_flush"] = lambda cur, folios: sizes.append(len(folios))
    assert p.reclaim(n) == n
    assert sizes == [32, 32, 1]
    m.probes.clear()
    assert [p.read(buf + i * PAGE_SIZE) for i in range(n)] == list(range(1, n + 1))


def test_direct_reclaim_of_fewer_than_a_cluster_is_one_pass(make_machine):
    m = make_machine("arm64", "EXPERT=y", cpus=16)
    p = Process.spawn(m, cpu=0)
    n = 32
    buf = p.mmap((n + 1) * PAGE_SIZE, flags=MAP_PRIVATE | MAP_ANONYMOUS)
    for i in range(n + 1):
        p.write(buf + i * PAGE_SIZE, i + 1)
    sizes = []
    m.probes["shrink_folio_list:before_flush"] = lambda cur, folios: sizes.append(len(folios))
    assert p.reclaim(n) == n                   # the 33rd, newest folio stays resident
    assert sizes == [32]
    assert len(m.lru) == 1
