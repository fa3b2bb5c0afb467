"""The contract every arch backend keeps: after arch_tlbbatch_flush, nothing cleared into the batch is reachable."""

import pytest

from minikernel.arch import BACKENDS
from minikernel.hw.mmu import ASID_SHIFT, PAGE_SIZE, pte_pfn
from minikernel.mm.pgtable_generic import ptep_get_and_clear
from minikernel.mm.rmap import set_tlb_ubc_flush_pending, try_to_unmap_flush
from minikernel.user import MAP_ANONYMOUS, MAP_SHARED, PROT_READ, Process


def batch_contract_violations(m, npages=8, ncpus=4, prelude=False):
    """Clear PTEs cached on several CPUs into the batch, flush, list what is still reachable.

    *prelude*: first flush the range once (mprotect) and re-cache it -- on
    x86 INVLPGB that gives the mm a global ASID, in transition, every CPU a
    straggler.  Reachable: an entry under the ASID its CPU runs.
    """
    p = Process.spawn(m, cpu=0)
    threads = [p.clone_thread(cpu=c) for c in range(1, ncpus)]
    buf = p.mmap(npages * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    for proc in [p] + threads:
        for i in range(npages):
            proc.read(buf + i * PAGE_SIZE)
    if prelude:
        p.mprotect(buf, npages * PAGE_SIZE, PROT_READ)
        for proc in [p] + threads:
            for i in range(npages):
                proc.read(buf + i * PAGE_SIZE)
    task = p.task
    cpu = task.cpu
    pfns = []
    for i in range(npages):
        addr = buf + i * PAGE_SIZE
        pte = ptep_get_and_clear(cpu, p.mm, addr)
        pfns.append(pte_pfn(pte))
        set_tlb_ubc_flush_pending(task, p.mm, pte, addr)
    try_to_unmap_flush(task)
    cpus = m.cpus
    return [(e.cpu, pfn) for pfn in pfns for e in m.tlbs.entries_for_pfn(pfn)
            if e.key >> ASID_SHIFT == cpus[e.cpu].asid]


#: Every backend: each registered SRCARCH, and x86's INVLPGB variant (Linux 6.16
#: on an INVLPGB CPU, its mm in ASID transition).
BACKEND_CASES = {arch: (arch, ("EXPERT=y",), None, False) for arch in sorted(BACKENDS)}
BACKEND_CASES["x86-invlpgb"] = ("x86", ("EXPERT=y", "MODEL_X86_KERNEL_6_16=y"), "amd-genoa", True)


def _machine(make_machine, case):
    arch, sets, profile, prelude = BACKEND_CASES[case]
    return make_machine(arch, *sets, cpus=16, profile=profile), prelude


@pytest.mark.parametrize("case", sorted(BACKEND_CASES))
def test_batch_flush_leaves_nothing_reachable(make_machine, case):
    m, prelude = _machine(make_machine, case)
    assert batch_contract_violations(m, prelude=prelude) == []
    if prelude:
        assert m.arch.global_asid                   # the path under test was taken


@pytest.mark.parametrize("case", sorted(BACKEND_CASES))
def test_contract_check_catches_a_backend_that_skips_its_flush(make_machine, case):
    m, prelude = _machine(make_machine, case)
    m.arch.arch_tlbbatch_flush = lambda cpu, batch: None    # the broken, test-only backend
    assert len(batch_contract_violations(m, npages=8, ncpus=4, prelude=prelude)) == 8 * 4


@pytest.mark.parametrize("arch,sets", [
    ("arm64", ()), ("arm64", ("EXPERT=y",)), ("arm64", ("EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=4")),
    ("arm64", ("EXPERT=y", "ARM64_ERRATUM_1286807=y")),
    ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y")),
    ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y")),
    ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=2")),
    ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y", "MODEL_ARM64_TLBBATCH_NEVER_DEFER=y")),
    ("x86", ()),
    ("x86", ("EXPERT=y", "X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y")),
    ("riscv", ()),
    ("riscv", ("EXPERT=y", "RISCV_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y")),
    ("riscv", ("MODEL_RISCV_KERNEL_6_6=y",)),
])
@pytest.mark.parametrize("cpus", [1, 2, 8, 96])
def test_deferral_sets_flip_the_boot_decision(arch, sets, cpus):
    from minikernel.arch import deferral_sets
    from minikernel.boot import boot
    from minikernel.kconfig import load_kernel_config

    cfg = load_kernel_config(arch, sets=sets)
    for on in (True, False):
        extra = deferral_sets(cfg, cpus, on)
        assert boot(cfg.with_sets(extra), cpus=cpus).tlb_flush_path.batched is on
        if boot(cfg, cpus=cpus).tlb_flush_path.batched is on:
            assert extra == []                  # nothing to change: it already is that kernel
