"""x86 TLB maintenance: INVLPG, local flushes, and IPIs through the APIC.

Model-only: the hardware side of x86 TLB shootdown.  x86 has no broadcast
invalidation: a CPU can only invalidate its own TLB, so a remote flush is an
inter-processor interrupt whose handler flushes the target's TLB, and the
initiator spins until every target has acknowledged.

Invariants this module owns:
  - INVLPG and local flushes act on the executing CPU's TLB only.
  - An IPI round returns only after every target ran its handler (the handler
    charges the *target* CPU) and acknowledged; the initiator's stall is the
    slowest acknowledgement.

# MODEL: the handler runs at (sender's time + delivery latency) on a target
# whose own clock only accumulates the handler's cost: per-CPU clocks count
# busy time; they are not a synchronised global timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from minikernel.hw.cpu import SYMBOL_IDS, Cpu
from minikernel.hw.tlb import TlbArray


class Apic:
    """IPIs and local invalidations.

    send_ns:    initiator cost per target (ICR write)
    latency_ns: one-way delivery latency of an IPI or its acknowledgement
    entry_ns:   interrupt entry/exit on the target
    invlpg_ns:  one INVLPG
    flush_ns:   a full local flush (CR3 write)
    """

    __slots__ = ("tlbs", "send_ns", "latency_ns", "entry_ns", "invlpg_ns", "flush_ns",
                 "ipis_sent")

    def __init__(self, tlbs: TlbArray, *, send_ns: float, latency_ns: float,
                 entry_ns: float, invlpg_ns: float, flush_ns: float) -> None:
        self.tlbs = tlbs
        self.send_ns = send_ns
        self.latency_ns = latency_ns
        self.entry_ns = entry_ns
        self.invlpg_ns = invlpg_ns
        self.flush_ns = flush_ns
        self.ipis_sent = 0

    def invlpg(self, cpu: Cpu, key: int) -> None:
        """``INVLPG``: drop one (ASID, VA) from *cpu*'s own TLB."""
        ns = self.invlpg_ns
        cpu.now += ns                       # cpu.charge(cpu.sym, ns), inlined
        cpu.ns[cpu.sym] += ns
        self.tlbs.invalidate_key_local(cpu.id, key)

    def flush_local(self, cpu: Cpu) -> None:
        """A full local flush (all PCIDs) of *cpu*'s TLB."""
        ns = self.flush_ns
        cpu.now += ns                       # cpu.charge(cpu.sym, ns), inlined
        cpu.ns[cpu.sym] += ns
        self.tlbs.invalidate_all_local(cpu.id)

    def flush_local_asid(self, cpu: Cpu, asid: int) -> None:
        """Flush one PCID from *cpu*'s TLB (INVPCID single-context)."""
        ns = self.flush_ns
        cpu.now += ns                       # cpu.charge(cpu.sym, ns), inlined
        cpu.ns[cpu.sym] += ns
        self.tlbs.invalidate_asid(asid, cpu.id)

    def ipi_round(self, src: Cpu, targets: Iterable[Cpu], handler: Callable[[Cpu], None],
                  handler_sym: str, wait_sym: str, local: Callable[[], None] | None = None,
                  local_sym: int | None = None) -> int:
        """Send one IPI to each target, run *local* on *src*, then wait for every ack.

        The order of ``smp_call_function_many_cond``: the local work (if any,
        charged under the symbol of slot *local_sym*) overlaps the targets' handlers, so the
        initiator waits only for what is left of the slowest acknowledgement.
        Returns the number of targets.
        """
        targets = list(targets)
        ns = self.send_ns
        if targets:
            src_ns = src.ns
            w = SYMBOL_IDS[wait_sym]
            for _ in targets:
                src.now += ns               # src.charge(wait_sym, ns), inlined
                src_ns[w] += ns
        sent = src.now
        latest = sent
        ns = self.entry_ns
        h = SYMBOL_IDS[handler_sym] if targets else 0
        for t in targets:
            saved = t.sym
            t.sym = h
            before = t.now
            try:
                t.now += ns                 # t.charge(handler_sym, ns), inlined
                t.ns[h] += ns
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
            src.wait_until(wait_sym, "ipi ack", latest)
        return len(targets)
