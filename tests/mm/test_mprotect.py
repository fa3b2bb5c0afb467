"""mm/mprotect.py: write-protect, flush, and flush_tlb_batched_pending before the PTE walk."""

import pytest

from minikernel.hw.mmu import PAGE_SHIFT, PAGE_SIZE, pte_write
from minikernel.mm.memory import SegmentationFault
from minikernel.user import MAP_ANONYMOUS, MAP_SHARED, PROT_READ, PROT_WRITE, Process


def test_mprotect_read_only_flushes_other_cpus(make_machine):
    for arch in ("arm64", "x86"):
        m = make_machine(arch, cpus=4)
        p = Process.spawn(m, cpu=0)
        t = p.clone_thread(cpu=1)
        buf = p.mmap(2 * PAGE_SIZE)
        t.write(buf, 1)                              # CPU1 holds a writable-dirty entry
        p.mprotect(buf, PAGE_SIZE, PROT_READ)
        assert not pte_write(p.mm.pgd[buf >> PAGE_SHIFT])
        with pytest.raises(SegmentationFault):
            t.write(buf, 2)
        assert t.read(buf) == 1
        t.write(buf + PAGE_SIZE, 3)                  # the split-off rest stays writable
        assert len(p.mm.mmap) == 2


def test_mprotect_flushes_what_reclaim_deferred(make_machine):
    """The 2017 race, closed: reclaim defers, mprotect sees no PTE, yet the stale entry goes."""
    m = make_machine("arm64", "EXPERT=y", cpus=16)
    p = Process.spawn(m, cpu=0)
    t = p.clone_thread(cpu=1)
    buf = p.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    t.write(buf, 1)                                  # CPU1: writable-dirty entry

    def mprotect_from_cpu1(current, folio, mm, addr):
        del m.probes["try_to_unmap_one:cleared"]
        t.mprotect(buf, PAGE_SIZE, PROT_READ)        # finds no PTE: nothing to change
        with pytest.raises(SegmentationFault):
            t.write(buf, 2)                          # ... but the stale entry is gone

    m.probes["try_to_unmap_one:cleared"] = mprotect_from_cpu1
    from minikernel.user import MADV_PAGEOUT
    p.madvise(buf, PAGE_SIZE, MADV_PAGEOUT)
    assert m.vmstat.tlb_batched_pending_flush == 1
    assert t.read(buf) == 1                          # swapped back in, unmodified
    t.mprotect(buf, PAGE_SIZE, PROT_READ | PROT_WRITE)
