"""Trace events the kernel has no tracepoint for: arm64 TLBI and DSB ISH.

Model-only.  Upstream arm64 has no tracepoint in ``__tlbi()`` or ``dsb()``
(x86 has ``tlb:tlb_flush``); the model adds two, named ``model_*`` so that
nobody greps a kernel trace for them:

  model_arm64_tlbi:    a broadcast ``TLBI VALE1IS`` / ``ASIDE1IS`` was issued
                       (not yet complete): the op, the ASID, the VA (VALE1IS),
                       ``kpti=user`` on KPTI's second TLBI for the user ASID
                       (``__tlbi_user()``: the same op with USER_ASID_FLAG), and
                       when it completes if a DSB waits for it
  model_arm64_dsb_ish: a ``DSB ISH`` on this CPU, and how many of the CPU's own
                       outstanding TLBIs it completed (0: it waited for nothing)

They exist only on a Machine booted with tracing on: the arm64 backend then
builds a :class:`TracingDvm` instead of a ``Dvm``, so with tracing off no
event is formatted and the TLBI path is untouched.
"""

from __future__ import annotations

from minikernel.hw.arm64 import TLBI_USER, TLBI_VA, Dvm
from minikernel.hw.mmu import ASID_SHIFT, PAGE_SHIFT

#: Trace event names with no upstream tracepoint (write_trace lists them).
MODEL_EVENTS = ("model_arm64_tlbi", "model_arm64_dsb_ish")


class TracingDvm(Dvm):
    """A Dvm that also writes model_arm64_* events into its machine's trace."""

    def __init__(self, machine, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self._machine = machine
        # The op of each CPU's last kernel-half TLBI: KPTI's user-half TLBI (TLBI_USER)
        # repeats it with the same argument (arch/arm64 _tlbi: __tlbi, then __tlbi_user).
        self._last_op: dict[int, int] = {}

    def tlbi_is(self, cpu, kind: int, arg: int) -> None:
        super().tlbi_is(cpu, kind, arg)
        user = kind == TLBI_USER
        if user:
            kind = self._last_op[cpu.id]
        else:
            self._last_op[cpu.id] = kind
        if kind == TLBI_VA:
            what = (f"op=VALE1IS asid={arg >> ASID_SHIFT} "
                    f"va={(arg & ((1 << ASID_SHIFT) - 1)) << PAGE_SHIFT:#x}")
        else:
            what = f"op=ASIDE1IS asid={arg}"
        if user:
            what += " kpti=user"
        done = cpu.pending_tlbi[-1][0]
        self._machine.trace_event(cpu, "model_arm64_tlbi", f"{what} complete_at={done / 1e9:.6f}")

    def dsb_ish(self, cpu) -> bool:
        outstanding = len(cpu.pending_tlbi)
        waited = super().dsb_ish(cpu)
        self._machine.trace_event(cpu, "model_arm64_dsb_ish", f"completed={outstanding}")
        return waited
