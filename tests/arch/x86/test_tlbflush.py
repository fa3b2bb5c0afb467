"""arch/x86/tlbflush.py: IPI shootdowns, the batch cpumask, stale clean vs dirty entries."""

import pytest

from minikernel.hw.mmu import PAGE_SHIFT, PAGE_SIZE
from minikernel.mm.memory import SegmentationFault  # noqa: F401  (documents the trap type)
from minikernel.user import MADV_PAGEOUT, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, Process

NPAGES = 256


def _reclaim_with_threads(m, nthreads):
    p = Process.spawn(m, cpu=0)
    threads = [p.clone_thread(cpu=c) for c in range(1, nthreads)]
    buf = p.mmap(NPAGES * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    for i in range(NPAGES):
        p.read(buf + i * PAGE_SIZE)             # clean PTEs
    assert p.madvise(buf, NPAGES * PAGE_SIZE, MADV_PAGEOUT) == NPAGES
    return p, threads


def test_unbatched_sends_one_ipi_round_per_page(make_machine):
    # 6.16: MADV_PAGEOUT has no young-PTE flush of its own (2864f3d0f583, 6.9)
    m = make_machine("x86", "EXPERT=y", "X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y",
                     "MODEL_X86_KERNEL_6_16=y", cpus=8)
    _reclaim_with_threads(m, 4)
    assert m.vmstat.nr_tlb_remote_flush == NPAGES
    assert m.vmstat.nr_tlb_remote_flush_received == 3 * NPAGES
    assert m.arch.counters()["ipis_sent"] == 3 * NPAGES


@pytest.mark.parametrize("baseline, rounds", [
    # 6.1/6.6: one batch flush per shrink_folio_list call (one PTE table), plus
    # the IPI round of tlb_finish_mmu's flush of the 256 young PTEs made old
    # (past 33 pages: a full flush)
    ("MODEL_X86_KERNEL_6_1=y", 1 + 1),
    ("MODEL_X86_KERNEL_6_6=y", 1 + 1),
    # 6.16: a batch flush before every 31 folios freed, and for the last 8
    ("MODEL_X86_KERNEL_6_16=y", 9),
])
def test_batched_ipi_rounds_follow_the_baseline(make_machine, baseline, rounds):
    m = make_machine("x86", baseline, cpus=8)
    _reclaim_with_threads(m, 4)
    assert m.vmstat.nr_tlb_remote_flush == rounds
    assert m.arch.counters()["ipis_sent"] == 3 * rounds


def test_single_threaded_mm_sends_no_ipi(make_machine):
    m = make_machine("x86", cpus=8)
    _reclaim_with_threads(m, 1)
    assert m.vmstat.nr_tlb_remote_flush == 0
    assert m.vmstat.tlb_deferred_pte == 0 and m.vmstat.tlb_sync_flush == NPAGES
    assert m.vmstat.nr_tlb_local_flush_one == NPAGES


def _stale_entry(m, write_first):
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    t = p.clone_thread(cpu=1)
    if write_first:
        t.write(buf, 1)                         # CPU1's entry is writable-dirty
    else:
        assert t.read(buf) == 0                 # CPU1's entry is writable-clean
    # reclaim clears the PTE and defers the flush; stop before the flush
    del p.mm.pgd[buf >> PAGE_SHIFT]
    return p, t, buf


def test_write_through_stale_clean_entry_traps(make_machine):
    m = make_machine("x86", cpus=4)
    p, t, buf = _stale_entry(m, write_first=False)
    faults = m.vmstat.pgfault
    t.write(buf, 2)                             # must walk, finds no PTE: page fault
    assert m.vmstat.pgfault == faults + 1


def test_write_through_stale_dirty_entry_lands(make_machine):
    m = make_machine("x86", cpus=4)
    p, t, buf = _stale_entry(m, write_first=True)
    entry = m.tlbs.lookup(1, p.mm.asid, buf >> PAGE_SHIFT)
    faults = m.vmstat.pgfault
    t.write(buf, 2)                             # no walk: the store lands in the old page
    assert m.vmstat.pgfault == faults
    assert m.mem.data[entry.pfn] == 2


def test_tlb_flush_trace_uses_kernel_reasons(make_machine):
    m = make_machine("x86", "MODEL_X86_KERNEL_6_16=y", cpus=8, trace=True)
    _reclaim_with_threads(m, 2)
    reasons = {line.split("reason:")[1] for line in m.trace if "tlb_flush" in line}
    # batch: one IPI round; the target does a full remote flush, the initiator a local one
    assert reasons == {"remote ipi send", "remote shootdown", "local shootdown"}


# --- tlb_gen: a CPU that re-enters an mm catches up on the flushes it missed ---

def _thread_cached_then_away(m):
    """p on CPU0 writes one page; its thread caches it on CPU1, then moves to CPU2.

    CPU1 keeps the entry (PCID-tagged) but has left mm_cpumask, so an IPI
    round for this mm no longer reaches it.
    """
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE, flags=MAP_PRIVATE | MAP_ANONYMOUS)
    p.write(buf, 7)
    t = p.clone_thread(cpu=1)
    assert t.read(buf) == 7
    t.move_to(2)
    assert not p.mm.mm_cpumask >> 1 & 1
    assert m.tlbs.lookup(1, p.mm.asid, buf >> PAGE_SHIFT) is not None
    return p, t, buf


def test_cpu_returning_to_an_mm_flushes_what_a_deferred_batch_missed(make_machine):
    m = make_machine("x86", cpus=4, trace=True)
    p, t, buf = _thread_cached_then_away(m)
    gen = p.mm.tlb_gen
    assert p.madvise(buf, PAGE_SIZE, MADV_PAGEOUT) == 1
    assert m.vmstat.tlb_deferred_pte == 1            # the mm ran on CPU2: deferred, batched
    assert p.mm.tlb_gen > gen                        # arch_tlbbatch_add_pending bumped it
    assert m.tlbs.lookup(1, p.mm.asid, buf >> PAGE_SHIFT) is not None   # the IPI missed CPU1
    t.move_to(1)                                     # switch_mm: tlb_gen moved on -> flush
    assert m.tlbs.lookup(1, p.mm.asid, buf >> PAGE_SHIFT) is None
    assert any("reason:flush on task switch" in line and "[001]" in line for line in m.trace)
    assert t.read(buf) == 7                          # faults, swaps back in: not the freed page


def test_cpu_returning_with_nothing_missed_keeps_its_entries(make_machine):
    m = make_machine("x86", cpus=4, trace=True)
    p, t, buf = _thread_cached_then_away(m)
    flushes = m.vmstat.nr_tlb_local_flush_all
    t.move_to(1)                                     # tlb_gen unchanged: no flush
    assert m.vmstat.nr_tlb_local_flush_all == flushes
    assert m.tlbs.lookup(1, p.mm.asid, buf >> PAGE_SHIFT) is not None
    assert not any("flush on task switch" in line for line in m.trace)
    faults = m.vmstat.pgfault
    assert t.read(buf) == 7 and m.vmstat.pgfault == faults      # a TLB hit


def test_cpu_that_caught_up_once_does_not_flush_again(make_machine):
    m = make_machine("x86", cpus=4, trace=True)
    p, t, buf = _thread_cached_then_away(m)
    assert p.madvise(buf, PAGE_SIZE, MADV_PAGEOUT) == 1
    t.move_to(1)                                     # catches up: one flush on task switch
    assert t.read(buf) == 7                          # cached again on CPU1
    t.move_to(2)
    t.move_to(1)                                     # nothing new since it caught up
    switch_flushes = [line for line in m.trace if "flush on task switch" in line]
    assert len(switch_flushes) == 1, switch_flushes
    assert m.tlbs.lookup(1, p.mm.asid, buf >> PAGE_SHIFT) is not None


def test_remote_cpu_that_missed_a_generation_does_a_full_flush(make_machine):
    """flush_tlb_func(): a one-page flush is enough only for the next generation.

    CPU1 caches pages A and B.  Reclaim on CPU0 clears A's PTE and defers its
    flush (tlb_gen + 1, no IPI yet); then a flush of page B arrives (tlb_gen
    + 1 again).  CPU1 is two generations behind, so INVLPG of B alone would
    leave A cached: the handler must flush the whole PCID.
    """
    m = make_machine("x86", cpus=4)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(2 * PAGE_SIZE, flags=MAP_PRIVATE | MAP_ANONYMOUS)
    a, b = buf, buf + PAGE_SIZE
    p.write(a, 1)
    p.write(b, 2)
    t = p.clone_thread(cpu=1)
    t.read(a)
    t.read(b)
    mm, cpu0 = p.mm, m.cpus[0]
    vma = mm.find_vma(a)
    batch = m.arch.new_batch()
    m.arch.arch_tlbbatch_add_pending(cpu0, batch, mm, a)      # A deferred: CPU1 not flushed
    received = m.vmstat.nr_tlb_remote_flush_received
    m.arch.flush_tlb_page(cpu0, vma, b)
    assert m.vmstat.nr_tlb_remote_flush_received == received + 1
    assert m.tlbs.lookup(1, mm.asid, b >> PAGE_SHIFT) is None
    assert m.tlbs.lookup(1, mm.asid, a >> PAGE_SHIFT) is None    # widened to a full flush
