"""mm/rmap.py: try_to_unmap with and without the deferred TLB batch."""

import pytest

from minikernel.hw.memory import PAGE_POISON
from minikernel.hw.mmu import PAGE_SHIFT, PAGE_SIZE, is_swap_pte
from minikernel.user import (
    MADV_PAGEOUT,
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MAP_SHARED,
    PROT_READ,
    PROT_WRITE,
    Process,
)

NPAGES = 256
SIZE = NPAGES * PAGE_SIZE


def _shared_buffer(m, writer=True):
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    for i in range(NPAGES):
        if writer:
            p.write(buf + i * PAGE_SIZE, i + 1)
        else:
            p.read(buf + i * PAGE_SIZE)
    return p, buf


def test_unbatched_one_synchronous_flush_per_pte(make_machine):
    m = make_machine("arm64", cpus=96)           # defconfig: EXPERT=n, batching not configured
    p, buf = _shared_buffer(m)
    assert p.madvise(buf, SIZE, MADV_PAGEOUT) == NPAGES
    vs = m.vmstat
    assert vs.tlb_sync_flush == NPAGES
    assert vs.tlb_deferred_pte == 0 and vs.tlb_batch_flush == 0
    # one DSB per page, plus the one tlb_finish_mmu ends the young-PTE range
    # flush with (Linux 6.1, the default baseline: MADV_PAGEOUT made them old)
    assert m.arch.counters()["dsb_ish_waited"] == NPAGES + 1


# DSBs that waited per steady-state MADV_PAGEOUT: batch flushes, the young-PTE
# flush at tlb_finish_mmu (up to 6.8), and the flush_tlb_mm the walk's
# flush_tlb_batched_pending owes for the previous pass's deferrals (a DSB
# with nothing outstanding on the 6.6 variant, so it does not wait).
@pytest.mark.parametrize("variant, batch_flushes, young_flush, pending_flush", [
    ("MODEL_ARM64_BATCHED_TLB_V5=y", 1, 1, 1),       # 6.1: one per shrink_folio_list call
    ("MODEL_ARM64_BATCHED_TLB_6_6=y", 1, 1, 0),      # 6.6: likewise
    ("MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y", 9, 0, 1), # 6.16: every 31 freed folios + the rest
])
def test_batched_flushes_per_madv_pageout_follow_the_baseline(make_machine, variant,
                                                               batch_flushes, young_flush,
                                                               pending_flush):
    m = make_machine("arm64", "EXPERT=y", variant, cpus=96)
    p, buf = _shared_buffer(m, writer=False)     # seeded dirty; this pass reads only
    p.madvise(buf, SIZE, MADV_PAGEOUT)
    for i in range(NPAGES):
        p.read(buf + i * PAGE_SIZE)              # swapped back in: clean PTEs, dirty folios
    before = m.arch.counters()["dsb_ish_waited"]
    vs0 = m.vmstat.as_dict()
    assert p.madvise(buf, SIZE, MADV_PAGEOUT) == NPAGES
    vs = m.vmstat.as_dict()
    assert vs["tlb_sync_flush"] - vs0["tlb_sync_flush"] == 0
    assert vs["tlb_deferred_pte"] - vs0["tlb_deferred_pte"] == NPAGES
    assert vs["tlb_flush_dirty"] - vs0["tlb_flush_dirty"] == 0
    assert vs["tlb_batch_flush"] - vs0["tlb_batch_flush"] == batch_flushes
    assert (m.arch.counters()["dsb_ish_waited"] - before
            == batch_flushes + young_flush + pending_flush)


class _FreeChecker:
    """A folio_free observer: once armed, each freed pfn must be in no CPU's TLB."""

    def __init__(self, arch):
        self.arch = arch
        self.m = None                     # the machine, set when armed
        self.freed = []

    def subscribe(self, obs):
        obs.subscribe("folio_free", self.on_free)

    def on_free(self, cpu, folio):
        if self.m is not None:
            assert not self.m.tlbs.entries_for_pfn(folio.pfn), \
                f"{self.arch}: pfn {folio.pfn} still cached"
            self.freed.append(folio.pfn)


def test_no_page_freed_before_the_flush_covering_it(make_machine):
    for arch in ("arm64", "x86"):
        check = _FreeChecker(arch)
        m = make_machine(arch, "EXPERT=y", cpus=16, observe=[check.subscribe])
        p, buf = _shared_buffer(m)
        t = p.clone_thread(cpu=5)
        for i in range(NPAGES):
            t.read(buf + i * PAGE_SIZE)          # CPU 5 caches every page too
        check.m = m
        assert p.madvise(buf, SIZE, MADV_PAGEOUT) == NPAGES
        assert len(check.freed) == NPAGES
        assert m.vmstat.tlb_deferred_pte == NPAGES


def test_tlb_ubc_writable_only_for_dirty_ptes_and_flushed_before_pageout(make_machine):
    m = make_machine("arm64", "EXPERT=y", cpus=16)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(4 * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    p.read(buf)                                  # clean
    p.read(buf + PAGE_SIZE)                      # clean
    p.write(buf + 2 * PAGE_SIZE, 7)              # dirty
    p.read(buf + 3 * PAGE_SIZE)                  # clean
    seen = []

    def cleared(current, folio, mm, addr):
        seen.append(((addr - buf) // PAGE_SIZE, current.tlb_ubc.writable))

    def before_io(current, folio):
        assert not current.tlb_ubc.writable
        # a clean entry may survive (a store through it must re-walk and trap);
        # one that can store without walking must not
        assert not any(e.writable and e.dirty for e in m.tlbs.entries_for_pfn(folio.pfn))

    m.probes["try_to_unmap_one:cleared"] = cleared
    m.probes["pageout:before_io"] = before_io
    p.madvise(buf, 4 * PAGE_SIZE, MADV_PAGEOUT)
    # writable latches on the dirty PTE; the flush before its pageout clears it
    assert seen == [(0, False), (1, False), (2, True), (3, False)]
    assert m.vmstat.tlb_flush_dirty == 1


def test_page_mapped_by_p_processes_has_p_ptes_cleared(make_machine):
    m = make_machine("arm64", "EXPERT=y", cpus=16)
    parent = Process.spawn(m, cpu=0)
    buf = parent.mmap(8 * PAGE_SIZE, flags=MAP_PRIVATE | MAP_ANONYMOUS)
    for i in range(8):
        parent.write(buf + i * PAGE_SIZE, 100 + i)
    kids = [parent.fork(cpu=c) for c in (1, 2)]
    for k in kids:
        for i in range(8):
            assert k.read(buf + i * PAGE_SIZE) == 100 + i
    cleared = []
    m.probes["try_to_unmap_one:cleared"] = lambda cur, folio, mm, addr: cleared.append(mm)
    assert parent.reclaim(8) == 8
    assert len(cleared) == 3 * 8
    for proc in [parent] + kids:
        for i in range(8):
            assert is_swap_pte(proc.mm.pgd[(buf >> PAGE_SHIFT) + i])
    # and they come back shared, with the right contents, and COW still works
    for proc in [parent] + kids:
        for i in range(8):
            assert proc.read(buf + i * PAGE_SIZE) == 100 + i
    kids[0].write(buf, 5)
    assert parent.read(buf) == 100 and kids[1].read(buf) == 100 and kids[0].read(buf) == 5


def test_stub_paths_when_batching_is_not_configured(make_machine):
    for arch, sets in (("arm64", ()), ("x86", ("EXPERT=y", "X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y"))):
        m = make_machine(arch, *sets, cpus=16)
        p, buf = _shared_buffer(m)
        p.clone_thread(cpu=3)                    # x86 would defer for a multi-CPU mm
        for _ in range(3):
            for i in range(NPAGES):
                p.read(buf + i * PAGE_SIZE)
            p.madvise(buf, SIZE, MADV_PAGEOUT)
        vs = m.vmstat
        assert vs.tlb_sync_flush == 3 * NPAGES
        assert (vs.tlb_deferred_pte, vs.tlb_batch_flush, vs.tlb_flush_dirty,
                vs.tlb_batched_pending_flush) == (0, 0, 0, 0)


@pytest.mark.stale_entries
def test_skipped_flush_leaves_a_stale_entry_another_cpu_reads(make_machine):
    m = make_machine("arm64", cpus=4)
    p, buf = _shared_buffer(m)
    t = p.clone_thread(cpu=1)
    assert t.read(buf) == 1                      # CPU 1 caches the translation
    m.arch.flush_tlb_page = lambda cpu, vma, uaddr: None   # the deliberately skipped flush
    # ... and the young-PTE flush MADV_PAGEOUT's tlb_finish_mmu does up to 6.8,
    # which would otherwise remove CPU 1's entry after the free
    m.arch.flush_tlb_range = lambda cpu, vma, start, end: None
    assert p.madvise(buf, PAGE_SIZE, MADV_PAGEOUT) == 1
    # the page was freed and poisoned, yet CPU 1 still reads it through its entry
    assert t.read(buf) == PAGE_POISON
    # ... and once the frame is reused by another process, CPU 1 reads that data
    other = Process.spawn(m, "victim", cpu=2)
    vbuf = other.mmap(PAGE_SIZE)
    other.write(vbuf, 0xC0FFEE)
    assert t.read(buf) == 0xC0FFEE
    assert "use-after-free-tlb" in m.sanitizer.kinds    # and the sanitizer saw it happen


@pytest.mark.parametrize("arch,sets", [("arm64", ("EXPERT=y",)), ("x86", ())])
def test_flush_tlb_batched_pending_records_the_generation_it_flushed(make_machine, arch, sets):
    """mm->tlb_flush_batched: once flushed, the same deferral is not flushed again.

    flush_tlb_batched_pending() copies the pending count into the flushed
    half; a later PTE-lock holder then sees nothing owed (no second
    flush_tlb_mm) until reclaim defers another PTE of the mm.
    """
    m = make_machine(arch, *sets, cpus=16)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(2 * PAGE_SIZE, flags=MAP_PRIVATE | MAP_ANONYMOUS)
    p.write(buf, 1)
    p.write(buf + PAGE_SIZE, 2)
    t = p.clone_thread(cpu=1)                    # the mm is live on two CPUs (x86 defers)
    vs = m.vmstat
    assert p.madvise(buf, PAGE_SIZE, MADV_PAGEOUT) == 1
    assert vs.tlb_deferred_pte == 1 and vs.tlb_batched_pending_flush == 0
    t.mprotect(buf, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE)
    assert vs.tlb_batched_pending_flush == 1     # the deferred flush is owed: flushed
    t.mprotect(buf, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE)
    assert vs.tlb_batched_pending_flush == 1     # nothing new deferred: nothing flushed
    assert p.madvise(buf + PAGE_SIZE, PAGE_SIZE, MADV_PAGEOUT) == 1
    assert vs.tlb_deferred_pte == 2
    t.mprotect(buf, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE)
    assert vs.tlb_batched_pending_flush == 2     # a new deferral: owed again
    assert (t.read(buf), t.read(buf + PAGE_SIZE)) == (1, 2)
