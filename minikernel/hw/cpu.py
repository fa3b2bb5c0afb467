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
from collections.abc import Callable, Iterator, Mapping
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

#: Every kernel symbol the model charges (``m.kernel_ns[sym]``); a profile's
#: [kernel_ns] table must give each one (minikernel.profile checks it).  Kernel
#: names, verbatim.
KERNEL_SYMBOLS: tuple[str, ...] = (
    # fault path
    "el0_da", "handle_mm_fault", "do_anonymous_page", "do_wp_page", "filemap_map_pages",
    "do_fault", "finish_fault", "_raw_spin_unlock", "shmem_get_folio_gfp", "xas_load",
    "shmem_add_to_page_cache", "shmem_fault", "shmem_swapin_folio", "do_swap_page", "swap_cache_lookup",
    "swap_read_folio", "__alloc_pages", "clear_page", "memset64", "zram_bvec_read",
    "zram_slot_lock", "__zram_bvec_write", "_raw_spin_lock", "_raw_spin_unlock_irq",
    "_raw_spin_lock_irqsave", "_raw_spin_unlock_irqrestore", "folio_add_lru",
    # reclaim path
    "madvise_cold_or_pageout_pte_range", "folio_isolate_lru", "shrink_folio_list",
    "folio_referenced", "pageout", "add_to_swap", "rmap_walk", "try_to_unmap_one",
    "page_vma_mapped_walk", "ptep_clear_flush", "ptep_get_and_clear",
    "set_tlb_ubc_flush_pending", "try_to_unmap_flush", "try_to_unmap_flush_dirty",
    "shmem_writeout", "swap_writepage", "__remove_mapping", "free_unref_folios",
    "reclaim_pages", "folio_referenced_one", "shrink_active_list", "tlb_finish_mmu",
    "tlb_flush_mmu",
    # syscalls
    "el0_svc", "zap_pte_range", "change_pte_range", "flush_tlb_batched_pending",
    # migration (mm/migrate.c; the copy, copy_page, costs what [numa] says)
    "migrate_pages", "migrate_pages_batch", "migrate_folio_unmap", "migrate_folio_move",
    "unmap_and_move", "try_to_migrate_one", "remove_migration_pte", "migration_entry_wait",
    "do_pages_move",
    # user space
    "main",
)

#: Every symbol the model charges, in a fixed order: a symbol's position is its
#: slot in each CPU's ``ns`` list and in the machine's ``kns`` cost list.  The
#: kernel functions of KERNEL_SYMBOLS and the arch entry symbols (a profile
#: gives their costs), then symbols charged only by the hardware and arch
#: backends (their costs come from other profile figures).  A name not listed
#: (a test's made-up symbol) gets the next slot on its first charge
#: (:func:`symbol_id`); the per-page paths index only the listed ones, through
#: the ``S_<symbol>`` constants below.
SYMBOLS: list[str] = [
    *KERNEL_SYMBOLS,
    # x86 and riscv entry symbols
    "asm_exc_page_fault", "exc_page_fault", "entry_SYSCALL_64", "do_syscall_64",
    "handle_exception", "do_page_fault", "do_trap_ecall_u",
    # charged by the hardware and arch backends, and the syscalls' own symbols
    "cpu_idle", "copy_page", "__flush_tlb_range", "arch_tlbbatch_flush",
    "flush_tlb_mm_range", "flush_tlb_func", "smp_call_function_many_cond", "switch_mm",
    "__ipi_flush_tlb_range_asid", "sbi_ecall", "sbi_tlb_process",
    "kernel_clone", "do_mprotect_pkey", "do_mremap",
]
#: symbol -> its slot (the index into SYMBOLS)
SYMBOL_IDS: dict[str, int] = {s: i for i, s in enumerate(SYMBOLS)}
assert len(SYMBOL_IDS) == len(SYMBOLS), "a symbol listed twice"


#: Slots each CPU holds beyond the registered symbols, so that a symbol
#: registered after the CPU was built can be charged without a lookup.
_SPARE_SLOTS = 16


def symbol_id(sym: str) -> int:
    """The slot of *sym*, giving a symbol not seen before the next free slot."""
    i = SYMBOL_IDS.get(sym)
    if i is None:
        i = SYMBOL_IDS[sym] = len(SYMBOLS)
        SYMBOLS.append(sym)
    return i


# Slots of the symbols the per-page paths charge directly (``cpu.ns[S_x] += k[S_x]``).
S_el0_da = SYMBOL_IDS["el0_da"]
S_handle_mm_fault = SYMBOL_IDS["handle_mm_fault"]
S_do_anonymous_page = SYMBOL_IDS["do_anonymous_page"]
S_do_wp_page = SYMBOL_IDS["do_wp_page"]
S_filemap_map_pages = SYMBOL_IDS["filemap_map_pages"]
S_do_fault = SYMBOL_IDS["do_fault"]
S_finish_fault = SYMBOL_IDS["finish_fault"]
S__raw_spin_unlock = SYMBOL_IDS["_raw_spin_unlock"]
S_shmem_get_folio_gfp = SYMBOL_IDS["shmem_get_folio_gfp"]
S_xas_load = SYMBOL_IDS["xas_load"]
S_shmem_add_to_page_cache = SYMBOL_IDS["shmem_add_to_page_cache"]
S_shmem_fault = SYMBOL_IDS["shmem_fault"]
S_shmem_swapin_folio = SYMBOL_IDS["shmem_swapin_folio"]
S_do_swap_page = SYMBOL_IDS["do_swap_page"]
S_swap_cache_lookup = SYMBOL_IDS["swap_cache_lookup"]
S_swap_read_folio = SYMBOL_IDS["swap_read_folio"]
S___alloc_pages = SYMBOL_IDS["__alloc_pages"]
S_clear_page = SYMBOL_IDS["clear_page"]
S_memset64 = SYMBOL_IDS["memset64"]
S_zram_bvec_read = SYMBOL_IDS["zram_bvec_read"]
S_zram_slot_lock = SYMBOL_IDS["zram_slot_lock"]
S___zram_bvec_write = SYMBOL_IDS["__zram_bvec_write"]
S__raw_spin_lock = SYMBOL_IDS["_raw_spin_lock"]
S__raw_spin_unlock_irq = SYMBOL_IDS["_raw_spin_unlock_irq"]
S__raw_spin_lock_irqsave = SYMBOL_IDS["_raw_spin_lock_irqsave"]
S__raw_spin_unlock_irqrestore = SYMBOL_IDS["_raw_spin_unlock_irqrestore"]
S_folio_add_lru = SYMBOL_IDS["folio_add_lru"]
S_madvise_cold_or_pageout_pte_range = SYMBOL_IDS["madvise_cold_or_pageout_pte_range"]
S_folio_isolate_lru = SYMBOL_IDS["folio_isolate_lru"]
S_shrink_folio_list = SYMBOL_IDS["shrink_folio_list"]
S_folio_referenced = SYMBOL_IDS["folio_referenced"]
S_pageout = SYMBOL_IDS["pageout"]
S_add_to_swap = SYMBOL_IDS["add_to_swap"]
S_rmap_walk = SYMBOL_IDS["rmap_walk"]
S_try_to_unmap_one = SYMBOL_IDS["try_to_unmap_one"]
S_page_vma_mapped_walk = SYMBOL_IDS["page_vma_mapped_walk"]
S_ptep_clear_flush = SYMBOL_IDS["ptep_clear_flush"]
S_ptep_get_and_clear = SYMBOL_IDS["ptep_get_and_clear"]
S_set_tlb_ubc_flush_pending = SYMBOL_IDS["set_tlb_ubc_flush_pending"]
S_try_to_unmap_flush = SYMBOL_IDS["try_to_unmap_flush"]
S_try_to_unmap_flush_dirty = SYMBOL_IDS["try_to_unmap_flush_dirty"]
S_shmem_writeout = SYMBOL_IDS["shmem_writeout"]
S_swap_writepage = SYMBOL_IDS["swap_writepage"]
S___remove_mapping = SYMBOL_IDS["__remove_mapping"]
S_free_unref_folios = SYMBOL_IDS["free_unref_folios"]
S_reclaim_pages = SYMBOL_IDS["reclaim_pages"]
S_folio_referenced_one = SYMBOL_IDS["folio_referenced_one"]
S_shrink_active_list = SYMBOL_IDS["shrink_active_list"]
S_tlb_finish_mmu = SYMBOL_IDS["tlb_finish_mmu"]
S_tlb_flush_mmu = SYMBOL_IDS["tlb_flush_mmu"]
S_el0_svc = SYMBOL_IDS["el0_svc"]
S_zap_pte_range = SYMBOL_IDS["zap_pte_range"]
S_change_pte_range = SYMBOL_IDS["change_pte_range"]
S_flush_tlb_batched_pending = SYMBOL_IDS["flush_tlb_batched_pending"]
S_migrate_pages = SYMBOL_IDS["migrate_pages"]
S_migrate_pages_batch = SYMBOL_IDS["migrate_pages_batch"]
S_migrate_folio_unmap = SYMBOL_IDS["migrate_folio_unmap"]
S_migrate_folio_move = SYMBOL_IDS["migrate_folio_move"]
S_unmap_and_move = SYMBOL_IDS["unmap_and_move"]
S_try_to_migrate_one = SYMBOL_IDS["try_to_migrate_one"]
S_remove_migration_pte = SYMBOL_IDS["remove_migration_pte"]
S_migration_entry_wait = SYMBOL_IDS["migration_entry_wait"]
S_do_pages_move = SYMBOL_IDS["do_pages_move"]
S_main = SYMBOL_IDS["main"]
S_asm_exc_page_fault = SYMBOL_IDS["asm_exc_page_fault"]
S_exc_page_fault = SYMBOL_IDS["exc_page_fault"]
S_entry_SYSCALL_64 = SYMBOL_IDS["entry_SYSCALL_64"]
S_do_syscall_64 = SYMBOL_IDS["do_syscall_64"]
S_handle_exception = SYMBOL_IDS["handle_exception"]
S_do_page_fault = SYMBOL_IDS["do_page_fault"]
S_do_trap_ecall_u = SYMBOL_IDS["do_trap_ecall_u"]
S_cpu_idle = SYMBOL_IDS["cpu_idle"]
S_copy_page = SYMBOL_IDS["copy_page"]
S___flush_tlb_range = SYMBOL_IDS["__flush_tlb_range"]
S_arch_tlbbatch_flush = SYMBOL_IDS["arch_tlbbatch_flush"]
S_flush_tlb_mm_range = SYMBOL_IDS["flush_tlb_mm_range"]
S_flush_tlb_func = SYMBOL_IDS["flush_tlb_func"]
S_smp_call_function_many_cond = SYMBOL_IDS["smp_call_function_many_cond"]
S_switch_mm = SYMBOL_IDS["switch_mm"]
S___ipi_flush_tlb_range_asid = SYMBOL_IDS["__ipi_flush_tlb_range_asid"]
S_sbi_ecall = SYMBOL_IDS["sbi_ecall"]
S_sbi_tlb_process = SYMBOL_IDS["sbi_tlb_process"]
S_kernel_clone = SYMBOL_IDS["kernel_clone"]
S_do_mprotect_pkey = SYMBOL_IDS["do_mprotect_pkey"]
S_do_mremap = SYMBOL_IDS["do_mremap"]


class _Unused:
    """A profile slot nothing has charged yet on one CPU.

    The first ``cpu.ns[i] += ns`` on it (Python falls back to ``__add__``)
    notes the slot in the CPU's first-charge order and leaves the float
    ``0.0 + ns`` in its place -- exactly what a ``defaultdict(float)`` did on
    a symbol's first charge, so the view below lists symbols in the order
    they were first charged, as the dict did, and every sum is bit-identical.
    """

    __slots__ = ("order", "slot")

    def __init__(self, order: list[int], slot: int) -> None:
        self.order = order
        self.slot = slot

    def __add__(self, ns: float) -> float:
        self.order.append(self.slot)
        return 0.0 + ns


class CpuProfile(Mapping[str, float]):
    """``cpu.profile``: symbol -> ns spent there, a read-only view of ``cpu.ns``.

    Iterates the symbols charged on this CPU in the order of their first
    charge (as the ``defaultdict`` it replaces did).  Reading a known symbol
    nothing charged gives 0.0; an unknown name raises KeyError.  It has no
    ``__setitem__``: a write such as ``cpu.profile[sym] += ns`` raises
    TypeError instead of losing the charge -- charge ``cpu.ns[S_sym]``.
    """

    __slots__ = ("_cpu",)

    def __init__(self, cpu: Cpu) -> None:
        self._cpu = cpu

    def __getitem__(self, sym: str) -> float:
        i = SYMBOL_IDS[sym]
        ns = self._cpu.ns
        v = ns[i] if i < len(ns) else None
        return 0.0 if v is None or type(v) is _Unused else v

    def __contains__(self, sym: object) -> bool:
        i = SYMBOL_IDS.get(sym) if isinstance(sym, str) else None
        ns = self._cpu.ns
        return i is not None and i < len(ns) and type(ns[i]) is not _Unused

    def __iter__(self) -> Iterator[str]:
        return iter([SYMBOLS[i] for i in self._cpu.ns_order])

    def __len__(self) -> int:
        return len(self._cpu.ns_order)

    def __repr__(self) -> str:
        return f"CpuProfile({dict(self)!r})"


class Cpu:
    """One simulated CPU.

    id:           CPU number (``smp_processor_id()``)
    now:          this CPU's clock, simulated ns
    sym:          the slot (``S_<symbol>``, SYMBOL_IDS) of the symbol currently
                  executing; charges without an explicit symbol go there (how
                  inlined helpers land in their caller); ``SYMBOLS[sym]`` names it
    ns:           slot (``S_<symbol>``, SYMBOL_IDS) -> ns spent in that
                  symbol: the per-page paths charge ``cpu.ns[S_x] += ns``
    profile:      symbol -> ns spent there, a read-only view of ``ns``
    stalls:       (symbol, instruction) -> ns spent waiting in that
                  instruction, a ``perf annotate`` view of the big stalls
    pgd:          the page table the walker uses (the current mm's), or None
    asid:         the current ASID; ``asid_key`` is it shifted into TLB keys
    current:      the task running here (kernel-owned, opaque to hardware)
    pending_tlbi: arm64 broadcast invalidations this CPU issued and has not
                  completed with a DSB yet, as (completion time, kind, arg) in
                  issue order; its tail is also the DVM's queue of outstanding
                  operations (arm64 ``Dvm.done_head``)
    """

    __slots__ = ("id", "now", "sym", "ns", "ns_order", "profile", "stalls", "pgd", "asid",
                 "asid_key", "current", "pending_tlbi", "tlb", "_tlbs", "_mem", "_walk_ns",
                 "on_fill")

    def __init__(self, cpu_id: int, tlbs: TlbArray, mem: PhysMem, walk_ns: float,
                 events: HwEvents | None = None) -> None:
        self.id = cpu_id
        self.now = 0.0
        self.sym = S_cpu_idle
        # slots in the order of their first charge (_Unused notes them)
        self.ns_order: list[int] = []
        self.ns: list[Any] = [_Unused(self.ns_order, i)
                              for i in range(len(SYMBOLS) + _SPARE_SLOTS)]
        self.profile = CpuProfile(self)
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
        ``cpu.now += ns; cpu.ns[S_sym] += ns`` (marked "cpu.charge(),
        inlined"): the same two additions in the same order, so every
        per-symbol sum stays bit-identical, without a Python call or a
        string lookup.
        """
        self.now += ns
        try:
            self.ns[SYMBOL_IDS[sym]] += ns
        except (KeyError, IndexError):
            self.ns[self._slot(sym)] += ns

    def stall(self, sym: str, insn: str, ns: float) -> None:
        """Like :meth:`charge`, for time spent waiting inside one instruction."""
        if ns <= 0.0:
            return
        self.now += ns
        try:
            self.ns[SYMBOL_IDS[sym]] += ns
        except (KeyError, IndexError):
            self.ns[self._slot(sym)] += ns
        self.stalls[(sym, insn)] += ns

    def wait_until(self, sym: str, insn: str, t: float) -> float:
        """Stall in *insn* until this CPU's clock reaches *t*; return the wait."""
        w = t - self.now
        if w > 0.0:
            self.stall(sym, insn, w)
            return w
        return 0.0

    def _slot(self, sym: str) -> int:
        """The slot of *sym* (registered if new), this CPU's ``ns`` grown to hold it."""
        i = symbol_id(sym)
        ns = self.ns
        while len(ns) <= i:
            ns.append(_Unused(self.ns_order, len(ns)))
        return i

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
            self.ns[self.sym] += ns
            if not pte & _PAGE_PRESENT or (write and not pte & _PAGE_RW):
                return FAULT
            npte = pte | (_PAGE_ACCESSED | _PAGE_DIRTY if write else _PAGE_ACCESSED)
            if npte != pte:                 # the walker writes the PTE only to set A/D
                pgd[vpn] = pte = npte
            # self._tlbs.fill(self.id, key, ...), inlined (once per miss): this CPU
            # holds no entry for key (the lookup above missed), so fill's
            # replacement case cannot arise; the eviction and the indexing are its own.
            # (pte & X != 0 is bool(pte & X) without the call: & binds tighter than !=)
            tlbs = self._tlbs
            tlb = self.tlb
            if len(tlb) >= tlbs.capacity:
                tlbs._unlink(tlb.pop(next(iter(tlb))))     # the oldest entry
            pfn = pte >> PTE_PFN_SHIFT
            e = TlbEntry(self.id, key, pfn, pte & _PAGE_RW != 0, pte & _PAGE_DIRTY != 0,
                         self.now)
            tlb[key] = e
            lst = tlbs.by_key.get(key)
            if lst is None:
                tlbs.by_key[key] = [e]
            else:
                lst.append(e)
            lst = tlbs.by_pfn.get(pfn)
            if lst is None:
                tlbs.by_pfn[pfn] = [e]
            else:
                lst.append(e)
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
