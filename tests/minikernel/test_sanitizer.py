"""minikernel/sanitizer.py: the four invariants, the report, and zero cost when off."""

from __future__ import annotations

import pytest

from minikernel.hw.cpu import Cpu, ObservedCpu
from minikernel.hw.memory import PAGE_POISON
from minikernel.hw.mmu import PAGE_SIZE
from minikernel.sanitizer import KINDS
from minikernel.user import MADV_PAGEOUT, MAP_ANONYMOUS, MAP_SHARED, PROT_READ, Process

SAN = "DEBUG_TLB_SANITIZER=y"


def test_violation_kind_names_are_stable():
    assert list(KINDS) == ["use-after-free-tlb", "io-while-writable", "stale-after-syscall",
                           "data-lost", "migrate-copy-while-writable"]


@pytest.mark.parametrize("arch", ["arm64", "x86"])
def test_off_by_default_and_the_access_path_is_untouched(make_machine, arch):
    from minikernel.kconfig import load_kernel_config
    from minikernel.machine import Machine
    from minikernel.profile import default_profile
    m = Machine(load_kernel_config(arch), default_profile(arch, 4))   # defconfig: off
    assert m.sanitizer is None
    assert all(type(c) is Cpu for c in m.cpus)
    assert m.page_alloc.on_free is None
    m = make_machine(arch, SAN)
    assert m.sanitizer is not None and all(type(c) is ObservedCpu for c in m.cpus)


@pytest.mark.stale_entries
def test_skipped_flush_is_a_use_after_free_with_a_trail(make_machine):
    m = make_machine("arm64", SAN, cpus=4)
    p = Process.spawn(m, "main", cpu=0)
    buf = p.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    p.write(buf, 1)
    t = p.clone_thread(cpu=1, comm="t1")
    assert t.read(buf) == 1
    m.arch.flush_tlb_page = lambda cpu, vma, uaddr: None    # the deliberately skipped flush
    m.arch.flush_tlb_range = lambda cpu, vma, start, end: None   # and 6.1's young-PTE flush
    p.madvise(buf, PAGE_SIZE, MADV_PAGEOUT)
    assert t.read(buf) == PAGE_POISON
    # CPU0 wrote the page, so its entry is dirty: the IO already is a bug; the
    # free is one; madvise returned with the entries still there; t1 read poison.
    assert m.sanitizer.kinds == ["io-while-writable", "use-after-free-tlb",
                                 "stale-after-syscall", "data-lost"]
    v = next(v for v in m.sanitizer.violations if v.kind == "use-after-free-tlb")
    assert v.cpu in (0, 1) and v.addr == buf and v.entry["pfn"] == v.pfn
    assert any("try_to_unmap_one: PTE" in line for line in v.trail)
    assert any("free: pfn" in line for line in v.trail)
    text = v.report()
    assert text.startswith("=" * 66) and "BUG: TLB-SAN: use-after-free-tlb" in text
    assert "stale TLB entry: CPU" in text and "event trail" in text
    d = m.sanitizer.as_dict()
    assert d["enabled"] is True
    assert {"kind", "cpu", "addr", "trail", "pfn", "entry"} <= set(d["violations"][0])


def test_clean_reclaim_with_stale_entries_on_many_cpus_reports_nothing(make_machine):
    for arch in ("arm64", "x86"):
        m = make_machine(arch, "EXPERT=y", SAN, cpus=16)
        p = Process.spawn(m, cpu=0)
        buf = p.mmap(64 * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
        threads = [p.clone_thread(cpu=c) for c in range(1, 6)]
        for i in range(64):
            p.write(buf + i * PAGE_SIZE, i + 1)
        for _ in range(3):
            for t in threads:
                for i in range(64):
                    assert t.read(buf + i * PAGE_SIZE) == i + 1
            p.madvise(buf, 64 * PAGE_SIZE, MADV_PAGEOUT)
        assert m.sanitizer.violations == []


@pytest.mark.stale_entries
def test_stale_entry_after_mprotect_is_reported_only_when_used(make_machine):
    m = make_machine("arm64", "EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y", SAN, cpus=4)
    p = Process.spawn(m, "main", cpu=0)
    buf = p.mmap(PAGE_SIZE)
    t = p.clone_thread(cpu=1, comm="t1")
    t.write(buf, 1)

    def race(current, **ctx):
        if current is p.task:
            t.mprotect(buf, PAGE_SIZE, PROT_READ)
            assert m.sanitizer.violations == []             # stale, but not used yet
            t.write(buf, 2)

    m.probes["try_to_unmap_one:cleared"] = race
    p.madvise(buf, PAGE_SIZE, MADV_PAGEOUT)
    (v,) = m.sanitizer.violations
    assert (v.kind, v.cpu, v.syscall, v.addr) == ("stale-after-syscall", 1, "mprotect", buf)
    assert any("arch_flush_tlb_batched_pending (6.6): DSB ISH on CPU1 only" in x for x in v.trail)


def test_read_through_a_write_protected_entry_is_fine(make_machine):
    """mprotect(PROT_READ) removes write permission only: a later load is no violation."""
    m = make_machine("x86", SAN, cpus=2)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE)
    p.write(buf, 3)
    p.mprotect(buf, PAGE_SIZE, PROT_READ)
    assert p.read(buf) == 3
    assert m.sanitizer.violations == []


def test_data_survives_mremap_fork_and_swap(make_machine):
    m = make_machine("arm64", "EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=1", SAN, cpus=4)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(2 * PAGE_SIZE)
    p.write(buf, 10)
    p.write(buf + PAGE_SIZE, 11)
    t = p.clone_thread(cpu=1)
    assert t.read(buf) == 10
    p.madvise(buf, 2 * PAGE_SIZE, MADV_PAGEOUT)
    new = t.mremap(buf, 2 * PAGE_SIZE)
    assert new != buf
    assert p.read(new) == 10 and p.read(new + PAGE_SIZE) == 11
    kid = p.fork(cpu=2)
    p.write(new, 12)
    p.reclaim(8)
    assert kid.read(new) == 10 and p.read(new) == 12
    from minikernel.mm.memory import SegmentationFault
    with pytest.raises(SegmentationFault):
        t.read(buf)
    assert m.sanitizer.violations == []


def test_x86_entry_left_on_a_cpu_that_switched_away_is_not_a_use_after_free(make_machine):
    """x86 leaves a departed CPU's entries in place and flushes them on return (tlb_gen)."""
    m = make_machine("x86", SAN, cpus=4)
    p = Process.spawn(m, "main", cpu=0)
    buf = p.mmap(PAGE_SIZE)
    t = p.clone_thread(cpu=1, comm="t1")
    t.write(buf, 5)                                      # CPU1: writable dirty entry
    t.move_to(2)                                         # CPU1 idle, its entry stays cached
    assert m.tlbs.lookup(1, p.mm.asid, buf >> 12) is not None
    p.madvise(buf, PAGE_SIZE, MADV_PAGEOUT)              # IPIs only CPU2; page written and freed
    assert m.tlbs.lookup(1, p.mm.asid, buf >> 12) is not None
    t.move_to(1)                                         # switch_mm sees the newer tlb_gen: flush
    assert t.read(buf) == 5
    assert m.sanitizer.violations == []


def test_sanitizer_changes_no_simulated_time_or_counter(make_machine):
    from minikernel.workload import run_seed_benchmark
    runs = []
    for sets in (("EXPERT=y",), ("EXPERT=y", SAN)):
        m = make_machine("arm64", *sets, cpus=16)
        r = run_seed_benchmark(m, 2)
        runs.append((r.elapsed_ns, m.vmstat.as_dict(), [c.now for c in m.cpus]))
    assert runs[0] == runs[1]


def test_a_trail_after_the_ring_wrapped_is_the_last_relevant_events(make_machine):
    """The ring keeps the last TRAIL_LEN events; a report quotes the last REPORT_TRAIL
    of those about its page, its translation, or its mm's untagged events, oldest first.

    Checked against a plain list of every event, each rendered as it was recorded."""
    import random
    from types import SimpleNamespace

    from minikernel.sanitizer import REPORT_TRAIL, TRAIL_LEN
    m = make_machine("arm64", SAN, cpus=4)
    san = m.sanitizer
    p = Process.spawn(m, "main", cpu=1)
    mm = p.task.mm
    kernel = SimpleNamespace(asid=0)              # an mm whose ASID is 0
    rng = random.Random(7)
    log = []                     # (seq, cpu, who, text, pfn, key, asid)

    def record(cpu, text, pfn, key, asid):
        t = cpu.current
        log.append((san._seq, cpu.id, f"{t.comm}/{t.pid}" if t is not None else "idle", text,
                    pfn, key, asid))

    for _ in range(3 * TRAIL_LEN + 11):
        cpu = m.cpus[rng.randrange(4)]
        pfn, vpn, addr = rng.randrange(6), rng.randrange(6), rng.randrange(6) << 12
        key = mm.asid << 36 | vpn
        what = rng.randrange(5)
        if what == 0:
            fn, dirty, deferred = rng.choice(["try_to_unmap_one", "try_to_migrate_one"]), \
                rng.random() < .5, rng.random() < .5
            san.pte_cleared(cpu, mm, addr, pfn, 0x04 if dirty else 0, deferred, fn)
            record(cpu, f"{fn}: PTE {addr:#x} -> pfn {pfn}{' (dirty)' if dirty else ''} cleared, "
                        + ("flush DEFERRED to tlb_ubc" if deferred else "flushed (ptep_clear_flush)"),
                   pfn, mm.asid << 36 | addr >> 12, mm.asid)
        elif what == 1:
            san.on_free(cpu, SimpleNamespace(pfn=pfn + 100))     # no TLB entry maps it
            record(cpu, f"free: pfn {pfn + 100} returned to the page allocator", pfn + 100,
                   None, None)
        elif what == 2:
            san.event(cpu, "tagged by key {:#x}", vpn, key=key)
            record(cpu, f"tagged by key {vpn:#x}", None, key, mm.asid)
        elif what == 3:
            other = (None, mm, kernel)[vpn % 3]
            san.event(cpu, "untagged, mm {}", vpn, mm=other)
            record(cpu, f"untagged, mm {vpn}", None, None, other and other.asid)
        else:
            san.event(cpu, "no arguments", pfn=pfn)
            record(cpu, "no arguments", pfn, None, None)

    cpu = m.cpus[2]
    san.event(cpu, "the last event, alone on pfn {}", 999, pfn=999)
    record(cpu, "the last event, alone on pfn 999", 999, None, None)
    sizes = []
    for pfn, key, asid in [(3, None, None), (None, mm.asid << 36 | 2, mm.asid),
                           (104, None, mm.asid), (None, None, None), (5, mm.asid << 36 | 5, 9),
                           (None, None, 0), (999, None, None)]:
        want = [f"#{seq:<4} CPU{c} {who:<10} {text}"
                for seq, c, who, text, epfn, ekey, easid in log[-TRAIL_LEN:]
                if (pfn is not None and epfn == pfn) or (key is not None and ekey == key)
                or (epfn is None and ekey is None and (easid is None or easid == asid))]
        assert san._trail(pfn, key, asid) == want[-REPORT_TRAIL:]
        sizes.append(len(want))
    assert sizes[0] > REPORT_TRAIL and min(sizes) > 0 and sizes[-1] < REPORT_TRAIL
