"""Event counters of one machine, with the kernel's /proc/vmstat names.

Models: mm/vmstat.c (``vmstat_text``) and include/linux/vm_event_item.h.
Counters are bumped where the kernel calls count_vm_event() /
count_vm_tlb_event().  The ``nr_tlb_*`` ones exist upstream only with
CONFIG_DEBUG_TLBFLUSH (x86 only; arm64 and riscv count none of them); the
model always counts them and lists them only when that option is set: the
Machine builds its VmStat with ``debug_tlbflush`` from its config, so
``m.vmstat.as_dict()`` agrees with /proc/vmstat and with --json.

Model-only counters (plain names, no kernel counterpart) record the reclaim
path's TLB decisions: ``tlb_sync_flush`` (ptep_clear_flush from
try_to_unmap_one), ``tlb_deferred_pte`` (PTEs cleared into the batch),
``tlb_batch_flush`` (try_to_unmap_flush calls that flushed),
``tlb_flush_dirty`` (flushes forced before IO by try_to_unmap_flush_dirty),
``tlb_batched_pending_flush`` (flush_tlb_batched_pending calls that flushed).
``pgmigrate_success`` / ``pgmigrate_fail`` are the kernel's (pages migrated or
not, counted by migrate_pages()).
"""

from __future__ import annotations

TLB_COUNTERS = ("nr_tlb_remote_flush", "nr_tlb_remote_flush_received",
                "nr_tlb_local_flush_all", "nr_tlb_local_flush_one")
EVENT_COUNTERS = ("pgfault", "pgmajfault", "pswpin", "pswpout", "pgsteal_direct",
                  "pgscan_direct", "pgfree", "pgalloc", "pgactivate", "pgdeactivate",
                  "pgmigrate_success", "pgmigrate_fail")
MODEL_COUNTERS = ("tlb_sync_flush", "tlb_deferred_pte", "tlb_batch_flush", "tlb_flush_dirty",
                  "tlb_batched_pending_flush")


class VmStat:
    """Counters, one int attribute per name above."""

    COUNTERS = TLB_COUNTERS + EVENT_COUNTERS + MODEL_COUNTERS
    __slots__ = COUNTERS + ("debug_tlbflush",)
    # The counter names, declared for type checkers (tests/mm/test_vmstat.py
    # keeps the two lists equal).
    nr_tlb_remote_flush: int
    nr_tlb_remote_flush_received: int
    nr_tlb_local_flush_all: int
    nr_tlb_local_flush_one: int
    pgfault: int
    pgmajfault: int
    pswpin: int
    pswpout: int
    pgsteal_direct: int
    pgscan_direct: int
    pgfree: int
    pgalloc: int
    pgactivate: int
    pgdeactivate: int
    pgmigrate_success: int
    pgmigrate_fail: int
    tlb_sync_flush: int
    tlb_deferred_pte: int
    tlb_batch_flush: int
    tlb_flush_dirty: int
    tlb_batched_pending_flush: int

    def __init__(self, debug_tlbflush: bool = True) -> None:
        """*debug_tlbflush*: CONFIG_DEBUG_TLBFLUSH=y (x86 only): as_dict() lists nr_tlb_*."""
        for name in self.COUNTERS:
            setattr(self, name, 0)
        self.debug_tlbflush = debug_tlbflush

    def as_dict(self, debug_tlbflush: bool | None = None) -> dict[str, int]:
        """Models: /proc/vmstat (nr_tlb_* listed only with CONFIG_DEBUG_TLBFLUSH).

        *debug_tlbflush* None: this machine's config (the constructor's flag).
        """
        if debug_tlbflush is None:
            debug_tlbflush = self.debug_tlbflush
        names = self.COUNTERS if debug_tlbflush else EVENT_COUNTERS + MODEL_COUNTERS
        return {n: getattr(self, n) for n in names}
