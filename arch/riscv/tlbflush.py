"""riscv TLB shootdown: local SFENCE.VMA, remote fences by SBI RFENCE or by kernel IPIs.

Models: arch/riscv/include/asm/tlbflush.h, arch/riscv/mm/tlbflush.c and the
``switch_mm``/``set_mm`` half of arch/riscv/mm/context.c, as in Linux 6.8
(the release that added batched unmap flushing to riscv, 54d7431af73e) and
6.6 (before it): ``__flush_tlb_range``, ``local_flush_tlb_range_asid``,
``flush_tlb_page``/``_range``/``_mm``, ``arch_tlbbatch_should_defer``,
``arch_tlbbatch_add_pending``, ``arch_tlbbatch_flush``,
``arch_flush_tlb_batched_pending``.

Invariants this module owns:
  - ``sfence.vma`` is local: a flush reaches another hart only through a
    remote fence over a cpumask, which returns when every target is done
    (SBI RFENCE is synchronous; so is ``on_each_cpu_mask(..., wait=1)``).
    Nothing is left outstanding after a flush verb returns: unlike arm64,
    no later instruction is needed to complete an invalidation.
  - Which remote path: the machine's ``riscv_use_ipi_for_rfence()`` -- true
    only when S-mode has its own IPI device (AIA IMSIC, ACLINT SSWI); a
    machine whose IPIs go through SBI (the JH7110: OpenSBI's aclint-mswi)
    sends every remote flush as an SBI RFENCE ecall.
  - ``__flush_tlb_range`` interrupts other harts only when the mask has one
    (``cpumask_any_but``); otherwise it fences locally.  Locally, more than
    ``tlb_flush_all_threshold`` pages (64 since 6.8; 6.6 has no threshold:
    anything above one page) become one whole-ASID fence.  On the SBI path
    the firmware applies its own limit instead (OpenSBI: 4 KiB).
  - mm_cpumask: with the ASID allocator (hardware ASIDs) a hart's bit is
    never cleared at a switch (``set_mm``, since 82dd33fde026: the hart may
    still cache the mm's entries under its ASID), so the mask is a
    superset; without ASIDs (the JH7110's U74: 0 ASID bits) a switch clears
    the previous mm's bit and fences the whole local TLB
    (``set_mm_noasid``), so no entry of another mm survives on the hart.
  - Reclaim (6.8): ``arch_tlbbatch_should_defer`` always says yes (the one
    pure decision is :func:`riscv_tlbbatch_should_defer`); the batch ORs
    each mm's cpumask; ``arch_tlbbatch_flush`` is one remote fence of
    everything (no ASID, whole range) over that mask, then clears it.
  - Counters: riscv counts none of x86's nr_tlb_* vmstat events; the
    backend reports sfence_vma, sfence_vma_all, sbi_rfence and ipis_sent.

# MODEL: without hardware ASIDs the kernel's fences carry no ASID
# (FLUSH_TLB_NO_ASID: ``sfence.vma addr`` for every address space); the
# model's TLB keys still carry the mm's ASID, and it fences the key of the
# mm being flushed -- the same entries, because set_mm_noasid() leaves no
# other mm's entries on a hart.
# MODEL: no SiFive CIP-1200 workaround (fence everything instead of by
# address): Linux's errata check matches older U54/U74 implementation IDs,
# not -- assumed, from its mimpid -- the JH7110's.
# MODEL: the generic lazy-TLB switch to a kernel thread or idle keeps the mm
# loaded and its bit set (riscv has no enter_lazy_tlb work), so remote
# fences keep reaching an idle hart that last ran the mm, as upstream.
# MODEL: the ASID allocator's generations and rollover flushes are not
# modelled: one ASID per mm, never recycled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minikernel.arch import Decision, FlushPath, knob_why, nr_pages
from minikernel.arch.riscv.tlbbatch import ArchTlbflushUnmapBatch
from minikernel.hw.cpu import (
    S___flush_tlb_range,
    S_arch_tlbbatch_flush,
    S_switch_mm,
)
from minikernel.hw.mmu import ASID_SHIFT, PAGE_SHIFT, PAGE_SIZE, pte_mkold, pte_young
from minikernel.hw.riscv import SBI_TLB_RANGE_FLUSH_LIMIT_PAGES, RiscvTlb

if TYPE_CHECKING:
    from minikernel.hw.cpu import Cpu
    from minikernel.machine import Machine
    from minikernel.mm.mm_types import MmStruct, VmAreaStruct

#: arch/riscv/include/asm/tlbflush.h: "whole range" and "no ASID" markers.
FLUSH_TLB_MAX_SIZE = -1
FLUSH_TLB_NO_ASID = -1


def riscv_tlbbatch_should_defer(batching: bool) -> FlushPath:
    """Models: riscv arch_tlbbatch_should_defer() (6.8) with should_defer_flush()'s config test.

    The one deferral rule of the riscv backend, pure: with batching
    configured every reclaim unmap defers -- riscv's ``arch_tlbbatch_should_defer``
    returns true unconditionally (a local flush is one sfence.vma, but the
    mm's cpumask may hold other harts, and a remote fence costs an ecall and
    IPIs) -- and without it none does.  Returns the decision with its reason;
    :func:`decide` adds why batching is not configured.
    """
    if batching:
        return FlushPath(True, "deferring: RISCV selects ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH "
                               "(Linux 6.8, 54d7431af73e) and arch_tlbbatch_should_defer() is "
                               "always true; one remote fence per batch over the mms' cpumasks")
    return FlushPath(False, "not configured: CONFIG_ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH=n: every "
                            "unmapped PTE is flushed at once (flush_tlb_page: an SBI remote "
                            "fence or IPIs when the mm is active on another hart)")


def decide(cfg, baseline_name: str) -> Decision:
    """Model-only: the riscv deferral decision of a kernel, with its reason (pure, once at boot).

    :func:`riscv_tlbbatch_should_defer` on the configured batching; when it
    is off, the reason says whether the release predates riscv batching
    (*baseline_name*, e.g. "Linux 6.6") or the model-only knob dropped it.
    """
    path = riscv_tlbbatch_should_defer(bool(cfg.ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH))
    if path.batched:
        return Decision(True, "batched", None, path.reason)
    if not cfg.RISCV_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH:
        return Decision(False, "synchronous", None, path.reason.replace(
            "not configured:", f"not configured ({baseline_name}, before 54d7431af73e):"), 0)
    return Decision(False, "synchronous", None,
                    "off by the model-only knob "
                    "CONFIG_RISCV_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y (no upstream "
                    "counterpart; Linux 6.8 riscv always batches): every unmapped "
                    "PTE is flushed at once (flush_tlb_page)", 0)


class TlbOps:
    """The riscv backend of :class:`minikernel.arch.ArchTlbOps`.

    hw:          local fences, SBI RFENCE and kernel IPIs (minikernel.hw.riscv)
    use_ipi_for_rfence: ``riscv_use_ipi_for_rfence()``, a machine fact
    use_asid_allocator: the harts implement ASIDs (``use_asid_allocator``)
    flush_all_threshold: ``tlb_flush_all_threshold`` of the baseline
    active_mm:   per hart, the mm whose page table is loaded (None: none yet)
    """

    def __init__(self, machine: Machine) -> None:
        p = machine.profile
        self.machine = machine
        self.hw = RiscvTlb(machine.tlbs, sfence_ns=_fig(p.riscv_sfence_vma_ns),
                           sfence_all_ns=_fig(p.riscv_sfence_vma_all_ns),
                           ecall_ns=_fig(p.riscv_sbi_ecall_ns),
                           mtrap_ns=_fig(p.riscv_sbi_mtrap_ns),
                           send_ns=_fig(p.riscv_ipi_send_ns),
                           latency_ns=_fig(p.riscv_ipi_latency_ns),
                           entry_ns=_fig(p.riscv_ipi_entry_ns))
        self.use_ipi_for_rfence = bool(p.riscv_ipi_for_rfence)
        self.use_asid_allocator = bool(p.riscv_asid)
        self.decision = decide(machine.cfg, machine.baseline.name)
        self.batching = self.decision.defer
        self.flush_all_threshold = machine.baseline.riscv_tlb_flush_all_threshold
        self.tlb_flush_by_range = machine.baseline.riscv_tlb_flush_by_range
        self.cpus = machine.cpus
        self.active_mm: list[MmStruct | None] = [None] * machine.nr_cpus

    # arch/riscv/mm/tlbflush.c

    def get_mm_asid(self, mm: MmStruct) -> int:
        """Models: get_mm_asid(): the mm's ASID, or FLUSH_TLB_NO_ASID without the allocator."""
        return mm.asid if self.use_asid_allocator else FLUSH_TLB_NO_ASID

    def local_flush_tlb_range_asid(self, cpu: Cpu, mm: MmStruct | None, start: int, size: int,
                                   asid: int) -> None:
        """Models: local_flush_tlb_range_asid(): fence this hart by page, or all past the threshold.

        *mm* is whose entries a no-ASID fence by address reaches (see the
        module's MODEL note); None with FLUSH_TLB_NO_ASID and the whole
        range is the reclaim batch's ``sfence.vma`` of everything.
        """
        hw = self.hw
        if size == FLUSH_TLB_MAX_SIZE:
            self._local_flush_all_asid(cpu, asid)
            return
        pages = nr_pages(start, start + size)
        if pages > max(self.flush_all_threshold, 1):
            self._local_flush_all_asid(cpu, asid)
            return
        owner = mm.asid if mm is not None else cpu.asid
        base = owner << ASID_SHIFT
        for addr in range(start & ~(PAGE_SIZE - 1), start + size, PAGE_SIZE):
            hw.sfence_vma_key(cpu, base | addr >> PAGE_SHIFT)

    def _local_flush_all_asid(self, cpu: Cpu, asid: int) -> None:
        """Models: local_flush_tlb_all_asid(): ``sfence.vma x0, asid``, or ``sfence.vma``."""
        if asid == FLUSH_TLB_NO_ASID:
            self.hw.sfence_vma_all_local(cpu)
        else:
            self.hw.sfence_vma_asid(cpu, asid)

    def _sbi_local_fence(self, cpu: Cpu, mm: MmStruct | None, start: int, size: int,
                         asid: int) -> None:
        """Models: OpenSBI's sbi_tlb_local_sfence_vma[_asid](): the firmware's own range limit."""
        if size == FLUSH_TLB_MAX_SIZE or nr_pages(start, start + size) > \
                SBI_TLB_RANGE_FLUSH_LIMIT_PAGES:
            self._local_flush_all_asid(cpu, asid)
            return
        owner = mm.asid if mm is not None else cpu.asid
        self.hw.sfence_vma_key(cpu, owner << ASID_SHIFT | start >> PAGE_SHIFT)

    def __flush_tlb_range(self, cpu: Cpu, cmask: int, mm: MmStruct | None, asid: int,
                          start: int, size: int) -> None:
        """Models: __flush_tlb_range(): fence *cmask*'s harts; remotely only if it has another.

        Remote: one SBI RFENCE ecall (``sbi_remote_sfence_vma_asid``) over the
        mask, or, when the kernel has its own IPIs, ``on_each_cpu_mask`` with
        ``__ipi_flush_tlb_range_asid`` (the caller fences itself too when it
        is in the mask).  Both wait for every target.
        """
        if not cmask:
            return
        me = cpu.id
        saved = cpu.sym
        cpu.sym = S___flush_tlb_range
        try:
            others = cmask & ~(1 << me)
            if not others:
                self.local_flush_tlb_range_asid(cpu, mm, start, size, asid)
                return
            cpus = self.cpus
            targets = [cpus[i] for i in _bits(others)]
            mine = bool(cmask >> me & 1)
            if self.use_ipi_for_rfence:
                def local():
                    """Models: the local __ipi_flush_tlb_range_asid() of on_each_cpu_mask()."""
                    self.local_flush_tlb_range_asid(cpu, mm, start, size, asid)
                self.hw.ipi_round(cpu, targets,
                                  lambda t: self.local_flush_tlb_range_asid(t, mm, start, size, asid),
                                  "__ipi_flush_tlb_range_asid", "smp_call_function_many_cond",
                                  local=local if mine else None, local_sym=S___flush_tlb_range)
            else:
                def local_sbi():
                    """Models: the firmware fencing the calling hart, which is in the hart mask."""
                    self._sbi_local_fence(cpu, mm, start, size, asid)
                self.hw.sbi_remote_fence(cpu, targets,
                                         lambda t: self._sbi_local_fence(t, mm, start, size, asid),
                                         "sbi_ecall", local=local_sbi if mine else None)
        finally:
            cpu.sym = saved

    # asm/tlbflush.h verbs

    def flush_tlb_page(self, cpu: Cpu, vma: VmAreaStruct, uaddr: int) -> None:
        """Models: flush_tlb_page() = __flush_tlb_range(mm_cpumask, asid, addr, PAGE_SIZE)."""
        mm = vma.vm_mm
        self.__flush_tlb_range(cpu, mm.mm_cpumask, mm, self.get_mm_asid(mm), uaddr, PAGE_SIZE)

    def flush_tlb_range(self, cpu: Cpu, vma: VmAreaStruct, start: int, end: int) -> None:
        """Models: flush_tlb_range() (4 KiB stride: the model maps no huge pages)."""
        mm = vma.vm_mm
        self.__flush_tlb_range(cpu, mm.mm_cpumask, mm, self.get_mm_asid(mm), start,
                               end - start)

    def flush_tlb_mm(self, cpu: Cpu, mm: MmStruct) -> None:
        """Models: flush_tlb_mm() = __flush_tlb_range(mm_cpumask, asid, 0, FLUSH_TLB_MAX_SIZE)."""
        self.__flush_tlb_range(cpu, mm.mm_cpumask, mm, self.get_mm_asid(mm), 0,
                               FLUSH_TLB_MAX_SIZE)

    def tlb_flush(self, cpu: Cpu, tlb) -> None:
        """Models: riscv tlb_flush(): the gather's range, or flush_tlb_mm().

        Up to 6.6 always flush_tlb_mm().  In 6.8 c5e9b2c2ae82 ("riscv:
        Improve tlb_flush()") flushes the gathered range instead, and
        97cf301fa42e ("riscv: Flush the tlb when a page directory is freed")
        keeps flush_tlb_mm() for a gather with freed page tables, as the
        privileged spec asks when a non-leaf PTE changes (the baseline's
        ``riscv_tlb_flush_by_range``).
        """
        if tlb.freed_tables or not self.tlb_flush_by_range:
            self.flush_tlb_mm(cpu, tlb.vma.vm_mm)
        else:
            self.flush_tlb_range(cpu, tlb.vma, tlb.start, tlb.end)

    def pte_needs_flush(self, oldpte: int, newpte: int) -> bool:
        """Models: pte_needs_flush() on riscv: the generic default, always true."""
        return True

    def ptep_clear_flush_young(self, cpu: Cpu, vma: VmAreaStruct, addr: int) -> bool:
        """Models: riscv ptep_clear_flush_young(): clear the accessed bit and flush nothing.

        riscv took x86's argument (and comment): a stale young entry only
        makes a page look used a little longer, never corrupts data.
        """
        mm = vma.vm_mm
        vpn = addr >> PAGE_SHIFT
        pte = mm.pgd.get(vpn, 0)
        if not pte_young(pte):
            return False
        mm.pgd[vpn] = pte_mkold(pte)
        return True

    def arch_tlbbatch_should_defer(self, cpu: Cpu, mm: MmStruct) -> bool:
        """Models: riscv arch_tlbbatch_should_defer(): always true (6.8); the boot decision's answer."""
        return self.batching

    def arch_tlbbatch_add_pending(self, cpu: Cpu, batch: ArchTlbflushUnmapBatch,
                                  mm: MmStruct, uaddr: int) -> None:
        """Models: arch_tlbbatch_add_pending(): OR the mm's cpumask into the batch; fence nothing."""
        batch.cpumask |= mm.mm_cpumask

    def arch_tlbbatch_flush(self, cpu: Cpu, batch: ArchTlbflushUnmapBatch) -> None:
        """Models: arch_tlbbatch_flush(): one remote fence of everything over the batch's cpumask.

        ``__flush_tlb_range(&batch->cpumask, FLUSH_TLB_NO_ASID, 0,
        FLUSH_TLB_MAX_SIZE)``: every hart in the mask fences its whole TLB
        (the batch may cover several mms), then the mask is cleared.
        # MODEL: the clear is the fix "riscv: Fix arch_tlbbatch_flush() by
        # clearing the batch cpumask" (Fixes: 54d7431af73e); without it the
        # mask only grows, fencing harts that need nothing (a cost, not a
        # hazard).
        """
        saved = cpu.sym
        cpu.sym = S_arch_tlbbatch_flush
        try:
            self.__flush_tlb_range(cpu, batch.cpumask, None, FLUSH_TLB_NO_ASID, 0,
                                   FLUSH_TLB_MAX_SIZE)
            batch.cpumask = 0
        finally:
            cpu.sym = saved

    def arch_flush_tlb_batched_pending(self, cpu: Cpu, mm: MmStruct) -> None:
        """Models: riscv arch_flush_tlb_batched_pending() = flush_tlb_mm()."""
        self.flush_tlb_mm(cpu, mm)

    def switch_mm(self, cpu: Cpu, prev: MmStruct | None, next: MmStruct | None) -> None:
        """Models: riscv switch_mm() -> set_mm(); nothing for idle or a kthread (lazy TLB).

        Same mm: nothing.  Another mm: its bit is set; with the ASID
        allocator the previous mm keeps its bit and no fence is needed (the
        ASID tells the entries apart); without it the previous mm's bit is
        cleared and ``set_mm_noasid`` fences the whole local TLB.
        """
        if next is None:
            return                               # generic lazy TLB: keep active_mm loaded
        me = cpu.id
        real_prev = self.active_mm[me]
        if real_prev is next:
            return
        next.mm_cpumask |= 1 << me
        self.active_mm[me] = next
        cpu.switch_pgd(next.pgd, next.asid)
        if not self.use_asid_allocator:
            if real_prev is not None:
                real_prev.mm_cpumask &= ~(1 << me)
            saved = cpu.sym
            cpu.sym = S_switch_mm
            try:
                self.hw.sfence_vma_all_local(cpu)    # set_mm_noasid(): local_flush_tlb_all()
            finally:
                cpu.sym = saved

    def switch_to(self, cpu: Cpu, prev, next) -> None:
        """Models: riscv __switch_to(): nothing TLB-related."""

    #: Entry symbols charged by generic code: the common trap entry
    #: (handle_exception, arch/riscv/kernel/entry.S) and its C handler.
    fault_entry_syms = ("handle_exception", "do_page_fault")
    syscall_entry_syms = ("handle_exception", "do_trap_ecall_u")

    def new_batch(self) -> ArchTlbflushUnmapBatch:
        """Model-only: an empty riscv batch."""
        return ArchTlbflushUnmapBatch()

    def tlb_flush_path(self) -> FlushPath:
        """Model-only: the boot-time decision (:func:`decide`)."""
        return self.decision.flush_path

    def counters(self) -> dict[str, int]:
        """Model-only: fences and remote-fence traffic."""
        hw = self.hw
        return {"sfence_vma": hw.sfence_vma, "sfence_vma_all": hw.sfence_vma_all,
                "sbi_rfence": hw.sbi_rfence, "ipis_sent": hw.ipis_sent}


def _fig(v: float | None) -> float:
    """A [riscv] profile figure: present on every profile that can run riscv (check_arch)."""
    if v is None:
        raise ValueError("a riscv machine needs the profile's [riscv] figures")
    return v


def _bits(mask: int):
    """CPU numbers set in an int cpumask, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def backend_for(machine: Machine) -> TlbOps:
    """Model-only: the riscv backend (one class: the releases differ in decision and threshold)."""
    return TlbOps(machine)


def deferral_sets(cfg, cpus: int, on: bool, profile=None) -> list[str]:
    """Model-only: assignments configuring riscv batching on or off (:func:`decide` says which is).

    "Off" on 6.8 needs the model-only knob RISCV_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH
    (under EXPERT); the 6.6 baseline is already off.  "On" from 6.6 moves to
    the first kernel that batches, 6.8 (there is no other way to batch on riscv).
    """
    if bool(cfg.ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH) is on:   # decide()'s answer, whatever the release
        return []
    if on:
        if cfg.MODEL_RISCV_KERNEL_6_6:
            return ["MODEL_RISCV_KERNEL_6_8=y"]
        return ["RISCV_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=n"]
    return ([] if cfg.EXPERT else ["EXPERT=y"]) + ["RISCV_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y"]


def why(assignment: str, cpus: int) -> str | None:
    """Model-only: what one assignment of :func:`deferral_sets` does, in words (None: not riscv's)."""
    if assignment == "MODEL_RISCV_KERNEL_6_8=y":
        return ("MODEL_RISCV_KERNEL_6_8=y (riscv batches from Linux 6.8, 54d7431af73e, so B is "
                "that release: its range threshold differs from 6.6's too)")
    return knob_why(assignment, "RISCV_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH", "riscv 6.8 always batches",
                    "RISCV selects batching as in 6.8")
