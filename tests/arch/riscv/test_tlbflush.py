"""arch/riscv/tlbflush.py: SBI remote fences or IPIs, the batch cpumask, the range threshold, set_mm."""

import pytest

from minikernel.hw.mmu import PAGE_SIZE
from minikernel.user import MADV_PAGEOUT, MAP_ANONYMOUS, MAP_SHARED, Process

NPAGES = 256


@pytest.fixture
def ipi_board(tmp_path):
    """A VisionFive 2 whose S-mode has its own IPIs (AIA-like) and hardware ASIDs."""
    f = tmp_path / "aia.toml"
    f.write_text('inherit = "visionfive2"\n[machine]\nname = "aia"\n'
                 '[riscv]\nipi_for_rfence = true\nasid = true\n')
    return str(f)


def _reclaim_with_threads(m, nthreads):
    p = Process.spawn(m, cpu=0)
    threads = [p.clone_thread(cpu=c) for c in range(1, nthreads)]
    buf = p.mmap(NPAGES * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    for t in [p] + threads:
        for i in range(0, NPAGES, 16):
            t.read(buf + i * PAGE_SIZE)         # every thread caches some entries
    for i in range(NPAGES):
        p.read(buf + i * PAGE_SIZE)
    assert p.madvise(buf, NPAGES * PAGE_SIZE, MADV_PAGEOUT) == NPAGES
    return p, threads


def test_unbatched_sends_one_sbi_fence_per_page(make_machine):
    m = make_machine("riscv", "EXPERT=y", "RISCV_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y")
    _reclaim_with_threads(m, 4)
    c = m.arch.counters()
    # one per page, plus tlb_finish_mmu's flush of the young PTEs MADV_PAGEOUT
    # made old (6.8 < 6.9: pageout_clears_young)
    assert c["sbi_rfence"] == NPAGES + 1
    assert c["ipis_sent"] == 3 * c["sbi_rfence"]      # the firmware interrupts the 3 others
    assert m.vmstat.tlb_sync_flush == NPAGES
    # a page fence on each of the 4 harts (the caller's own by the firmware too)
    assert c["sfence_vma"] == 4 * NPAGES


def test_batched_is_one_fence_over_the_cpumask(make_machine):
    m = make_machine("riscv")
    _reclaim_with_threads(m, 4)
    c = m.arch.counters()
    assert m.vmstat.tlb_deferred_pte == NPAGES and m.vmstat.tlb_sync_flush == 0
    assert c["sbi_rfence"] == 1 + 1                    # the batch, and the young-PTE range
    assert c["ipis_sent"] == 3 * 2
    assert c["sfence_vma"] == 0                        # both fence everything (> 4 KiB)


def test_kernel_ipis_replace_sbi_where_the_kernel_has_its_own(make_machine, ipi_board):
    m = make_machine("riscv", profile=ipi_board)
    assert m.arch.use_ipi_for_rfence and m.arch.use_asid_allocator
    _reclaim_with_threads(m, 4)
    c = m.arch.counters()
    assert c["sbi_rfence"] == 0 and c["ipis_sent"] == 3 * 2
    assert m.cpus[1].profile["__ipi_flush_tlb_range_asid"] > 0
    assert m.cpus[1].profile["sbi_tlb_process"] == 0


def test_a_single_hart_mm_fences_locally(make_machine):
    m = make_machine("riscv", "EXPERT=y", "RISCV_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y")
    _reclaim_with_threads(m, 1)
    c = m.arch.counters()
    assert c["sbi_rfence"] == 0 and c["ipis_sent"] == 0
    assert c["sfence_vma"] == NPAGES


@pytest.mark.parametrize("baseline, pages, by_page", [
    ("MODEL_RISCV_KERNEL_6_8=y", 64, True),            # tlb_flush_all_threshold = 64
    ("MODEL_RISCV_KERNEL_6_8=y", 65, False),
    ("MODEL_RISCV_KERNEL_6_6=y", 1, True),             # 6.6: no threshold
    ("MODEL_RISCV_KERNEL_6_6=y", 2, False),
])
def test_local_range_threshold_follows_the_baseline(make_machine, baseline, pages, by_page):
    m = make_machine("riscv", baseline, cpus=1)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(pages * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    vma = p.mm.mmap[-1]
    before = dict(m.arch.counters())
    m.arch.flush_tlb_range(m.cpus[0], vma, buf, buf + pages * PAGE_SIZE)
    c = m.arch.counters()
    assert (c["sfence_vma"] - before["sfence_vma"],
            c["sfence_vma_all"] - before["sfence_vma_all"]) == ((pages, 0) if by_page else (0, 1))


@pytest.mark.parametrize("asid", [False, True])
def test_switch_mm_keeps_the_bit_only_with_asids(make_machine, tmp_path, asid):
    f = tmp_path / "b.toml"
    f.write_text(f'inherit = "visionfive2"\n[machine]\nname = "b"\n[riscv]\nasid = {str(asid).lower()}\n')
    m = make_machine("riscv", profile=str(f), cpus=2)
    a = Process.spawn(m, cpu=1)
    buf = a.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    a.read(buf)
    b = Process.spawn(m, cpu=1)                        # switches CPU 1 to another mm
    b.mmap(PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    b.read(b.mm.mmap[-1].vm_start)
    assert bool(a.mm.mm_cpumask >> 1 & 1) is asid     # set_mm: kept (ASID) or cleared
    cached = m.tlbs.lookup(1, a.mm.asid, buf >> 12) is not None
    assert cached is asid                              # set_mm_noasid() fenced everything


def test_the_6_6_baseline_does_not_batch_and_names_itself(make_machine):
    m = make_machine("riscv", "MODEL_RISCV_KERNEL_6_6=y")
    assert m.baseline.name == "Linux 6.6"
    path = m.tlb_flush_path
    assert not path.batched and "Linux 6.6, before 54d7431af73e" in path.reason


def test_the_decision_is_one_pure_function():
    from minikernel.arch.riscv.tlbflush import riscv_tlbbatch_should_defer
    assert riscv_tlbbatch_should_defer(True).batched is True
    assert riscv_tlbbatch_should_defer(False).batched is False
    assert riscv_tlbbatch_should_defer(True) == riscv_tlbbatch_should_defer(True)
