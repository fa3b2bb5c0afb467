"""x86 broadcast TLB invalidation: AMD INVLPGB/TLBSYNC for processes with a global ASID.

Models: the INVLPGB half of arch/x86/mm/tlb.c and
arch/x86/include/asm/tlbflush.h as merged for Linux 6.15 (Rik van Riel's
"AMD broadcast TLB invalidation" series; the model's 6.16 baseline), under
CONFIG_X86_BROADCAST_TLB_FLUSH on CPUs with X86_FEATURE_INVLPGB (the
profile's ``[x86] invlpgb``): ``consider_global_asid``, ``use_global_asid``,
``finish_asid_transition``, ``broadcast_tlb_flush``, the global-ASID cases of
``flush_tlb_mm_range``, ``flush_tlb_func`` and ``switch_mm_irqs_off``, and
the batch verbs ``arch_tlbbatch_add_pending`` / ``arch_tlbbatch_flush``.

Invariants this module owns:
  - Which mms get a global ASID: one whose flush went out by IPIs
    (``flush_tlb_mm_range``) while it was loaded on more than 3 CPUs
    (``mm_active_cpus_exceeds(mm, 3)``).  From then on it is "in
    transition" until a broadcast flush finds every CPU that runs it on the
    global ASID; a CPU moves to the global ASID at its next switch to the
    mm or its next flush IPI (``flush_tlb_func``).
  - An mm with a global ASID is flushed by INVLPGBs of that ASID, issued
    without waiting, and one TLBSYNC on the issuing CPU; while it is in
    transition the stragglers (CPUs still on a local ASID) get a flush IPI
    too (``finish_asid_transition``).
  - TLBSYNC completes only the executing CPU's INVLPGBs (minikernel.hw.x86_invlpgb).
  - Reclaim: ``arch_tlbbatch_add_pending`` issues an INVLPGB for a
    global-ASID mm and marks the batch (``unmapped_pages``); an mm in
    transition (or without a global ASID) also ORs its cpumask in, as on
    plain x86.  ``arch_tlbbatch_flush`` flushes the cpumask (IPIs) *and*
    then TLBSYNCs.  The model-only MODEL_X86_REVERT_TLBBATCH_FLUSH_BOTH
    replays the version found in review, which did one or the other.

# MODEL: consider_global_asid() checks only when (current->pid & 0x1f) ==
# (jiffies & 0x1f) upstream, a cheap rate limit; the model has no jiffies
# and checks at every IPI flush.
# MODEL: global ASIDs are never freed (no mm exit path) and never run out.
# MODEL: the reclaiming task does not migrate between add_pending and the
# flush (upstream: migrate_disable() while INVLPGBs are outstanding), so the
# TLBSYNC runs on the CPU that issued them.
# MODEL: a range of pages is one INVLPGB per page (the instruction's count
# field, up to CPUID's invlpgb_count_max pages, is not used).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from minikernel.arch import nr_pages
from minikernel.arch.x86.tlbbatch import ArchTlbflushUnmapBatch as _X86Batch
from minikernel.arch.x86.tlbflush import (
    TLB_FLUSH_ALL,
    TlbOpsLazyCpumask,
    tlb_single_page_flush_ceiling,
)
from minikernel.compat import SLOTS
from minikernel.hw.cpu import (
    S_arch_tlbbatch_flush,
    S_flush_tlb_mm_range,
)
from minikernel.hw.mmu import PAGE_SHIFT, PAGE_SIZE
from minikernel.hw.x86_invlpgb import ALL_PAGES, Invlpgb

if TYPE_CHECKING:
    from minikernel.hw.cpu import Cpu
    from minikernel.machine import Machine
    from minikernel.mm.mm_types import MmStruct

#: mm_active_cpus_exceeds(mm, 3): a global ASID for an mm loaded on more CPUs.
GLOBAL_ASID_CPUS = 3


@dataclass(eq=False, **SLOTS)
class ArchTlbflushUnmapBatch(_X86Batch):
    """struct arch_tlbflush_unmap_batch with the INVLPGB series' ``unmapped_pages``.

    unmapped_pages: this CPU issued INVLPGBs for the batch; a TLBSYNC is owed
    """

    unmapped_pages: bool = False


def invlpgb_tlbbatch_flush_steps(unmapped_pages: bool, others_in_mask: bool,
                                 reviewed_bug: bool) -> tuple[bool, bool]:
    """Models: what arch_tlbbatch_flush() does with INVLPGB: (flush the cpumask, TLBSYNC).

    Pure.  As merged: the cpumask (when it has CPUs) and, when INVLPGBs were
    issued, a TLBSYNC -- both.  The reviewed version: a TLBSYNC *instead of*
    the cpumask flush whenever INVLPGBs were issued.
    """
    if reviewed_bug and unmapped_pages:
        return False, True
    return others_in_mask, unmapped_pages


class InvlpgbTlbOps(TlbOpsLazyCpumask):
    """The x86 backend on an INVLPGB-capable CPU (X86_BROADCAST_TLB_FLUSH=y, Linux 6.16).

    A subclass of the 6.14+ backend (lazy ``mm_cpumask``): the only baseline
    with X86_BROADCAST_TLB_FLUSH is 6.16.

    invlpgb:      the broadcast-invalidation unit (minikernel.hw.x86_invlpgb)
    global_asid:  mm -> its global ASID (``mm->context.global_asid``)
    transition:   mms still in their ASID transition (``asid_transition``)
    reviewed_bug: MODEL_X86_REVERT_TLBBATCH_FLUSH_BOTH
    """

    INVLPGB = True

    def __init__(self, machine: Machine) -> None:
        super().__init__(machine)
        p = machine.profile
        assert p.invlpgb_ns is not None and p.tlbsync_ns is not None   # the profile's check
        self.invlpgb = Invlpgb(machine.tlbs, machine.nr_cpus, issue_ns=p.invlpgb_ns,
                               sync_ns=p.tlbsync_ns)
        self.global_asid: dict[MmStruct, int] = {}
        self.transition: set[MmStruct] = set()
        self.reviewed_bug = bool(machine.cfg.MODEL_X86_REVERT_TLBBATCH_FLUSH_BOTH)

    # global ASIDs

    def consider_global_asid(self, mm: MmStruct) -> None:
        """Models: consider_global_asid(): a global ASID for an mm loaded on more than 3 CPUs."""
        if mm in self.global_asid:
            return
        if sum(1 for loaded in self.loaded_mm if loaded is mm) > GLOBAL_ASID_CPUS:
            self.global_asid[mm] = self.machine.alloc_asid()      # use_global_asid()
            self.transition.add(mm)

    def _load_global(self, cpu: Cpu, mm: MmStruct) -> None:
        """Models: switch_mm_irqs_off(NULL, mm, NULL) reloading CR3 with the global ASID.

        Entries under the CPU's old local ASID become unreachable; entries
        under the global ASID are kept current by INVLPGB, so no flush.
        """
        cpu.switch_pgd(mm.pgd, self.global_asid[mm])

    def finish_asid_transition(self, cpu: Cpu, mm: MmStruct, start: int, end: int,
                               new_gen: int, freed_tables: bool) -> None:
        """Models: finish_asid_transition(): IPI the mm's CPUs while one still runs a local ASID."""
        if mm not in self.transition:
            return
        g = self.global_asid[mm]
        for i in range(self.machine.nr_cpus):
            if mm.mm_cpumask >> i & 1 and self.loaded_mm[i] is mm and self.cpus[i].asid != g:
                self.flush_tlb_multi(cpu, mm.mm_cpumask, mm, start, end, new_gen, freed_tables)
                return
        self.transition.discard(mm)

    def broadcast_tlb_flush(self, cpu: Cpu, mm: MmStruct, start: int, end: int,
                            new_gen: int, freed_tables: bool) -> None:
        """Models: broadcast_tlb_flush(): stragglers by IPI, then INVLPGBs and one TLBSYNC."""
        self.finish_asid_transition(cpu, mm, start, end, new_gen, freed_tables)
        g = self.global_asid[mm]
        inv = self.invlpgb
        if end == TLB_FLUSH_ALL or nr_pages(start, end) > tlb_single_page_flush_ceiling:
            inv.issue(cpu, g, ALL_PAGES)
        else:
            for addr in range(start, end, PAGE_SIZE):
                inv.issue(cpu, g, addr >> PAGE_SHIFT)
        inv.sync(cpu)

    # overridden verbs

    def flush_tlb_mm_range(self, cpu: Cpu, mm: MmStruct, start: int, end: int,
                           freed_tables: bool = False) -> None:
        """Models: flush_tlb_mm_range() with INVLPGB: broadcast for a global ASID, else as x86."""
        saved = cpu.sym
        cpu.sym = S_flush_tlb_mm_range
        try:
            mm.tlb_gen += 1
            new_gen = mm.tlb_gen
            if mm in self.global_asid:
                self.broadcast_tlb_flush(cpu, mm, start, end, new_gen, freed_tables)
            elif mm.mm_cpumask & ~(1 << cpu.id):
                self.flush_tlb_multi(cpu, mm.mm_cpumask, mm, start, end, new_gen, freed_tables)
                self.consider_global_asid(mm)
            elif self.loaded_mm[cpu.id] is mm:
                self.flush_tlb_func(cpu, mm, start, end, new_gen, True)
        finally:
            cpu.sym = saved

    def flush_tlb_func(self, cpu: Cpu, mm: MmStruct | None, start: int, end: int,
                       new_tlb_gen: int, local: bool) -> None:
        """Models: flush_tlb_func(): a CPU running a global-ASID mm moves to that ASID and returns.

        "Broadcast ASIDs are always kept up to date with INVLPGB": after the
        counter and the wrong-mm/lazy checks, a CPU whose loaded mm has a
        global ASID reloads it if it was still on its local one (the IPI
        finishes its transition) and flushes nothing.
        """
        me = cpu.id
        loaded = self.loaded_mm[me]
        if (loaded is not None and loaded in self.global_asid and not self.is_lazy[me]
                and (mm is None or mm is loaded)):
            if not local:
                self.vmstat.nr_tlb_remote_flush_received += 1
            if cpu.asid != self.global_asid[loaded]:
                self._load_global(cpu, loaded)
            return
        super().flush_tlb_func(cpu, mm, start, end, new_tlb_gen, local)

    def switch_mm(self, cpu: Cpu, prev: MmStruct | None, next: MmStruct | None) -> None:
        """Models: switch_mm_irqs_off() choosing the global ASID for an mm that has one."""
        super().switch_mm(cpu, prev, next)
        if next is not None and next in self.global_asid:
            self._load_global(cpu, next)

    def arch_tlbbatch_add_pending(self, cpu: Cpu, batch: ArchTlbflushUnmapBatch,  # type: ignore[override]
                                  mm: MmStruct, uaddr: int) -> None:
        """Models: arch_tlbbatch_add_pending() with INVLPGB: broadcast now, sync at the flush.

        A global-ASID mm gets an INVLPGB of the page, not waited for; one in
        transition also ORs its cpumask in, for the stragglers' IPIs.
        """
        g = self.global_asid.get(mm)
        if g is not None:
            self.invlpgb.issue(cpu, g, uaddr >> PAGE_SHIFT)
            batch.unmapped_pages = True
            if mm in self.transition:
                g = None
        if g is None:
            super().arch_tlbbatch_add_pending(cpu, batch, mm, uaddr)

    def arch_tlbbatch_flush(self, cpu: Cpu, batch: ArchTlbflushUnmapBatch) -> None:  # type: ignore[override]
        """Models: arch_tlbbatch_flush() as merged: the cpumask's IPIs, then TLBSYNC (see the pure steps)."""
        ipis, sync = invlpgb_tlbbatch_flush_steps(batch.unmapped_pages,
                                                  bool(batch.cpumask), self.reviewed_bug)
        if ipis:
            super().arch_tlbbatch_flush(cpu, batch)
        if sync:
            saved = cpu.sym
            cpu.sym = S_arch_tlbbatch_flush
            try:
                self.invlpgb.sync(cpu)
            finally:
                cpu.sym = saved
        batch.unmapped_pages = False
        batch.cpumask = 0

    def new_batch(self) -> ArchTlbflushUnmapBatch:
        """Model-only: an empty batch with ``unmapped_pages``."""
        return ArchTlbflushUnmapBatch()

    def counters(self) -> dict[str, int]:
        """Model-only: IPIs sent, INVLPGBs issued, TLBSYNCs that waited."""
        return {**super().counters(), "invlpgb": self.invlpgb.invlpgb,
                "tlbsync": self.invlpgb.tlbsync}
