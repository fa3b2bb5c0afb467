"""The contract every arch backend keeps: after arch_tlbbatch_flush, nothing cleared into the batch is reachable."""

import importlib
import inspect
import pkgutil

import pytest

from minikernel.arch import BACKENDS
from minikernel.hw.mmu import ASID_SHIFT, PAGE_SIZE, pte_pfn
from minikernel.mm.pgtable_generic import ptep_get_and_clear
from minikernel.mm.rmap import (
    flush_tlb_batched_pending,
    set_tlb_ubc_flush_pending,
    try_to_unmap_flush,
)
from minikernel.user import MADV_DONTNEED, MAP_ANONYMOUS, MAP_SHARED, PROT_READ, Process


def _cache_everywhere(m, npages, ncpus, prelude):
    """A shared buffer of *npages*, read (so cached) by one thread on each of *ncpus* CPUs.

    *prelude*: first flush the range (mprotect, then MADV_DONTNEED) and re-cache
    it, that many times (True: once).  On x86 INVLPGB once gives the mm a global ASID, in
    transition, every CPU a straggler; three times finishes the transition
    (every CPU on the global ASID, the batch flushed by INVLPGB + TLBSYNC only).
    """
    p = Process.spawn(m, cpu=0)
    threads = [p.clone_thread(cpu=c) for c in range(1, ncpus)]
    buf = p.mmap(npages * PAGE_SIZE, flags=MAP_SHARED | MAP_ANONYMOUS)
    for proc in [p] + threads:
        for i in range(npages):
            proc.read(buf + i * PAGE_SIZE)
    for n in range(int(prelude)):
        if n == 0:
            p.mprotect(buf, npages * PAGE_SIZE, PROT_READ)
        else:       # (a second mprotect to PROT_READ would change no PTE, flush nothing)
            p.madvise(buf, npages * PAGE_SIZE, MADV_DONTNEED)
        for proc in [p] + threads:
            for i in range(npages):
                proc.read(buf + i * PAGE_SIZE)
    return p, threads, buf


def _clear_into_batch(p, buf, npages):
    """What try_to_unmap_one does under TTU_BATCH_FLUSH: clear each PTE, defer its flush."""
    task = p.task
    pfns = []
    for i in range(npages):
        addr = buf + i * PAGE_SIZE
        pte = ptep_get_and_clear(task.cpu, p.mm, addr)
        pfns.append(pte_pfn(pte))
        set_tlb_ubc_flush_pending(task, p.mm, pte, addr)
    return pfns


def _reachable(m, pfns):
    """(cpu, pfn) for every TLB entry of *pfns* under the ASID its CPU runs."""
    cpus = m.cpus
    return [(e.cpu, pfn) for pfn in pfns for e in m.tlbs.entries_for_pfn(pfn)
            if e.key >> ASID_SHIFT == cpus[e.cpu].asid]


def batch_contract_violations(m, npages=8, ncpus=4, prelude=False):
    """Clear PTEs cached on several CPUs into the batch, flush, list what is still reachable.

    The promise of ArchTlbOps.arch_tlbbatch_flush: nothing.
    """
    p, _, buf = _cache_everywhere(m, npages, ncpus, prelude)
    pfns = _clear_into_batch(p, buf, npages)
    try_to_unmap_flush(p.task)
    return _reachable(m, pfns)


def batched_pending_contract_violations(m, npages=8, ncpus=4, prelude=False):
    """Defer flushes on CPU 0, call flush_tlb_batched_pending() on CPU 1, list what is reachable.

    The promise of arch_flush_tlb_batched_pending (3ea277194daa; on arm64
    4b634918384c): once flush_tlb_batched_pending() returns, no CPU can use
    a translation reclaim cleared and deferred for that mm -- whichever CPU
    deferred it.  (The batch itself stays owed by CPU 0's task and is
    flushed afterwards.)
    """
    p, threads, buf = _cache_everywhere(m, npages, ncpus, prelude)
    pfns = _clear_into_batch(p, buf, npages)
    flush_tlb_batched_pending(threads[0].task, p.mm, buf)
    left = _reachable(m, pfns)
    try_to_unmap_flush(p.task)
    return left


#: Every backend and variant: each registered SRCARCH at its default, the other
#: kernels each one models (arm64: the 6.6 and flush_tlb_mm series variants;
#: x86: 6.16), and x86's INVLPGB backend (Linux 6.16 on an INVLPGB CPU, its mm
#: in ASID transition, and with the transition finished).  riscv 6.6 is not one: it predates riscv's batching, so
#: reclaim never defers there (the boot-decision test below covers it).
#: name -> (arch, sets, profile, prelude)
BACKEND_CASES = {arch: (arch, ("EXPERT=y",), None, False) for arch in sorted(BACKENDS)}
BACKEND_CASES.update({
    "arm64-6.6": ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"), None, False),
    "arm64-flush-mm": ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"), None, False),
    "x86-6.16": ("x86", ("EXPERT=y", "MODEL_X86_KERNEL_6_16=y"), None, False),
    "x86-invlpgb": ("x86", ("EXPERT=y", "MODEL_X86_KERNEL_6_16=y"), "amd-genoa", True),
    "x86-invlpgb-global": ("x86", ("EXPERT=y", "MODEL_X86_KERNEL_6_16=y"), "amd-genoa", 3),
})
#: Linux 6.6's arm64 arch_flush_tlb_batched_pending() is only a DSB on the
#: calling CPU -- replayed as merged, the bug 4b634918384c fixed.
BATCHED_PENDING_BROKEN = {"arm64-6.6"}


def _machine(make_machine, case):
    arch, sets, profile, prelude = BACKEND_CASES[case]
    return make_machine(arch, *sets, cpus=16, profile=profile), prelude


@pytest.mark.parametrize("case", sorted(BACKEND_CASES))
def test_batch_flush_leaves_nothing_reachable(make_machine, case):
    m, prelude = _machine(make_machine, case)
    assert batch_contract_violations(m, prelude=prelude) == []
    if prelude:
        assert m.arch.global_asid                   # the path under test was taken
        assert bool(m.arch.transition) is (prelude is True)


def _backend_classes():
    """Every class in the backend packages that implements arch_tlbbatch_flush."""
    found = set()
    for modname in BACKENDS.values():
        pkg = importlib.import_module(modname.rsplit(".", 1)[0])
        for info in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + "."):
            mod = importlib.import_module(info.name)
            found |= {obj for obj in vars(mod).values() if inspect.isclass(obj)
                      and obj.__module__ == mod.__name__
                      and callable(getattr(obj, "arch_tlbbatch_flush", None))}
    return found


def _refuses_to_boot(cls):
    """True if *cls* leaves arch_flush_tlb_batched_pending to its subclasses."""
    try:
        cls.arch_flush_tlb_batched_pending(object.__new__(cls), None, None)
    except NotImplementedError:
        return True
    except Exception:
        return False
    return False


def test_the_cases_cover_every_backend_class(make_machine):
    """A new backend or variant class must get a case above (or the contract skips it)."""
    built = {type(_machine(make_machine, case)[0].arch) for case in BACKEND_CASES}
    # A shared base that only its variant subclasses boot (arm64's TlbOps: which
    # arch_flush_tlb_batched_pending runs is the variant's) is covered by them.
    bases = {c for c in _backend_classes() - built
             if any(issubclass(b, c) for b in built) and _refuses_to_boot(c)}
    assert built == _backend_classes() - bases
    # ... and every kernel a backend distinguishes (arm64's series variants).
    from minikernel.baseline import baseline_for
    from minikernel.kconfig import load_kernel_config
    variants = {baseline_for(load_kernel_config(a, sets=s)).variant
                for a, s, _, _ in BACKEND_CASES.values() if a == "arm64"}
    assert variants == {"v5", "6.6", "flush_mm"}


@pytest.mark.parametrize("case", sorted(BACKEND_CASES))
def test_flush_tlb_batched_pending_leaves_nothing_reachable(make_machine, request, case):
    if case in BATCHED_PENDING_BROKEN:
        request.applymarker(pytest.mark.stale_entries)
    m, prelude = _machine(make_machine, case)
    left = batched_pending_contract_violations(m, prelude=prelude)
    if case in BATCHED_PENDING_BROKEN:
        # The DSB on CPU 1 completes none of the TLBIs CPU 0 issued: every entry stays.
        assert len(left) == 8 * 4
    else:
        assert left == []


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
