"""arch/arm64/tlbflush.py variants: what arch_flush_tlb_batched_pending() completes."""

from __future__ import annotations

from minikernel.hw.mmu import ASID_SHIFT, PAGE_SHIFT, PAGE_SIZE
from minikernel.mm.rmap import flush_tlb_batched_pending, set_tlb_ubc_flush_pending
from minikernel.user import MAP_ANONYMOUS, MAP_SHARED, Process


def _deferred_on_cpu0(m):
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    t = p.clone_thread(cpu=1)
    t.write(buf, 1)
    pte = p.mm.pgd.pop(buf >> PAGE_SHIFT)
    set_tlb_ubc_flush_pending(p.task, p.mm, pte, buf)         # TLBI issued on CPU0, no DSB
    return p, t, buf, p.mm.asid << ASID_SHIFT | buf >> PAGE_SHIFT


def test_6_6_batched_pending_is_a_dsb_on_the_caller_only(make_machine):
    m = make_machine("arm64", "EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y", cpus=4)
    p, t, buf, key = _deferred_on_cpu0(m)
    before = m.arch.counters()
    flush_tlb_batched_pending(t.task, t.mm)                    # as mprotect on CPU1 would
    after = m.arch.counters()
    assert after["tlbi_issued"] == before["tlbi_issued"]       # no TLBI, just DSB ISH
    assert after["dsb_ish"] == before["dsb_ish"] + 1
    assert m.tlbs.tlbs[1].get(key) is not None                 # CPU0's TLBI still outstanding
    assert m.vmstat.tlb_batched_pending_flush == 1


def test_flush_mm_form_and_v5_complete_it(make_machine):
    for sets in (("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"),
                 ("EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=2")):
        m = make_machine("arm64", *sets, cpus=4)
        p, t, buf, key = _deferred_on_cpu0(m)
        flush_tlb_batched_pending(t.task, t.mm)
        assert not m.tlbs.by_key.get(key)


def test_reverted_3ea277194daa_flushes_nothing(make_machine):
    m = make_machine("arm64", "EXPERT=y", "MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=y", cpus=4)
    p, t, buf, key = _deferred_on_cpu0(m)
    before = m.arch.counters()
    flush_tlb_batched_pending(t.task, t.mm)
    assert m.arch.counters() == before and m.tlbs.tlbs[1].get(key) is not None
