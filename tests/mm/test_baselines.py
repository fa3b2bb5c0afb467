"""Generic mm behaviour per baseline kernel (README "Kernel baselines"): each row fails elsewhere."""

from pathlib import Path

import pytest

from minikernel import sched
from minikernel.hw.mmu import PAGE_SHIFT, PAGE_SIZE, pte_dirty
from minikernel.mm import memory, rmap, vmscan
from minikernel.mm.mm_types import (
    TLB_FLUSH_BATCH_FLUSHED_SHIFT,
    TLB_FLUSH_BATCH_PENDING_LARGE,
    TLB_FLUSH_BATCH_PENDING_MASK,
    PG_gathered,
    VmBug,
)
from minikernel.mm.mmap import PROT_NONE
from minikernel.mm.pgtable_generic import PTRS_PER_PTE, pte_table
from minikernel.scenario import load_scenario, override_config, run_scenario
from minikernel.user import (
    MADV_DONTNEED,
    MADV_PAGEOUT,
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MAP_SHARED,
    PROT_READ,
    Process,
)

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
NPAGES = 256
ARM64 = {"6.1": "MODEL_ARM64_BATCHED_TLB_V5=y", "6.6": "MODEL_ARM64_BATCHED_TLB_6_6=y",
         "6.16": "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"}
X86 = {"6.1": "MODEL_X86_KERNEL_6_1=y", "6.6": "MODEL_X86_KERNEL_6_6=y",
       "6.16": "MODEL_X86_KERNEL_6_16=y"}


def _scenario(name, *sets):
    sc = load_scenario(SCENARIOS / name)
    return run_scenario(override_config(sc, list(sets)))


def _steady_pageout(m):
    """One MADV_PAGEOUT pass of the seed shape (shmem, read back in); returns the counter deltas."""
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(NPAGES * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    for i in range(NPAGES):
        p.write(buf + i * PAGE_SIZE, i + 1)
    p.madvise(buf, NPAGES * PAGE_SIZE, MADV_PAGEOUT)
    for i in range(NPAGES):
        assert p.read(buf + i * PAGE_SIZE) == i + 1
    arch0, vs0 = m.arch.counters(), m.vmstat.as_dict()
    prof0 = dict(p.task.cpu.profile)
    assert p.madvise(buf, NPAGES * PAGE_SIZE, MADV_PAGEOUT) == NPAGES
    d = {k: v - arch0[k] for k, v in m.arch.counters().items()}
    d.update({k: v - vs0[k] for k, v in m.vmstat.as_dict().items()})
    prof = p.task.cpu.profile
    d["tlb_flush_mmu_ns"] = prof.get("tlb_flush_mmu", 0) - prof0.get("tlb_flush_mmu", 0)
    d["folio_referenced_ns"] = prof.get("folio_referenced", 0) - prof0.get("folio_referenced", 0)
    return d


# --- MADV_PAGEOUT: young PTEs gathered and flushed up to 6.8 (2864f3d0f583) ---

@pytest.mark.parametrize("kernel, tlbis, young", [("6.1", 2 * NPAGES, True),
                                                  ("6.6", 2 * NPAGES, True),
                                                  ("6.16", NPAGES, False)])
def test_arm64_pageout_young_flush_and_references(make_machine, kernel, tlbis, young):
    m = make_machine("arm64", "EXPERT=y", ARM64[kernel], cpus=96)
    d = _steady_pageout(m)
    # one deferred TLBI per page; up to 6.8 one more per young PTE made old,
    # issued by tlb_finish_mmu's range flush (and charged to tlb_flush_mmu);
    # with KPTI (the profile's [machine] kpti) each of them is issued twice
    per = 2 if m.profile.kpti else 1
    assert d["tlbi_issued"] - (per if kernel != "6.6" else 0) == tlbis * per   # + batched_pending's ASIDE1IS
    assert (d["tlb_flush_mmu_ns"] > 0) is young
    assert (d["folio_referenced_ns"] > 0) is young      # ignore_references=false up to 6.8


@pytest.mark.parametrize("kernel, full_flushes", [("6.1", 1), ("6.6", 1), ("6.16", 0)])
def test_x86_pageout_young_flush_is_a_full_flush(make_machine, kernel, full_flushes):
    m = make_machine("x86", "DEBUG_TLBFLUSH=y", X86[kernel], cpus=4)
    d = _steady_pageout(m)                  # single-threaded: nothing deferred, no IPI
    assert d["tlb_sync_flush"] == NPAGES
    # 256 pages > tlb_single_page_flush_ceiling (33): one full local flush
    assert d.get("nr_tlb_local_flush_all", 0) == full_flushes
    assert d["nr_tlb_local_flush_one"] == NPAGES


@pytest.mark.parametrize("kernel, batch_flushes", [("6.1", 1), ("6.6", 1), ("6.16", 9)])
def test_batch_flushes_per_pageout(make_machine, kernel, batch_flushes):
    m = make_machine("arm64", "EXPERT=y", ARM64[kernel], cpus=96)
    assert _steady_pageout(m)["tlb_batch_flush"] == batch_flushes


# --- mprotect through mmu_gather (4a18419f71cd, 6.0): only the changed span ---

@pytest.mark.parametrize("kernel, expect", [("6.6", ["stale-after-syscall"]), ("6.1", []),
                                            ("6.16", [])])
def test_mprotect_span_race_outside_the_changed_span(kernel, expect):
    r = _scenario("race-6.6-mprotect-outside-span.toml", ARM64[kernel])
    assert r.kinds == expect and not r.failures


def test_mprotect_span_race_inside_the_changed_span_is_covered():
    r = _scenario("race-6.6-mprotect-inside-span.toml")
    assert r.ok and r.kinds == []
    assert any("SIGSEGV" in line for line in r.log)


def test_mprotect_flushes_only_the_changed_span(make_machine):
    m = make_machine("x86", "DEBUG_TLBFLUSH=y", cpus=4)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(64 * PAGE_SIZE)
    for i in (10, 11, 12):
        p.write(buf + i * PAGE_SIZE, i)
    one = m.vmstat.nr_tlb_local_flush_one
    p.mprotect(buf, 64 * PAGE_SIZE, PROT_READ)
    assert m.vmstat.nr_tlb_local_flush_one - one == 3     # [page 10, page 13), not 64


# --- zap: rmap of dirty shmem PTEs dropped after the flush since 6.2 (5df397dec7c4) ---

@pytest.mark.parametrize("kernel, expect", [("6.1", ["io-while-writable"]), ("6.6", []),
                                            ("6.16", [])])
def test_zap_rmap_before_flush(kernel, expect):
    r = _scenario("race-6.1-zap-rmap-before-flush.toml", ARM64[kernel])
    assert r.kinds == expect and not r.failures


def test_zap_unlocked_probe_sits_before_the_gather_flush(make_machine):
    m = make_machine("arm64", cpus=4)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(2 * PAGE_SIZE, flags=MAP_PRIVATE | MAP_ANONYMOUS)
    p.write(buf, 1)
    folio = m.page_alloc.mem_map[p.mm.pgd[buf >> PAGE_SHIFT] >> 8]
    seen = []
    m.probes["zap_pte_range:unlocked"] = lambda cur, mm, start, end: seen.append(
        (folio.gathered, folio.freed))
    p.munmap(buf, 2 * PAGE_SIZE)
    assert seen == [(True, False)]          # still held by the gather, not yet freed
    assert folio.freed and not folio.gathered


# --- split page-table locks and the pending/flushed generations (5.17) ---

def _bool_tlb_flush_batched(monkeypatch):
    """Test-local mutant: mm->tlb_flush_batched as the pre-5.17 plain boolean."""
    real_set = rmap.set_tlb_ubc_flush_pending

    def set_pending(current, mm, pteval, uaddr):
        real_set(current, mm, pteval, uaddr)
        if current.tlb_ubc.flush_required:
            mm.tlb_flush_batched = 1                 # "= true"

    def flush_pending(current, mm, addr=0):
        m = current.machine
        if mm.tlb_flush_batched:
            m.arch.flush_tlb_mm(current.cpu, mm)
            m.probe("flush_tlb_batched_pending:flushed", current, mm=mm, start=addr,
                    end=addr + PAGE_SIZE)
            mm.tlb_flush_batched = 0                 # "= false": loses a deferral in between

    monkeypatch.setattr(rmap, "set_tlb_ubc_flush_pending", set_pending)
    # mprotect, munmap, madvise and mremap all reach it through pte_offset_map_lock().
    monkeypatch.setattr(rmap, "flush_tlb_batched_pending", flush_pending)


def _replay_batched_flush_race(m):
    """Huang Ying's 2022 race, step by step, under split page-table locks.

    X (CPU0) runs flush_tlb_batched_pending() for table A; between its flush
    and its update, reclaim R (CPU2) unmaps a page of table B -- another
    page-table lock, so nothing serialises them -- and defers its flush.
    Then t1 (CPU1) mprotects table B and writes; R flushes its batch last.

    # MODEL: the scenario format nests pauses, and this needs three
    # overlapping operations (X, R, then t1 inside R but after X), so the
    # test drives the kernel functions of R's shrink_folio_list itself.
    """
    p = Process.spawn(m, "x", cpu=0)
    t1 = p.clone_thread(cpu=1, comm="t1")
    r = Process.spawn(m, "reclaimer", cpu=2)
    a = p.mmap(PTRS_PER_PTE * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    b = p.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    assert pte_table(a) != pte_table(b)              # two page-table locks
    p.write(a, 1)
    p.madvise(a, PAGE_SIZE, MADV_PAGEOUT)            # a deferral: pending 1, flushed 0
    b_folio = []

    def in_window(current, mm, start, end):
        if current is not p.task or b_folio:
            return
        t1.write(b, 2)                               # CPU1 caches b writable-dirty
        task = r.task
        sched.run_on(task)
        folio = m.page_alloc.mem_map[p.mm.pgd[b >> PAGE_SHIFT] >> 8]
        b_folio.append(folio)
        assert vmscan.folio_isolate_lru(task, folio)
        rmap.try_to_unmap(task, folio, rmap.TTU_BATCH_FLUSH)   # under table B's lock
        assert task.tlb_ubc.flush_required           # deferred: TLBI issued on CPU2

    m.probes["flush_tlb_batched_pending:flushed"] = in_window
    p.mprotect(a, PTRS_PER_PTE * PAGE_SIZE, PROT_READ)        # X, under table A's lock
    del m.probes["flush_tlb_batched_pending:flushed"]
    assert b_folio
    t1.mprotect(b, PAGE_SIZE, PROT_READ)             # finds b's PTE gone: nothing to change
    try:
        t1.write(b, 3)                               # must fault: b is read-only
        landed = True
    except memory.SegmentationFault:
        landed = False
    rmap.try_to_unmap_flush(r.task)                  # R's shrink_folio_list ends
    vmscan.folio_putback_lru(r.task, b_folio[0])
    return landed, m.sanitizer.kinds


@pytest.mark.stale_entries
def test_plain_boolean_loses_a_deferral_under_split_locks(make_machine, monkeypatch):
    _bool_tlb_flush_batched(monkeypatch)
    m = make_machine("arm64", "EXPERT=y", ARM64["6.1"], cpus=16)
    landed, kinds = _replay_batched_flush_race(m)
    assert landed and "stale-after-syscall" in kinds


@pytest.mark.parametrize("kernel", ["6.1", "6.16"])
def test_generations_keep_the_deferral(make_machine, kernel):
    m = make_machine("arm64", "EXPERT=y", ARM64[kernel], cpus=16)
    assert _replay_batched_flush_race(m) == (False, [])


def test_generation_layout_is_the_kernels():
    assert TLB_FLUSH_BATCH_FLUSHED_SHIFT == 16
    assert TLB_FLUSH_BATCH_PENDING_MASK == 0x7FFF
    assert TLB_FLUSH_BATCH_PENDING_LARGE == 0x3FFF


def test_pending_restarts_above_large(make_machine):
    m = make_machine("arm64", "EXPERT=y", cpus=16)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    p.write(buf, 1)
    p.mm.tlb_flush_batched = 0x4000 | 0x4000 << TLB_FLUSH_BATCH_FLUSHED_SHIFT
    p.reclaim(1)
    assert p.mm.tlb_flush_batched == 1               # pending 1, flushed 0


def test_fault_in_another_pte_table_does_not_wait(make_machine):
    sc = load_scenario(SCENARIOS / "race-2017-mprotect.toml")
    from minikernel.scenario import ScenarioRun
    run = ScenarioRun(sc, None, None)
    run.setup()
    m = run.m
    p = run.procs["main"]
    a = p.mmap(PTRS_PER_PTE * PAGE_SIZE)
    run.regions["a"] = (a, PTRS_PER_PTE)
    run.regions["b"] = (p.mmap(PAGE_SIZE), 1)
    run.held = (p.task.mm, None, frozenset({pte_table(a)}))
    from minikernel.scenario import Step
    assert run._blocked(Step("t1", "write", {"addr": "a"})) is not None
    assert run._blocked(Step("t1", "write", {"addr": "b"})) is None
    assert run._blocked(Step("t1", "mprotect", {"addr": "b", "prot": "r"})) is None
    assert run._blocked(Step("t1", "mprotect", {"addr": "a", "prot": "r"})) is not None
    assert m is not None


# --- direct reclaim checks references and keeps an active list ---

def test_direct_reclaim_activates_pages_every_process_read(make_machine):
    m = make_machine("arm64", "EXPERT=y", cpus=16)
    parent = Process.spawn(m, cpu=0)
    buf = parent.mmap(8 * PAGE_SIZE, flags=MAP_PRIVATE | MAP_ANONYMOUS)
    for i in range(8):
        parent.write(buf + i * PAGE_SIZE, 100 + i)
    kid = parent.fork(cpu=1)
    for i in range(8):
        assert kid.read(buf + i * PAGE_SIZE) == 100 + i
        assert parent.read(buf + i * PAGE_SIZE) == 100 + i
    tlbi0 = m.arch.counters()["tlbi_issued"]
    assert parent.reclaim(8) == 8
    vs = m.vmstat
    assert vs.pgactivate == 8               # two young PTEs each: activated first
    assert vs.pgdeactivate == 8             # then aged back to the inactive list
    # arm64 ptep_clear_flush_young: one TLBI per young PTE (2 x 8), no DSB of
    # its own, plus the 2 x 8 TLBIs of the unmaps
    assert m.arch.counters()["tlbi_issued"] - tlbi0 >= 4 * 8
    for i in range(8):
        assert kid.read(buf + i * PAGE_SIZE) == 100 + i


def test_x86_clear_flush_young_flushes_nothing(make_machine):
    m = make_machine("x86", "DEBUG_TLBFLUSH=y", cpus=4)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE)
    p.write(buf, 1)
    vma = p.mm.find_vma(buf)
    before = m.vmstat.as_dict()
    assert m.arch.ptep_clear_flush_young(p.task.cpu, vma, buf) is True
    assert m.arch.ptep_clear_flush_young(p.task.cpu, vma, buf) is False
    assert m.vmstat.as_dict() == before
    assert m.tlbs.lookup(0, p.mm.asid, buf >> PAGE_SHIFT) is not None


# --- dirty tracking: the folio is dirty when the kernel marks it ---

def test_pte_dirty_moves_to_the_folio_at_unmap(make_machine):
    m = make_machine("arm64", "EXPERT=y", cpus=16)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    assert p.read(buf) == 0                 # read fault: a clean zeroed folio, PTE writable-clean
    folio = m.page_alloc.mem_map[p.mm.pgd[buf >> PAGE_SHIFT] >> 8]
    assert not folio.dirty
    p.write(buf, 0xABC)                     # the walker dirties the PTE, not the folio
    assert pte_dirty(p.mm.pgd[buf >> PAGE_SHIFT]) and not folio.dirty
    out = m.vmstat.pswpout
    assert p.madvise(buf, PAGE_SIZE, MADV_PAGEOUT) == 1
    assert m.vmstat.pswpout == out + 1      # try_to_unmap_one made it dirty: written out
    assert p.read(buf) == 0xABC


def test_clean_never_written_shmem_folio_is_dropped(make_machine):
    m = make_machine("arm64", "EXPERT=y", cpus=16)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    assert p.read(buf) == 0
    out = m.vmstat.pswpout
    assert p.madvise(buf, PAGE_SIZE, MADV_PAGEOUT) == 1
    assert m.vmstat.pswpout == out          # nothing to write: it held zeroes
    assert p.read(buf) == 0


# --- PROT_NONE ---

def test_prot_none_faults_and_comes_back(make_machine):
    m = make_machine("arm64", cpus=4)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE)
    p.write(buf, 7)
    p.mprotect(buf, PAGE_SIZE, PROT_NONE)
    with pytest.raises(memory.SegmentationFault):
        p.read(buf)
    p.mprotect(buf, PAGE_SIZE, PROT_READ)
    assert p.read(buf) == 7


def test_scenario_prot_none(tmp_path):
    f = tmp_path / "none.toml"
    f.write_text('expect = "clean"\n[machine]\narch = "x86"\ncpus = 2\n'
                 '[[task]]\nname = "a"\ncpu = 0\n'
                 '[[step]]\ntask = "a"\nop = "mmap"\nas = "m"\nprot = "none"\n'
                 '[[step]]\ntask = "a"\nop = "read"\naddr = "m"\n'
                 '[[step]]\ntask = "a"\nop = "mprotect"\naddr = "m"\nprot = "rw"\n'
                 '[[step]]\ntask = "a"\nop = "write"\naddr = "m"\n'
                 '[[step]]\ntask = "a"\nop = "mprotect"\naddr = "m"\nprot = "none"\n'
                 '[[step]]\ntask = "a"\nop = "read"\naddr = "m"\n')
    r = run_scenario(load_scenario(f))
    assert r.ok
    assert [line.rsplit("-> ", 1)[1] for line in r.log] == [
        "m = 0x10000000", "SIGSEGV", "ok", "wrote 0x5eed0001", "ok", "SIGSEGV"]


# --- DEBUG_VM: contract checks that fail loudly ---

@pytest.mark.stale_entries
def test_debug_vm_catches_pageout_with_a_dirty_batch_pending(make_machine, monkeypatch):
    monkeypatch.setattr(vmscan, "try_to_unmap_flush_dirty", lambda current: None)
    m = make_machine("arm64", "EXPERT=y", "DEBUG_KERNEL=y", "DEBUG_VM=y", cpus=16)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    p.write(buf, 1)
    with pytest.raises(VmBug, match="tlb_ubc.writable"):
        p.madvise(buf, PAGE_SIZE, MADV_PAGEOUT)


@pytest.mark.stale_entries
def test_debug_vm_off_checks_nothing(make_machine, monkeypatch):
    monkeypatch.setattr(vmscan, "try_to_unmap_flush_dirty", lambda current: None)
    m = make_machine("arm64", "EXPERT=y", cpus=16)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    p.write(buf, 1)
    assert p.madvise(buf, PAGE_SIZE, MADV_PAGEOUT) == 1
    assert "io-while-writable" in m.sanitizer.kinds      # the sanitizer still sees it



@pytest.mark.parametrize("debug_vm", [True, False])
def test_debug_vm_catches_freeing_a_folio_an_mmu_gather_holds(make_machine, monkeypatch,
                                                              debug_vm):
    """shrink_folio_list's free contract: nothing may still hold the folio (VM_BUG_ON_FOLIO)."""
    sets = ["EXPERT=y"] + (["DEBUG_KERNEL=y", "DEBUG_VM=y"] if debug_vm else [])
    m = make_machine("arm64", *sets, cpus=16)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    p.write(buf, 1)
    folio = m.page_alloc.mem_map[p.mm.pgd[buf >> PAGE_SHIFT] >> 8]
    real = vmscan.__remove_mapping

    def remove_mapping_then_gathered(current, f):
        # Test-local contract breach: after the refcount check passed, a zap's
        # mmu_gather takes the folio (PG_gathered: a reference it drops only
        # after the gather's flush) -- shrink_folio_list must not free it.
        ok = real(current, f)
        f.flags |= PG_gathered
        return ok

    monkeypatch.setattr(vmscan, "__remove_mapping", remove_mapping_then_gathered)
    if debug_vm:
        with pytest.raises(VmBug, match=f"pfn {folio.pfn} still held by an mmu_gather"):
            p.madvise(buf, PAGE_SIZE, MADV_PAGEOUT)
    else:
        assert p.madvise(buf, PAGE_SIZE, MADV_PAGEOUT) == 1
        assert folio.freed


# --- free_pgtables: a PTE table no VMA shares is freed, with its own flush ---

def _lone_and_shared_munmap(m):
    """munmap a VMA alone in its PTE table, then one that shares its table; counter deltas."""
    p = Process.spawn(m, cpu=0)
    a = p.mmap((PTRS_PER_PTE + 1) * PAGE_SIZE)      # table T0 and the first page of T1
    p.write(a, 1)
    p.write(a + PTRS_PER_PTE * PAGE_SIZE, 2)
    t0 = pte_table(a)

    def munmap(addr, length):
        before = dict(m.arch.counters(), **m.vmstat.as_dict())
        p.munmap(addr, length)
        after = dict(m.arch.counters(), **m.vmstat.as_dict())
        return {k: after[k] - before.get(k, 0) for k in after}

    alone = munmap(a, PTRS_PER_PTE * PAGE_SIZE)     # no other VMA in T0: freed
    assert t0 not in p.mm.pte_tables
    b, c = p.mmap(PAGE_SIZE), p.mmap(PAGE_SIZE)     # back into T0's span, one table
    p.write(b, 3)
    p.write(c, 4)
    assert pte_table(b) == pte_table(c) == t0 in p.mm.pte_tables
    shared = munmap(b, PAGE_SIZE)                   # c still uses T0: kept
    assert t0 in p.mm.pte_tables
    return p, (alone, shared)


def test_arm64_munmap_of_a_tables_only_vma_flushes_the_freed_table(make_machine):
    m = make_machine("arm64", cpus=4)
    _, (alone, shared) = _lone_and_shared_munmap(m)
    per = 2 if m.profile.kpti else 1
    # the zap's TLBI for the page, then (alone only) one TLBI for the freed table
    assert (alone["tlbi_issued"], shared["tlbi_issued"]) == (2 * per, per)


@pytest.mark.parametrize("kernel", ["6.1", "6.6", "6.16"])
def test_x86_freed_table_flush_interrupts_the_lazy_cpu(make_machine, kernel):
    """The zap's flush skips the lazy CPU (tlb_is_not_lazy); the freed-tables flush does not."""
    m = make_machine("x86", "DEBUG_TLBFLUSH=y", X86[kernel], cpus=4)
    p = Process.spawn(m, cpu=0)
    p.move_to(1)
    p.move_to(0)                                    # CPU1 went idle: lazy, still in the mask
    assert m.arch.is_lazy[1] and p.mm.mm_cpumask >> 1 & 1
    for i in range(2):
        p.write(p.mmap(PAGE_SIZE), i)               # both VMAs in one PTE table
    second = p.mm.mmap[1].vm_start
    received = m.vmstat.nr_tlb_remote_flush_received
    p.munmap(p.mm.mmap[0].vm_start, PAGE_SIZE)      # shares its table: no IPI for CPU1
    assert m.vmstat.nr_tlb_remote_flush_received == received and m.arch.is_lazy[1]
    p.munmap(second, PAGE_SIZE)                     # the table goes: CPU1 is interrupted
    assert m.vmstat.nr_tlb_remote_flush_received == received + 1
    assert not m.arch.is_lazy[1]                    # and left for init_mm


@pytest.mark.parametrize("kernel, per_address, full", [("6.6", 0, 1), ("6.8", 1, 0)])
def test_riscv_gather_flush_is_the_whole_mm_up_to_6_6(make_machine, kernel, per_address, full):
    """riscv tlb_flush(): flush_tlb_mm() for any gather up to 6.6, the range since c5e9b2c2ae82."""
    m = make_machine("riscv", f"MODEL_RISCV_KERNEL_{kernel.replace('.', '_')}=y", cpus=4)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(2 * PAGE_SIZE)
    p.write(buf, 1)
    p.write(buf + PAGE_SIZE, 2)
    before = m.arch.counters()
    p.madvise(buf, PAGE_SIZE, MADV_DONTNEED)        # one page, the table stays
    after = m.arch.counters()
    assert (after["sfence_vma"] - before["sfence_vma"],
            after["sfence_vma_all"] - before["sfence_vma_all"]) == (per_address, full)


def test_riscv_6_8_freed_table_flush_is_the_whole_mm(make_machine):
    m = make_machine("riscv", "MODEL_RISCV_KERNEL_6_8=y", cpus=4)
    _, (alone, shared) = _lone_and_shared_munmap(m)
    assert (alone["sfence_vma"], alone["sfence_vma_all"]) == (1, 1)    # the page, then the mm
    assert (shared["sfence_vma"], shared["sfence_vma_all"]) == (1, 0)


def test_mremap_frees_the_old_table_and_moves_the_rest(make_machine):
    m = make_machine("arm64", cpus=4)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PTRS_PER_PTE * PAGE_SIZE)          # all of table T0
    p.write(buf, 7)
    old = pte_table(buf)
    tlbi = m.arch.counters()["tlbi_issued"]
    new = p.mremap(buf, PTRS_PER_PTE * PAGE_SIZE)   # to T1; nothing is left in T0
    per = 2 if m.profile.kpti else 1
    # move_ptes' force_flush (512 pages: one ASIDE1IS), then the freed T0's flush
    assert m.arch.counters()["tlbi_issued"] - tlbi == 2 * per
    assert old not in p.mm.pte_tables and pte_table(new) in p.mm.pte_tables
    assert p.read(new) == 7
