"""The TLB sanitizer: checks the deferred-flush invariants on a running machine.

Model-only (CONFIG_DEBUG_TLB_SANITIZER; think KASAN for TLB shootdown).  It
checks the four invariants of docs/design.md §4.3 against the real TLB state
of the simulated CPUs and reports each violation the way KASAN reports a bad
access: kind, CPU, task, mm, address, page, the stale TLB entry, and the
trail of recent events that produced it.

Violation kinds (stable names; scenario files and JSON use them):

  use-after-free-tlb   a page was freed while a TLB entry could still reach
                       it (on arm64 also through a TLBI its issuer had not
                       completed with DSB ISH) -- invariant 1.  Reported at
                       free time for entries on CPUs running that ASID, and
                       at first use for entries cached on a CPU that runs
                       another mm at the time (x86 drops those on its way
                       back through the tlb_gen check, so only a use is a bug).
  io-while-writable    pageout started while a CPU could still store to the
                       page without a fault (a writable, dirty entry) --
                       invariant 2, what try_to_unmap_flush_dirty() prevents.
                       Like use-after-free-tlb, an entry on a CPU running
                       another mm at the time is reported only if it stores.
  stale-after-syscall  a load (or a store that does not re-walk) used a TLB
                       entry that an mprotect, munmap, mremap, madvise or
                       fork had removed or write-protected before it
                       returned -- invariant 3, the 2017 race.
  data-lost            a task read back something other than what was last
                       written at that address (in its mm, or in the shared
                       object behind it) -- invariant 4.
  migrate-copy-while-writable
                       migration started copying a page while a CPU could
                       still store to the old page without a fault (a
                       writable, dirty entry): the store would land after
                       the copy and be lost with the old page -- invariant
                       2 for migration, what migrate_pages_batch()'s
                       try_to_unmap_flush() before the move loop prevents.
                       Reported at the copy for entries on CPUs running that
                       ASID, at the store for the others.

Invariants this module owns:
  - It is off unless the machine was booted with DEBUG_TLB_SANITIZER=y; then
    and only then it subscribes to the machine's observer layer
    (``machine.observers``, minikernel/observe.py) while the Machine is
    built: TLB fills, TLBI completions, stale-entry hits (so boot builds
    ``hw.cpu.ObservedCpu``: one extra dict lookup per access), folio frees,
    cleared PTEs and syscall entry/return; events are kept in a ring of
    ``TRAIL_LEN``.  Nothing is swapped or patched.  A machine without it pays
    one ``is None`` test at each hook site and nothing per access.
  - It never changes what the model does: it observes, marks TLB entries
    (``TlbEntry.stale``) and records violations.  It does not raise.
  - An entry marked stale is reported on use only while it still disagrees
    with the current PTE (a page swapped back in at the same pfn makes an
    old entry correct again).
  - Each (kind, CPU, entry or address) is reported once.
"""

# File layout:
#
#   Public interface
#     KINDS, Violation, TlbSanitizer
#   Hooks called by the kernel model and the user layer
#   Private helpers

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from minikernel.hw.cpu import Cpu
from minikernel.hw.mmu import (
    _PAGE_PRESENT,
    _PAGE_RW,
    ASID_SHIFT,
    PAGE_SHIFT,
    PAGE_SIZE,
    PTE_PFN_SHIFT,
)
from minikernel.mm.mm_types import VM_SHARED

if TYPE_CHECKING:
    from minikernel.hw.tlb import TlbEntry
    from minikernel.machine import Machine
    from minikernel.mm.mm_types import Folio, MmStruct, TaskStruct

#
# Public interface
#

KINDS: dict[str, str] = {
    "use-after-free-tlb": "page freed while still reachable through a TLB entry",
    "io-while-writable": "pageout while a CPU can still store to the page",
    "stale-after-syscall": "TLB entry used after the syscall that removed it returned",
    "data-lost": "a task read back something other than what it wrote",
    "migrate-copy-while-writable": "migration copied a page a CPU can still store to",
}

#: Events kept for the trail of a report (the ring's length).
TRAIL_LEN = 256
#: Events of the ring shown in one report, the most recent relevant ones.
REPORT_TRAIL = 16

_VPN_MASK = (1 << ASID_SHIFT) - 1
_FILL = object()          # ring marker: a TLB fill, rendered from the entry itself
_NONE = -1                # a ring's pfn, key or asid slot with nothing in it (all are >= 0)

# How the trail names the other kernel entries.
_LABELS = {"try_to_free_pages": "direct reclaim (try_to_free_pages)", "do_mmap": "mmap",
           "kernel_clone": "clone"}

# Syscalls whose removed/downgraded translations invariant 3 covers.
_RANGE_CALLS = {
    "do_mprotect_pkey": "mprotect", "do_munmap": "munmap", "do_mremap": "mremap",
    "do_madvise": "madvise(MADV_PAGEOUT)", "do_madvise_dontneed": "madvise(MADV_DONTNEED)",
    "fork": "fork",
}


@dataclass
class Violation:
    """One sanitizer report.

    kind:   one of KINDS
    cpu:    the CPU that did the bad thing (or holds the stale entry)
    task:   "comm/pid" of the task involved, or None
    asid:   the mm's ASID, or None
    addr:   the user virtual address, or None
    pfn:    the physical page, or None
    entry:  the stale TLB entry as a dict (cpu, asid, va, pfn, writable, dirty), or None
    what:   one line saying what happened
    trail:  the recent relevant events, oldest first
    syscall: for stale-after-syscall, the call that left the entry behind
    """

    kind: str
    cpu: int
    task: str | None
    asid: int | None
    addr: int | None
    pfn: int | None
    entry: dict | None
    what: str
    trail: list[str] = field(default_factory=list)
    syscall: str | None = None

    def as_dict(self) -> dict:
        return {"kind": self.kind, "cpu": self.cpu, "task": self.task, "asid": self.asid,
                "addr": self.addr, "pfn": self.pfn, "entry": self.entry, "what": self.what,
                "syscall": self.syscall, "trail": list(self.trail)}

    def report(self) -> str:
        """The KASAN-shaped text report."""
        bar = "=" * 66
        lines = [bar, f"BUG: TLB-SAN: {self.kind} on CPU{self.cpu}"
                 + (f" by task {self.task}" if self.task else ""), self.what]
        where = []
        if self.asid is not None:
            where.append(f"mm asid {self.asid}")
        if self.addr is not None:
            where.append(f"addr {self.addr:#x}")
        if self.pfn is not None:
            where.append(f"page pfn {self.pfn}")
        if where:
            lines.append("  " + ", ".join(where))
        if self.entry is not None:
            e = self.entry
            lines.append(f"  stale TLB entry: CPU{e['cpu']} asid {e['asid']} va {e['va']:#x} -> "
                         f"pfn {e['pfn']} {'writable' if e['writable'] else 'read-only'}"
                         f"{' dirty' if e['dirty'] else ' clean'}, filled at {e['filled_at']:.0f} ns")
        lines.append("event trail (oldest first):")
        lines.extend("  " + t for t in self.trail)
        lines.append(bar)
        return "\n".join(lines)


def _pte_cleared_templates(fn: str) -> tuple[str, str, str, str]:
    """The pte_cleared event's four templates for *fn*, by (dirty, deferred): the two ints left are the address and the pfn."""
    return tuple(f"{fn}: PTE {{:#x}} -> pfn {{}}{' (dirty)' if dirty else ''} cleared, "
                 + ("flush DEFERRED to tlb_ubc" if deferred else "flushed (ptep_clear_flush)")
                 for dirty in (False, True) for deferred in (False, True))    # type: ignore[return-value]


#: fn -> _pte_cleared_templates(fn), filled on first use
_PTE_CLEARED: dict[str, tuple[str, str, str, str]] = {}


def distinct_kinds(violations) -> list[str]:
    """The distinct ``kind`` of *violations*, in first-seen order."""
    return list(dict.fromkeys(v.kind for v in violations))


class TlbSanitizer:
    """The sanitizer of one machine.

    violations: every Violation reported so far, in order
    log_violations: also log a warning per violation (the explorer turns it off)
    shadow:     what user tasks last wrote: (mm, vpn) for private memory,
                (shmem object, index) for shared memory -> value
    """

    def __init__(self, machine: Machine) -> None:
        self.m = machine
        self.violations: list[Violation] = []
        self.shadow: dict[tuple, int] = {}
        # The ring of the last TRAIL_LEN events, event number seq in slot
        # seq % TRAIL_LEN: one preallocated list per field, so the per-page
        # hooks record an event without allocating anything that outlives
        # it.  (A deque of tuples made every minor collection copy the whole
        # ring's worth of young tuples to the old generation: on PyPy, most
        # of what the sanitizer cost.)  The int fields are lists holding only
        # ints, which PyPy stores unboxed (a value of 2**63 or more, stored
        # by a load of such a word, only makes its list a list of objects),
        # and which CPython stores faster than an array.
        #   text: the str.format template, or _FILL (args: the TlbEntry)
        #   args: the template's arguments as a tuple, or None: they are
        #         (a0, a1) (str.format ignores the second if unused)
        n = TRAIL_LEN
        self._seq = 0
        self._ev_cpu = [0] * n
        self._ev_task: list[Any] = [None] * n
        self._ev_text: list[Any] = [None] * n
        self._ev_args: list[Any] = [None] * n
        self._ev_a0 = [0] * n
        self._ev_a1 = [0] * n
        self._ev_pfn = [_NONE] * n
        self._ev_key = [_NONE] * n
        self._ev_asid = [_NONE] * n
        self._seen: set = set()
        self._calls: dict[Any, tuple[str, int, int]] = {}
        self.log_violations = True         # a warning per violation on the machine's log
        # Subscribed while the Machine is built (its CPUs, allocator and arch
        # backend do not exist yet); boot attaches the hooks.  Only arm64's
        # interconnect emits tlbi_complete; x86 and riscv have no such fabric.
        obs = machine.observers
        hw = obs.hw
        hw.subscribe("tlb_fill", self._on_fill)
        hw.subscribe("tlbi_complete", self._on_tlbi_complete)
        hw.subscribe("stale_hit", self.stale_hit)
        obs.subscribe("folio_free", self.on_free)
        obs.subscribe("pte_cleared", self.pte_cleared)
        obs.subscribe("syscall_enter", self.syscall_entered)
        obs.subscribe("syscall_return", self.syscall_returned)

    # Public interface

    @property
    def kinds(self) -> list[str]:
        """The distinct violation kinds reported, in first-seen order."""
        return distinct_kinds(self.violations)

    def as_dict(self) -> dict:
        """The JSON shape: ``{enabled, violations: [...]}``."""
        return {"enabled": True, "violations": [v.as_dict() for v in self.violations]}

    def event(self, cpu: Cpu, text: str, *args: Any, pfn: int | None = None,
              key: int | None = None, mm: MmStruct | None = None) -> None:
        """Record one event in the ring (tags say which reports it belongs to).

        *text* is a ``str.format`` template for *args*, rendered only if a
        report quotes the event: recording stays cheap.
        """
        asid = mm.asid if mm is not None else (key >> ASID_SHIFT if key is not None else None)
        self._push(cpu, text, args, pfn, key, asid)

    # Hooks called by the kernel model and the user layer

    def pte_cleared(self, cpu: Cpu, mm: MmStruct, addr: int, pfn: int, pteval: int,
                    deferred: bool, fn: str = "try_to_unmap_one") -> None:
        """The ``pte_cleared`` event: try_to_unmap_one() (or *fn*) cleared a PTE, flushing it or deferring the flush."""
        asid = mm.asid
        templates = _PTE_CLEARED.get(fn)
        if templates is None:
            templates = _PTE_CLEARED[fn] = _pte_cleared_templates(fn)
        self._push_ints(cpu, templates[(2 if pteval & 0x04 else 0) + (1 if deferred else 0)],
                        addr, pfn, pfn, asid << ASID_SHIFT | addr >> PAGE_SHIFT, asid)

    def before_io(self, cpu: Cpu, folio: Folio) -> None:
        """Invariant 2: pageout() is about to write *folio*; nobody may still store to it."""
        pfn = folio.pfn
        self._push_ints(cpu, "pageout: pfn {} queued for IO", pfn, 0, pfn, _NONE, _NONE)
        entries = self.m.tlbs.by_pfn.get(pfn)
        if not entries:
            return
        cpus = self.m.cpus
        for e in list(entries):
            if not (e.writable and e.dirty):
                continue                   # a store through a clean entry re-walks and traps
            if cpus[e.cpu].asid != e.key >> ASID_SHIFT:
                # Cached by a CPU now running another mm: only a store after it
                # switches back (x86 flushes then if a flush was missed) is a bug.
                e.stale = ("io-while-writable", folio.pfn, cpu.id)
                continue
            self._report("io-while-writable", e.cpu, e, cpu.current,
                         f"pageout of pfn {folio.pfn} started on CPU{cpu.id} while CPU{e.cpu} "
                         f"can still store to it through a writable dirty TLB entry "
                         f"(a store now is lost when the page is freed)")

    def migrate_copy(self, cpu: Cpu, src: Folio, dst: Folio) -> None:
        """Migration's copy of *src* into *dst* starts: nobody may still store to *src*.

        Like before_io(): a store through a writable dirty entry for *src*
        after this point lands in the old page behind the copy's back.
        """
        self.event(cpu, "migrate: copy of pfn {} to pfn {} started", src.pfn, dst.pfn,
                   pfn=src.pfn)
        self.event(cpu, "migrate: pfn {} now holds the copy of pfn {}", dst.pfn, src.pfn,
                   pfn=dst.pfn)
        cpus = self.m.cpus
        for e in list(self.m.tlbs.entries_for_pfn(src.pfn)):
            if not (e.writable and e.dirty):
                continue                   # a store through a clean entry re-walks and faults
            if cpus[e.cpu].asid != e.key >> ASID_SHIFT:
                e.stale = ("migrate-copy-while-writable", src.pfn, cpu.id)
                continue
            self._report("migrate-copy-while-writable", e.cpu, e, cpu.current,
                         f"migration of pfn {src.pfn} to pfn {dst.pfn} started copying on "
                         f"CPU{cpu.id} while CPU{e.cpu} can still store to the old page through "
                         "a writable dirty TLB entry (a store now is lost with the old page)")

    def on_free(self, cpu: Cpu, folio: Folio) -> None:
        """The ``folio_free`` event.  Invariant 1: *folio* is being freed; no TLB entry may still reach it."""
        pfn = folio.pfn
        self._push_ints(cpu, "free: pfn {} returned to the page allocator", pfn, 0, pfn,
                        _NONE, _NONE)
        entries = self.m.tlbs.by_pfn.get(pfn)
        if not entries:
            return
        cpus = self.m.cpus
        for e in list(entries):
            e.stale = ("use-after-free-tlb", folio.pfn, cpu.id)
            if cpus[e.cpu].asid == e.key >> ASID_SHIFT:
                self._report("use-after-free-tlb", e.cpu, e, cpu.current,
                             f"pfn {folio.pfn} freed by CPU{cpu.id} while CPU{e.cpu}, running "
                             f"asid {e.key >> ASID_SHIFT}, still holds a TLB entry for it")

    def syscall_entered(self, task: TaskStruct, name: str, start: int, length: int) -> None:
        """The ``syscall_enter`` event: remember the call's range for the check at return."""
        self._calls[task] = (name, start, length)
        label = _RANGE_CALLS.get(name) or _LABELS.get(name, name)
        if length:
            self.event(task.cpu, "syscall {}({:#x}, {:#x}) entered", label, start, length,
                       mm=task.mm)
        else:
            self.event(task.cpu, "syscall {} entered", label, mm=task.mm)

    def syscall_returned(self, task: TaskStruct) -> None:
        """The ``syscall_return`` event.  Invariant 3: mark every TLB entry this call removed or write-protected."""
        call = self._calls.pop(task, None)
        if call is None:
            return
        name, start, length = call
        label = _RANGE_CALLS.get(name)
        self.event(task.cpu, "syscall {} returned", label or _LABELS.get(name, name), mm=task.mm)
        if label is None:
            return
        mm = task.mm
        if name == "fork":
            ranges = [(v.vm_start, v.vm_end) for v in mm.mmap]
        else:
            end = start + ((length + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
            ranges = [(start, end)]
        self._mark_stale(task, mm, ranges, label)

    def stale_hit(self, cpu: Cpu, e: TlbEntry, write: bool) -> None:
        """The ``stale_hit`` event: ObservedCpu is about to use entry *e*, which the sanitizer marked stale."""
        task = cpu.current
        mm = task.mm
        vpn = e.key & _VPN_MASK
        pte = mm.pgd.get(vpn, 0)
        same = pte & _PAGE_PRESENT and pte >> PTE_PFN_SHIFT == e.pfn
        if same and (pte & _PAGE_RW or not e.writable):
            e.stale = None                 # the PTE says the same again: no longer stale
            return
        # A store through a clean entry re-walks and faults; only reads and
        # stores through dirty writable entries really use the translation.
        if write and not (e.writable and e.dirty):
            return
        if not write and same:
            return                         # only write permission was removed
        stale = e.stale
        assert stale is not None              # ObservedCpu emits this for marked entries only
        kind = stale[0]
        addr = vpn << PAGE_SHIFT
        op = "store" if write else "load"
        if kind == "migrate-copy-while-writable":
            if not write:
                return
            what = (f"store at {addr:#x} on CPU{cpu.id} through a writable entry for pfn {e.pfn}, "
                    f"whose migration copy CPU{stale[2]} had already started (the store is lost)")
        elif kind == "io-while-writable":
            if not write:
                return
            what = (f"store at {addr:#x} on CPU{cpu.id} through a writable entry for pfn {e.pfn}, "
                    f"which CPU{stale[2]} started writing out while this entry was cached")
        elif kind == "use-after-free-tlb":
            what = (f"{op} at {addr:#x} on CPU{cpu.id} through a TLB entry for pfn {e.pfn}, "
                    f"which CPU{stale[2]} freed while this entry was cached")
        else:
            what = (f"{op} at {addr:#x} on CPU{cpu.id} through a TLB entry that "
                    f"{stale[1]} by {stale[2]} removed or write-protected before returning")
        self._report(kind, cpu.id, e, task, what,
                     syscall=stale[1] if kind == "stale-after-syscall" else None)

    def user_wrote(self, task: TaskStruct, addr: int, value: int) -> None:
        """Invariant 4: remember what *task* wrote at *addr*."""
        k = self._shadow_key(task, addr)
        if k is not None:
            self.shadow[k] = value
            self.event(task.cpu, "user store {:#x} = {:#x}", addr, value,
                       pfn=self._pfn_of(task, addr),
                       key=task.mm.asid << ASID_SHIFT | addr >> PAGE_SHIFT)

    def user_read(self, task: TaskStruct, addr: int, value: int) -> None:
        """Invariant 4: a read must return what was last written there."""
        k = self._shadow_key(task, addr)
        if k is None:
            return
        key = task.mm.asid << ASID_SHIFT | addr >> PAGE_SHIFT
        pfn = self._pfn_of(task, addr)
        self._push_ints(task.cpu, "user load  {:#x} -> {:#x}", addr, value,
                        _NONE if pfn is None else pfn, key, key >> ASID_SHIFT)
        want = self.shadow.get(k)
        if want is None or want == value:
            return
        self.shadow[k] = value             # report each loss once
        self._report("data-lost", task.cpu.id, None, task,
                     f"load at {addr:#x} returned {value:#x}, but {want:#x} was the last value "
                     f"written there", addr=addr, pfn=pfn, asid=task.mm.asid, key=key)

    def forked(self, parent: TaskStruct, child: TaskStruct) -> None:
        """The child's private memory starts as a copy of the parent's."""
        pm, cm = parent.mm, child.mm
        for k, v in list(self.shadow.items()):
            if k[0] is pm:
                self.shadow[(cm, k[1])] = v

    def mremapped(self, task: TaskStruct, old: int, length: int, new: int) -> None:
        """Private contents move with the mapping (shared ones are keyed by object)."""
        mm = task.mm
        delta = (new - old) >> PAGE_SHIFT
        first, last = old >> PAGE_SHIFT, (old + length + PAGE_SIZE - 1) >> PAGE_SHIFT
        moved = {k: v for k, v in self.shadow.items()
                 if k[0] is mm and first <= k[1] < last}
        for k in moved:
            del self.shadow[k]
        for (m_, vpn), v in moved.items():
            self.shadow[(m_, vpn + delta)] = v

    def dropped(self, task: TaskStruct, start: int, length: int, zero: bool) -> None:
        """munmap (forget) or MADV_DONTNEED (private pages read back as zero)."""
        mm = task.mm
        first, last = start >> PAGE_SHIFT, (start + length + PAGE_SIZE - 1) >> PAGE_SHIFT
        for vpn in range(first, last):
            k = (mm, vpn)
            if k in self.shadow:
                if zero:
                    self.shadow[k] = 0
                else:
                    del self.shadow[k]

    # Private helpers

    def _mark_stale(self, task: TaskStruct, mm: MmStruct, ranges, label: str) -> None:
        by_key = self.m.tlbs.by_key
        base = mm.asid << ASID_SHIFT
        pgd = mm.pgd
        who = f"{task.comm}/{task.pid}"
        for start, end in ranges:
            for vpn in range(start >> PAGE_SHIFT, (end + PAGE_SIZE - 1) >> PAGE_SHIFT):
                entries = by_key.get(base | vpn)
                if not entries:
                    continue
                pte = pgd.get(vpn, 0)
                for e in entries:
                    if (pte & _PAGE_PRESENT and pte >> PTE_PFN_SHIFT == e.pfn
                            and (pte & _PAGE_RW or not e.writable)):
                        continue           # still what the PTE says
                    e.stale = ("stale-after-syscall", label, who)
                    self.event(task.cpu, "{} returned with CPU{}'s entry for {:#x} -> pfn {} "
                                         "still cached", label, e.cpu, vpn << PAGE_SHIFT, e.pfn,
                               pfn=e.pfn, key=e.key)

    def _shadow_key(self, task: TaskStruct, addr: int):
        vma = task.mm.find_vma(addr)
        if vma is None:
            return None
        if vma.vm_flags & VM_SHARED:
            return (vma.vm_file, vma.linear_page_index(addr))
        return (task.mm, addr >> PAGE_SHIFT)

    def _pfn_of(self, task: TaskStruct, addr: int) -> int | None:
        e = task.cpu.tlb.get(task.mm.asid << ASID_SHIFT | addr >> PAGE_SHIFT)
        return e.pfn if e is not None else None

    def _on_fill(self, e: TlbEntry) -> None:
        self._seq = seq = self._seq + 1
        i = seq % TRAIL_LEN
        c = e.cpu
        self._ev_cpu[i] = c
        self._ev_task[i] = self.m.cpus[c].current
        self._ev_text[i] = _FILL
        self._ev_args[i] = e
        key = e.key
        self._ev_pfn[i] = e.pfn
        self._ev_key[i] = key
        self._ev_asid[i] = key >> ASID_SHIFT

    def _on_tlbi_complete(self, cpu: Cpu, kind: int, arg: int) -> None:
        if kind == 0:
            asid = arg >> ASID_SHIFT
            self._push_ints(cpu, "DSB ISH completed this CPU's TLBI VA {:#x} (asid {}) on every CPU",
                            (arg & _VPN_MASK) << PAGE_SHIFT, asid, _NONE, arg, asid)
        else:
            self._push_ints(cpu, "DSB ISH completed this CPU's TLBI ASID {}", arg, 0,
                            _NONE, _NONE, arg)

    def _push(self, cpu: Cpu, text: str, args: tuple, pfn: int | None, key: int | None,
              asid: int | None) -> None:
        # event() without its argument packing.
        self._seq = seq = self._seq + 1
        i = seq % TRAIL_LEN
        self._ev_cpu[i] = cpu.id
        self._ev_task[i] = cpu.current
        self._ev_text[i] = text
        self._ev_args[i] = args
        self._ev_pfn[i] = _NONE if pfn is None else pfn
        self._ev_key[i] = _NONE if key is None else key
        self._ev_asid[i] = _NONE if asid is None else asid

    def _push_ints(self, cpu: Cpu, text: str, a0: int, a1: int, pfn: int, key: int,
                   asid: int) -> None:
        # _push() for the per-page hooks: the template takes one or two ints
        # (a0, a1), and the tags are ints (_NONE for none), so recording
        # allocates nothing.
        self._seq = seq = self._seq + 1
        i = seq % TRAIL_LEN
        self._ev_cpu[i] = cpu.id
        self._ev_task[i] = cpu.current
        self._ev_text[i] = text
        self._ev_args[i] = None
        self._ev_a0[i] = a0
        self._ev_a1[i] = a1
        self._ev_pfn[i] = pfn
        self._ev_key[i] = key
        self._ev_asid[i] = asid

    def _trail(self, pfn, key, asid) -> list[str]:
        out = []
        ev_pfn, ev_key, ev_asid = self._ev_pfn, self._ev_key, self._ev_asid
        for seq in range(max(1, self._seq - TRAIL_LEN + 1), self._seq + 1):
            i = seq % TRAIL_LEN
            epfn, ekey, easid = ev_pfn[i], ev_key[i], ev_asid[i]
            if ((pfn is not None and epfn == pfn) or (key is not None and ekey == key)
                    or (epfn == _NONE and ekey == _NONE and (easid == _NONE or easid == asid))):
                out.append((seq, i))
        lines = []
        for seq, i in out[-REPORT_TRAIL:]:
            cpu, t, text, args = self._ev_cpu[i], self._ev_task[i], self._ev_text[i], self._ev_args[i]
            if args is None and text is not _FILL:
                args = (self._ev_a0[i], self._ev_a1[i])
            who = f"{t.comm}/{t.pid}" if t is not None else "idle"
            if text is _FILL:
                e = args
                body = (f"TLB fill va {(e.key & _VPN_MASK) << PAGE_SHIFT:#x} -> pfn {e.pfn} "
                        f"({'rw' if e.writable else 'ro'})")
            else:
                body = text.format(*args) if args else text
            lines.append(f"#{seq:<4} CPU{cpu} {who:<10} {body}")
        return lines

    def _report(self, kind: str, cpu: int, e: TlbEntry | None, task, what: str, *,
                addr: int | None = None, pfn: int | None = None, asid: int | None = None,
                key: int | None = None, syscall: str | None = None) -> None:
        if e is not None:
            key = e.key
            pfn = e.pfn
            asid = e.key >> ASID_SHIFT
            addr = (e.key & _VPN_MASK) << PAGE_SHIFT
            dedup: tuple[Any, ...] = (kind, e.cpu, e)
            entry = {"cpu": e.cpu, "asid": asid, "va": addr, "pfn": e.pfn,
                     "writable": e.writable, "dirty": e.dirty, "filled_at": e.filled_at}
        else:
            dedup = (kind, cpu, key, pfn)
            entry = None
        if dedup in self._seen:
            return
        self._seen.add(dedup)
        label = f"{task.comm}/{task.pid}" if task is not None else None
        self.violations.append(Violation(kind, cpu, label, asid, addr, pfn, entry, what,
                                         self._trail(pfn, key, asid), syscall))
        if self.log_violations:
            self.m.log.warning("tlb-san: violation", kind=kind, cpu=cpu, what=what)
