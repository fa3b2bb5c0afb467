"""arch/arm64/tlbflush.py: broadcast TLBI completed only by the issuer's DSB; the v5 policy."""

import dataclasses

import pytest

from minikernel.hw.cpu import SYMBOLS
from minikernel.hw.cputype import parse_cores
from minikernel.hw.mmu import ASID_SHIFT, PAGE_SHIFT, PAGE_SIZE
from minikernel.user import MADV_PAGEOUT, MAP_ANONYMOUS, MAP_SHARED, Process


def _with_cores(*cores, arch="arm64"):
    """The default arm64 profile with these cores (``[machine] cores``)."""
    from minikernel.profile import default_profile
    return dataclasses.replace(default_profile(arch), cores=parse_cores(list(cores)))


A76 = _with_cores("cortex-a76:r3p0")
A55 = _with_cores("cortex-a55:r2p0")
SD888 = _with_cores("cortex-a55:r2p0 x4", "cortex-a78:r1p1 x3", "cortex-x1:r1p0")


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


@pytest.mark.parametrize("cpus,sets,profile,defers", [
    (8, ("EXPERT=y",), None, False),                      # 8 online <= threshold 8
    (9, ("EXPERT=y",), None, True),
    (9, ("EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=9"), None, False),
    (96, ("EXPERT=y",), A76, False),                      # an affected core: no deferral
    (96, ("EXPERT=y",), A55, False),
    (96, ("EXPERT=y", "ARM64_ERRATUM_1286807=n"), A76, True),   # option off: not worked around
    (96, ("EXPERT=y",), _with_cores("cortex-a76:r4p0"), True),  # A76 r4p0 is not affected
    (96, ("EXPERT=y",), None, True),                     # errata on (default y), TSV110 cores
    (96, (), None, False),                                # not configured
])
def test_v5_deferral_policy(make_machine, cpus, sets, profile, defers):
    m = make_machine("arm64", *sets, cpus=cpus, profile=profile)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(64 * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    for i in range(64):
        p.read(buf + i * PAGE_SIZE)
    p.madvise(buf, 64 * PAGE_SIZE, MADV_PAGEOUT)
    assert (m.vmstat.tlb_deferred_pte, m.vmstat.tlb_sync_flush) == ((64, 0) if defers else (0, 64))
    assert m.arch.tlb_flush_path().batched is defers


def test_repeat_tlbi_workaround_issues_tlbi_dsb_tlbi(make_machine):
    m = make_machine("arm64", cpus=4, profile=A76)
    p, t, buf = _two_cpus_cache_one_page(m)
    before = m.arch.counters()
    vma = p.mm.find_vma(buf)
    m.arch.flush_tlb_page(m.cpus[0], vma, buf)
    after = m.arch.counters()
    # TLBI; DSB; TLBI -- and with KPTI the same again for the user ASID.
    per = 2 if m.profile.kpti else 1
    assert after["tlbi_issued"] - before["tlbi_issued"] == 2 * per
    assert after["dsb_ish"] - before["dsb_ish"] == 1 + per


def test_flush_range_from_max_tlbi_ops_on_is_one_asid_flush(make_machine):
    """__flush_tlb_range(): (end - start) >= MAX_TLBI_OPS * stride -> flush_tlb_mm().

    511 pages are 511 TLBIs; 512 (2 MiB, the old model's off-by-one) is one
    ASIDE1IS, as is 513.
    """
    m = make_machine("arm64", cpus=4)
    p = Process.spawn(m, cpu=0)
    cpu = m.cpus[0]
    issued = []
    for n in (511, 512, 513):
        buf = p.mmap(n * PAGE_SIZE)
        c0 = m.arch.counters()["tlbi_issued"]
        m.arch.flush_tlb_range(cpu, p.mm.find_vma(buf), buf, buf + n * PAGE_SIZE)
        issued.append(m.arch.counters()["tlbi_issued"] - c0)
    per = 2 if m.profile.kpti else 1          # KPTI: __tlbi_user repeats each TLBI
    assert issued == [511 * per, per, per]


@pytest.mark.parametrize("variant,name", [
    ("MODEL_ARM64_BATCHED_TLB_V5", "MAX_TLBI_OPS"), ("MODEL_ARM64_BATCHED_TLB_6_6", "MAX_TLBI_OPS"),
    ("MODEL_ARM64_BATCHED_TLB_FLUSH_MM", "MAX_DVM_OPS"),
])
def test_range_limit_named_as_the_baseline_names_it(make_machine, variant, name):
    m = make_machine("arm64", "EXPERT=y", f"{variant}=y")
    assert m.arch.max_tlbi_ops_name == name


def test_v5_asks_this_cpu_6_6_asks_every_cpu(make_machine):
    """Snapdragon 888 cores (cpu0-3 A55, all affected by 2441007 since 171df58028bf).

    v5 (this_cpu_has_cap): reclaim on an A78 (CPU4) defers, on an A55 (CPU0)
    does not; 6.6 (cpus_have_const_cap): neither does.  Either way every
    TLBI is repeated (the alternative is patched in system-wide).
    """
    out = {}
    for variant in ("MODEL_ARM64_BATCHED_TLB_V5", "MODEL_ARM64_BATCHED_TLB_6_6"):
        m = make_machine("arm64", "EXPERT=y", f"{variant}=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=1"
                         if variant.endswith("V5") else "EXPERT=y", cpus=8, profile=SD888)
        assert m.arch.repeat_tlbi
        p = Process.spawn(m, cpu=0)
        cpu0 = m.cpus[0]
        out[variant] = (m.arch.arch_tlbbatch_should_defer(cpu0, p.mm),
                        m.arch.arch_tlbbatch_should_defer(m.cpus[4], p.mm))
    assert out == {"MODEL_ARM64_BATCHED_TLB_V5": (False, True),
                   "MODEL_ARM64_BATCHED_TLB_6_6": (False, False)}


@pytest.mark.parametrize("cores,defers", [
    (("cortex-a55:r0p0",), False), (("cortex-a55:r2p0",), False),      # every A55 revision
    (("cortex-a510:r1p1",), False), (("cortex-a510:r1p2",), True),     # 2441009: fixed in r1p2
    (("qcom-falkor-v1:r0p0",), False), (("qcom-kryo",), False),        # Falkor E1009
    (("cortex-a76:r3p0",), False), (("cortex-a76:r4p0",), True),       # 1286807: r0p0..r3p0
    (("cortex-a78:r1p1 x3", "cortex-x1:r1p0"), True),
])
def test_errata_match_upstreams_midr_ranges(make_machine, cores, defers):
    m = make_machine("arm64", "EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y", cpus=4,
                     profile=_with_cores(*cores))
    p = Process.spawn(m, cpu=0)
    assert m.arch.arch_tlbbatch_should_defer(m.cpus[0], p.mm) is defers


def test_snapdragon888_never_defers_on_6_6_with_the_a55_erratum_and_says_so(make_machine):
    m = make_machine("arm64", "EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y", cpus=8,
                     profile="snapdragon888")
    path = m.tlb_flush_path
    assert path.batched is False
    assert "Cortex-A55" in path.reason and "2441007" in path.reason
    m2 = make_machine("arm64", "EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y",
                      "ARM64_ERRATUM_2441007=n", cpus=8, profile="snapdragon888")
    assert m2.tlb_flush_path.batched is True


def test_switch_between_threads_of_one_mm_executes_the_dsb(make_machine):
    """__switch_to()'s dsb(ish) runs on every task switch, not only when the mm changes."""
    m = make_machine("arm64", "EXPERT=y", cpus=4)
    p, t, buf = _two_cpus_cache_one_page(m)
    key = p.mm.asid << ASID_SHIFT | buf >> PAGE_SHIFT
    del p.mm.pgd[buf >> PAGE_SHIFT]
    m.arch.arch_tlbbatch_add_pending(m.cpus[0], p.task.tlb_ubc.arch, p.mm, buf)
    assert m.tlbs.by_key.get(key)
    t.move_to(0)                                         # a sibling thread of the same mm
    assert not m.tlbs.by_key.get(key)


def test_back_to_back_range_flush_fills_the_dvm_queue():
    from minikernel.fit import PUBLISHED_KERNEL  # no A55 REPEAT_TLBI workaround
    from minikernel.kconfig import load_kernel_config
    from minikernel.machine import Machine
    from minikernel.profile import load_profile
    m = Machine(load_kernel_config("arm64", sets=list(PUBLISHED_KERNEL)),
                load_profile("snapdragon888"))
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(64 * PAGE_SIZE)
    cpu = m.cpus[0]
    m.arch.flush_tlb_range(cpu, p.mm.find_vma(buf), buf, buf + 64 * PAGE_SIZE)
    per = 2 if m.profile.kpti else 1
    assert m.arch.counters()["tlbi_queue_full"] == 64 * per - m.profile.dvm_queue_depth
    # Steady state: one slot per latency / depth.
    stall = cpu.stalls[(SYMBOLS[cpu.sym], "tlbi")]
    d = m.profile.dvm_queue_depth
    assert stall == pytest.approx((64 * per - d) * m.profile.dvm_latency_ns() / d, rel=0.1)


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


@pytest.mark.parametrize("dirty", [False, True])
def test_store_through_a_stale_entry_while_the_tlbi_is_outstanding(make_machine, dirty):
    """The clean-entry re-walk on arm64 (hw/cpu.py's rule, DBM or not): reclaim on CPU0
    cleared the PTE and issued its TLBI without the DSB (deferred).  A store on CPU1
    through its clean entry re-walks, finds no PTE and faults, so the fault installs a
    dirty PTE reclaim will see; through a dirty entry it lands without a walk."""
    from minikernel.hw.mmu import pte_dirty
    from minikernel.mm.pgtable_generic import ptep_get_and_clear
    from minikernel.mm.rmap import set_tlb_ubc_flush_pending, try_to_unmap_flush

    m = make_machine("arm64", "EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=1", cpus=4)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    t = p.clone_thread(cpu=1)
    if dirty:
        t.write(buf, 1)                                  # CPU1: writable, dirty entry
    else:
        assert t.read(buf) == 0                          # CPU1: writable, clean entry
    vpn = buf >> PAGE_SHIFT
    pte = ptep_get_and_clear(p.task.cpu, p.mm, buf)
    set_tlb_ubc_flush_pending(p.task, p.mm, pte, buf)    # TLBI issued, no DSB yet
    assert m.tlbs.lookup(1, p.mm.asid, vpn) is not None   # still usable on CPU1
    faults = m.vmstat.pgfault
    t.write(buf, 2)
    if dirty:
        assert m.vmstat.pgfault == faults and vpn not in p.mm.pgd
    else:
        assert m.vmstat.pgfault == faults + 1
        assert pte_dirty(p.mm.pgd[vpn])
    try_to_unmap_flush(p.task)
    assert p.read(buf) == 2
