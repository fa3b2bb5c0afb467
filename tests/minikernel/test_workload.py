"""minikernel/workload.py: the seed benchmark and its two variants."""

import pytest

from minikernel.workload import run_seed_benchmark


@pytest.mark.parametrize("arch,sets", [("arm64", ()), ("arm64", ("EXPERT=y",)), ("x86", ())])
def test_seed_benchmark_reclaims_and_swaps_every_page_every_round(make_machine, arch, sets):
    m = make_machine(arch, *sets, cpus=16)
    r = run_seed_benchmark(m, 3)
    assert r.pages_reclaimed == 3 * 256
    assert r.swapins == 2 * 256                     # round 1 reads the memset pages in place
    assert r.elapsed_ns > 0 and r.cycles == pytest.approx(r.elapsed_ns * m.profile.ghz)
    deferred = r.vmstat.get("tlb_deferred_pte", 0)
    assert deferred == (3 * 256 if sets else 0)     # single-threaded x86 never defers


def test_threaded_variant_makes_x86_defer_and_send_ipis(make_machine):
    m = make_machine("x86", cpus=8)
    r = run_seed_benchmark(m, 2, threads=4)
    assert r.vmstat["tlb_deferred_pte"] == 2 * 256
    assert r.vmstat["nr_tlb_remote_flush"] > 0
    assert "flush_tlb_func" in r.other_cpus_ns      # the handler ran on the other CPUs


def test_procs_variant_clears_one_pte_per_process(make_machine):
    m = make_machine("arm64", "EXPERT=y", cpus=16)
    r = run_seed_benchmark(m, 2, procs=3)
    assert r.pages_reclaimed == 2 * 256
    assert r.vmstat["tlb_deferred_pte"] == 3 * 2 * 256


def test_workload_needs_enough_cpus(make_machine):
    m = make_machine("arm64", cpus=2)
    with pytest.raises(ValueError, match="needs 4 CPUs"):
        run_seed_benchmark(m, 1, threads=4)


@pytest.mark.parametrize("arch,sets,key,per_flush", [
    ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"), "dsb_ish", 1),
    ("x86", ("EXPERT=y", "MODEL_X86_KERNEL_6_6=y"), "ipis_sent", 3),
])
def test_migrate_workload_flushes_once_per_move_when_deferring(arch, sets, key, per_flush):
    from minikernel.kconfig import load_kernel_config
    from minikernel.machine import Machine
    from minikernel.profile import default_profile
    from minikernel.workload import MIGRATE_PAGES, run_migrate_benchmark

    prof = default_profile(arch, 8)
    flip = "MODEL_ARM64_TLBBATCH_NEVER_DEFER=y" if arch == "arm64" else \
        "X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y"
    on = run_migrate_benchmark(Machine(load_kernel_config(arch, sets=sets), prof), 2,
                               threads=4, warmup=1)
    off = run_migrate_benchmark(Machine(load_kernel_config(arch, sets=(*sets, flip)), prof), 2,
                                threads=4, warmup=1)
    moves = 2 * 2                                     # two per iteration
    assert on.vmstat["pgmigrate_success"] == off.vmstat["pgmigrate_success"] == \
        moves * MIGRATE_PAGES
    assert on.arch[key] == moves * per_flush          # one flush per move (one batch)
    assert off.arch[key] == moves * MIGRATE_PAGES * per_flush
    assert on.elapsed_ns < off.elapsed_ns
    assert on.profile["copy_page"] == off.profile["copy_page"] > 0


def test_migrate_workload_needs_two_nodes():
    from minikernel.kconfig import load_kernel_config
    from minikernel.machine import Machine
    from minikernel.profile import load_profile
    from minikernel.workload import run_migrate_benchmark

    m = Machine(load_kernel_config("arm64", sets=("EXPERT=y",)), load_profile("snapdragon888"))
    with pytest.raises(ValueError, match="1 NUMA node"):
        run_migrate_benchmark(m, 1)


def test_seed_benchmark_names_the_page_that_read_back_wrong():
    # The loop checks every read against the page's pattern: a swap copy that
    # went bad (page 7's, after the first pageout) stops the run, naming it.
    # (No make_machine: its sanitizer would report the same loss at teardown.)
    from minikernel.kconfig import load_kernel_config
    from minikernel.machine import Machine
    from minikernel.profile import default_profile
    from minikernel.workload import DataLoss

    m = Machine(load_kernel_config("arm64", sets=["EXPERT=y"]), default_profile("arm64", 8))

    def corrupt(done, iterations):
        if done == 1:
            vma = m.tasks[0].mm.mmap[0]
            slot = vma.vm_file.i_pages[7]           # swapped out: the slot's number
            m.swap.zram.table[slot] ^= 0xFF

    with pytest.raises(DataLoss, match=r"^page 7 of the benchmark buffer read 0x5eed00f8, "
                                       r"expected 0x5eed0007$"):
        run_seed_benchmark(m, 3, progress=corrupt)
