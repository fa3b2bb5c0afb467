"""The mm data structures: folio, VMA, mm_struct, anon_vma, address_space, task.

Models: include/linux/mm_types.h (struct folio, struct vm_area_struct,
struct mm_struct), include/linux/mm_types_task.h (struct
tlbflush_unmap_batch), include/linux/rmap.h (struct anon_vma),
include/linux/fs.h (struct address_space), include/linux/sched.h (the parts
of struct task_struct that reclaim touches).  Struct names become CapWords;
field names stay the kernel's.

Invariants this module owns:
  - ``folio.mapcount`` equals the number of present PTEs mapping the folio.
  - ``mm.tlb_flush_batched`` packs two generations as upstream: the low bits
    count flushes deferred by reclaim (``pending``), the high bits record the
    ``pending`` value last flushed by flush_tlb_batched_pending().  They differ
    exactly while this mm may have stale TLB entries from a deferred flush.

# MODEL: addresses are byte addresses as in the kernel; page tables and TLBs
# work on virtual page numbers (``addr >> PAGE_SHIFT``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from minikernel.compat import SLOTS
from minikernel.hw.mmu import PAGE_SHIFT

if TYPE_CHECKING:
    from minikernel.hw.cpu import Cpu
    from minikernel.machine import Machine

# vm_flags (include/linux/mm.h)
VM_READ = 0x1
VM_WRITE = 0x2
VM_SHARED = 0x8
VM_MAYWRITE = 0x20

# mm->tlb_flush_batched layout (the defines live in mm/rmap.c; generations
# since 5.17, "mm/rmap: fix potential batched TLB flush race"): pending in
# bits 0-14, flushed in bits 16-30, pending restarted above 0x3fff.
TLB_FLUSH_BATCH_FLUSHED_SHIFT = 16
TLB_FLUSH_BATCH_PENDING_MASK = (1 << (TLB_FLUSH_BATCH_FLUSHED_SHIFT - 1)) - 1    # 0x7fff
TLB_FLUSH_BATCH_PENDING_LARGE = TLB_FLUSH_BATCH_PENDING_MASK // 2                # 0x3fff


class VmBug(AssertionError):
    """Model-only: a VM_BUG_ON-style contract check failed (CONFIG_DEBUG_VM=y).

    Raised, never caught: a broken contract is a bug in the model (or in a
    deliberately broken variant), and the kernel would BUG() here.
    """


class FolioLocked(Exception):
    """Model-only: a fault found the folio it needs locked (folio_lock() would sleep).

    Only a scenario that pauses reclaim in the middle of shrink_folio_list()
    and runs another CPU's step meanwhile can meet a locked folio.  The
    model has no sleeping, so the fault path raises this before changing
    anything; the scenario runner retries the step once the paused
    operation has finished, which is when the kernel's sleeper would wake.

    # MODEL: only shrink_folio_list() takes the folio lock; faults that find
    # a locked folio raise instead of sleeping, fault-around skips it
    # (folio_trylock), and do_wp_page() copies instead of reusing it.
    """

    def __init__(self, folio: Folio) -> None:
        super().__init__(f"pfn {folio.pfn} is locked by reclaim")
        self.folio = folio


@dataclass(eq=False, **SLOTS)
class AnonVma:
    """struct anon_vma (include/linux/rmap.h): who may map an anonymous folio.

    vmas: every VMA whose PTEs may point at folios of this anon_vma.

    # MODEL: one anon_vma is shared by a process and all its forked children
    # (the kernel builds a chain of anon_vmas per fork); rmap walks may visit
    # a VMA that maps nothing, exactly as the kernel's walk can.
    """

    vmas: list[VmAreaStruct] = field(default_factory=list)


@dataclass(eq=False, **SLOTS)
class AddressSpace:
    """struct address_space (include/linux/fs.h) of a shmem object (MAP_SHARED|MAP_ANONYMOUS).

    i_pages: index -> Folio, or int (a swap offset: the xa_value shmem leaves
             behind when it swaps a page out)
    i_mmap:  every VMA mapping this object
    nr_pages: size of the object in pages
    """

    nr_pages: int
    i_pages: dict[int, Any] = field(default_factory=dict)
    i_mmap: list[VmAreaStruct] = field(default_factory=list)


# folio->flags bits (include/linux/page-flags.h names; the last two are model-only)
PG_locked = 1 << 0
PG_dirty = 1 << 1
PG_lru = 1 << 2
PG_swapcache = 1 << 3
PG_isolated = 1 << 4        # model-only: reclaim took it off the LRU and holds it
PG_freed = 1 << 5           # model-only: back in the page allocator
PG_active = 1 << 6
PG_referenced = 1 << 7
PG_gathered = 1 << 8        # model-only: an mmu_gather holds a reference until tlb_finish_mmu


def _pg_flag(bit: int, doc: str) -> property:
    """One folio->flags bit as a bool attribute (folio_test_X / folio_set_X / folio_clear_X)."""
    def _test(self: Folio) -> bool:
        return bool(self.flags & bit)

    def _set(self: Folio, value: bool) -> None:
        if value:
            self.flags |= bit
        else:
            self.flags &= ~bit
    return property(_test, _set, doc=doc)


class Folio:
    """struct folio (include/linux/mm_types.h), always one page here.

    pfn:       the page frame
    mapping:   AnonVma for anonymous memory, AddressSpace for shmem
    index:     page offset within the mapping (linear page index for anon)
    mapcount:  number of PTEs mapping it (``folio_mapcount()``)
    swap:      the swap offset while ``swapcache`` (folio->swap)
    flags:     PG_* bits, also readable and writable as the bools below
    lru_prev, lru_next: the folio's links on its Lruvec (``folio->lru``)
    dirty:     PG_dirty: contents newer than any swap copy
    swapcache: PG_swapcache
    lru:       PG_lru: on an LRU list, isolatable by reclaim
    isolated:  taken off the LRU by reclaim, which now holds it
    freed:     returned to the page allocator (model-only, for the sanitizer)
    locked:    PG_locked: reclaim holds the folio lock; a fault that needs
               the folio would sleep (see FolioLocked)
    active, referenced: PG_active / PG_referenced, the LRU aging state
    gathered:  an mmu_gather holds it (model-only stand-in for that reference)

    One exists per resident page, so it is kept small (the flags packed into
    one int as the kernel packs them; the LRU threaded through it): host
    memory per simulated page is a benchmark target.

    # MODEL: no large folios (so no THP-split batching, 6.7, and no ranged
    # arch_tlbbatch_add_pending); no refcount separate from mapcount (isolation
    # and the swap cache are tracked by the flags above), so no GUP pins and
    # no anon-exclusive handling: no modelled path takes a page reference.
    """

    __slots__ = ("pfn", "mapping", "index", "mapcount", "swap", "flags", "lru_prev", "lru_next")

    def __init__(self, pfn: int, mapping: Any = None, index: int = 0) -> None:
        self.pfn = pfn
        self.mapping = mapping
        self.index = index
        self.mapcount = 0
        self.swap = 0
        self.flags = 0
        self.lru_prev: Folio | None = None
        self.lru_next: Folio | None = None

    locked = _pg_flag(PG_locked, "PG_locked")
    dirty = _pg_flag(PG_dirty, "PG_dirty")
    lru = _pg_flag(PG_lru, "PG_lru")
    swapcache = _pg_flag(PG_swapcache, "PG_swapcache")
    isolated = _pg_flag(PG_isolated, "model-only: isolated by reclaim")
    freed = _pg_flag(PG_freed, "model-only: freed")
    active = _pg_flag(PG_active, "PG_active: on (or going back to) the active LRU list")
    referenced = _pg_flag(PG_referenced, "PG_referenced: reclaim saw it referenced once")
    gathered = _pg_flag(PG_gathered, "model-only: held by an mmu_gather (the reference "
                                     "__tlb_remove_page keeps until tlb_finish_mmu)")

    @property
    def anon(self) -> bool:
        """Models: folio_test_anon()."""
        return isinstance(self.mapping, AnonVma)

    def __repr__(self) -> str:
        names = [n for n, b in (("locked", PG_locked), ("dirty", PG_dirty), ("lru", PG_lru),
                                ("swapcache", PG_swapcache), ("isolated", PG_isolated),
                                ("freed", PG_freed), ("active", PG_active),
                                ("referenced", PG_referenced), ("gathered", PG_gathered))
                 if self.flags & b]
        return (f"Folio(pfn={self.pfn}, index={self.index}, mapcount={self.mapcount}, "
                f"swap={self.swap}, flags={'|'.join(names) or 0})")


@dataclass(eq=False, **SLOTS)
class VmAreaStruct:
    """struct vm_area_struct (include/linux/mm_types.h).

    vm_mm:     the owning mm
    vm_start, vm_end: byte addresses, page aligned, end exclusive
    vm_flags:  VM_READ | VM_WRITE | VM_SHARED ...
    vm_pgoff:  page offset of vm_start within the mapping (anon: the linear
               page index of vm_start when the VMA was created)
    anon_vma:  for private anonymous memory
    vm_file:   the shmem AddressSpace for MAP_SHARED|MAP_ANONYMOUS
    vm_policy: the NUMA memory policy mbind() set (a Mempolicy), None: the task's
    """

    vm_mm: MmStruct
    vm_start: int
    vm_end: int
    vm_flags: int
    vm_pgoff: int
    anon_vma: AnonVma | None = None
    vm_file: AddressSpace | None = None
    vm_policy: Any = None

    def linear_page_index(self, addr: int) -> int:
        """Models: include/linux/pagemap.h: linear_page_index()."""
        return self.vm_pgoff + ((addr - self.vm_start) >> PAGE_SHIFT)

    def address_of(self, index: int) -> int | None:
        """Models: mm/internal.h: vma_address(): where *index* sits in this VMA, or None."""
        addr = self.vm_start + ((index - self.vm_pgoff) << PAGE_SHIFT)
        if self.vm_start <= addr < self.vm_end:
            return addr
        return None


@dataclass(eq=False, **SLOTS)
class MmStruct:
    """struct mm_struct (include/linux/mm_types.h).

    pgd:         the page table: vpn -> pte
    asid:        the address-space id its TLB entries are tagged with
    mm_cpumask:  bitmask of CPUs where this mm is (or was) loaded; x86 keeps
                 lazy CPUs in it (and since 6.14 every CPU until a flush finds
                 it elsewhere), arm64 does not use it
    tlb_flush_batched: pending/flushed generations (see module docstring)
    mmap:        VMAs sorted by vm_start
    tlb_gen:     x86 mm->context.tlb_gen: bumped by every flush request
    mm_users:    tasks using it
    pte_tables:  the PTE tables allocated (pte_table() of an address): one is
                 allocated by the first fault in its 2 MiB (__pte_alloc), by
                 fork's copy or mremap's move, and freed only by
                 free_pgtables() (munmap, mremap's unmapping of the old range)
    machine:     the machine it lives on
    """

    machine: Machine
    asid: int
    pgd: dict[int, int] = field(default_factory=dict)
    mm_cpumask: int = 0
    tlb_flush_batched: int = 0
    mmap: list[VmAreaStruct] = field(default_factory=list)
    tlb_gen: int = 0
    mm_users: int = 0
    pte_tables: set[int] = field(default_factory=set)

    def find_vma(self, addr: int) -> VmAreaStruct | None:
        """Models: mm/mmap.c: find_vma(), restricted to VMAs containing *addr*."""
        for vma in self.mmap:
            if vma.vm_start <= addr < vma.vm_end:
                return vma
        return None


@dataclass(eq=False, **SLOTS)
class TlbflushUnmapBatch:
    """struct tlbflush_unmap_batch (include/linux/mm_types_task.h): ``current->tlb_ubc``.

    arch:           the per-arch batch (ArchTlbflushUnmapBatch of the arch)
    flush_required: some PTE was cleared whose TLB flush is still owed
    writable:       one of those PTEs was dirty, so a CPU may still be
                    *writing* the page through a stale entry: the flush must
                    happen before the page is queued for IO
    """

    arch: Any
    flush_required: bool = False
    writable: bool = False


@dataclass(eq=False, **SLOTS)
class TaskStruct:
    """struct task_struct (include/linux/sched.h), the fields reclaim and the scheduler touch.

    pid, comm:  identity
    mm:         its address space (threads share one)
    cpu:        the CPU it runs on (``task_cpu()``); its ``current``
    tlb_ubc:    reclaim's deferred-flush state (``current->tlb_ubc``)
    machine:    the machine it lives on
    mempolicy:  the task's NUMA memory policy (set_mempolicy; a Mempolicy),
                None: the default (allocate on the local node)
    """

    pid: int
    comm: str
    mm: MmStruct
    machine: Machine
    tlb_ubc: TlbflushUnmapBatch
    cpu: Cpu
    mempolicy: Any = None
