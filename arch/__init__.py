"""Architecture backends and the one interface generic mm code may call.

Models: the arch side of batched unmap TLB flushing -- the
``arch_tlbbatch_*`` verbs of arch/*/include/asm/tlbflush.h and the
``flush_tlb_*`` family -- as a Protocol, plus the registry from which boot
picks one backend per machine (the only place that looks at SRCARCH).

Invariants this module owns:
  - Generic mm code reaches TLB maintenance only through :class:`ArchTlbOps`,
    handed to it on the Machine at boot; ``mm/`` never imports
    ``minikernel.arch.arm64`` or ``minikernel.arch.x86``.
  - Every backend keeps the promise of the verbs' docstrings below; a
    contract test runs each registered backend against them.
  - Each backend module decides about deferred flushing once: its pure
    ``decide(cfg, facts)`` returns a :class:`Decision`, which the backend
    computes at boot and its ``arch_tlbbatch_should_defer``,
    ``tlb_flush_path`` and ``deferral_sets`` all read; ``deferral_why``
    explains the assignments with the same backend's words.

Every backend module provides: ``backend_for(machine)`` (the variant class
the machine's facts choose, constructed), ``decide(cfg, facts)``,
``deferral_sets(cfg, cpus, on, profile)`` and ``why(assignment, cpus)``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from minikernel.compat import SLOTS
from minikernel.hw.mmu import PAGE_SHIFT, PAGE_SIZE

if TYPE_CHECKING:
    from collections.abc import Callable

    from minikernel.hw.cpu import Cpu
    from minikernel.machine import Machine
    from minikernel.mm.mm_types import MmStruct, VmAreaStruct

# SRCARCH -> the backend module (see the module docstring).  The one dispatch point.
BACKENDS: dict[str, str] = {
    "arm64": "minikernel.arch.arm64.tlbflush",
    "x86": "minikernel.arch.x86.tlbflush",
    "riscv": "minikernel.arch.riscv.tlbflush",
}


@dataclass(frozen=True, **SLOTS)
class FlushPath:
    """Model-only: what boot decided about deferred TLB flushing, and why.

    batched: True when reclaim may defer flushes on this machine (on x86
             that still depends on the mm: only one active on another CPU
             defers); False when every unmapped PTE is flushed at once
    reason:  one line a kernel engineer would accept as the explanation
    """

    batched: bool
    reason: str


@dataclass(frozen=True, **SLOTS)
class Decision:
    """Model-only: a backend's deferral decision, computed once by its pure ``decide()``.

    defer:     reclaim may defer flushes on this machine (FlushPath.batched;
               on x86 it still depends on the mm running on another CPU)
    path:      how reclaim's unmapped PTEs are flushed: "synchronous" (each at
               once, ptep_clear_flush), "batched" (deferred to one flush per
               batch) or "per-mm" (x86: batched only for an mm active on
               another CPU)
    threshold: the CPU-count threshold in force (arm64 v5:
               ARM64_NR_CPUS_FOR_BATCHED_TLB), None when there is none
    reason:    one line a kernel engineer would accept as the explanation
    defer_cpus: bitmask of the CPUs whose reclaim defers (arm64 v5 defers
               only on cores without the REPEAT_TLBI erratum); -1: every CPU
               the decision applies to
    """

    defer: bool
    path: str
    threshold: int | None
    reason: str
    defer_cpus: int = -1

    @property
    def flush_path(self) -> FlushPath:
        """Model-only: the report's view of the decision (``tlb_flush_path``)."""
        return FlushPath(self.defer, self.reason)


class ArchTlbOps(Protocol):
    """The TLB-maintenance verbs an architecture provides to generic mm code.

    Every verb takes ``cpu``, the CPU executing it (the kernel's implicit
    ``smp_processor_id()``), and charges its cost there.

    The promise, in our words: after ``flush_tlb_page/range/mm`` return, no
    CPU can use a translation for the flushed range that was cached before
    the call.  ``arch_tlbbatch_add_pending`` may leave such translations
    usable; ``arch_tlbbatch_flush`` on the batch they were added to ends that,
    for every CPU, before it returns.
    """

    def arch_tlbbatch_should_defer(self, cpu: Cpu, mm: MmStruct) -> bool:
        """Models: arch_tlbbatch_should_defer(): is deferring this mm's flushes worth it?"""
        ...

    def arch_tlbbatch_add_pending(self, cpu: Cpu, batch: Any, mm: MmStruct,
                                  uaddr: int) -> None:
        """Models: arch_tlbbatch_add_pending() (v5: arch_tlbbatch_add_mm()): note a PTE cleared without a flush."""
        ...

    def arch_tlbbatch_flush(self, cpu: Cpu, batch: Any) -> None:
        """Models: arch_tlbbatch_flush(): complete every invalidation noted in *batch*."""
        ...

    def arch_flush_tlb_batched_pending(self, cpu: Cpu, mm: MmStruct) -> None:
        """Models: arch_flush_tlb_batched_pending(): called by flush_tlb_batched_pending()."""
        ...

    def flush_tlb_page(self, cpu: Cpu, vma: VmAreaStruct, uaddr: int) -> None:
        """Models: flush_tlb_page()."""
        ...

    def flush_tlb_range(self, cpu: Cpu, vma: VmAreaStruct, start: int, end: int) -> None:
        """Models: flush_tlb_range()."""
        ...

    def flush_tlb_mm(self, cpu: Cpu, mm: MmStruct) -> None:
        """Models: flush_tlb_mm()."""
        ...

    def tlb_flush(self, cpu: Cpu, tlb: Any) -> None:
        """Models: the arch's tlb_flush(struct mmu_gather *): flush *tlb*'s span [start, end).

        Without ``tlb.freed_tables`` it is ``flush_tlb_range(tlb.vma, start,
        end)``.  With it the gather holds page tables free_pgtables() freed
        (one page at each table's address), and the flush must also reach
        what caches those tables: x86 interrupts lazy CPUs, arm64 issues
        non-leaf TLBIs at PMD_SIZE stride, riscv (6.8) flushes the whole mm.
        """
        ...

    def pte_needs_flush(self, oldpte: int, newpte: int) -> bool:
        """Models: pte_needs_flush(): must a TLB flush follow changing *oldpte* to *newpte*?

        mprotect gathers only the PTEs for which this holds.  arm64 uses the
        generic default (always); x86 skips changes no TLB can notice.
        """
        ...

    def ptep_clear_flush_young(self, cpu: Cpu, vma: VmAreaStruct, addr: int) -> bool:
        """Models: ptep_clear_flush_young(): test and clear the PTE's young bit, flushing as the arch does.

        Returns whether it was young.  arm64 issues a TLBI and does not wait
        for it; x86 flushes nothing.  Reclaim's reference checks
        (folio_referenced) call it on every mapping of a folio.
        """
        ...

    def switch_mm(self, cpu: Cpu, prev: MmStruct | None, next: MmStruct | None) -> None:
        """Models: switch_mm(): load *next*'s page table on *cpu* (None: idle or a kthread,
        which keeps the previous mm lazily where the arch does: x86 enter_lazy_tlb())."""
        ...

    def switch_to(self, cpu: Cpu, prev: Any, next: Any) -> None:
        """Models: the arch half of switch_to() (__switch_to), on every task switch."""
        ...

    #: Entry symbols generic code charges, in order, on a user page fault and
    #: on a syscall (the arch's spelling: arm64 el0_da / el0_svc; x86
    #: asm_exc_page_fault + exc_page_fault / entry_SYSCALL_64 + do_syscall_64).
    fault_entry_syms: tuple[str, ...]
    syscall_entry_syms: tuple[str, ...]

    def new_batch(self) -> Any:
        """Model-only: a fresh, empty per-arch batch (ArchTlbflushUnmapBatch)."""
        ...

    def tlb_flush_path(self) -> FlushPath:
        """Model-only: the boot-time decision about deferred flushing, with its reason."""
        ...

    def counters(self) -> dict[str, int]:
        """Model-only: arch-specific TLB maintenance counters for reports."""
        ...


def backend(arch: str) -> ModuleType:
    """Model-only: the backend module of SRCARCH *arch* (the one dispatch point)."""
    try:
        modname = BACKENDS[arch]
    except KeyError:
        raise NotImplementedError(
            f"unsupported SRCARCH {arch!r} (known: {', '.join(sorted(BACKENDS))})") from None
    return importlib.import_module(modname)


def tlb_ops_for(machine: Machine) -> ArchTlbOps:
    """Model-only: construct the backend for ``machine.cfg.arch``.

    The module's ``backend_for(machine)`` picks the variant class from the
    machine's facts (arm64: the series variant; x86: the mm_cpumask
    behaviour and INVLPGB; riscv: one class).
    """
    ops = backend(machine.cfg.arch).backend_for(machine)
    return ops if backend_override is None else backend_override(machine, ops)


#: Model-only test seam, None in every real run: ``backend_override(machine,
#: ops)`` returns the backend the machine gets instead of *ops*, the one chosen
#: above.  tests/arch/test_broken_backends.py sets it to hand deliberately
#: broken subclasses of the shipped backends to every Machine, however built.
backend_override: Callable[[Machine, Any], Any] | None = None


def deferral_sets(cfg: Any, cpus: int, on: bool, profile: Any = None) -> list[str]:
    """Model-only: the fewest ``SYM=VAL`` assignments that turn deferred flushing on or off.

    Used to build the other side of an A/B run or a sweep point: applied to
    *cfg* with ``cfg.with_sets()``, they give a kernel on *cpus* CPUs whose
    reclaim defers (on=True) or never defers (on=False); an empty list means
    *cfg* already is that kernel.  On x86 "on" only configures batching:
    whether reclaim defers still depends on the mm running on several CPUs.
    *profile* is the machine (MachineProfile; default: the arch's default),
    whose facts (arm64: the cores, for the errata) may decide.
    """
    return backend(cfg.arch).deferral_sets(cfg, cpus, on, profile)


def deferral_why(arch: str, assignment: str, cpus: int) -> str:
    """Model-only: what one assignment of :func:`deferral_sets` does, in the backend's words.

    An assignment no backend explains is returned as it is.
    """
    return backend(arch).why(assignment, cpus) or assignment


def knob_why(assignment: str, knob: str, upstream: str, selects: str) -> str | None:
    """Model-only: the words for an assignment to a "no batching" model-only *knob* (x86, riscv).

    *upstream* says what real kernels do, *selects* who selects batching when
    the knob is off.  ``EXPERT=y`` is explained too: on these arches it only
    makes the knob visible.  None when *assignment* is neither.
    """
    sym, _, val = assignment.partition("=")
    if sym == "EXPERT":
        return "EXPERT=y (it only makes the model-only knob visible)"
    if sym != knob:
        return None
    if val == "y":
        return (f"the model-only knob {knob}=y (no upstream counterpart; {upstream}) drops "
                "the select")
    return f"the model-only knob is turned off, so {selects}"


def nr_pages(start: int, end: int) -> int:
    """Model-only: pages in [start, end) for byte addresses rounded to pages."""
    return ((end + PAGE_SIZE - 1) >> PAGE_SHIFT) - (start >> PAGE_SHIFT)
