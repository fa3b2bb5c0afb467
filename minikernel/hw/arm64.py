"""arm64 broadcast TLB maintenance: TLBI ... IS and DSB over the DVM interconnect.

Model-only: the hardware side of arm64 TLB maintenance (Arm ARM D8.13; the
ESOP 2022 "Relaxed virtual memory in Armv8-A" model).

Invariants this module owns:
  - ``TLBI ...IS`` is *issued*: it is broadcast to every CPU's TLB but the
    architecture guarantees nothing about when it takes effect.  It is
    guaranteed complete, on every CPU, only once the CPU that issued it
    executes ``DSB ISH``.
  - ``DSB ISH`` on CPU c completes exactly the TLBIs c issued.  A DSB on any
    other CPU completes none of them.
  - Until completion a CPU may keep using -- and writing through -- its entry.

Cost structure (the "latency vs throughput" reading of the v5 figures):
  - each broadcast TLBI occupies the issuer's DVM slot for ``throughput_ns``
    (the interconnect snoops every CPU and accepts a few operations per
    requester, so back-to-back TLBIs queue); the TLBI instruction retires
    only when accepted, so the issuing CPU pays that time even when nothing
    waits for completion; it completes ``latency_ns`` after it got its slot;
  - a DSB stalls until the last outstanding TLBI of its CPU completes.
  Unbatched, every page pays the full latency; batched, a page pays the
  pipelined throughput cost and the batch one latency.

# MODEL: an issued TLBI takes effect exactly when its issuer's DSB completes
# it, never earlier.  The hardware may complete it sooner; keeping stale
# entries for the whole window is the worst case, which is what a race
# detector needs.
# MODEL: each requester has its own DVM queue; contention between several
# CPUs broadcasting at once is folded into the per-CPU-count cost figures.
"""

from __future__ import annotations

from minikernel.hw.cpu import Cpu
from minikernel.hw.tlb import TlbArray

TLBI_VA = 0       # TLBI VALE1IS / VAE1IS: one (ASID, VA)
TLBI_ASID = 1     # TLBI ASIDE1IS: a whole ASID


class Dvm:
    """Distributed virtual memory messages: the broadcast TLBI fabric.

    latency_ns:    issue-to-complete time of one broadcast TLBI
    throughput_ns: how long one TLBI occupies its issuer's DVM slot
    issue_ns:      CPU time to issue one TLBI
    dsb_ns:        a DSB with nothing outstanding
    tlbi_issued, dsb_ish_count, dsb_ish_waited: counters (model-only names)
    """

    __slots__ = ("tlbs", "latency_ns", "throughput_ns", "issue_ns", "dsb_ns",
                 "next_free", "tlbi_issued", "dsb_ish_count", "dsb_ish_waited", "on_complete")

    def __init__(self, nr_cpus: int, tlbs: TlbArray, *, latency_ns: float,
                 throughput_ns: float, issue_ns: float, dsb_ns: float) -> None:
        self.tlbs = tlbs
        self.latency_ns = latency_ns
        self.throughput_ns = throughput_ns
        self.issue_ns = issue_ns
        self.dsb_ns = dsb_ns
        self.next_free = [0.0] * nr_cpus
        self.tlbi_issued = 0
        self.dsb_ish_count = 0
        self.dsb_ish_waited = 0
        self.on_complete = None   # optional observer (sanitizer): (cpu, kind, arg)

    def tlbi_is(self, cpu: Cpu, kind: int, arg: int) -> None:
        """Issue ``TLBI <kind>IS`` on *cpu* for a TLB key (TLBI_VA) or an ASID (TLBI_ASID).

        The instruction retires once the interconnect has accepted the
        broadcast: it stalls while an earlier TLBI of this CPU still holds
        the DVM slot, and then for this one's own slot time.  Completion
        follows ``latency_ns`` after acceptance began, asynchronously.
        """
        cpu.charge(cpu.sym, self.issue_ns)
        start = cpu.now if cpu.now > self.next_free[cpu.id] else self.next_free[cpu.id]
        accepted = start + self.throughput_ns
        self.next_free[cpu.id] = accepted
        cpu.wait_until(cpu.sym, "tlbi", accepted)
        cpu.pending_tlbi.append((start + self.latency_ns, kind, arg))
        self.tlbi_issued += 1

    def dsb_ishst(self, cpu: Cpu) -> None:
        """``DSB ISHST``: order earlier PTE stores before later TLBIs (cost only)."""
        cpu.charge(cpu.sym, self.dsb_ns)

    def dsb_ish(self, cpu: Cpu) -> bool:
        """``DSB ISH`` on *cpu*: wait for and complete every TLBI *cpu* issued.

        Returns True when there was something outstanding to wait for.
        """
        cpu.charge(cpu.sym, self.dsb_ns)
        self.dsb_ish_count += 1
        pending = cpu.pending_tlbi
        if not pending:
            return False
        self.dsb_ish_waited += 1
        done = max(p[0] for p in pending)
        cpu.wait_until(cpu.sym, "dsb ish", done)
        tlbs = self.tlbs
        for _, kind, arg in pending:
            if kind == TLBI_VA:
                tlbs.invalidate_key(arg)
            else:
                tlbs.invalidate_asid(arg)
            if self.on_complete is not None:
                self.on_complete(cpu, kind, arg)
        pending.clear()
        return True
