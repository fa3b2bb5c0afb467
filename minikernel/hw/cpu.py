"""A CPU: its clock, its TLB fast path, and per-symbol cycle accounting.

Model-only: one simulated CPU core.  Time is kept in nanoseconds on a
per-CPU clock; ``cycles = ns * ghz`` where reports want cycles.

Invariants this module owns:
  - Every user access goes through :meth:`Cpu.access`: a TLB hit uses the
    cached translation even if the PTE changed since (that is how a missed
    flush becomes a visible bug); a miss walks the current page table and
    fills the TLB; anything the walker cannot satisfy returns ``FAULT``.
  - A store through a clean entry re-walks to set the PTE's dirty bit and
    traps if the PTE is gone or read-only.  A store through a dirty entry does
    not look at the PTE at all.
  - Time only moves forward, and only through :meth:`charge`/:meth:`stall`,
    which also attribute it to a symbol, as ``perf`` samples would.

# MODEL: both architectures get the x86 rule for stores through clean entries
# (arm64 with hardware DBM re-reads the descriptor atomically too; without
# DBM the kernel maps clean pages read-only, which traps as well).
# MODEL: a fault drops the faulting CPU's entry for that address (x86 does so
# architecturally); the fault handler then fixes the PTE and the access retries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from minikernel.hw.memory import PhysMem
from minikernel.hw.mmu import (
    _PAGE_ACCESSED,
    _PAGE_DIRTY,
    _PAGE_PRESENT,
    _PAGE_RW,
    ASID_SHIFT,
    PTE_PFN_SHIFT,
)
from minikernel.hw.observe import HwEvents
from minikernel.hw.tlb import TlbArray, TlbEntry

FAULT: Any = object()
"""Returned by :meth:`Cpu.access` when the hardware raises a page fault."""


class Cpu:
    """One simulated CPU.

    id:           CPU number (``smp_processor_id()``)
    now:          this CPU's clock, simulated ns
    sym:          the symbol currently executing; charges without an explicit
                  symbol go here (how inlined helpers land in their caller)
    profile:      symbol -> ns spent there
    stalls:       (symbol, instruction) -> ns spent waiting in that
                  instruction, a ``perf annotate`` view of the big stalls
    pgd:          the page table the walker uses (the current mm's), or None
    asid:         the current ASID; ``asid_key`` is it shifted into TLB keys
    current:      the task running here (kernel-owned, opaque to hardware)
    pending_tlbi: arm64 broadcast invalidations this CPU issued and has not
                  completed with a DSB yet
    """

    __slots__ = ("id", "now", "sym", "profile", "stalls", "pgd", "asid", "asid_key",
                 "current", "pending_tlbi", "tlb", "_tlbs", "_mem", "_walk_ns",
                 "on_fill")

    def __init__(self, cpu_id: int, tlbs: TlbArray, mem: PhysMem, walk_ns: float,
                 events: HwEvents | None = None) -> None:
        self.id = cpu_id
        self.now = 0.0
        self.sym = "cpu_idle"
        self.profile: defaultdict[str, float] = defaultdict(float)
        self.stalls: defaultdict[tuple[str, str], float] = defaultdict(float)
        self.pgd: dict[int, int] | None = None
        self.asid = 0
        self.asid_key = 0
        self.current: Any = None
        self.pending_tlbi: list = []
        self.tlb = tlbs.tlbs[cpu_id]
        self._tlbs = tlbs
        self._mem = mem
        self._walk_ns = walk_ns
        # the tlb_fill hook of *events* (attached), called with each new entry; None: unobserved
        self.on_fill: Callable[[TlbEntry], None] | None = (
            events.tlb_fill if events is not None else None)

    # Public interface

    def charge(self, sym: str, ns: float) -> None:
        """Advance this CPU's clock by *ns* and attribute it to *sym*.

        The per-page paths of mm/ and hw/ inline it as
        ``cpu.now += ns; cpu.profile[sym] += ns`` (marked "cpu.charge(),
        inlined"): the same two additions in the same order, so every
        per-symbol sum stays bit-identical, without a Python call.
        """
        self.now += ns
        self.profile[sym] += ns

    def stall(self, sym: str, insn: str, ns: float) -> None:
        """Like :meth:`charge`, for time spent waiting inside one instruction."""
        if ns <= 0.0:
            return
        self.now += ns
        self.profile[sym] += ns
        self.stalls[(sym, insn)] += ns

    def wait_until(self, sym: str, insn: str, t: float) -> float:
        """Stall in *insn* until this CPU's clock reaches *t*; return the wait."""
        w = t - self.now
        if w > 0.0:
            self.stall(sym, insn, w)
            return w
        return 0.0

    def switch_pgd(self, pgd: dict[int, int] | None, asid: int) -> None:
        """Load a new translation root and ASID (TTBR0/CR3 write, no flush)."""
        self.pgd = pgd
        self.asid = asid
        self.asid_key = asid << ASID_SHIFT

    def access(self, vpn: int, write: bool, value: int = 0) -> Any:
        """One user load or store of page *vpn*; returns the value or ``FAULT``.

        A load returns the page's contents; a store writes *value* and returns it.
        """
        key = self.asid_key | vpn
        e = self.tlb.get(key)
        if e is None:
            pgd = self.pgd
            pte = pgd.get(vpn, 0) if pgd is not None else 0
            ns = self._walk_ns
            self.now += ns                  # self.charge(self.sym, ns), inlined
            self.profile[self.sym] += ns
            if not pte & _PAGE_PRESENT or (write and not pte & _PAGE_RW):
                return FAULT
            npte = pte | (_PAGE_ACCESSED | _PAGE_DIRTY if write else _PAGE_ACCESSED)
            if npte != pte:                 # the walker writes the PTE only to set A/D
                pgd[vpn] = pte = npte
            # (pte & X != 0 is bool(pte & X) without the call: & binds tighter than !=)
            e = self._tlbs.fill(self.id, key, pte >> PTE_PFN_SHIFT, pte & _PAGE_RW != 0,
                                pte & _PAGE_DIRTY != 0, self.now)
            if self.on_fill is not None:
                self.on_fill(e)
        elif write:
            if not e.writable:
                self._tlbs.drop(e)
                return FAULT
            if not e.dirty:
                # The walker must set the dirty bit in the PTE it came from.
                pgd = self.pgd
                pte = pgd.get(vpn, 0) if pgd is not None else 0
                if (pte & (_PAGE_PRESENT | _PAGE_RW) != (_PAGE_PRESENT | _PAGE_RW)
                        or pte >> PTE_PFN_SHIFT != e.pfn):
                    self._tlbs.drop(e)
                    return FAULT
                pgd[vpn] = pte | _PAGE_DIRTY | _PAGE_ACCESSED
                e.dirty = True
        if write:
            self._mem.data[e.pfn] = value
            return value
        return self._mem.data[e.pfn]


class ObservedCpu(Cpu):
    """A Cpu whose access path first reports a hit on an entry an observer marked stale.

    Chosen at construction (boot builds it when *events* has a ``stale_hit``
    subscriber, the TLB sanitizer), never swapped in, so an unobserved
    machine's access path stays the plain :meth:`Cpu.access`.  The check is
    one ``stale`` test on the entry the access is about to hit.
    """

    __slots__ = ("on_stale_hit",)

    def __init__(self, cpu_id: int, tlbs: TlbArray, mem: PhysMem, walk_ns: float,
                 events: HwEvents) -> None:
        super().__init__(cpu_id, tlbs, mem, walk_ns, events)
        hook = events.stale_hit
        assert hook is not None, "ObservedCpu without a stale_hit subscriber"
        self.on_stale_hit: Callable[[Cpu, TlbEntry, bool], None] = hook

    def access(self, vpn: int, write: bool, value: int = 0) -> Any:
        e = self.tlb.get(self.asid_key | vpn)
        if e is not None and e.stale is not None:
            self.on_stale_hit(self, e, write)
        return Cpu.access(self, vpn, write, value)
