"""arch/arm64/tlbflush.py: broadcast TLBI completed only by the issuer's DSB; the v5 policy."""

import pytest

from minikernel.hw.mmu import ASID_SHIFT, PAGE_SHIFT, PAGE_SIZE
from minikernel.user import MADV_PAGEOUT, MAP_ANONYMOUS, MAP_SHARED, Process


def _two_cpus_cache_one_page(m):
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    t = p.clone_thread(cpu=1)
    t.write(buf, 1)                                      # CPU1 holds a writable-dirty entry
    assert p.read(buf) == 1                              # CPU0 caches it too
    return p, t, buf


def test_tlbi_is_complete_only_after_the_issuers_dsb(make_machine):
    m = make_machine("arm64", "EXPERT=y", cpus=4)
    p, t, buf = _two_cpus_cache_one_page(m)
    ops = m.arch
    cpu0, cpu1 = m.cpus[0], m.cpus[1]
    key = p.mm.asid << ASID_SHIFT | buf >> PAGE_SHIFT
    del p.mm.pgd[buf >> PAGE_SHIFT]                       # the PTE is gone ...
    ops.arch_tlbbatch_add_pending(cpu0, p.task.tlb_ubc.arch, p.mm, buf)   # TLBI issued, no DSB
    faults = m.vmstat.pgfault
    assert t.read(buf) == 1                              # ... CPU1 still reads
    t.write(buf, 2)                                      # ... and writes through its entry
    assert m.tlbs.tlbs[1].get(key) is not None
    ops.dvm.dsb_ish(cpu1)                                # a DSB elsewhere completes nothing
    assert m.tlbs.tlbs[1].get(key) is not None
    assert t.read(buf) == 2
    assert m.vmstat.pgfault == faults                    # every access above used the stale entry
    ops.arch_tlbbatch_flush(cpu0, p.task.tlb_ubc.arch)   # the issuer's DSB
    assert not m.tlbs.by_key.get(key)
    assert m.tlbs.tlbs[0].get(key) is None and m.tlbs.tlbs[1].get(key) is None


@pytest.mark.parametrize("cpus,sets,defers", [
    (8, ("EXPERT=y",), False),                            # 8 online <= threshold 8
    (9, ("EXPERT=y",), True),
    (9, ("EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=9"), False),
    (96, ("EXPERT=y", "ARM64_ERRATUM_1286807=y"), False),  # REPEAT_TLBI never defers
    (96, ("EXPERT=y", "ARM64_ERRATUM_2441007=y"), False),
    (96, (), False),                                       # not configured
])
def test_v5_deferral_policy(make_machine, cpus, sets, defers):
    m = make_machine("arm64", *sets, cpus=cpus)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(64 * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    for i in range(64):
        p.read(buf + i * PAGE_SIZE)
    p.madvise(buf, 64 * PAGE_SIZE, MADV_PAGEOUT)
    assert (m.vmstat.tlb_deferred_pte, m.vmstat.tlb_sync_flush) == ((64, 0) if defers else (0, 64))
    assert m.arch.tlb_flush_path().batched is defers


def test_repeat_tlbi_workaround_issues_tlbi_dsb_tlbi(make_machine):
    m = make_machine("arm64", "ARM64_ERRATUM_1286807=y", cpus=4)
    p, t, buf = _two_cpus_cache_one_page(m)
    before = m.arch.counters()
    vma = p.mm.find_vma(buf)
    m.arch.flush_tlb_page(m.cpus[0], vma, buf)
    after = m.arch.counters()
    assert after["tlbi_issued"] - before["tlbi_issued"] == 2
    assert after["dsb_ish"] - before["dsb_ish"] == 2


def test_flush_range_beyond_max_tlbi_ops_is_one_asid_flush(make_machine):
    m = make_machine("arm64", cpus=4)
    p = Process.spawn(m, cpu=0)
    small = p.mmap(512 * PAGE_SIZE)
    big = p.mmap(513 * PAGE_SIZE)
    cpu = m.cpus[0]
    c0 = m.arch.counters()["tlbi_issued"]
    m.arch.flush_tlb_range(cpu, p.mm.find_vma(small), small, small + 512 * PAGE_SIZE)
    c1 = m.arch.counters()["tlbi_issued"]
    m.arch.flush_tlb_range(cpu, p.mm.find_vma(big), big, big + 513 * PAGE_SIZE)
    c2 = m.arch.counters()["tlbi_issued"]
    assert (c1 - c0, c2 - c1) == (512, 1)


def test_context_switch_completes_outstanding_tlbis(make_machine):
    m = make_machine("arm64", "EXPERT=y", cpus=4)
    p, t, buf = _two_cpus_cache_one_page(m)
    key = p.mm.asid << ASID_SHIFT | buf >> PAGE_SHIFT
    del p.mm.pgd[buf >> PAGE_SHIFT]
    m.arch.arch_tlbbatch_add_pending(m.cpus[0], p.task.tlb_ubc.arch, p.mm, buf)
    Process.spawn(m, "other", cpu=0)                     # CPU0 switches mm: DSB on the way
    assert not m.tlbs.by_key.get(key)


@pytest.mark.parametrize("probe", ["try_to_unmap_one:cleared", "shrink_folio_list:before_flush"])
def test_store_through_a_clean_stale_entry_during_a_deferred_flush_faults(probe):
    """What deferring a clean PTE relies on, on arm64 as on x86.

    CPU1 caches a writable but clean entry (the page was swapped back in by a
    load).  Reclaim on CPU0 clears the clean PTE and defers its flush, so
    try_to_unmap_flush_dirty() has nothing to flush and the folio is not
    written out before its IO.  A store on CPU1 in that window must re-walk,
    find no PTE and fault (and wait for the folio, or swap it back in);
    landing in the old page after its write-out instead would lose the store
    when the page is freed.
    """
    from minikernel.scenario import parse_scenario, run_scenario
    doc = {"expect": "clean",
           "machine": {"arch": "arm64", "cpus": 2,
                       "config": ["EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=1"]},
           "task": [{"name": "main", "cpu": 0, "process": "p"},
                    {"name": "t1", "cpu": 1, "process": "p"}],
           "step": [{"task": "main", "op": "mmap", "as": "buf", "shared": True},
                    {"task": "main", "op": "write", "addr": "buf", "value": 5},
                    {"task": "main", "op": "madvise", "addr": "buf", "advice": "pageout"},
                    {"task": "t1", "op": "read", "addr": "buf"},      # swap-in: clean entry
                    {"task": "main", "op": "reclaim", "pages": 1,
                     "pause_at": probe,
                     "during": [{"task": "t1", "op": "write", "addr": "buf", "value": 9}]},
                    {"task": "main", "op": "read", "addr": "buf"},
                    {"task": "t1", "op": "read", "addr": "buf"}]}
    r = run_scenario(parse_scenario(doc, "<clean-entry>"))
    assert r.failures == []
    assert r.violations == [], r.render_text()
    assert [line.strip() for line in r.log if "read addr" in line][-2:] == [
        "main: read addr='buf' -> 0x9", "t1: read addr='buf' -> 0x9"], r.log
