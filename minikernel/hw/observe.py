"""Observable events: named hooks that observers subscribe to before boot attaches them.

Model-only: no kernel counterpart (the nearest are tracepoints and KASAN's
instrumentation).  The hardware's own events are here, in the hardware
layer, so that hardware code notifies an observer without knowing who it
is; the Machine's events (minikernel/observe.py) reuse :class:`EventHooks`.

Invariants this module owns:
  - Subscribing happens before :meth:`EventHooks.attach`; attaching resolves
    each event once into a plain attribute: None when nobody subscribed, the
    subscriber itself when one did, a fan-out calling them in subscription
    order when several did.  Afterwards subscribing raises: an emitter holds
    the hook it was built with, so a late subscriber would silently miss it.
  - An emitter tests its hook with ``is not None``: an event nobody observes
    costs that test and nothing else.
  - Observers observe: they may record and mark state the model keeps for
    them (``TlbEntry.stale``), never change what the model does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minikernel.hw.cpu import Cpu
    from minikernel.hw.tlb import TlbEntry


class EventHooks:
    """A set of named events (``EVENTS``), each resolved at attach time into a hook attribute."""

    #: The event names; each is also the attribute holding its hook.
    EVENTS: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._subs: dict[str, list[Callable[..., None]]] = {e: [] for e in self.EVENTS}
        self.attached = False
        for e in self.EVENTS:
            setattr(self, e, None)

    def subscribe(self, event: str, fn: Callable[..., None]) -> None:
        """Call *fn* with the event's arguments each time *event* happens (before attach only)."""
        if self.attached:
            raise RuntimeError(f"{type(self).__name__}: subscribe({event!r}) after attach: "
                               "the emitters already hold their hooks")
        try:
            self._subs[event].append(fn)
        except KeyError:
            raise ValueError(f"unknown event {event!r}: expected one of "
                             f"{', '.join(self.EVENTS)}") from None

    def attach(self) -> None:
        """Resolve every event into its hook attribute (boot does this once)."""
        for e, subs in self._subs.items():
            setattr(self, e, _fan_out(subs))
        self.attached = True

    def subscribers(self, event: str) -> tuple[Callable[..., None], ...]:
        """The subscribers of *event*, in order."""
        return tuple(self._subs[event])


def _fan_out(subs: list[Callable[..., None]]) -> Callable[..., None] | None:
    if not subs:
        return None
    if len(subs) == 1:
        return subs[0]
    fns = tuple(subs)

    def fan_out(*args: Any) -> None:
        for fn in fns:
            fn(*args)
    return fan_out


class HwEvents(EventHooks):
    """The hardware's events.

    tlb_fill(entry):              a page-table walk filled a TLB entry (Cpu.access)
    tlbi_complete(cpu, kind, arg): a DSB ISH on *cpu* completed a TLBI *cpu* had
                                  issued (arm64's Dvm.dsb_ish; kind TLBI_VA or TLBI_ASID)
    stale_hit(cpu, entry, write): an access is about to use an entry an observer
                                  marked stale (``TlbEntry.stale``); subscribing to
                                  it makes boot build :class:`~minikernel.hw.cpu.ObservedCpu`
    """

    EVENTS = ("tlb_fill", "tlbi_complete", "stale_hit")

    tlb_fill: Callable[[TlbEntry], None] | None
    tlbi_complete: Callable[[Cpu, int, int], None] | None
    stale_hit: Callable[[Cpu, TlbEntry, bool], None] | None
