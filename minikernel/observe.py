"""The Machine's observer layer: the kernel's events, the hardware's, and the probe points.

Model-only.  One :class:`Observers` per Machine (``machine.observers``).
Observers -- the TLB sanitizer today -- subscribe while the Machine is
built, before its hardware and kernel objects exist; boot then attaches
the hooks (minikernel/hw/observe.py: ``EventHooks``) and builds each object
with the hooks it emits: the CPUs (``tlb_fill``; ``ObservedCpu`` when
``stale_hit`` has a subscriber), arm64's DVM (``tlbi_complete``), the page
allocator (``folio_free``).  Nothing is swapped or patched afterwards.

Invariants this module owns:
  - Unobserved, an event costs its emitter one ``is not None`` test.
  - ``probes`` is ``machine.probes``, the same dict: probe points are the one
    kind of observation that comes and goes while the machine runs (a
    scenario step pauses at one), so they are looked up by name at each
    probe (call sites test ``if machine.probes:``), not attached at boot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from minikernel.hw.observe import EventHooks, HwEvents

if TYPE_CHECKING:
    from minikernel.hw.cpu import Cpu
    from minikernel.mm.mm_types import Folio, MmStruct, TaskStruct


class Observers(EventHooks):
    """The events of one Machine, hardware's included.

    folio_free(cpu, folio):   a folio is being freed, before its frame is poisoned
                              (mm/page_alloc.py: free_folio)
    pte_cleared(cpu, mm, addr, pfn, pteval, deferred, fn):
                              an unmap cleared a present PTE, flushing it
                              (deferred False) or leaving the flush to the batch
                              (mm/rmap.py: try_to_unmap_one, try_to_migrate_one)
    syscall_enter(task, name, start, length), syscall_return(task):
                              a user task's syscall begins / returns (minikernel/user.py)
    hw:      the hardware's events (:class:`~minikernel.hw.observe.HwEvents`)
    probes:  probe name -> callback(current, **ctx), ``machine.probes``
    """

    EVENTS = ("folio_free", "pte_cleared", "syscall_enter", "syscall_return")

    folio_free: Callable[[Cpu, Folio], None] | None
    pte_cleared: Callable[[Cpu, MmStruct, int, int, int, bool, str], None] | None
    syscall_enter: Callable[[TaskStruct, str, int, int], None] | None
    syscall_return: Callable[[TaskStruct], None] | None

    def __init__(self, probes: dict[str, Callable[..., None]]) -> None:
        super().__init__()
        self.hw = HwEvents()
        self.probes = probes

    def attach(self) -> None:
        """Resolve the Machine's and the hardware's hooks (boot, before building them)."""
        self.hw.attach()
        super().attach()

    @contextmanager
    def probing(self, name: str, fn: Callable[..., Any]) -> Iterator[None]:
        """Run *fn* at probe point *name* inside the ``with`` block, then restore what was there.

        The scenario runner pauses this way (minikernel/scenario/run.py): a
        nested pause at the same point gets its own callback and gives the
        outer one back on the way out, also when the step raises.
        """
        probes = self.probes
        saved = probes.get(name)
        probes[name] = fn
        try:
            yield
        finally:
            if saved is None:
                probes.pop(name, None)
            else:
                probes[name] = saved
