"""The Machine: wires one configuration to simulated hardware and kernel state.

Model-only.  A Machine owns the CPUs, their TLBs, physical memory, the arch
backend chosen for ``cfg.arch`` (the one dispatch point is
:func:`minikernel.arch.tlb_ops_for`), the vmstat counters, the page
allocator, the swap device, the LRU, the tasks, the trace buffer and the probe
points.  Reclaim and rmap logic do not live here: they are kernel-named
functions in ``mm/`` that receive the Machine through ``current.machine``.

Invariants this module owns:
  - Nothing is module-level: two Machines with different arches and configs
    can coexist in one process.
  - Configuration is read here once, into plain attributes, so the per-page
    path never consults kconfiglib.
  - Deterministic: no wall clock, no unseeded randomness.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import structlog

from minikernel.arch import tlb_ops_for
from minikernel.baseline import KernelBaseline, baseline_for
from minikernel.hw.cpu import SYMBOLS, Cpu, ObservedCpu, symbol_id
from minikernel.hw.memory import PhysMem
from minikernel.hw.numa import NumaTopology
from minikernel.hw.tlb import TlbArray
from minikernel.mm.page_alloc import PageAllocator
from minikernel.mm.swap import SwapInfo
from minikernel.mm.vmscan import Lruvec
from minikernel.mm.vmstat import VmStat
from minikernel.observe import Observers
from minikernel.profile import MachineProfile

if TYPE_CHECKING:
    from minikernel.mm.mm_types import TaskStruct
    from minikernel.sanitizer import TlbSanitizer


class Machine:
    """One simulated machine running one kernel configuration.

    cfg:       the immutable KernelConfig
    baseline:  the kernel release this machine runs (KernelBaseline), resolved
               once from the Kconfig choice that names it; generic mm and arch
               code read its behaviour attributes
    profile:   the MachineProfile (CPU count, costs)
    nr_cpus:   online CPUs
    cpus:      Cpu objects; ``tlbs`` their TLBs; ``mem`` physical memory
    arch:      the ArchTlbOps backend
    vmstat:    kernel event counters
    kernel_ns: symbol -> cost of one call's own work, from the profile (read-only)
    kns:       the same costs as a list by symbol slot (``kns[S_sym]``, SYMBOL_IDS)
    tasks:     every task created on this machine
    probes:    probe name -> callback(current, **ctx); see :meth:`probe`
    observers: the observer layer (minikernel/observe.py): subscribed to
               while the Machine is built, attached before the hardware is
               built; ``observers.probes`` is ``probes``
    sanitizer: the TLB sanitizer (a subscriber) when enabled, else None
    trace:     list of ftrace-shaped lines, or None when tracing is off
    batched_unmap, debug_vm: boot-resolved config booleans for hot paths
    revert_batched_pending, revert_flush_dirty: the historical fixes
               3ea277194daa and d950c9477d51 are reverted (model-only
               MODEL_REVERT_* options, under EXPERT)
    numa:      the NUMA topology (minikernel.hw.numa) from the profile's [numa]
    migration: CONFIG_MIGRATION: the migration syscalls exist (move_pages,
               mbind with MPOL_MF_MOVE, migrate_pages)
    migrate_copy_before_flush: model-only hazard MODEL_MIGRATE_COPY_BEFORE_FLUSH
    """

    def __init__(self, cfg: Any, profile: MachineProfile, *, trace: bool = False,
                 observe: Sequence[Callable[[Observers], None]] = ()) -> None:
        """*observe*: functions that subscribe further observers (called with
        ``machine.observers`` after the sanitizer's and before attach)."""
        self.cfg = cfg
        self.baseline: KernelBaseline = baseline_for(cfg)
        self.profile = profile
        self.nr_cpus = profile.cpus
        self.log = structlog.get_logger("minikernel").bind(arch=cfg.arch)
        self.batched_unmap = bool(cfg.ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH)
        self.debug_vm = bool(cfg.DEBUG_VM)
        self.revert_batched_pending = bool(cfg.MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING)
        self.revert_flush_dirty = bool(cfg.MODEL_REVERT_FLUSH_DIRTY_BEFORE_PAGEOUT)
        self.migration = bool(cfg.MIGRATION)
        self.migrate_copy_before_flush = bool(cfg.MODEL_MIGRATE_COPY_BEFORE_FLUSH)
        # read-only: kns, the per-page paths' copy of it by symbol slot
        # (``m.kns[S_sym]``), is built from it once here
        self.kernel_ns: Mapping[str, float] = MappingProxyType(dict(profile.kernel_ns))
        for sym in self.kernel_ns:
            symbol_id(sym)
        # NaN in the slots of symbols a profile gives no cost for (those the
        # hardware and arch backends charge from other figures): reading one is
        # a bug, and it shows in every figure it reaches instead of costing 0 ns.
        self.kns: list[float] = [self.kernel_ns.get(s, math.nan) for s in SYMBOLS]
        self.numa = NumaTopology(
            profile.cpus, profile.mem_pages, profile.node_cpus, profile.node_pages,
            local_gbps=profile.local_copy_gbps, local_latency_ns=profile.local_latency_ns,
            remote_gbps=profile.remote_copy_gbps, remote_latency_ns=profile.remote_latency_ns)
        self.probes: dict[str, Callable[..., None]] = {}
        # Observers subscribe now, before anything that emits an event exists;
        # everything built after attach() holds the hooks it emits.
        self.observers = Observers(self.probes)
        self.sanitizer: TlbSanitizer | None = None
        if cfg.DEBUG_TLB_SANITIZER:
            from minikernel.sanitizer import TlbSanitizer
            self.sanitizer = TlbSanitizer(self)
        for subscribe in observe:
            subscribe(self.observers)
        self.observers.attach()
        hw = self.observers.hw
        self.mem = PhysMem(profile.mem_pages)
        self.tlbs = TlbArray(self.nr_cpus, profile.tlb_entries)
        cpu_class = ObservedCpu if hw.stale_hit is not None else Cpu
        self.cpus = [cpu_class(i, self.tlbs, self.mem, profile.tlb_walk_ns, hw)
                     for i in range(self.nr_cpus)]
        # nr_tlb_* exist only with CONFIG_DEBUG_TLBFLUSH (x86 only, as upstream)
        self.vmstat = VmStat(getattr(cfg, "values", {}).get("DEBUG_TLBFLUSH") == "y")
        self.trace: list[str] | None = [] if trace else None
        self.trace_clock = 0.0          # ns; the trace's global clock (trace_event)
        self.page_alloc = PageAllocator(self)
        self.swap = SwapInfo(self)
        self.lru = Lruvec()
        self.tasks: list[TaskStruct] = []
        self._next_pid = 1
        self._next_asid = 1
        self.arch = tlb_ops_for(self)

    # Public interface

    def probe(self, name: str, current: TaskStruct, **ctx: Any) -> None:
        """Model-only: a named point where a scenario may pause this operation.

        Call sites guard with ``if machine.probes:`` so an unprobed run pays
        one truth test.  The callback runs other CPUs' steps and returns;
        the paused operation then resumes.
        """
        cb = self.probes.get(name)
        if cb is not None:
            cb(current, **ctx)

    def trace_tlb_flush(self, cpu: Cpu, reason: str, pages: int) -> None:
        """Models: the tlb:tlb_flush tracepoint (include/trace/events/tlb.h)."""
        if self.trace is not None:
            self.trace_event(cpu, "tlb_flush", f"pages:{pages} reason:{reason}")

    def trace_event(self, cpu: Cpu, event: str, payload: str) -> None:
        """Model-only: append one ftrace-shaped line (``comm-pid [cpu] ts: event: payload``)."""
        if self.trace is None:
            return
        t = cpu.current
        comm, pid = (t.comm, t.pid) if t is not None else ("<idle>", 0)
        # One global clock: each CPU keeps its own simulated clock (an idle one
        # lags), and the model runs CPUs in one sequence, so the trace clock is
        # the event's CPU time but never earlier than an event already written.
        # MODEL: ftrace's global clock is a real shared clock; this one is
        # monotonic in the order the simulation ran things.
        if cpu.now > self.trace_clock:
            self.trace_clock = cpu.now
        # trace_print_context()'s columns with irq-info off: "%16s-%-7d [%03d] %5lu.%06lu: "
        # (comm, pid, CPU, the clock in microseconds, truncated as the kernel divides)
        secs, usecs = divmod(int(self.trace_clock) // 1000, 1_000_000)
        self.trace.append(f"{comm[:15]:>16}-{pid:<7} [{cpu.id:03d}] {secs:5d}.{usecs:06d}: "
                          f"{event}: {payload}")

    def alloc_pid(self) -> int:
        """Model-only: the next pid."""
        pid = self._next_pid
        self._next_pid += 1
        return pid

    def alloc_asid(self) -> int:
        """Model-only: a fresh ASID/PCID for a new mm.

        # MODEL: never recycled: no arm64 ASID generation rollover
        # (flush_context() on every CPU) and no x86 per-CPU PCID slots; the
        # scenarios and workloads create a handful of mms, far fewer than
        # the 2^8 or 2^16 ASIDs of arm64 hardware.
        """
        asid = self._next_asid
        self._next_asid += 1
        return asid

    @property
    def tlb_flush_path(self):
        """Model-only: the arch backend's boot-time decision about deferred flushing (FlushPath)."""
        return self.arch.tlb_flush_path()
