"""mm/vmscan.py: shrink_folio_list's ordering, SWAP_CLUSTER_MAX batches, direct reclaim."""

import pytest

from minikernel.hw.mmu import PAGE_SIZE
from minikernel.mm.vmscan import SWAP_CLUSTER_MAX
from minikernel.user import MADV_PAGEOUT, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, Process


class _Events:
    """Record the reclaim path's steps for one pageout of a written buffer.

    Frees come through the observer layer (``folio_free``, subscribed at
    boot: pass ``observe=[events.subscribe]``); the probe points are set by
    :meth:`start`, once the buffer is written, so only the pageout is logged.
    """

    def __init__(self):
        self.log = []
        self.p = None

    def subscribe(self, obs):
        obs.subscribe("folio_free", self._free)

    def _free(self, cpu, folio):
        if self.p is not None:
            self.log.append(("free", folio.pfn, self.p.task.tlb_ubc.flush_required))

    def start(self, m, p):
        log = self.log
        m.probes["try_to_unmap_one:cleared"] = lambda cur, folio, mm, addr: log.append(("unmap", folio.pfn))
        m.probes["pageout:before_io"] = lambda cur, folio: log.append(("io", folio.pfn, cur.tlb_ubc.writable))
        m.probes["shrink_folio_list:before_flush"] = lambda cur, folios: log.append(("flush", len(folios)))
        self.p = p
        return log


def test_dirty_pte_flushed_before_pageout_and_all_flushed_before_free(make_machine):
    events = _Events()
    m = make_machine("arm64", "EXPERT=y", cpus=16, observe=[events.subscribe])
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(3 * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    for i in range(3):
        p.write(buf + i * PAGE_SIZE, i)              # dirty PTEs
    log = events.start(m, p)
    p.madvise(buf, 3 * PAGE_SIZE, MADV_PAGEOUT)
    kinds = [e[0] for e in log]
    assert kinds == ["unmap", "io", "unmap", "io", "unmap", "io", "flush",
                     "free", "free", "free"]
    assert all(e[2] is False for e in log if e[0] == "io")      # writable flushed before IO
    assert all(e[2] is False for e in log if e[0] == "free")    # nothing owed when freeing


@pytest.mark.parametrize("variant, sizes", [
    # up to 6.8: reclaim_pages hands shrink_folio_list one PTE table's folios,
    # freed after one try_to_unmap_flush (here 100, then a second table's 30)
    ("MODEL_ARM64_BATCHED_TLB_V5=y", [100, 30]),
    ("MODEL_ARM64_BATCHED_TLB_6_6=y", [100, 30]),
    # 6.10+: a folio_batch of PAGEVEC_SIZE = 31, flushed and freed when full
    ("MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y", [31, 31, 31, 7, 30]),
])
def test_madvise_pageout_free_cadence_follows_the_baseline(make_machine, variant, sizes):
    m = make_machine("arm64", "EXPERT=y", variant, cpus=16)
    p = Process.spawn(m, cpu=0)
    n = 130
    buf = p.mmap(512 * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    start = buf + (512 - 100) * PAGE_SIZE    # 100 pages in the first PTE table, 30 in the next
    p2 = p.mmap(512 * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    assert p2 == buf + 512 * PAGE_SIZE
    for i in range(n):
        p.write(start + i * PAGE_SIZE, i + 1)
    seen = []
    m.probes["shrink_folio_list:before_flush"] = lambda cur, folios: seen.append(len(folios))
    assert p.madvise(start, n * PAGE_SIZE, MADV_PAGEOUT) == n
    assert seen == sizes
    for i in range(n):
        assert p.read(start + i * PAGE_SIZE) == i + 1


def test_direct_reclaim_still_isolates_swap_cluster_max(make_machine):
    m = make_machine("arm64", "EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y", cpus=16)
    p = Process.spawn(m, cpu=0)
    n = 100
    buf = p.mmap(n * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    for i in range(n):
        p.write(buf + i * PAGE_SIZE, i)
    seen = []
    m.probes["shrink_folio_list:before_flush"] = lambda cur, folios: seen.append(len(folios))
    # every page was touched once (one young PTE): the first pass keeps them
    # (PG_referenced set), the second reclaims them
    assert p.reclaim(n) == n
    assert max(seen) == SWAP_CLUSTER_MAX


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


def _isolated_batches(monkeypatch):
    """Spy on the lists direct reclaim hands to shrink_folio_list()."""
    import minikernel.mm.vmscan as vmscan
    sizes = []
    real = vmscan.shrink_folio_list

    def spy(current, folio_list, *args, **kw):
        sizes.append(len(folio_list))
        return real(current, folio_list, *args, **kw)

    monkeypatch.setattr(vmscan, "shrink_folio_list", spy)
    return sizes


@pytest.mark.parametrize("n", [33, 65])
def test_direct_reclaim_isolates_swap_cluster_max_folios_at_a_time(make_machine, monkeypatch, n):
    """shrink_inactive_list() isolates at most SWAP_CLUSTER_MAX (32) folios per pass.

    With more than 32 folios on the inactive list, the first pass takes
    exactly 32, and no pass takes more.
    """
    m = make_machine("arm64", "EXPERT=y", cpus=16)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(n * PAGE_SIZE, flags=MAP_PRIVATE | MAP_ANONYMOUS)
    for i in range(n):
        p.write(buf + i * PAGE_SIZE, i + 1)
    sizes = _isolated_batches(monkeypatch)
    assert p.reclaim(n) == n
    assert sizes[0] == 32 and max(sizes) == 32, sizes
    assert [p.read(buf + i * PAGE_SIZE) for i in range(n)] == list(range(1, n + 1))




def test_direct_reclaim_deactivates_swap_cluster_max_folios_at_a_time(make_machine, monkeypatch):
    """shrink_lruvec(): with the inactive list low, shrink_active_list() moves exactly
    SWAP_CLUSTER_MAX (32) of the oldest active folios to the inactive list -- no more,
    no fewer while that many are active."""
    import minikernel.mm.vmscan as vmscan
    m = make_machine("arm64", "EXPERT=y", cpus=4)
    p = Process.spawn(m, cpu=0)
    n = 100
    buf = p.mmap(n * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    for i in range(n):
        p.write(buf + i * PAGE_SIZE, i + 1)
    child = p.fork(cpu=1)
    for proc in (p, child):              # two young PTEs each: reclaim activates them
        for i in range(n):
            proc.read(buf + i * PAGE_SIZE)
    moved = []
    real = vmscan.shrink_active_list

    def spy(current, nr_to_scan):
        before = len(m.lru.active)
        real(current, nr_to_scan)
        moved.append((before, before - len(m.lru.active)))

    monkeypatch.setattr(vmscan, "shrink_active_list", spy)
    p.reclaim(n)
    assert moved and any(before > SWAP_CLUSTER_MAX for before, _ in moved), moved
    assert all(d == min(before, SWAP_CLUSTER_MAX) for before, d in moved), moved
    assert [child.read(buf + i * PAGE_SIZE) for i in range(n)] == list(range(1, n + 1))
