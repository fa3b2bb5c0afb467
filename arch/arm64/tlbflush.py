"""arm64 TLB maintenance and the v5 deferral policy.

Models: arch/arm64/include/asm/tlbflush.h -- ``__flush_tlb_page_nosync``,
``flush_tlb_page``, ``__flush_tlb_range``, ``flush_tlb_mm`` and the batch
verbs added by "arm64: support batched/deferred tlb shootdown during page
reclamation" (v5, 2022-10; merged for Linux 6.6) -- plus the DSB that
arm64's context switch performs.

Invariants this module owns:
  - Every invalidation is a broadcast ``TLBI ...IS`` issued by the executing
    CPU; it is complete everywhere only after that same CPU's ``DSB ISH``.
    Only functions whose promise is "flushed on return" end with that DSB.
  - ``arch_tlbbatch_add_pending`` issues the TLBI and does not wait;
    ``arch_tlbbatch_flush`` is one DSB on the reclaiming CPU, which is where
    every TLBI of the batch was issued.
  - v5 policy: defer only when more than ARM64_NR_CPUS_FOR_BATCHED_TLB CPUs are
    online and the reclaiming CPU's own core does not need the REPEAT_TLBI
    workaround (this_cpu_has_cap).  The 6.6 and later variants (Kconfig
    choice under EXPERT) have no threshold and test the capability
    system-wide (cpus_have_const_cap): one affected core anywhere and no CPU
    defers.  Which one is the baseline's ``arm64_repeat_tlbi_scope``.  The
    rule is written once, in the pure :func:`decide`, evaluated at boot;
    ``arch_tlbbatch_should_defer``, ``tlb_flush_path`` and ``deferral_sets``
    read its :class:`~minikernel.arch.Decision`.
  - The REPEAT_TLBI capability is detected at boot from the profile's cores
    (arch/arm64/cpu_errata.py); when set, every TLBI on every CPU is
    TLBI; DSB ISH; TLBI (the alternative is patched in system-wide).
  - The variant is a class, chosen once at boot by :func:`backend_for` from
    the baseline (:data:`VARIANTS`): :class:`TlbOpsV5`, :class:`TlbOps66`,
    :class:`TlbOpsFlushMm`.  They differ in ``arch_flush_tlb_batched_pending``
    (and the decision's inputs); 6.6's is replayed as merged -- a DSB on
    the calling CPU, which completes nothing reclaim issued elsewhere --
    and never fixed here.
  - Every task switch executes DSB ISH (``__switch_to``), whether or not
    the mm changes.

Cost attribution: all of these are static inline in the kernel, so their
cycles (the DSB stall above all) land on the calling symbol, e.g.
``ptep_clear_flush`` or ``try_to_unmap_flush``.

With KPTI (``[machine] kpti`` of the profile: arm64_kernel_unmapped_at_el0(),
forced with KASLR on cores without E0PD, i.e. every v8.2 core) ``__tlbi_user``
issues a second TLBI for the user ASID after each one: a second issue, a
second slot of the DVM queue, a second port slot before the DSB's Sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from minikernel.arch import Decision, FlushPath
from minikernel.arch.arm64.cpu_errata import (
    ERRATA_REPEAT_TLBI,
    errata_matching,
    repeat_tlbi_affected,
)
from minikernel.arch.arm64.tlbbatch import ArchTlbflushUnmapBatch
from minikernel.compat import SLOTS
from minikernel.hw.arm64 import TLBI_ASID, TLBI_USER, TLBI_VA, Dvm
from minikernel.hw.cputype import Core, cores_for_cpus
from minikernel.hw.mmu import _PAGE_ACCESSED, ASID_SHIFT, PAGE_SHIFT, PAGE_SIZE
from minikernel.trace import TracingDvm

if TYPE_CHECKING:
    from minikernel.hw.cpu import Cpu
    from minikernel.machine import Machine
    from minikernel.mm.mm_types import MmStruct, VmAreaStruct

# From this many pages on, a range flush becomes one ASID-wide TLBI
# (arch/arm64/include/asm/tlbflush.h: MAX_TLBI_OPS = PTRS_PER_PTE, renamed
# MAX_DVM_OPS by ec1c3b9ff160 in 6.7; the baseline's name is
# ``arm64_max_tlbi_ops_name``).
# MODEL: no FEAT_TLBIRANGE (TLBI RVALE1IS): the built-in profiles' cores are
# Armv8.2 (TSV110, Cortex-A55/A78/X1), which lack it; a v8.4+ core would
# flush a range with a few range TLBIs instead.
MAX_TLBI_OPS = 512
#: PMD_SIZE: what one PTE table maps (2 MiB), the stride of a freed-tables flush
PMD_SIZE = PAGE_SIZE << 9
MAX_DVM_OPS = MAX_TLBI_OPS


@dataclass(frozen=True, **SLOTS)
class Arm64Facts:
    """Model-only: the machine facts arm64's deferral decision depends on.

    nr_cpus:      online CPUs (num_online_cpus())
    cores:        the Core of each online CPU, or None when the profile lists
                  none (then no core is assumed affected by an erratum)
    variant:      the series variant ("v5", "6.6", "flush_mm"; the baseline's)
    this_cpu_cap: the REPEAT_TLBI test is per CPU (v5: this_cpu_has_cap());
                  False: system-wide (6.6 and later: cpus_have_const_cap())
    """

    nr_cpus: int
    cores: tuple[Core, ...] | None
    variant: str
    this_cpu_cap: bool


def decide(cfg, facts: Arm64Facts) -> Decision:
    """Models: arch_tlbbatch_should_defer() on arm64, evaluated once for the whole machine.

    Pure: the one place the arm64 deferral rule is written.  Its inputs do
    not change after boot (the CPU count, the cores, the variant, Kconfig),
    so neither does its answer: reclaim defers on the CPUs in ``defer_cpus``.

    With batching configured (v5: EXPERT=y): v5 defers only when more than
    ARM64_NR_CPUS_FOR_BATCHED_TLB CPUs are online; a CPU whose core needs
    the REPEAT_TLBI workaround never defers -- on v5 only that CPU
    (this_cpu_has_cap()), on 6.6 and later every CPU once one is affected
    (cpus_have_const_cap()).  The model-only MODEL_ARM64_TLBBATCH_NEVER_DEFER
    says no everywhere.
    """
    n = facts.nr_cpus
    everyone = (1 << n) - 1
    if not cfg.ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH:
        expert = "y" if cfg.EXPERT else "n"
        return Decision(False, "synchronous", None,
                        "not configured: CONFIG_ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH=n "
                        f"because CONFIG_EXPERT={expert} (arm64 selects it only if "
                        "EXPERT); every unmapped PTE is flushed synchronously "
                        "(ptep_clear_flush: TLBI + DSB)", 0)
    threshold = cfg.ARM64_NR_CPUS_FOR_BATCHED_TLB if facts.variant == "v5" else None
    if threshold is not None and n <= threshold:
        return Decision(False, "synchronous", threshold,
                        f"configured but not deferring: {n} online CPUs <= "
                        f"CONFIG_ARM64_NR_CPUS_FOR_BATCHED_TLB={threshold} "
                        "(arch_tlbbatch_should_defer())", 0)
    affected = repeat_tlbi_affected(cfg, facts.cores)
    mask = sum(1 << c for c in affected)
    if affected and not facts.this_cpu_cap:
        return Decision(False, "synchronous", threshold,
                        "disabled by the REPEAT_TLBI erratum workaround: "
                        f"{_affected(facts.cores, affected)}; arch_tlbbatch_should_defer() tests "
                        "cpus_have_const_cap() (system-wide), so no CPU defers and "
                        "every TLBI is TLBI; DSB ISH; TLBI", 0)
    if affected and mask == everyone:
        return Decision(False, "synchronous", threshold,
                        "disabled by the REPEAT_TLBI erratum workaround: "
                        f"{_affected(facts.cores, affected)}: every CPU is affected "
                        "(this_cpu_has_cap())", 0)
    if cfg.MODEL_ARM64_TLBBATCH_NEVER_DEFER:
        return Decision(False, "synchronous", threshold,
                        "configured but not deferring: the model-only knob "
                        "CONFIG_MODEL_ARM64_TLBBATCH_NEVER_DEFER=y makes "
                        "arch_tlbbatch_should_defer() say no; every unmapped PTE is "
                        "flushed synchronously (ptep_clear_flush: TLBI + DSB)", 0)
    if affected:
        return Decision(True, "batched", threshold,
                        f"deferring only on unaffected CPUs: {_affected(facts.cores, affected)}; "
                        "v5's arch_tlbbatch_should_defer() tests this_cpu_has_cap(), so "
                        "those CPUs flush synchronously, and every TLBI on every CPU "
                        "is TLBI; DSB ISH; TLBI", everyone & ~mask)
    if threshold is None:
        reason = (f"deferring ({facts.variant} variant: no CPU threshold); "
                  "TLBIs are issued without waiting and one DSB ISH completes "
                  "each batch")
    else:
        reason = (f"deferring: {n} online CPUs > "
                  f"CONFIG_ARM64_NR_CPUS_FOR_BATCHED_TLB={threshold}; TLBIs "
                  "are issued without waiting and one DSB ISH completes each batch")
    if facts.cores is None and cfg.ARM64_WORKAROUND_REPEAT_TLBI:
        reason += ("; the machine profile lists no cores, so "
                   "none is assumed to need the REPEAT_TLBI workaround")
    return Decision(True, "batched", threshold, reason, everyone)


class TlbOps:
    """The arm64 backend of :class:`minikernel.arch.ArchTlbOps`: what every variant shares.

    Not booted itself: :func:`backend_for` constructs the variant class the
    baseline names (:class:`TlbOpsV5`, :class:`TlbOps66`, :class:`TlbOpsFlushMm`),
    which differ only in ``arch_flush_tlb_batched_pending`` and in the
    decision's inputs.

    dvm:       the broadcast-TLBI fabric of the machine
    decision:  the boot-time deferral decision (:func:`decide`)
    threshold: ARM64_NR_CPUS_FOR_BATCHED_TLB, or None when batching is not
               configured or the variant has no threshold (6.6 and later)
    repeat_tlbi: the REPEAT_TLBI capability is set (some online core is
               affected by an erratum whose option is on): every TLBI repeats
    repeat_tlbi_cpus: cpu -> the erratum option that matched its core
    this_cpu_cap: v5's per-CPU capability test (baseline
               ``arm64_repeat_tlbi_scope`` == "this_cpu")
    variant:   "v5", "6.6" or "flush_mm" (machine.baseline.variant, from the
               Kconfig choice MODEL_ARM64_BATCHED_TLB_*; the class's ``VARIANT``)
    """

    #: machine.baseline.variant of the class (see :data:`VARIANTS`)
    VARIANT = ""

    def __init__(self, machine: Machine) -> None:
        cfg = machine.cfg
        p = machine.profile
        self.machine = machine
        assert machine.baseline.variant == self.VARIANT, (machine.baseline.variant, self.VARIANT)
        # With tracing on, a Dvm that also writes model_arm64_* trace events.
        self.dvm = (Dvm if machine.trace is None else partial(TracingDvm, machine))(
                       machine.nr_cpus, machine.tlbs,
                       latency_ns=p.dvm_latency_ns(), throughput_ns=p.dvm_throughput_ns(),
                       issue_ns=p.tlbi_issue_ns, dsb_ns=p.dsb_ns,
                       queue_depth=p.dvm_queue_depth or 4,
                       contention=p.dvm_contention if p.dvm_contention is not None else 1.0,
                       events=machine.observers.hw)
        self.kpti = bool(p.kpti)
        self.variant = self.VARIANT
        cores = p.cores
        self.cores = None if cores is None else cores_for_cpus(cores, machine.nr_cpus)
        self.this_cpu_cap = machine.baseline.arm64_repeat_tlbi_scope == "this_cpu"
        self.decision = decide(cfg, Arm64Facts(machine.nr_cpus, self.cores, self.variant,
                                               self.this_cpu_cap))
        self.threshold = self.decision.threshold
        self._defer_cpus = self.decision.defer_cpus
        self.repeat_tlbi_cpus = repeat_tlbi_affected(cfg, self.cores)
        self.repeat_tlbi = bool(self.repeat_tlbi_cpus)
        self.max_tlbi_ops_name = machine.baseline.arm64_max_tlbi_ops_name

    # Instruction helpers (asm/tlbflush.h: __tlbi / __tlbi_user)

    def _tlbi(self, cpu: Cpu, kind: int, arg: int) -> None:
        """Models: __tlbi(op, arg) followed by __tlbi_user(op, arg)."""
        dvm = self.dvm
        dvm.tlbi_is(cpu, kind, arg)
        if self.repeat_tlbi:
            # Erratum workaround: complete the first TLBI, then repeat it.
            dvm.dsb_ish(cpu)
            dvm.tlbi_is(cpu, kind, arg)
        if self.kpti:
            # __tlbi_user: the same operation for the user half of the ASID pair.
            dvm.tlbi_is(cpu, TLBI_USER, arg)
            if self.repeat_tlbi:
                dvm.dsb_ish(cpu)
                dvm.tlbi_is(cpu, TLBI_USER, arg)

    # Public interface

    def __flush_tlb_page_nosync(self, cpu: Cpu, mm: MmStruct, uaddr: int) -> None:
        """Models: __flush_tlb_page_nosync(): DSB ISHST, then TLBI VALE1IS -- issued, not complete.

        The DSB ISHST makes the cleared PTE visible to other walkers before
        the invalidation is broadcast; nothing waits for the TLBI itself.
        """
        dvm = self.dvm
        # dvm.dsb_ishst(cpu), inlined (once per page): its cpu.charge(cpu.sym, dsb_ns)
        ns = dvm.dsb_ns
        cpu.now += ns
        cpu.ns[cpu.sym] += ns
        arg = mm.asid << ASID_SHIFT | uaddr >> PAGE_SHIFT
        if self.repeat_tlbi:
            self._tlbi(cpu, TLBI_VA, arg)
        else:
            # self._tlbi(cpu, TLBI_VA, arg), inlined (once or twice per page): without
            # the erratum's repeats it is __tlbi, then __tlbi_user under KPTI
            if self.kpti:
                dvm.tlbi_is_pair(cpu, arg)      # tlbi_is(TLBI_VA), then tlbi_is(TLBI_USER)
            else:
                dvm.tlbi_is(cpu, TLBI_VA, arg)

    def flush_tlb_page(self, cpu: Cpu, vma: VmAreaStruct, uaddr: int) -> None:
        """Models: flush_tlb_page(): the nosync TLBI followed by DSB ISH, which stalls for its completion."""
        self.__flush_tlb_page_nosync(cpu, vma.vm_mm, uaddr)
        self.dvm.dsb_ish(cpu)

    def flush_tlb_range(self, cpu: Cpu, vma: VmAreaStruct, start: int, end: int) -> None:
        """Models: flush_tlb_range() -> __flush_tlb_range(): one TLBI per page, one DSB.

        From MAX_TLBI_OPS (MAX_DVM_OPS) pages on -- the kernel's test is
        ``(end - start) >= MAX_TLBI_OPS * stride`` -- it gives up on per-page
        TLBIs and flushes the whole ASID instead: a 2 MiB range is one
        ASIDE1IS, 511 pages are 511 TLBIs.
        """
        self.__flush_tlb_range(cpu, vma.vm_mm, start, end, PAGE_SIZE)

    def __flush_tlb_range(self, cpu: Cpu, mm: MmStruct, start: int, end: int, stride: int) -> None:
        """Models: __flush_tlb_range(): the range rounded out to ``stride``, one TLBI per step.

        From MAX_TLBI_OPS steps on it flushes the whole ASID instead.
        Shared by flush_tlb_range() (a page stride) and tlb_flush() with
        freed page tables (a PMD stride).
        """
        start &= ~(stride - 1)
        end = (end + stride - 1) & ~(stride - 1)
        if (end - start) >= MAX_TLBI_OPS * stride:
            self.flush_tlb_mm(cpu, mm)
            return
        dvm = self.dvm
        dvm.dsb_ishst(cpu)
        base = mm.asid << ASID_SHIFT
        if self.repeat_tlbi:
            for addr in range(start, end, stride):
                self._tlbi(cpu, TLBI_VA, base | addr >> PAGE_SHIFT)
        else:
            # self._tlbi(cpu, TLBI_VA, ...) per step, inlined as in
            # __flush_tlb_page_nosync: __tlbi, then __tlbi_user under KPTI
            tlbi_is = dvm.tlbi_is
            if self.kpti:
                tlbi_is_pair = dvm.tlbi_is_pair     # tlbi_is(TLBI_VA), then tlbi_is(TLBI_USER)
                for addr in range(start, end, stride):
                    tlbi_is_pair(cpu, base | addr >> PAGE_SHIFT)
            else:
                for addr in range(start, end, stride):
                    tlbi_is(cpu, TLBI_VA, base | addr >> PAGE_SHIFT)
        dvm.dsb_ish(cpu)

    def flush_tlb_mm(self, cpu: Cpu, mm: MmStruct) -> None:
        """Models: flush_tlb_mm(): DSB ISHST; TLBI ASIDE1IS; DSB ISH."""
        self.dvm.dsb_ishst(cpu)
        self._tlbi(cpu, TLBI_ASID, mm.asid)
        self.dvm.dsb_ish(cpu)

    def tlb_flush(self, cpu: Cpu, tlb) -> None:
        """Models: arm64 tlb_flush(): __flush_tlb_range(start, end, stride, last_level = !freed_tables).

        With freed page tables the gather holds only the tables' entries
        (munmap flushed each VMA's PTEs at tlb_end_vma first), so the stride
        is PMD_SIZE: one TLBI VAE1IS per 2 MiB of the span, then the DSB --
        or, from MAX_TLBI_OPS such steps on, flush_tlb_mm().

        # MODEL: VAE1IS (not last level) and VALE1IS invalidate the same
        # entries here: the TLB model caches leaf translations only, no
        # walk caches.
        """
        if not tlb.freed_tables:
            self.flush_tlb_range(cpu, tlb.vma, tlb.start, tlb.end)
            return
        self.__flush_tlb_range(cpu, tlb.vma.vm_mm, tlb.start, tlb.end, PMD_SIZE)

    def pte_needs_flush(self, oldpte: int, newpte: int) -> bool:
        """Models: pte_needs_flush() on arm64: the generic default, always true.

        So mprotect flushes every present PTE it visits, changed or not.
        """
        return True

    def ptep_clear_flush_young(self, cpu: Cpu, vma: VmAreaStruct, addr: int) -> bool:
        """Models: arm64 ptep_clear_flush_young(): clear the access flag, TLBI without waiting.

        Test-and-clear of AF, then, if it was set, ``flush_tlb_page_nosync``
        (DSB ISHST; TLBI VALE1IS) with no DSB ISH: "it is safe to leave the
        invalidation incomplete", a stale young entry only delays aging.  The
        next DSB on this CPU (reclaim's own, or the context switch) completes
        it.  Called by folio_referenced_one() for each mapping of a folio.
        """
        mm = vma.vm_mm
        vpn = addr >> PAGE_SHIFT
        pgd = mm.pgd
        pte = pgd.get(vpn, 0)
        if not pte & _PAGE_ACCESSED:            # pte_young()
            return False
        pgd[vpn] = pte & ~_PAGE_ACCESSED        # pte_mkold()
        self.__flush_tlb_page_nosync(cpu, mm, addr)
        return True

    def arch_tlbbatch_should_defer(self, cpu: Cpu, mm: MmStruct) -> bool:
        """Models: arch_tlbbatch_should_defer() (v5, and 6.6 and later as merged).

        Small systems broadcast cheaply, so v5 only defers above a CPU-count
        threshold; and a CPU needing the REPEAT_TLBI workaround must not
        leave TLBIs outstanding.  v5 asks whether *this* CPU's core is
        affected (this_cpu_has_cap()); 6.6 and later whether any is
        (cpus_have_const_cap()).  Every input is fixed at boot, so the rule
        is evaluated once, by :func:`decide`; this reads its answer for *cpu*.
        """
        return self._defer_cpus >> cpu.id & 1 == 1

    def arch_tlbbatch_add_pending(self, cpu: Cpu, batch: ArchTlbflushUnmapBatch,
                                  mm: MmStruct, uaddr: int) -> None:
        """Models: arch_tlbbatch_add_pending() (v5 called it arch_tlbbatch_add_mm()).

        Issues the TLBI now and leaves it outstanding on this CPU; the batch
        itself records nothing.
        """
        self.__flush_tlb_page_nosync(cpu, mm, uaddr)

    def arch_tlbbatch_flush(self, cpu: Cpu, batch: ArchTlbflushUnmapBatch) -> None:
        """Models: arch_tlbbatch_flush(): one DSB ISH completes every TLBI this CPU issued.

        Caller's contract: run it on the CPU that added the pages -- a DSB
        elsewhere completes nothing of this batch.
        """
        self.dvm.dsb_ish(cpu)

    def arch_flush_tlb_batched_pending(self, cpu: Cpu, mm: MmStruct) -> None:
        """Models: the flush flush_tlb_batched_pending() does: each variant's own (the subclasses)."""
        raise NotImplementedError(f"{type(self).__name__}: boot the variant class (backend_for)")

    def switch_mm(self, cpu: Cpu, prev: MmStruct | None, next: MmStruct | None) -> None:
        """Models: arm64 switch_mm(): the TTBR0 switch (the DSB is __switch_to's).

        Entries of *prev* stay cached, ASID-tagged.
        """
        if next is None:
            cpu.switch_pgd(None, 0)
        else:
            cpu.switch_pgd(next.pgd, next.asid)

    def switch_to(self, cpu: Cpu, prev, next) -> None:
        """Models: arm64 __switch_to(): ``dsb(ish)`` on every task switch.

        Completes any TLB maintenance this CPU left outstanding, in case the
        outgoing thread migrates to another CPU -- also between two threads
        of one mm, where switch_mm() does nothing.
        """
        self.dvm.dsb_ish(cpu)

    #: Entry symbols charged by generic code (el0_da: EL0 data abort,
    #: el0_svc: EL0 SVC), from the profile's [kernel_ns].
    fault_entry_syms = ("el0_da",)
    syscall_entry_syms = ("el0_svc",)

    def new_batch(self) -> ArchTlbflushUnmapBatch:
        """Model-only: an empty arm64 batch."""
        return ArchTlbflushUnmapBatch()

    def tlb_flush_path(self) -> FlushPath:
        """Model-only: why reclaim will or will not defer flushes on this machine (:func:`decide`)."""
        return self.decision.flush_path

    def counters(self) -> dict[str, int]:
        """Model-only: TLBIs issued, DSB ISH executed, and DSBs that had to wait."""
        d = self.dvm
        return {"tlbi_issued": d.tlbi_issued, "dsb_ish": d.dsb_ish_count,
                "dsb_ish_waited": d.dsb_ish_waited, "tlbi_queue_full": d.tlbi_queue_full}


class TlbOpsV5(TlbOps):
    """arm64 on the v5 baseline (Linux 6.1): v5 of the batched-flush series as posted.

    The deferral decision has v5's CPU threshold and per-CPU erratum test
    (:func:`decide`).  There is no arch hook for pending batches yet: the
    generic flush_tlb_batched_pending() of the time calls flush_tlb_mm().
    """

    VARIANT = "v5"

    def arch_flush_tlb_batched_pending(self, cpu: Cpu, mm: MmStruct) -> None:
        """Models: the flush v5's flush_tlb_batched_pending() does: the generic flush_tlb_mm()."""
        self.flush_tlb_mm(cpu, mm)


class TlbOps66(TlbOps):
    """arm64 on Linux 6.6: the series as merged, replayed with the race it shipped with."""

    VARIANT = "6.6"

    def arch_flush_tlb_batched_pending(self, cpu: Cpu, mm: MmStruct) -> None:
        """Models: arch_flush_tlb_batched_pending() in Linux 6.6: ``dsb(ish)`` only.

        Waits for the TLBIs *this* CPU issued.  When reclaim deferred the
        flush on another CPU, its TLBIs stay outstanding and stale entries
        stay usable after the caller (mprotect, munmap ...) returns.
        Replayed as merged, never fixed here.
        """
        san = self.machine.sanitizer
        if san is not None:
            elsewhere = sum(len(c.pending_tlbi) for c in self.machine.cpus if c is not cpu)
            san.event(cpu, f"arch_flush_tlb_batched_pending (6.6): DSB ISH on CPU{cpu.id} only; "
                           f"{elsewhere} TLBI(s) issued by other CPUs stay outstanding", mm=mm)
        self.dvm.dsb_ish(cpu)


class TlbOpsFlushMm(TlbOps):
    """arm64 on Linux 6.16: 6.6's shape with 4b634918384c's arch_flush_tlb_batched_pending()."""

    VARIANT = "flush_mm"

    def arch_flush_tlb_batched_pending(self, cpu: Cpu, mm: MmStruct) -> None:
        """Models: arch_flush_tlb_batched_pending() since 4b634918384c (2025): flush_tlb_mm().

        A DSB on this CPU does not complete TLBIs reclaim issued on another,
        so the hook flushes the whole mm again, as the generic code did before 6.6.
        """
        self.flush_tlb_mm(cpu, mm)


#: machine.baseline.variant -> the backend class, with the Kconfig choice member naming it.
VARIANTS: dict[str, tuple[type[TlbOps], str]] = {
    "v5": (TlbOpsV5, "MODEL_ARM64_BATCHED_TLB_V5"),
    "6.6": (TlbOps66, "MODEL_ARM64_BATCHED_TLB_6_6"),
    "flush_mm": (TlbOpsFlushMm, "MODEL_ARM64_BATCHED_TLB_FLUSH_MM"),
}


def backend_for(machine: Machine) -> TlbOps:
    """Model-only: the arm64 backend class of the baseline's series variant, constructed."""
    return VARIANTS[machine.baseline.variant][0](machine)


def _variant_of(cfg) -> str:
    """The series variant a KernelConfig names (v5, the default, with the choice hidden)."""
    for variant, (_, sym) in VARIANTS.items():
        if getattr(cfg, sym):
            return variant
    return "v5"


def _affected(cores, affected: dict[int, str]) -> str:
    """Model-only: "CPUs 0-3 are Cortex-A55 r2p0 (CONFIG_ARM64_ERRATUM_2441007=y)" for reasons."""
    groups: dict[tuple[str, str], list[int]] = {}
    for c, opt in sorted(affected.items()):
        groups.setdefault((str(cores[c]), opt), []).append(c)
    return "; ".join(f"CPU{'s' if len(cs) > 1 else ''} {_cpu_list(cs)} "
                     f"{'are' if len(cs) > 1 else 'is'} {core} (CONFIG_{opt}=y"
                     f"{_ERRATUM_NOTE.get(opt, '')})"
                     for (core, opt), cs in groups.items())


_ERRATUM_NOTE = {"ARM64_ERRATUM_2441007": "; every A55 revision since 171df58028bf"}


def _cpu_list(cpus: list[int]) -> str:
    """[0, 1, 2, 3, 5] -> "0-3,5"."""
    out, start = [], None
    for i, c in enumerate(cpus):
        if start is None:
            start = c
        if i + 1 == len(cpus) or cpus[i + 1] != c + 1:
            out.append(str(start) if start == c else f"{start}-{c}")
            start = None
    return ",".join(out)


def deferral_sets(cfg, cpus: int, on: bool, profile=None) -> list[str]:
    """Model-only: assignments making arm64 reclaim defer (or not) on *cpus* CPUs.

    *profile* is the machine (default: the arch's default profile): its
    cores decide which erratum options matter.  Empty when *cfg* already is
    that kernel, as :func:`decide` says -- the decision the booted backend
    takes, so ``tlb_flush_path().batched`` of the result is *on*.

    On: EXPERT=y (v5 selects batching only then), a v5 threshold below
    *cpus* (from the Kconfig default when *cfg* has none, EXPERT=n), the
    model-only never-defer knob off, and off every erratum option that is on
    and matches a core.  Off: on v5, raise the threshold to *cpus* (batching
    stays configured, arch_tlbbatch_should_defer() says no; this keeps any
    user assignment to the threshold valid); on the variants without a
    threshold (6.6 and later) the model-only knob
    MODEL_ARM64_TLBBATCH_NEVER_DEFER=y makes should_defer say no.
    """
    cores = _cores(profile, cpus)
    variant = _variant_of(cfg)
    d = decide(cfg, Arm64Facts(cpus, cores, variant, variant == "v5"))
    if d.defer is on:
        return []
    if not on:
        if d.threshold is None:
            return ["MODEL_ARM64_TLBBATCH_NEVER_DEFER=y"]
        return [f"ARM64_NR_CPUS_FOR_BATCHED_TLB={cpus}"]
    sets = [] if cfg.EXPERT else ["EXPERT=y"]
    if cfg.MODEL_ARM64_TLBBATCH_NEVER_DEFER:
        sets.append("MODEL_ARM64_TLBBATCH_NEVER_DEFER=n")
    if variant == "v5":
        threshold = d.threshold
        if threshold is None:           # not configured (EXPERT=n): the tree's default
            threshold = cfg.sym_default("ARM64_NR_CPUS_FOR_BATCHED_TLB")
        if cpus <= threshold:
            sets.append(f"ARM64_NR_CPUS_FOR_BATCHED_TLB={cpus - 1}")
    sets += [f"{e}=n" for e in errata_matching(cores) if cfg.IS_ENABLED(e)]
    return sets


def why(assignment: str, cpus: int) -> str | None:
    """Model-only: what one assignment of :func:`deferral_sets` does, in words (None: not arm64's)."""
    sym, _, val = assignment.partition("=")
    if sym == "EXPERT":
        return "EXPERT=y (v5 selects ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH only under EXPERT)"
    if assignment == "MODEL_ARM64_BATCHED_TLB_V5=y":
        return ("MODEL_ARM64_BATCHED_TLB_V5=y (the series as merged has no switch that stops "
                "deferral on unaffected cores, so B is v5, the Linux 6.1 baseline, with its "
                "threshold)")
    if sym == "ARM64_NR_CPUS_FOR_BATCHED_TLB":
        if int(val) < cpus:
            return f"the deferral threshold drops to {val}, below the {cpus} online CPUs"
        return (f"the deferral threshold rises to the {cpus} online CPUs, so "
                "arch_tlbbatch_should_defer() says no (batching stays configured; only the "
                "deferral decision changes)")
    if sym in ERRATA_REPEAT_TLBI:
        return (f"{assignment} drops a REPEAT_TLBI erratum workaround (only safe on cores "
                "without that erratum)")
    if sym == "MODEL_ARM64_TLBBATCH_NEVER_DEFER":
        if val == "y":
            return ("the model-only knob MODEL_ARM64_TLBBATCH_NEVER_DEFER=y (no upstream "
                    "counterpart; this variant has no CPU threshold) makes "
                    "arch_tlbbatch_should_defer() say no (batching stays configured; only the "
                    "deferral decision changes)")
        return "the model-only knob MODEL_ARM64_TLBBATCH_NEVER_DEFER is turned off"
    return None


def _cores(profile, cpus: int):
    """The cores of *profile*'s first *cpus* CPUs; None when unknown (no profile, or a
    profile without ``cores``): then no core is assumed affected by any erratum.
    Callers above the arch layer pass the machine's profile (report.flip_deferral
    defaults it to the arch's default profile)."""
    if profile is None or profile.cores is None:
        return None
    return cores_for_cpus(profile.cores, cpus)


__all__ = ["ERRATA_REPEAT_TLBI", "MAX_DVM_OPS", "MAX_TLBI_OPS", "VARIANTS", "Arm64Facts",
           "TlbOps", "TlbOps66", "TlbOpsFlushMm", "TlbOpsV5", "backend_for", "decide",
           "deferral_sets", "why"]
