"""mm/mremap.py: PTEs move, the old range is flushed, flush_tlb_batched_pending runs first."""

from __future__ import annotations

import pytest

from minikernel.hw.mmu import PAGE_SHIFT, PAGE_SIZE
from minikernel.mm.memory import SegmentationFault
from minikernel.user import MADV_PAGEOUT, MAP_ANONYMOUS, MAP_SHARED, Process


@pytest.mark.parametrize("arch", ["arm64", "x86"])
@pytest.mark.parametrize("flags", [MAP_ANONYMOUS | 0x02, MAP_ANONYMOUS | MAP_SHARED])
def test_mremap_moves_contents_and_no_cpu_keeps_the_old_translation(make_machine, arch, flags):
    m = make_machine(arch, "EXPERT=y", cpus=4)
    p = Process.spawn(m, cpu=0)
    old = p.mmap(4 * PAGE_SIZE, flags=flags)
    t = p.clone_thread(cpu=1)
    for i in range(4):
        p.write(old + i * PAGE_SIZE, 100 + i)
        assert t.read(old + i * PAGE_SIZE) == 100 + i
    new = t.mremap(old, 4 * PAGE_SIZE)
    base = p.mm.asid
    for i in range(4):
        assert m.tlbs.lookup(0, base, (old >> PAGE_SHIFT) + i) is None
        assert m.tlbs.lookup(1, base, (old >> PAGE_SHIFT) + i) is None
        assert p.read(new + i * PAGE_SIZE) == 100 + i
    with pytest.raises(SegmentationFault):
        t.read(old)
    # rmap still finds the moved pages: reclaim them and read them back
    p.madvise(new, 4 * PAGE_SIZE, MADV_PAGEOUT)
    assert [t.read(new + i * PAGE_SIZE) for i in range(4)] == [100, 101, 102, 103]


def test_mremap_calls_flush_tlb_batched_pending_under_the_pte_lock(make_machine):
    m = make_machine("arm64", "EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=2", cpus=4)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE)
    p.write(buf, 1)
    p.mm.tlb_flush_batched = 1                                # reclaim deferred a flush
    seen = []
    m.probes["move_ptes:locked"] = lambda cur, mm, start, end: seen.append(mm.tlb_flush_batched)
    p.mremap(buf, PAGE_SIZE)
    assert seen == [1 | 1 << 16]                              # flushed before the PTEs moved
    assert m.vmstat.tlb_batched_pending_flush == 1


def test_mremap_of_part_of_a_mapping_is_einval(make_machine):
    m = make_machine("x86", cpus=2)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(2 * PAGE_SIZE)
    other = p.mmap(PAGE_SIZE)
    with pytest.raises(ValueError):
        p.mremap(buf, 3 * PAGE_SIZE)
    assert other
