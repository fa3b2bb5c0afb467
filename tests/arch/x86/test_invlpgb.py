"""arch/x86/invlpgb.py: global ASIDs, INVLPGB without waiting, TLBSYNC by the issuer, the batch."""

from pathlib import Path

import pytest

from minikernel.hw.mmu import ASID_SHIFT, PAGE_SHIFT, PAGE_SIZE, pte_pfn
from minikernel.mm.pgtable_generic import ptep_get_and_clear
from minikernel.mm.rmap import set_tlb_ubc_flush_pending, try_to_unmap_flush
from minikernel.user import MAP_ANONYMOUS, MAP_SHARED, PROT_READ, Process

GENOA = ("x86", "MODEL_X86_KERNEL_6_16=y")
SCEN = Path(__file__).resolve().parents[3] / "scenarios"


def _mm_on(m, ncpus, npages=4):
    p = Process.spawn(m, cpu=0)
    threads = [p.clone_thread(cpu=c) for c in range(1, ncpus)]
    buf = p.mmap(npages * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    for t in [p] + threads:
        for i in range(npages):
            t.read(buf + i * PAGE_SIZE)
    return p, threads, buf


def _batch_leftovers(m, p, threads, buf, npages=4):
    """Clear the PTEs into reclaim's batch after the threads re-cached them; what stays reachable."""
    for t in [p] + threads:
        for i in range(npages):
            t.read(buf + i * PAGE_SIZE)
    task, pfns = p.task, []
    for i in range(npages):
        addr = buf + i * PAGE_SIZE
        pte = ptep_get_and_clear(task.cpu, p.mm, addr)
        pfns.append(pte_pfn(pte))
        set_tlb_ubc_flush_pending(task, p.mm, pte, addr)
    try_to_unmap_flush(task)
    # Reachable: cached under the ASID the CPU runs (a straggler moved to the
    # global ASID keeps its old local-ASID entries, never used again).
    return [(e.cpu, pfn) for pfn in pfns for e in m.tlbs.entries_for_pfn(pfn)
            if e.key >> ASID_SHIFT == m.cpus[e.cpu].asid]


def test_backend_only_where_kernel_and_cpus_have_it(make_machine):
    from minikernel.arch.x86.invlpgb import InvlpgbTlbOps
    assert isinstance(make_machine(*GENOA, profile="amd-genoa", cpus=8).arch, InvlpgbTlbOps)
    assert not isinstance(make_machine(*GENOA, cpus=8).arch, InvlpgbTlbOps)         # a Xeon
    assert not isinstance(make_machine("x86", profile="amd-genoa", cpus=8).arch,     # 6.1
                          InvlpgbTlbOps)


@pytest.mark.parametrize("ncpus, global_asid", [(4, True), (3, False)])
def test_global_asid_for_an_mm_on_more_than_3_cpus(make_machine, ncpus, global_asid):
    m = make_machine(*GENOA, profile="amd-genoa", cpus=8)
    p, _, buf = _mm_on(m, ncpus)
    p.mprotect(buf, PAGE_SIZE, PROT_READ)                  # an IPI flush: consider_global_asid()
    assert (p.mm in m.arch.global_asid) is global_asid
    before = m.arch.counters()["ipis_sent"]
    m.arch.flush_tlb_mm(m.cpus[0], p.mm)
    c = m.arch.counters()
    if global_asid:                                  # broadcast; stragglers still get an IPI
        assert c["invlpgb"] >= 1 and c["tlbsync"] >= 1
        assert c["ipis_sent"] - before == ncpus - 1
        assert p.mm in m.arch.transition
        m.arch.flush_tlb_mm(m.cpus[0], p.mm)        # every CPU moved: no more IPIs
        assert m.arch.counters()["ipis_sent"] - before == ncpus - 1
        assert p.mm not in m.arch.transition
    else:
        assert c["invlpgb"] == 0


def test_tlbsync_completes_only_the_issuers_invlpgbs(make_machine):
    m = make_machine(*GENOA, profile="amd-genoa", cpus=8)
    p, threads, buf = _mm_on(m, 4, npages=1)
    inv, asid = m.arch.invlpgb, p.mm.asid
    inv.issue(m.cpus[0], asid, buf >> PAGE_SHIFT)
    assert inv.sync(m.cpus[1]) == 0                   # another CPU's TLBSYNC: nothing completes
    assert m.tlbs.lookup(1, asid, buf >> PAGE_SHIFT) is not None
    assert inv.sync(m.cpus[0]) == 1
    assert all(m.tlbs.lookup(c, asid, buf >> PAGE_SHIFT) is None for c in range(4))


def test_the_batch_in_transition_is_both_ipis_and_tlbsync(make_machine):
    m = make_machine(*GENOA, profile="amd-genoa", cpus=8)
    p, threads, buf = _mm_on(m, 4)
    p.mprotect(buf, 4 * PAGE_SIZE, PROT_READ)              # global ASID, in transition
    assert p.mm in m.arch.transition
    assert _batch_leftovers(m, p, threads, buf) == []


@pytest.mark.stale_entries
def test_the_reviewed_bug_leaves_the_stragglers_entries(make_machine):
    m = make_machine(*GENOA, "EXPERT=y", "MODEL_X86_REVERT_TLBBATCH_FLUSH_BOTH=y",
                     profile="amd-genoa", cpus=8)
    p, threads, buf = _mm_on(m, 4)
    p.mprotect(buf, 4 * PAGE_SIZE, PROT_READ)
    left = _batch_leftovers(m, p, threads, buf)
    assert left and {cpu for cpu, _ in left} == {0, 1, 2, 3}    # every CPU is a straggler


def test_the_flush_steps_are_one_pure_function():
    from minikernel.arch.x86.invlpgb import invlpgb_tlbbatch_flush_steps as steps
    assert steps(True, True, False) == (True, True)              # as merged: both
    assert steps(True, True, True) == (False, True)              # reviewed: TLBSYNC only
    assert steps(False, True, True) == (True, False)             # no INVLPGB: IPIs as x86
    assert steps(True, False, False) == (False, True)


@pytest.mark.parametrize("name, kinds", [
    ("invlpgb-tlbbatch-flush-both", []),
    ("invlpgb-tlbbatch-flush-reviewed-bug", ["use-after-free-tlb", "stale-after-syscall",
                                             "data-lost"]),
    ("invlpgb-tlbbatch-flush-plain-x86", []),
])
def test_the_three_scenarios(name, kinds):
    from minikernel.scenario import load_scenario, run_scenario
    r = run_scenario(load_scenario(SCEN / f"{name}.toml"))
    assert r.kinds == kinds
