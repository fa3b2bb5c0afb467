"""arch/x86/tlbflush.py: IPI shootdowns, the batch cpumask, stale clean vs dirty entries."""

import pytest

from minikernel.hw.mmu import PAGE_SHIFT, PAGE_SIZE
from minikernel.mm.memory import SegmentationFault
from minikernel.mm.rmap import try_to_unmap_flush
from minikernel.user import MADV_PAGEOUT, MAP_ANONYMOUS, MAP_SHARED, PROT_READ, Process

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
    # batch: one IPI round; the target does a full remote flush, the initiator a local one;
    # switch_mm_irqs_off traces every switch to a new mm, with 0 pages when it flushed nothing
    assert reasons == {"remote ipi send", "remote shootdown", "local shootdown",
                       "flush on task switch"}
    assert {line.split("tlb_flush: ")[1] for line in m.trace
            if "flush on task switch" in line} == {"pages:0 reason:flush on task switch"}


# -- vmstat counters where arch/x86/mm/tlb.c counts them (review 1.10) --

def test_batched_counts_local_flushes_only_on_the_initiator(make_machine):
    """flush_tlb_func() counts NR_TLB_LOCAL_FLUSH_* only ``if (local)``: each IPI round
    (batch flush, MADV_PAGEOUT's range flush) is one local full flush on the initiator;
    its 3 targets count NR_TLB_REMOTE_FLUSH_RECEIVED only."""
    m = make_machine("x86", cpus=8)
    _reclaim_with_threads(m, 4)
    vs = m.vmstat
    rounds = vs.nr_tlb_remote_flush
    assert rounds >= 1
    assert (vs.nr_tlb_local_flush_all, vs.nr_tlb_remote_flush_received) == (rounds, 3 * rounds)


def test_unbatched_counts_one_local_invlpg_per_page(make_machine):
    m = make_machine("x86", "EXPERT=y", "X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y", cpus=8)
    _reclaim_with_threads(m, 4)
    vs = m.vmstat
    assert vs.nr_tlb_local_flush_one == NPAGES           # not 4 x NPAGES
    # beyond the per-page rounds, only range flushes past the 33-page ceiling (6.1's
    # MADV_PAGEOUT young-PTE flush) flush all; switch_mm_irqs_off counts nothing
    assert vs.nr_tlb_local_flush_all == vs.nr_tlb_remote_flush - NPAGES


def test_remote_flush_received_is_counted_before_the_mm_check(make_machine):
    """6.16 keeps CPU1 in A's mask after it switched to B (209954cbc7d0): flush_tlb_mm(A)
    interrupts it, the handler counts the IPI, finds another mm and drops the stale bit.
    On 6.6 the switch cleared the bit: no IPI at all."""
    out = {}
    for base in ("MODEL_X86_KERNEL_6_6", "MODEL_X86_KERNEL_6_16"):
        m = make_machine("x86", f"{base}=y", cpus=4)
        a = Process.spawn(m, "a", cpu=0)
        a.clone_thread(cpu=1)
        Process.spawn(m, "b", cpu=1)                     # CPU1 now runs B
        m.arch.flush_tlb_mm(m.cpus[0], a.mm)
        out[base] = (m.vmstat.nr_tlb_remote_flush_received, a.mm.mm_cpumask)
    assert out == {"MODEL_X86_KERNEL_6_6": (0, 0b01), "MODEL_X86_KERNEL_6_16": (1, 0b01)}


def test_local_flush_overlaps_the_ipi_wait(make_machine):
    """smp_call_function_many_cond(): send, run the local flush, then wait.  A local full
    flush (200 ns) is hidden behind the 2 x 700 ns round trip: the initiator's time for a
    batch flush is the same whether or not it is itself in the mask."""
    from minikernel.arch.x86.tlbbatch import ArchTlbflushUnmapBatch
    m = make_machine("x86", cpus=4)
    p = Process.spawn(m, cpu=0)
    p.clone_thread(cpu=1)
    cpu0 = m.cpus[0]
    spent = []
    for mask in (0b10, 0b11):
        p.mm.tlb_gen += 1                                # something to flush
        t0 = cpu0.now
        m.arch.arch_tlbbatch_flush(cpu0, ArchTlbflushUnmapBatch(cpumask=mask))
        spent.append(cpu0.now - t0)
    assert m.vmstat.nr_tlb_local_flush_all == 1          # the local flush did run
    assert spent[0] == spent[1]


# -- lazy TLB (review 1.6) --

def _migrated_single_threaded_rounds(m, rounds=3, migrate=True):
    """A single-threaded process faults its buffer in on CPU0, moves to CPU1 (CPU0 goes
    idle: lazy) and runs MADV_PAGEOUT + read-back *rounds* times.  Returns the PTEs
    deferred and the IPIs sent per round."""
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(NPAGES * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    for i in range(NPAGES):
        p.read(buf + i * PAGE_SIZE)
    if migrate:
        p.move_to(1)
    deferred, ipis = [], []
    for _ in range(rounds):
        d0, i0 = m.vmstat.tlb_deferred_pte, m.arch.counters()["ipis_sent"]
        b0 = m.vmstat.tlb_batch_flush
        p.madvise(buf, NPAGES * PAGE_SIZE, MADV_PAGEOUT)
        deferred.append(m.vmstat.tlb_deferred_pte - d0)
        # IPIs beyond one per batch flush (those reach CPU0 once it left lazy mode)
        ipis.append(m.arch.counters()["ipis_sent"] - i0 - (m.vmstat.tlb_batch_flush - b0
                                                           if ipis and deferred[-1] else 0))
        for i in range(NPAGES):
            p.read(buf + i * PAGE_SIZE)
    return deferred, ipis


def test_unpinned_single_threaded_process_that_migrated_defers(make_machine):
    """The idle CPU0 stays in mm_cpumask (lazy), so cpumask_any_but() sees it and reclaim
    defers; the batch flush skips it (tlb_is_not_lazy: 0 IPIs).  The next MADV_PAGEOUT's
    flush_tlb_batched_pending() is a flush_tlb_mm() (freed_tables): that one interrupts
    the lazy CPU, which switches to init_mm -- on 6.1/6.6 leaving the mask, so reclaim
    stops deferring; on 6.16 (bits cleared only by a flush that finds another mm) one
    round later, after CPU0 (now in init_mm, not lazy) got each batch flush's IPI."""
    out = {}
    for base in ("MODEL_X86_KERNEL_6_1", "MODEL_X86_KERNEL_6_6", "MODEL_X86_KERNEL_6_16"):
        out[base] = _migrated_single_threaded_rounds(make_machine("x86", f"{base}=y", cpus=4))
    assert out["MODEL_X86_KERNEL_6_1"] == out["MODEL_X86_KERNEL_6_6"] == \
        ([NPAGES, 0, 0], [0, 1, 0])
    assert out["MODEL_X86_KERNEL_6_16"] == ([NPAGES, NPAGES, 0], [0, 1, 1])


def test_pinned_single_threaded_process_never_defers(make_machine):
    m = make_machine("x86", "MODEL_X86_KERNEL_6_6=y", cpus=4)
    assert _migrated_single_threaded_rounds(m, migrate=False) == ([0, 0, 0], [0, 0, 0])


def test_lazy_cpu_returning_to_its_mm_flushes_what_it_missed(make_machine):
    """The batch flush skipped the lazy CPU0; when the task comes back, switch_mm_irqs_off()
    sees a newer tlb_gen and flushes, so no stale entry is used (the sanitizer checks)."""
    m = make_machine("x86", "MODEL_X86_KERNEL_6_6=y", cpus=4)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    p.write(buf, 7)
    p.move_to(1)
    assert m.arch.is_lazy[0] and p.mm.mm_cpumask == 0b11
    p.madvise(buf, PAGE_SIZE, MADV_PAGEOUT)
    assert m.vmstat.tlb_deferred_pte == 1
    assert m.tlbs.lookup(0, p.mm.asid, buf >> PAGE_SHIFT) is not None   # skipped: still cached
    p.move_to(0)
    assert m.tlbs.lookup(0, p.mm.asid, buf >> PAGE_SHIFT) is None
    assert p.read(buf) == 7


# -- tlb_gen on the way back into an mm (review 14.7) --

def test_cpu_switching_back_to_an_mm_catches_up_on_flushes_it_missed(make_machine):
    """Up to 6.13 switching away clears the CPU's mm_cpumask bit, so a flush meanwhile
    sends it no IPI; switch_mm_irqs_off() coming back sees the mm's newer tlb_gen and
    flushes before the task runs (the old writable entry would let a store through)."""
    m = make_machine("x86", "MODEL_X86_KERNEL_6_6=y", cpus=4)
    p = Process.spawn(m, cpu=0)
    t = p.clone_thread(cpu=1)
    buf = p.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    t.write(buf, 7)                                   # CPU1: a writable, dirty entry
    Process.spawn(m, "other", cpu=1)                  # CPU1 switches to another mm
    assert p.mm.mm_cpumask == 0b01
    p.mprotect(buf, PAGE_SIZE, PROT_READ)             # flushes CPU0 only
    vpn = buf >> PAGE_SHIFT
    assert m.tlbs.lookup(1, p.mm.asid, vpn) is not None   # CPU1 missed it: still cached
    assert t.read(buf) == 7                           # t is back on CPU1: flushed first
    assert not m.tlbs.lookup(1, p.mm.asid, vpn).writable
    with pytest.raises(SegmentationFault):
        t.write(buf, 8)
    assert p.read(buf) == 7


def test_switching_between_mms_with_nothing_new_flushes_nothing(make_machine):
    """The other side of the tlb_gen check: once a CPU caught up on the generation it
    missed, switching away and back again keeps its (PCID-tagged) entries -- the
    switch recorded the generation it loaded, so nothing is flushed."""
    m = make_machine("x86", "MODEL_X86_KERNEL_6_6=y", cpus=4, trace=True)
    p = Process.spawn(m, cpu=0)
    t = p.clone_thread(cpu=1)
    buf = p.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    t.write(buf, 7)
    q = Process.spawn(m, "other", cpu=1)
    qbuf = q.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    p.mprotect(buf, PAGE_SIZE, PROT_READ)             # CPU1 misses this generation
    t.read(buf)                                       # ... and catches up: a full flush
    caught_up = len(m.trace)
    for _ in range(3):
        q.write(qbuf, 1)
        t.read(buf)
    switches = [line for line in m.trace[caught_up:]
                if "reason:flush on task switch" in line and "[001]" in line]
    assert len(switches) == 6, m.trace[caught_up:]
    assert all("pages:0 " in line for line in switches), switches
    assert m.tlbs.lookup(1, p.mm.asid, buf >> PAGE_SHIFT) is not None


def _two_cpus_cache_two_pages_and_defer_the_first(m):
    """CPUs 0 and 1 cache pages a and b; reclaim (on CPU0) clears a and defers its flush."""
    from minikernel.mm.pgtable_generic import ptep_get_and_clear
    from minikernel.mm.rmap import set_tlb_ubc_flush_pending

    p = Process.spawn(m, cpu=0)
    t = p.clone_thread(cpu=1)
    buf = p.mmap(2 * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    a, b = buf, buf + PAGE_SIZE
    for proc in (p, t):
        proc.read(a)
        proc.read(b)
    pte = ptep_get_and_clear(p.task.cpu, p.mm, a)
    set_tlb_ubc_flush_pending(p.task, p.mm, pte, a)
    return p, a, b


def test_a_range_flush_after_a_missed_generation_flushes_everything(make_machine):
    """flush_tlb_func(): a partial flush is enough only when it is the next generation
    (local + 1 == new == mm's).  arch_tlbbatch_add_pending() bumped the mm's tlb_gen
    for a PTE whose flush is deferred; a range flush of another page then finds the
    CPUs one generation behind and flushes all -- the deferred page's entries too."""
    m = make_machine("x86", cpus=4)
    p, a, b = _two_cpus_cache_two_pages_and_defer_the_first(m)
    cpus = m.cpus
    m.arch.flush_tlb_range(cpus[0], p.mm.mmap[0], b, b + PAGE_SIZE)
    for c in (0, 1):
        assert m.tlbs.lookup(c, p.mm.asid, a >> PAGE_SHIFT) is None, c
        assert m.tlbs.lookup(c, p.mm.asid, b >> PAGE_SHIFT) is None, c
    try_to_unmap_flush(p.task)


def test_after_the_batch_flush_every_cpu_is_up_to_date(make_machine):
    """The batch's full flush (no mm, no generation of its own) leaves each CPU at the
    mm's tlb_gen, so the next one-page flush is the partial one: an INVLPG, not a
    second full flush."""
    m = make_machine("x86", cpus=4)
    p, a, b = _two_cpus_cache_two_pages_and_defer_the_first(m)
    try_to_unmap_flush(p.task)
    vs = m.vmstat
    one, full = vs.nr_tlb_local_flush_one, vs.nr_tlb_local_flush_all
    m.arch.flush_tlb_range(m.cpus[0], p.mm.mmap[0], b, b + PAGE_SIZE)
    assert (vs.nr_tlb_local_flush_one - one, vs.nr_tlb_local_flush_all - full) == (1, 0)
    assert m.tlbs.lookup(1, p.mm.asid, b >> PAGE_SHIFT) is None
