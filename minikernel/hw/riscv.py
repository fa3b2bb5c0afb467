"""riscv TLB maintenance: local SFENCE.VMA, and remote fences through SBI firmware or IPIs.

Model-only: the hardware (and machine-mode firmware) side of riscv TLB
shootdown.  Like x86, riscv has no broadcast invalidation in the base ISA:
``sfence.vma`` orders and invalidates the executing hart's own address
translation caches only.  A remote flush therefore interrupts every target
hart, in one of two ways, chosen by the machine (the kernel's
``riscv_use_ipi_for_rfence()``):

  - SBI RFENCE (``sbi_remote_sfence_vma[_asid]``): the kernel makes an
    ``ecall`` into the M-mode firmware (OpenSBI), which raises a machine
    software interrupt on each target hart (ACLINT MSWI / CLINT), has each
    run the fence in M-mode and waits until every target reported it done
    before returning to the caller.  Cost on the caller: the ecall trap,
    one MSWI write per target, then the wait; on each target: an M-mode trap
    and the fence, invisible to the interrupted S-mode code.
  - Kernel IPIs (``on_each_cpu_mask``): when S-mode has its own IPI device
    (AIA IMSIC, ACLINT SSWI), the kernel sends IPIs itself, exactly like
    x86's ``smp_call_function_many_cond``.

Invariants this module owns:
  - ``sfence.vma`` variants act on the executing hart's TLB only.
  - A remote fence (either kind) returns only after every target ran its
    fence; the initiator's stall is the slowest acknowledgement.

# MODEL: as for x86, a target's handler runs at (sender's time + delivery
# latency) on a target whose own clock only accumulates the handler's cost;
# per-CPU clocks count busy time, not a shared timeline.
# MODEL: the firmware sends to the other harts, runs the caller's own fence,
# then waits (the order of the kernel's IPI path); OpenSBI's exact order of
# the local fence and the sends is not modelled -- both overlap the wait.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from minikernel.hw.cpu import SYMBOL_IDS, Cpu
from minikernel.hw.tlb import TlbArray

#: OpenSBI's default platform ``tlb_range_flush_limit`` (4 KiB): a remote
#: fence for a larger range is done as a full ``sfence.vma`` (or the whole
#: ASID) on every target, whatever the kernel's own threshold.  In pages.
SBI_TLB_RANGE_FLUSH_LIMIT_PAGES = 1


class RiscvTlb:
    """Local fences, SBI remote fences and kernel IPIs of one riscv machine.

    sfence_ns:     one ``sfence.vma addr[, asid]``
    sfence_all_ns: one ``sfence.vma`` (all) or ``sfence.vma x0, asid``
    ecall_ns:      the caller's ecall into M-mode and back (SBI call overhead)
    mtrap_ns:      a target hart's M-mode software-interrupt trap, entry and exit
    send_ns:       initiator cost per target (an MSWI/SSWI or IMSIC write)
    latency_ns:    one-way delivery of an IPI or of the completion report
    entry_ns:      S-mode interrupt entry/exit on a target (kernel-IPI path)
    Counters: sfence_vma (per-address fences), sfence_vma_all (full or
    whole-ASID fences), sbi_rfence (remote-fence ecalls), ipis_sent (by
    firmware or kernel).
    """

    __slots__ = ("tlbs", "sfence_ns", "sfence_all_ns", "ecall_ns", "mtrap_ns", "send_ns",
                 "latency_ns", "entry_ns", "sfence_vma", "sfence_vma_all", "sbi_rfence",
                 "ipis_sent")

    def __init__(self, tlbs: TlbArray, *, sfence_ns: float, sfence_all_ns: float,
                 ecall_ns: float, mtrap_ns: float, send_ns: float, latency_ns: float,
                 entry_ns: float) -> None:
        self.tlbs = tlbs
        self.sfence_ns = sfence_ns
        self.sfence_all_ns = sfence_all_ns
        self.ecall_ns = ecall_ns
        self.mtrap_ns = mtrap_ns
        self.send_ns = send_ns
        self.latency_ns = latency_ns
        self.entry_ns = entry_ns
        self.sfence_vma = 0
        self.sfence_vma_all = 0
        self.sbi_rfence = 0
        self.ipis_sent = 0

    # Local fences (the executing hart only)

    def sfence_vma_key(self, cpu: Cpu, key: int) -> None:
        """``sfence.vma addr, asid``: drop one (ASID, VA) from *cpu*'s own TLB."""
        ns = self.sfence_ns
        cpu.now += ns                       # cpu.charge(cpu.sym, ns), inlined
        cpu.ns[cpu.sym] += ns
        self.sfence_vma += 1
        self.tlbs.invalidate_key_local(cpu.id, key)

    def sfence_vma_asid(self, cpu: Cpu, asid: int) -> None:
        """``sfence.vma x0, asid``: drop every entry of one ASID from *cpu*'s TLB."""
        ns = self.sfence_all_ns
        cpu.now += ns                       # cpu.charge(cpu.sym, ns), inlined
        cpu.ns[cpu.sym] += ns
        self.sfence_vma_all += 1
        self.tlbs.invalidate_asid(asid, cpu.id)

    def sfence_vma_all_local(self, cpu: Cpu) -> None:
        """``sfence.vma`` (no operands): drop every entry from *cpu*'s TLB."""
        ns = self.sfence_all_ns
        cpu.now += ns                       # cpu.charge(cpu.sym, ns), inlined
        cpu.ns[cpu.sym] += ns
        self.sfence_vma_all += 1
        self.tlbs.invalidate_all_local(cpu.id)

    # Remote fences

    def sbi_remote_fence(self, src: Cpu, targets: Iterable[Cpu], fence: Callable[[Cpu], None],
                         wait_sym: str, local: Callable[[], None] | None = None) -> int:
        """An SBI RFENCE call: ecall, the firmware interrupts each target and waits for all.

        *fence* runs on each target in M-mode (charged there as
        ``sbi_tlb_process``, OpenSBI's handler); *local* is the caller's own
        fence when it is in the hart mask.  Returns the number of targets.
        """
        targets = list(targets)
        self.sbi_rfence += 1
        src.charge(wait_sym, self.ecall_ns)
        return self._round(src, targets, fence, "sbi_tlb_process", self.mtrap_ns, wait_sym,
                           "sbi rfence sync", local, None)

    def ipi_round(self, src: Cpu, targets: Iterable[Cpu], handler: Callable[[Cpu], None],
                  handler_sym: str, wait_sym: str, local: Callable[[], None] | None = None,
                  local_sym: int | None = None) -> int:
        """Kernel IPIs (``smp_call_function_many_cond``): send, run *local*, wait for every ack."""
        return self._round(src, list(targets), handler, handler_sym, self.entry_ns, wait_sym,
                           "ipi ack", local, local_sym)

    def _round(self, src: Cpu, targets: list[Cpu], handler: Callable[[Cpu], None],
               handler_sym: str, entry_ns: float, wait_sym: str, insn: str,
               local: Callable[[], None] | None, local_sym: int | None) -> int:
        for _ in targets:
            src.charge(wait_sym, self.send_ns)
        sent = src.now
        latest = sent
        for t in targets:
            saved = t.sym
            t.sym = SYMBOL_IDS[handler_sym]
            before = t.now
            try:
                t.charge(handler_sym, entry_ns)
                handler(t)
            finally:
                t.sym = saved
            ack = sent + self.latency_ns + (t.now - before) + self.latency_ns
            if ack > latest:
                latest = ack
        self.ipis_sent += len(targets)
        if local is not None:
            saved = src.sym
            if local_sym is not None:
                src.sym = local_sym
            try:
                local()
            finally:
                src.sym = saved
        if targets:
            src.wait_until(wait_sym, insn, latest)
        return len(targets)
