"""mm/memory.py: faults, swap-in, COW and data integrity over many swap cycles."""

import pytest

from minikernel.hw.mmu import PAGE_SIZE
from minikernel.mm.memory import SegmentationFault
from minikernel.user import MADV_PAGEOUT, MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, Process


@pytest.mark.parametrize("arch,sets", [("arm64", ()), ("arm64", ("EXPERT=y",)), ("x86", ())])
@pytest.mark.parametrize("flags", [MAP_SHARED | MAP_ANONYMOUS, MAP_PRIVATE | MAP_ANONYMOUS],
                         ids=["shared", "private"])
def test_contents_survive_1000_swap_cycles(make_machine, arch, sets, flags):
    m = make_machine(arch, *sets, cpus=16)
    p = Process.spawn(m, cpu=0)
    n = 8
    buf = p.mmap(n * PAGE_SIZE, flags=flags)
    for i in range(n):
        p.write(buf + i * PAGE_SIZE, 0xD00D0000 + i)
    lost = 0
    for cycle in range(1000):
        assert p.madvise(buf, n * PAGE_SIZE, MADV_PAGEOUT) == n
        for i in range(n):
            lost += p.read(buf + i * PAGE_SIZE) != 0xD00D0000 + i + cycle
            p.write(buf + i * PAGE_SIZE, 0xD00D0000 + i + cycle + 1)
    assert lost == 0
    assert m.vmstat.pswpout == 1000 * n and m.vmstat.pswpin == 1000 * n


def test_cow_after_fork_copies_on_write(make_machine):
    m = make_machine("x86", cpus=4)
    parent = Process.spawn(m, cpu=0)
    buf = parent.mmap(PAGE_SIZE)
    parent.write(buf, 1)
    child = parent.fork(cpu=1)
    child.write(buf, 2)
    assert parent.read(buf) == 1 and child.read(buf) == 2


def test_write_to_read_only_mapping_is_sigsegv(make_machine):
    m = make_machine("arm64", cpus=2)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(PAGE_SIZE, prot=PROT_READ)
    assert p.read(buf) == 0
    with pytest.raises(SegmentationFault):
        p.write(buf, 1)


def test_access_after_munmap_is_sigsegv_and_frees_pages(make_machine):
    m = make_machine("arm64", cpus=2)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(4 * PAGE_SIZE)
    for i in range(4):
        p.write(buf + i * PAGE_SIZE, i)
    free_before = len(m.page_alloc.free_list)
    p.munmap(buf, 4 * PAGE_SIZE)
    assert len(m.page_alloc.free_list) == free_before + 4
    with pytest.raises(SegmentationFault):
        p.read(buf)


# --- zap_pte_range against a flush reclaim deferred (3ea277194daa, correct kernels) ---

ZAP_KERNELS = {
    "arm64-v5": ("arm64", ["EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=1"]),
    "arm64-flush-mm": ("arm64", ["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"]),
    "x86": ("x86", []),
}


def _zap_during_deferred_flush(arch, sets, zap):
    """Reclaim on CPU0 clears the PTE of a page CPU1 caches dirty and defers the flush;
    while it is paused there, the thread on CPU1 zaps the range and then loads from it.

    zap_pte_range() finds no present PTE (reclaim made it a swap entry), so
    the range flush of tlb_finish_mmu() would not cover the page: only
    flush_tlb_batched_pending() removes CPU1's entry before the call returns.
    A second mapping shares buf's PTE table, so munmap frees no table (the
    freed-tables flush would invalidate buf's address on arm64: see
    test_munmap_of_a_tables_only_vma_flushes_the_freed_table).
    """
    from minikernel.scenario import parse_scenario, run_scenario
    doc = {"expect": "clean",
           "machine": {"arch": arch, "cpus": 2, "config": sets},
           "task": [{"name": "main", "cpu": 0, "process": "p"},
                    {"name": "t1", "cpu": 1, "process": "p"}],
           "step": [{"task": "main", "op": "mmap", "as": "buf"},
                    {"task": "main", "op": "mmap", "as": "keep"},
                    {"task": "t1", "op": "write", "addr": "buf", "value": 5},
                    {"task": "main", "op": "reclaim", "pages": 1,
                     "pause_at": "try_to_unmap_one:cleared",
                     "during": [zap, {"task": "t1", "op": "read", "addr": "buf"}]}]}
    return run_scenario(parse_scenario(doc, "<zap>"))


ZAPS = {"munmap": {"task": "t1", "op": "munmap", "addr": "buf"},
        "dontneed": {"task": "t1", "op": "madvise", "addr": "buf", "advice": "dontneed"}}
ZAP_LOAD = {"munmap": "SIGSEGV", "dontneed": "0x0"}      # unmapped / a fresh zero page


@pytest.mark.parametrize("zap", sorted(ZAPS))
@pytest.mark.parametrize("kernel", sorted(ZAP_KERNELS))
def test_zap_flushes_what_reclaim_deferred_before_returning(kernel, zap):
    arch, sets = ZAP_KERNELS[kernel]
    r = _zap_during_deferred_flush(arch, sets, ZAPS[zap])
    assert r.failures == []                                   # the pause point was reached
    assert r.violations == [], r.render_text()
    # the load after the zap did not use the old translation
    read = [line for line in r.log if "t1: read" in line]
    assert read == ["    t1: read addr='buf' -> " + ZAP_LOAD[zap]], r.log


@pytest.mark.parametrize("zap", sorted(ZAPS))
def test_zap_without_flush_tlb_batched_pending_leaves_the_entry(zap):
    """The same program with 3ea277194daa reverted: the zap returns, CPU1 still loads the old page."""
    r = _zap_during_deferred_flush("arm64", ZAP_KERNELS["arm64-v5"][1] +
                                   ["MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=y"], ZAPS[zap])
    assert r.failures == []
    assert "stale-after-syscall" in r.kinds
