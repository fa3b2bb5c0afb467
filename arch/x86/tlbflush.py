"""x86 TLB shootdown: local INVLPG/full flushes plus IPIs to the other CPUs.

Models: arch/x86/include/asm/tlbflush.h and arch/x86/mm/tlb.c (Linux 6.x):
``flush_tlb_mm_range``, ``flush_tlb_multi``, ``flush_tlb_func``,
``arch_tlbbatch_add_pending``, ``arch_tlbbatch_flush``,
``switch_mm_irqs_off`` and the ``tlb_gen`` bookkeeping that lets a CPU skip
or widen a flush.

Invariants this module owns:
  - Lazy TLB (``enter_lazy_tlb``): a CPU that switches to idle or a kernel
    thread keeps the mm loaded (``loaded_mm``) and its bit in
    ``mm_cpumask(mm)``, and is marked lazy.  So ``arch_tlbbatch_should_defer``
    (``cpumask_any_but``) counts it: an unpinned single-threaded process that
    migrated defers.  When it switches back to the same mm it compares the
    mm's ``tlb_gen`` with its own and flushes if it missed one.
  - Which flushes reach a lazy CPU: ``flush_tlb_page``/``flush_tlb_range``
    and the reclaim batch (``freed_tables`` false) skip it
    (``tlb_is_not_lazy``; since 6.14 ``should_flush_tlb``); ``flush_tlb_mm``
    (``freed_tables`` true) interrupts it, and the handler switches it to
    init_mm.
  - Which switch clears a bit: up to 6.13 a switch to *another* mm clears the
    previous mm's bit; since 209954cbc7d0 (6.14, the baseline's
    ``x86_mm_cpumask_lazy``) no switch does -- only a flush IPI that finds
    the CPU running another mm -- so the mask is a superset.
  - Any CPU that may hold a usable entry of *mm* is in the mask or will
    flush before using it (the ``tlb_gen`` check on the way back).
  - A remote flush is an IPI round (``smp_call_function_many_cond``): send
    to every target, run the local flush, then wait for the slowest
    acknowledgement -- the local flush overlaps the wait.
  - The reclaim batch ORs each mm's cpumask into ``batch.cpumask`` and bumps
    the mm's ``tlb_gen``; the batch flush is one IPI round with a full flush.
  - Counters and trace events use the kernel's names and are counted where
    the kernel counts them: ``nr_tlb_remote_flush`` per IPI round sent,
    ``nr_tlb_remote_flush_received`` on every remote handler (before the mm
    check), ``nr_tlb_local_flush_one``/``_all`` only by the initiating CPU's
    own flush; ``switch_mm_irqs_off`` counts nothing and traces
    TLB_FLUSH_ON_TASK_SWITCH (pages -1 when it flushed, 0 when not).

# MODEL: a full flush removes the current PCID's entries; other PCIDs are
# caught by the tlb_gen check when the CPU switches back, as upstream.
# MODEL: no PCID slots per CPU (TLB_NR_DYN_ASIDS = 6, a full flush when a slot
# is reused) and no PTI (flush_tlb_one_user marking the user PCID): one ASID
# per mm, never recycled.  x86 is not fitted, and neither changes whether
# reclaim defers or which CPUs a flush reaches.
# MODEL: while lazy, the CPU's hardware root is parked (``switch_pgd(None)``)
# although the kernel keeps CR3: nothing runs user code on an idle CPU, and
# parking makes the sanitizer treat its cached entries as "another mm's"
# (reported only if used), which is the kernel's own argument for skipping
# lazy CPUs.
# MODEL: no once-a-second mm_cpumask trim (6.14+ should_trim_cpumask, by
# jiffies): on the 6.16 baseline a bit of a CPU now running another mm is
# dropped only by a flush_tlb_mm-style flush (freed_tables), never by trim.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minikernel.arch import Decision, FlushPath, knob_why, nr_pages
from minikernel.arch.x86.tlbbatch import ArchTlbflushUnmapBatch
from minikernel.hw.cpu import (
    S_arch_tlbbatch_flush,
    S_flush_tlb_mm_range,
    S_smp_call_function_many_cond,
)
from minikernel.hw.mmu import (
    _PAGE_ACCESSED,
    _PAGE_DIRTY,
    _PAGE_PRESENT,
    _PAGE_PROTNONE,
    _PAGE_RW,
    ASID_SHIFT,
    PAGE_SHIFT,
    PAGE_SIZE,
    pte_pfn,
)
from minikernel.hw.x86 import Apic

if TYPE_CHECKING:
    from minikernel.hw.cpu import Cpu
    from minikernel.machine import Machine
    from minikernel.mm.mm_types import MmStruct, VmAreaStruct

TLB_FLUSH_ALL = -1

# include/linux/mm_types.h enum tlb_flush_reason
TLB_FLUSH_ON_TASK_SWITCH = "flush on task switch"
TLB_REMOTE_SHOOTDOWN = "remote shootdown"
TLB_LOCAL_SHOOTDOWN = "local shootdown"
TLB_LOCAL_MM_SHOOTDOWN = "local mm shootdown"
TLB_REMOTE_SEND_IPI = "remote ipi send"
TLB_REMOTE_WRONG_CPU = "remote wrong CPU"      # 2815a56e4b72 (6.14)

# Above this many pages, flush the whole TLB instead of INVLPG per page
# (arch/x86/mm/tlb.c: tlb_single_page_flush_ceiling, default 33).
tlb_single_page_flush_ceiling = 33


def decide(cfg, invlpgb: bool = False) -> Decision:
    """Models: whether x86 reclaim may defer, as far as boot can tell (should_defer_flush()'s config test).

    Pure.  x86 selects ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH unconditionally
    (only the model-only knob drops it); then the decision is per mm, at run
    time, in :meth:`TlbOps.arch_tlbbatch_should_defer`: "per-mm".  *invlpgb*:
    the backend flushes global-ASID mms by INVLPGB (:func:`backend_for`),
    which the reason says.
    """
    if not cfg.ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH:
        return Decision(False, "synchronous", None,
                        "off by the model-only knob "
                        "CONFIG_X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y (no upstream "
                        "counterpart; real x86 always batches): every unmapped PTE "
                        "is flushed at once (flush_tlb_mm_range)", 0)
    reason = ("configured: X86 selects ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH "
              "unconditionally; reclaim defers a flush only while the mm is "
              "active on another CPU (a local flush is one INVLPG), then sends "
              "one IPI round per batch")
    if invlpgb:
        reason += ("; INVLPGB (X86_BROADCAST_TLB_FLUSH): an mm loaded on more than 3 CPUs gets a "
                   "global ASID and is flushed by INVLPGB + TLBSYNC")
        if cfg.MODEL_X86_REVERT_TLBBATCH_FLUSH_BOTH:
            reason += (" -- with MODEL_X86_REVERT_TLBBATCH_FLUSH_BOTH=y: arch_tlbbatch_flush() "
                       "TLBSYNCs instead of IPIing the cpumask (the version found in review)")
    return Decision(True, "per-mm", None, reason)


class TlbOps:
    """The x86 backend of :class:`minikernel.arch.ArchTlbOps`, up to Linux 6.13.

    At a switch to another mm the previous mm's ``mm_cpumask`` bit is
    cleared.  :class:`TlbOpsLazyCpumask` is 6.14 and later.

    apic:        IPIs and local invalidation instructions
    loaded_mm:   per CPU, the mm whose page table is loaded
                 (``cpu_tlbstate.loaded_mm``; None: init_mm)
    is_lazy:     per CPU, in lazy TLB mode (``cpu_tlbstate_shared.is_lazy``)
    cpu_tlb_gen: per CPU, asid -> the mm tlb_gen this CPU's TLB is known to
                 reflect (``cpu_tlbstate.ctxs[].tlb_gen``)
    decision:    the boot-time deferral decision (:func:`decide`)
    """

    #: mm_cpumask is updated lazily (6.14+, :class:`TlbOpsLazyCpumask`): a
    #: class fact, the baseline's ``x86_mm_cpumask_lazy``.
    lazy_cpumask = False
    #: flushes global-ASID mms by INVLPGB (:class:`~minikernel.arch.x86.invlpgb.InvlpgbTlbOps`)
    INVLPGB = False

    def __init__(self, machine: Machine) -> None:
        p = machine.profile
        self.machine = machine
        self.vmstat = machine.vmstat
        self.apic = Apic(machine.tlbs, send_ns=p.ipi_send_ns, latency_ns=p.ipi_latency_ns,
                         entry_ns=p.ipi_entry_ns, invlpg_ns=p.invlpg_ns,
                         flush_ns=p.flush_tlb_ns)
        assert machine.baseline.x86_mm_cpumask_lazy == self.lazy_cpumask   # backend_for's choice
        self.decision = decide(machine.cfg, self.INVLPGB)
        self.batching = self.decision.defer
        self.cpus = machine.cpus
        self.loaded_mm: list[MmStruct | None] = [None] * machine.nr_cpus
        self.is_lazy: list[bool] = [False] * machine.nr_cpus
        self.cpu_tlb_gen: list[dict[int, int]] = [{} for _ in range(machine.nr_cpus)]

    # arch/x86/mm/tlb.c

    def flush_tlb_func(self, cpu: Cpu, mm: MmStruct | None, start: int, end: int,
                       new_tlb_gen: int, local: bool) -> None:
        """Models: flush_tlb_func(): bring this CPU's TLB up to *mm*'s tlb_gen.

        A remote handler counts ``nr_tlb_remote_flush_received`` first, then
        returns if this CPU no longer runs *mm* (since 6.14 also dropping
        its stale bit from the mask).  A lazy CPU switches to init_mm.
        Otherwise it skips the work if it already caught up, and widens a
        partial flush to a full one if it missed an earlier generation or
        the range is past the single-page ceiling.  Only the initiator's own
        flush counts as ``nr_tlb_local_flush_*``.  *mm* None is the reclaim
        batch: a full flush of whatever is loaded.
        """
        me = cpu.id
        loaded = self.loaded_mm[me]
        vs = self.vmstat
        if not local:
            vs.nr_tlb_remote_flush_received += 1
        if mm is not None and loaded is not mm:
            if self.lazy_cpumask:
                mm.mm_cpumask &= ~(1 << me)     # the CPU was left in the mask: clear it
                self.machine.trace_tlb_flush(cpu, TLB_REMOTE_WRONG_CPU, 0)
            return
        if loaded is None:
            return                              # init_mm: no user entries to flush
        if self.is_lazy[me]:
            # Lazy: leave the mm for init_mm rather than flush (the IPI came
            # because page tables may be freed).
            self._switch_to_init_mm(cpu)
            return
        mine = self.cpu_tlb_gen[me]
        local_gen = mine.get(loaded.asid, 0)
        mm_gen = loaded.tlb_gen
        if local_gen >= mm_gen:
            return
        if not local:
            reason = TLB_REMOTE_SHOOTDOWN
        elif mm is None:
            reason = TLB_LOCAL_SHOOTDOWN        # the reclaim batch's full flush
        else:
            reason = TLB_LOCAL_MM_SHOOTDOWN
        pages = -1 if end == TLB_FLUSH_ALL else nr_pages(start, end)
        if (mm is not None and pages != -1 and pages <= tlb_single_page_flush_ceiling
                and new_tlb_gen == local_gen + 1 and new_tlb_gen == mm_gen):
            base = loaded.asid << ASID_SHIFT
            for addr in range(start, end, PAGE_SIZE):
                self.apic.invlpg(cpu, base | addr >> PAGE_SHIFT)
            if local:
                vs.nr_tlb_local_flush_one += pages
        else:
            self.apic.flush_local_asid(cpu, loaded.asid)
            if local:
                vs.nr_tlb_local_flush_all += 1
            pages = -1
        mine[loaded.asid] = mm_gen
        self.machine.trace_tlb_flush(cpu, reason, pages)

    def flush_tlb_multi(self, cpu: Cpu, cpumask: int, mm: MmStruct | None, start: int,
                        end: int, new_tlb_gen: int, freed_tables: bool = False) -> None:
        """Models: native_flush_tlb_multi(): IPI the other CPUs in *cpumask*, flush locally if in it.

        Without *freed_tables* lazy CPUs get no IPI (``tlb_is_not_lazy``);
        since 6.14 (``should_flush_tlb``) neither do CPUs in the mask that
        run another mm.  ``smp_call_function_many_cond`` sends the IPIs,
        runs the local flush, then spins until every target acknowledged.
        """
        vs = self.vmstat
        vs.nr_tlb_remote_flush += 1
        self.machine.trace_tlb_flush(cpu, TLB_REMOTE_SEND_IPI,
                                     -1 if end == TLB_FLUSH_ALL else nr_pages(start, end))
        cpus = self.cpus
        me = cpu.id
        others = _bits(cpumask & ~(1 << me))
        if freed_tables:
            targets = [cpus[i] for i in others]
        elif self.lazy_cpumask and mm is not None:
            loaded, lazy = self.loaded_mm, self.is_lazy
            targets = [cpus[i] for i in others if not lazy[i] and loaded[i] is mm]
        else:
            lazy = self.is_lazy
            targets = [cpus[i] for i in others if not lazy[i]]
        local = None
        # The local CPU passes the same condition (6.14+: a CPU left in the
        # mask while running another mm runs nothing unless tables were freed).
        if cpumask >> me & 1 and (freed_tables or not self.lazy_cpumask or mm is None
                                  or self.loaded_mm[me] is mm):
            def local():
                """Models: the local flush_tlb_func() call inside smp_call_function_many_cond()."""
                self.flush_tlb_func(cpu, mm, start, end, new_tlb_gen, True)
        saved = cpu.sym
        cpu.sym = S_smp_call_function_many_cond
        try:
            self.apic.ipi_round(cpu, targets,
                                lambda t: self.flush_tlb_func(t, mm, start, end, new_tlb_gen, False),
                                "flush_tlb_func", "smp_call_function_many_cond", local=local,
                                local_sym=saved)
        finally:
            cpu.sym = saved

    def flush_tlb_mm_range(self, cpu: Cpu, mm: MmStruct, start: int, end: int,
                           freed_tables: bool = False) -> None:
        """Models: flush_tlb_mm_range(): bump tlb_gen, flush here, IPI the mm's other CPUs."""
        saved = cpu.sym
        cpu.sym = S_flush_tlb_mm_range
        try:
            mm.tlb_gen += 1
            new_gen = mm.tlb_gen
            if mm.mm_cpumask & ~(1 << cpu.id):
                self.flush_tlb_multi(cpu, mm.mm_cpumask, mm, start, end, new_gen, freed_tables)
            elif self.loaded_mm[cpu.id] is mm:
                self.flush_tlb_func(cpu, mm, start, end, new_gen, True)
        finally:
            cpu.sym = saved

    # asm/tlbflush.h verbs

    def flush_tlb_page(self, cpu: Cpu, vma: VmAreaStruct, uaddr: int) -> None:
        """Models: flush_tlb_page() = flush_tlb_mm_range() of one page."""
        self.flush_tlb_mm_range(cpu, vma.vm_mm, uaddr, uaddr + PAGE_SIZE)

    def flush_tlb_range(self, cpu: Cpu, vma: VmAreaStruct, start: int, end: int) -> None:
        """Models: flush_tlb_range()."""
        self.flush_tlb_mm_range(cpu, vma.vm_mm, start, end)

    def flush_tlb_mm(self, cpu: Cpu, mm: MmStruct) -> None:
        """Models: flush_tlb_mm() = flush_tlb_mm_range(mm, 0, TLB_FLUSH_ALL, 0, freed_tables=true).

        freed_tables makes it interrupt lazy CPUs too.
        """
        self.flush_tlb_mm_range(cpu, mm, 0, TLB_FLUSH_ALL, freed_tables=True)

    def tlb_flush(self, cpu: Cpu, tlb) -> None:
        """Models: x86 tlb_flush(): flush_tlb_mm_range(mm, start, end, stride, tlb->freed_tables).

        With freed page tables lazy CPUs are interrupted too: they may still
        walk the freed tables (a lazy CPU keeps the mm's CR3).
        """
        if tlb.freed_tables:
            self.flush_tlb_mm_range(cpu, tlb.vma.vm_mm, tlb.start, tlb.end, freed_tables=True)
        else:
            self.flush_tlb_range(cpu, tlb.vma, tlb.start, tlb.end)

    def pte_needs_flush(self, oldpte: int, newpte: int) -> bool:
        """Models: x86 pte_needs_flush() (6.0, with mprotect's mmu_gather): flush only what can matter.

        A non-present old PTE was never cached; a new pfn, a cleared dirty or
        present bit, or a change of write permission (or to PROT_NONE, which
        x86 encodes in _PAGE_GLOBAL's bit) needs a flush; the accessed bit
        is ignored.
        """
        if not oldpte & _PAGE_PRESENT:
            return False
        if pte_pfn(oldpte) != pte_pfn(newpte):
            return True
        diff = (oldpte ^ newpte) & ~_PAGE_ACCESSED
        if diff & oldpte & (_PAGE_DIRTY | _PAGE_PRESENT):
            return True
        return bool(diff & (_PAGE_RW | _PAGE_PROTNONE))

    def ptep_clear_flush_young(self, cpu: Cpu, vma: VmAreaStruct, addr: int) -> bool:
        """Models: x86 ptep_clear_flush_young(): clear the Accessed bit and flush nothing.

        x86 deliberately skips the flush ("clearing the accessed bit without a
        TLB flush doesn't cause data corruption"): a cached entry keeps the
        page looking unused until it is evicted.  Called by
        folio_referenced_one() for each mapping of a folio.
        """
        pgd = vma.vm_mm.pgd
        vpn = addr >> PAGE_SHIFT
        pte = pgd.get(vpn, 0)
        if not pte & _PAGE_ACCESSED:            # pte_young(), written out
            return False
        pgd[vpn] = pte & ~_PAGE_ACCESSED        # pte_mkold(), written out
        return True

    def arch_tlbbatch_should_defer(self, cpu: Cpu, mm: MmStruct) -> bool:
        """Models: x86 arch_tlbbatch_should_defer(): defer if ``mm_cpumask`` has another CPU.

        A local flush is one INVLPG; batching only pays when it saves IPIs.
        The mask includes lazy CPUs (idle since this mm ran there), so a
        single-threaded process that migrated defers.  The part boot can
        decide (batching configured) is :func:`decide`'s "per-mm"; this is
        the run-time half, the only one that depends on the mm.
        """
        return mm.mm_cpumask & ~(1 << cpu.id) != 0     # bool() without the call

    def arch_tlbbatch_add_pending(self, cpu: Cpu, batch: ArchTlbflushUnmapBatch,
                                  mm: MmStruct, uaddr: int) -> None:
        """Models: arch_tlbbatch_add_pending(): remember the mm's CPUs; bump its tlb_gen.

        The bump makes a CPU that leaves and later re-enters the mm flush on
        the way back in, even though the batch IPI will have missed it.
        """
        mm.tlb_gen += 1
        batch.cpumask |= mm.mm_cpumask

    def arch_tlbbatch_flush(self, cpu: Cpu, batch: ArchTlbflushUnmapBatch) -> None:
        """Models: arch_tlbbatch_flush(): one IPI round, a full flush on every CPU in the mask."""
        saved = cpu.sym
        cpu.sym = S_arch_tlbbatch_flush
        try:
            mask = batch.cpumask
            if mask & ~(1 << cpu.id):
                self.flush_tlb_multi(cpu, mask, None, 0, TLB_FLUSH_ALL, 0)
            elif mask >> cpu.id & 1:
                self.flush_tlb_func(cpu, None, 0, TLB_FLUSH_ALL, 0, True)
            batch.cpumask = 0
        finally:
            cpu.sym = saved

    def arch_flush_tlb_batched_pending(self, cpu: Cpu, mm: MmStruct) -> None:
        """Models: x86 arch_flush_tlb_batched_pending() = flush_tlb_mm()."""
        self.flush_tlb_mm(cpu, mm)

    def switch_mm(self, cpu: Cpu, prev: MmStruct | None, next: MmStruct | None) -> None:
        """Models: switch_mm_irqs_off(), and enter_lazy_tlb() when *next* is None (idle).

        Going idle keeps the mm loaded and its cpumask bit, and marks the CPU
        lazy.  Coming back to the same mm flushes only if its tlb_gen moved
        on meanwhile.  Switching to another mm sets that mm's bit and, up to
        6.13, clears the previous one's; then catches up on missed flushes.
        Counts nothing (upstream neither).
        """
        me = cpu.id
        real_prev = self.loaded_mm[me]
        if next is None:
            if real_prev is not None:           # enter_lazy_tlb()
                self.is_lazy[me] = True
                cpu.switch_pgd(None, 0)         # MODEL: parked, see the module docstring
            return
        was_lazy = self.is_lazy[me]
        self.is_lazy[me] = False
        mine = self.cpu_tlb_gen[me]
        cpu.switch_pgd(next.pgd, next.asid)
        if real_prev is next:
            if not was_lazy or mine.get(next.asid, 0) == next.tlb_gen:
                return
            # TLB contents went out of date while lazy.
            self.apic.flush_local_asid(cpu, next.asid)
            mine[next.asid] = next.tlb_gen
            self.machine.trace_tlb_flush(cpu, TLB_FLUSH_ON_TASK_SWITCH, -1)
            return
        if real_prev is not None and not self.lazy_cpumask:
            real_prev.mm_cpumask &= ~(1 << me)
        next.mm_cpumask |= 1 << me
        self.loaded_mm[me] = next
        if mine.get(next.asid, 0) < next.tlb_gen:
            self.apic.flush_local_asid(cpu, next.asid)
            self.machine.trace_tlb_flush(cpu, TLB_FLUSH_ON_TASK_SWITCH, -1)
        else:
            self.machine.trace_tlb_flush(cpu, TLB_FLUSH_ON_TASK_SWITCH, 0)
        mine[next.asid] = next.tlb_gen

    def _switch_to_init_mm(self, cpu: Cpu) -> None:
        """Models: switch_mm_irqs_off(NULL, &init_mm, NULL) from a lazy CPU's flush_tlb_func()."""
        me = cpu.id
        prev = self.loaded_mm[me]
        if prev is not None and not self.lazy_cpumask:
            prev.mm_cpumask &= ~(1 << me)
        self.loaded_mm[me] = None
        self.is_lazy[me] = False
        cpu.switch_pgd(None, 0)

    def switch_to(self, cpu: Cpu, prev, next) -> None:
        """Models: x86 __switch_to(): nothing TLB-related."""

    #: Entry symbols charged by generic code: the idtentry stub and its C
    #: handler for a page fault, the syscall entry and its C dispatcher.
    fault_entry_syms = ("asm_exc_page_fault", "exc_page_fault")
    syscall_entry_syms = ("entry_SYSCALL_64", "do_syscall_64")

    def new_batch(self) -> ArchTlbflushUnmapBatch:
        """Model-only: an empty x86 batch."""
        return ArchTlbflushUnmapBatch()

    def tlb_flush_path(self) -> FlushPath:
        """Model-only: the boot-time decision (:func:`decide`); x86 decides per mm at run time."""
        return self.decision.flush_path

    def counters(self) -> dict[str, int]:
        """Model-only: IPIs sent."""
        return {"ipis_sent": self.apic.ipis_sent}


def _bits(mask: int):
    """CPU numbers set in an int cpumask, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


class TlbOpsLazyCpumask(TlbOps):
    """The x86 backend from Linux 6.14: ``mm_cpumask`` updated lazily (209954cbc7d0).

    No switch clears a bit; only a flush IPI that finds the CPU running
    another mm does (``flush_tlb_func``, TLB_REMOTE_WRONG_CPU), and flushes
    skip CPUs in the mask that run another mm (``should_flush_tlb``).  The
    verbs read the class's ``lazy_cpumask`` where upstream's code differs.
    """

    lazy_cpumask = True


def backend_for(machine: Machine) -> TlbOps:
    """Model-only: the x86 backend class the baseline and the CPUs call for, constructed.

    6.14 and later (the baseline's ``x86_mm_cpumask_lazy``):
    :class:`TlbOpsLazyCpumask`; with INVLPGB where the kernel
    (X86_BROADCAST_TLB_FLUSH, 6.16) and the CPUs have it, its subclass
    :class:`~minikernel.arch.x86.invlpgb.InvlpgbTlbOps`.
    """
    if machine.cfg.X86_BROADCAST_TLB_FLUSH and machine.profile.invlpgb:
        from minikernel.arch.x86.invlpgb import InvlpgbTlbOps
        return InvlpgbTlbOps(machine)
    if machine.baseline.x86_mm_cpumask_lazy:
        return TlbOpsLazyCpumask(machine)
    return TlbOps(machine)


def deferral_sets(cfg, cpus: int, on: bool, profile=None) -> list[str]:
    """Model-only: assignments configuring x86 batching on or off (:func:`decide` says which is).

    x86 always selects batching upstream; "off" needs the model-only knob
    X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH (under EXPERT).  "On" cannot force
    deferral: arch_tlbbatch_should_defer() still wants the mm on another CPU.
    """
    if decide(cfg).defer is on:
        return []
    if on:
        return ["X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=n"]
    return ([] if cfg.EXPERT else ["EXPERT=y"]) + ["X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y"]


def why(assignment: str, cpus: int) -> str | None:
    """Model-only: what one assignment of :func:`deferral_sets` does, in words (None: not x86's)."""
    return knob_why(assignment, "X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH", "real x86 always batches",
                    "X86 selects batching as upstream")
