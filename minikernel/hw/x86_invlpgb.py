"""AMD INVLPGB/TLBSYNC: broadcast invalidation whose completion only its issuer can wait for.

Model-only: the hardware side of x86 broadcast TLB invalidation (AMD Zen 3
and later; the AMD64 APM's INVLPGB and TLBSYNC).  ``INVLPGB`` asks every
processor to drop the translations of a PCID (one page, a few pages, or all
of them) and returns without waiting; ``TLBSYNC`` waits until every INVLPGB
*the executing CPU* issued has completed everywhere.  It says nothing about
other CPUs' INVLPGBs -- arm64's DSB rule, on x86.

Invariants this module owns:
  - An INVLPGB is outstanding, and its translations usable on every CPU, until
    its issuer executes TLBSYNC (the worst case the architecture allows).
  - TLBSYNC completes exactly the executing CPU's outstanding INVLPGBs.

# MODEL: an INVLPGB's range is kept as individual pages; the instruction's
# page count limit (CPUID 0x80000008 ECX) is the caller's business.
"""

from __future__ import annotations

from minikernel.hw.cpu import SYMBOLS, Cpu
from minikernel.hw.mmu import ASID_SHIFT
from minikernel.hw.tlb import TlbArray

#: an INVLPGB of every page of the PCID (``invlpgb_flush_single_pcid_nosync``)
ALL_PAGES = -1


class Invlpgb:
    """The broadcast-invalidation unit of an INVLPGB-capable machine.

    issue_ns:   issuing one INVLPGB (the issuer does not wait)
    sync_ns:    a TLBSYNC that has INVLPGBs to wait for (their round trip)
    pending:    per CPU, the (asid, vpn or ALL_PAGES) it issued and has not synced
    Counters: invlpgb (issued), tlbsync (executed with something outstanding).
    """

    __slots__ = ("tlbs", "issue_ns", "sync_ns", "pending", "invlpgb", "tlbsync")

    def __init__(self, tlbs: TlbArray, nr_cpus: int, *, issue_ns: float, sync_ns: float) -> None:
        self.tlbs = tlbs
        self.issue_ns = issue_ns
        self.sync_ns = sync_ns
        self.pending: list[list[tuple[int, int]]] = [[] for _ in range(nr_cpus)]
        self.invlpgb = 0
        self.tlbsync = 0

    def issue(self, cpu: Cpu, asid: int, vpn: int = ALL_PAGES) -> None:
        """``INVLPGB`` by PCID (and address): queued, not yet complete anywhere."""
        ns = self.issue_ns
        cpu.now += ns                       # cpu.charge(cpu.sym, ns), inlined
        cpu.ns[cpu.sym] += ns
        self.pending[cpu.id].append((asid, vpn))
        self.invlpgb += 1

    def sync(self, cpu: Cpu) -> int:
        """``TLBSYNC``: wait for this CPU's own INVLPGBs; returns how many completed."""
        mine = self.pending[cpu.id]
        if not mine:
            return 0
        cpu.stall(SYMBOLS[cpu.sym], "tlbsync", self.sync_ns)
        for asid, vpn in mine:
            if vpn == ALL_PAGES:
                self.tlbs.invalidate_asid(asid)
            else:
                self.tlbs.invalidate_key(asid << ASID_SHIFT | vpn)
        n = len(mine)
        mine.clear()
        self.tlbsync += 1
        return n
