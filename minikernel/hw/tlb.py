"""Per-CPU TLBs with machine-wide reverse indexes.

Model-only: the hardware TLBs of every CPU.  An entry caches one translation
(ASID, virtual page) -> (pfn, writable, dirty) and stays usable, whatever
happens to the PTE it was made from, until an invalidation removes it.  That
is the whole hazard this project studies.

Invariants this module owns:
  - Each CPU holds at most one entry per (ASID, vpn) key.
  - ``by_key`` and ``by_pfn`` always list exactly the live entries, so a
    broadcast invalidation touches only the CPUs that cache the key (no loop
    over all CPUs on the per-page path), and "can any CPU still reach page
    *pfn*?" is one dict lookup.

# MODEL: each TLB is fully associative with ``capacity`` entries (a profile
# figure, L2-TLB sized) and evicts its oldest entry when full.  A stale entry
# lives until an invalidation or that eviction removes it; the small programs
# the sanitizer runs never fill a TLB, so for them this is the worst case the
# architecture allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minikernel.compat import SLOTS
from minikernel.hw.mmu import ASID_SHIFT

_VPN_MASK = (1 << ASID_SHIFT) - 1


@dataclass(eq=False, **SLOTS)
class TlbEntry:
    """One cached translation in one CPU's TLB.

    cpu:       the CPU whose TLB holds it
    key:       ``asid << ASID_SHIFT | vpn``
    pfn:       the physical page it translates to
    writable:  stores may use it (subject to ``dirty``)
    dirty:     the walker already set the PTE's dirty bit; stores go straight
               through without re-walking
    filled_at: simulated ns on ``cpu`` when the walker filled it
    stale:     None, or the sanitizer's note that this entry must no longer
               be used (checked on the hit path only when it is on)
    """

    cpu: int
    key: int
    pfn: int
    writable: bool
    dirty: bool
    filled_at: float
    stale: tuple[Any, ...] | None = None

    @property
    def asid(self) -> int:
        return self.key >> ASID_SHIFT

    @property
    def vpn(self) -> int:
        return self.key & _VPN_MASK


class TlbArray:
    """The TLBs of all CPUs of one machine.

    tlbs:   one dict per CPU, key -> TlbEntry (the CPU's fast path reads it),
            oldest first
    capacity: entries per CPU before the oldest is evicted
    by_key: key -> list of entries on any CPU
    by_pfn: pfn -> list of entries on any CPU, in fill order

    The indexes are lists, not sets, for speed: nearly every key and pfn is
    cached by one entry, and a one-element list is cheaper to build and to
    empty than a set (an entry is never listed twice: each CPU holds one
    entry per key, and the fill that makes an entry lists it once).
    """

    __slots__ = ("tlbs", "by_key", "by_pfn", "capacity")

    def __init__(self, nr_cpus: int, capacity: int = 1 << 30) -> None:
        self.capacity = capacity
        self.tlbs: list[dict[int, TlbEntry]] = [{} for _ in range(nr_cpus)]
        self.by_key: dict[int, list[TlbEntry]] = {}
        self.by_pfn: dict[int, list[TlbEntry]] = {}

    # Public interface

    def fill(self, cpu: int, key: int, pfn: int, writable: bool, dirty: bool,
             now: float) -> TlbEntry:
        """Install a translation on *cpu*, replacing any entry for the same key."""
        tlb = self.tlbs[cpu]
        old = tlb.get(key)
        if old is not None:
            self._unlink(old)
            del tlb[key]
        elif len(tlb) >= self.capacity:
            victim = tlb.pop(next(iter(tlb)))       # the oldest entry
            self._unlink(victim)
        e = TlbEntry(cpu, key, pfn, writable, dirty, now)
        tlb[key] = e
        lst = self.by_key.get(key)
        if lst is None:
            self.by_key[key] = [e]
        else:
            lst.append(e)
        lst = self.by_pfn.get(pfn)
        if lst is None:
            self.by_pfn[pfn] = [e]
        else:
            lst.append(e)
        return e

    def drop(self, e: TlbEntry) -> None:
        """Remove one entry (a fault on it, or one CPU's invalidation)."""
        tlb = self.tlbs[e.cpu]
        key = e.key
        if tlb.get(key) is e:
            del tlb[key]
            # self._unlink(e), inlined (a store fault drops an entry on every cycle)
            by_key = self.by_key
            lst = by_key.get(key)
            if lst is not None:
                lst.remove(e)
                if not lst:
                    del by_key[key]
            by_pfn = self.by_pfn
            pfn = e.pfn
            lst = by_pfn.get(pfn)
            if lst is not None:
                lst.remove(e)
                if not lst:
                    del by_pfn[pfn]

    def invalidate_key(self, key: int) -> int:
        """Remove *key* from every CPU (a completed broadcast invalidation by VA)."""
        lst = self.by_key.pop(key, None)
        if not lst:
            return 0
        for e in lst:
            del self.tlbs[e.cpu][key]
            self._unlink_pfn(e)
        return len(lst)

    def invalidate_key_local(self, cpu: int, key: int) -> int:
        """Remove *key* from one CPU's TLB only (INVLPG)."""
        tlb = self.tlbs[cpu]
        e = tlb.get(key)
        if e is None:
            return 0
        # self.drop(e), inlined: e is tlb[key] (an entry lives in its own CPU's TLB),
        # and self._unlink(e) with it
        del tlb[key]
        by_key = self.by_key
        lst = by_key.get(key)
        if lst is not None:
            lst.remove(e)
            if not lst:
                del by_key[key]
        by_pfn = self.by_pfn
        lst = by_pfn.get(e.pfn)
        if lst is not None:
            lst.remove(e)
            if not lst:
                del by_pfn[e.pfn]
        return 1

    def invalidate_asid(self, asid: int, cpu: int | None = None) -> int:
        """Remove every entry of *asid*, on *cpu* only or on all CPUs."""
        cpus = range(len(self.tlbs)) if cpu is None else (cpu,)
        n = 0
        tlbs = self.tlbs
        for c in cpus:
            tlb = tlbs[c]
            if not tlb:                     # an empty TLB holds no victims (most, on 256 CPUs)
                continue
            victims = [e for e in tlb.values() if e.key >> ASID_SHIFT == asid]
            for e in victims:
                self.drop(e)
            n += len(victims)
        return n

    def invalidate_all_local(self, cpu: int) -> int:
        """Remove every entry of one CPU (a full local flush)."""
        victims = list(self.tlbs[cpu].values())
        for e in victims:
            self.drop(e)
        return len(victims)

    def entries_for_pfn(self, pfn: int) -> list[TlbEntry]:
        """Every entry on any CPU that still translates to *pfn*, in fill order (may be empty)."""
        return list(self.by_pfn.get(pfn, ()))

    def lookup(self, cpu: int, asid: int, vpn: int) -> TlbEntry | None:
        """The entry *cpu* would hit for (asid, vpn), if any (for tests and reports)."""
        return self.tlbs[cpu].get(asid << ASID_SHIFT | vpn)

    # Private helpers

    def _unlink(self, e: TlbEntry) -> None:
        lst = self.by_key.get(e.key)
        if lst is not None:
            lst.remove(e)
            if not lst:
                del self.by_key[e.key]
        self._unlink_pfn(e)

    def _unlink_pfn(self, e: TlbEntry) -> None:
        lst = self.by_pfn.get(e.pfn)
        if lst is not None:
            lst.remove(e)
            if not lst:
                del self.by_pfn[e.pfn]
