"""minikernel/hw/arm64.py: the DVM costs come out of the queue, port and Sync state."""

from __future__ import annotations

import pytest

from minikernel.hw.arm64 import TLBI_USER, TLBI_VA, Dvm
from minikernel.hw.cpu import SYMBOLS, Cpu
from minikernel.hw.memory import PhysMem
from minikernel.hw.observe import HwEvents
from minikernel.hw.tlb import TlbArray

L, T, ISSUE, DSB = 300.0, 10.0, 2.0, 1.0


def machine(n=4, depth=4, contention=0.0, events=None):
    """A bare DVM and *n* CPUs; *events*: attached HwEvents the DVM emits to."""
    tlbs = TlbArray(n)
    mem = PhysMem(16)
    cpus = [Cpu(i, tlbs, mem, 0.0) for i in range(n)]
    dvm = Dvm(n, tlbs, latency_ns=L, throughput_ns=T, issue_ns=ISSUE, dsb_ns=DSB,
              queue_depth=depth, contention=contention, events=events)
    return dvm, cpus


def test_late_dsb_still_pays_a_sync_round_trip():
    """A DSB long after its TLBI completed still waits one DVM Sync (the old model: free)."""
    dvm, (c, *_) = machine()
    dvm.tlbi_is(c, TLBI_VA, 1)
    c.charge("other work", 10 * L)
    t = c.now
    assert dvm.dsb_ish(c) is True
    assert c.now - t == pytest.approx(DSB + L)
    # Nothing outstanding since: no round trip.
    t = c.now
    assert dvm.dsb_ish(c) is False and c.now - t == DSB


def test_spaced_tlbis_never_stall_the_issuer():
    dvm, (c, *_) = machine(depth=1)
    for i in range(10):
        t = c.now
        dvm.tlbi_is(c, TLBI_VA, i)
        assert c.now - t == ISSUE
        c.charge("work", 2 * L)            # completed long before the next one
    assert dvm.tlbi_queue_full == 0


def test_back_to_back_tlbis_stall_only_once_the_queue_is_full():
    dvm, (c, *_) = machine(depth=4)
    waits = []
    for i in range(12):
        t = c.now
        dvm.tlbi_is(c, TLBI_VA, i)
        waits.append(c.now - t - ISSUE)
    assert waits[:4] == [0.0] * 4
    assert all(w > 0 for w in waits[4:])
    # Steady state: one slot frees per latency / depth (the port is faster here).
    assert sum(waits[4:]) / 8 == pytest.approx(L / 4, rel=0.1)
    assert c.stalls[(SYMBOLS[c.sym], "tlbi")] > 0


def test_contention_grows_with_concurrent_broadcasters():
    def sync_wait(broadcasters: int) -> float:
        dvm, cpus = machine(n=8, contention=1.0)
        for c in cpus[1:broadcasters]:
            dvm.tlbi_is(c, TLBI_VA, c.id)        # in flight at time ~0
        c = cpus[0]
        dvm.tlbi_is(c, TLBI_VA, 99)
        t = c.now
        dvm.dsb_ish(c)
        return c.now - t
    w = [sync_wait(b) for b in (1, 2, 4)]
    assert w[0] < w[1] < w[2]
    assert w[2] == pytest.approx(DSB + 4 * L - ISSUE + T, rel=0.05)   # linear: L x b


def test_kpti_user_tlbi_costs_but_invalidates_nothing_more():
    seen = []
    events = HwEvents()
    events.subscribe("tlbi_complete", lambda cpu, kind, arg: seen.append(kind))
    events.attach()
    dvm, (c, *_) = machine(events=events)
    dvm.tlbi_is(c, TLBI_VA, 5)
    dvm.tlbi_is(c, TLBI_USER, 5)
    dvm.dsb_ish(c)
    assert dvm.tlbi_issued == 2 and seen == [TLBI_VA]


def test_queue_after_a_dsb_starts_empty():
    """DSB ISH completes every outstanding TLBI: the next four issue without a stall, the fifth stalls."""
    dvm, (c, *_) = machine(depth=4)
    for i in range(6):
        dvm.tlbi_is(c, TLBI_VA, i)
    dvm.dsb_ish(c)
    full = dvm.tlbi_queue_full
    waits = []
    for i in range(6):
        t = c.now
        dvm.tlbi_is(c, TLBI_VA, i)
        waits.append(c.now - t - ISSUE)
    assert waits[:4] == [0.0] * 4 and waits[4] > 0
    assert dvm.tlbi_queue_full == full + 2


def _deque_model(ops, depth):
    """The DVM queue as a deque of completion times, popped before each TLBI (the
    structure Dvm replaced): each TLBI's stall and the queue-full count."""
    from collections import deque
    now, port, last, q, stalls, full, issued = 0.0, 0.0, 0.0, deque(), [], 0, 0
    for op, arg in ops:
        if op == "work":
            now += arg
            continue
        now += DSB if op == "dsb" else ISSUE
        if op == "dsb":
            if issued:                  # a DVM Sync round trip
                start = max(now, port)
                port = start + T
                last = max(start + L, last)
                now = max(now, last)
            q.clear()
            issued = 0
            continue
        while q and q[0] <= now:
            q.popleft()
        t0 = now
        if len(q) >= depth:
            full += 1
            while len(q) >= depth:
                now = max(now, q.popleft())
        stalls.append(now - t0)
        start = max(now, port)
        port = start + T
        last = max(start + L, last)
        q.append(last)
        issued += 1
    return stalls, full


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_queue_stalls_match_a_deque_of_completion_times(depth):
    """Partly drained queues, DSBs in between: every stall as the deque model has it."""
    import random
    rng = random.Random(depth)
    ops = []
    for _ in range(300):
        r = rng.random()
        if r < 0.6:
            ops.append(("tlbi", 0))
        elif r < 0.9:
            ops.append(("work", rng.choice([1.0, 5.0, 15.0, 50.0, 150.0, 400.0])))
        else:
            ops.append(("dsb", None))
    dvm, (c, *_) = machine(depth=depth)
    stalls = []
    for op, arg in ops:
        if op == "work":
            c.charge("work", arg)
        elif op == "dsb":
            dvm.dsb_ish(c)
        else:
            t = c.now
            dvm.tlbi_is(c, TLBI_VA, 1)
            stalls.append(c.now - t - ISSUE)
    want, full = _deque_model(ops, depth)
    assert stalls == pytest.approx(want)
    assert dvm.tlbi_queue_full == full and full > 0


def _state(dvm, cpus):
    """Everything tlbi_is touches, with the floats as exact reprs."""
    return (repr([(c.now, [(k, x) for k, x in enumerate(c.ns) if isinstance(x, float)],
                   sorted(c.stalls.items()), list(c.pending_tlbi))
                  for c in cpus]),
            repr((dvm.port_free, dvm.done_head, dvm.last_done, sorted(dvm.active),
                  dvm.tlbi_issued, dvm.tlbi_queue_full)))


def test_tlbi_is_pair_is_two_tlbi_is_calls():
    for seed in range(60):          # one test, not 60 (the README counts the suite)
        _pair_vs_two_calls(seed)


def _pair_vs_two_calls(seed):
    """tlbi_is_pair(c, a) leaves the exact state of tlbi_is(c, VA, a); tlbi_is(c, USER, a).

    Random histories on two identical machines: queue depths 1-5, contention
    on or off, other CPUs broadcasting, DSBs and idle gaps, so both the
    queue-full stall and the contended latency are reached, for either half.
    """
    import random
    rng = random.Random(seed)
    depth = rng.randint(1, 5)
    contention = rng.choice([0.0, 0.5, 1.0])
    # the port slower or faster than the issue, a latency from none to long
    timing = dict(latency_ns=rng.choice([0.0, 1.0, L]), throughput_ns=rng.choice([0.5, T]),
                  issue_ns=rng.choice([ISSUE, 4 * T]), dsb_ns=DSB, queue_depth=depth,
                  contention=contention)
    a, b = [(Dvm(3, tlbs, **timing), [Cpu(i, tlbs, PhysMem(4), 0.0) for i in range(3)])
            for tlbs in (TlbArray(3), TlbArray(3))]
    syms = ["do_x", "do_y"]
    for step in range(60):
        who = rng.randrange(3)
        op = rng.random()
        arg = rng.randrange(1 << 20)
        sym = rng.choice(syms)
        gap = rng.choice([0.0, 0.5, 3.0, T, L / 3, L])
        for dvm, cpus in (a, b):
            c = cpus[who]
            c.charge(sym, gap)
            if op < 0.6:
                if dvm is a[0]:
                    dvm.tlbi_is_pair(c, arg)
                else:
                    dvm.tlbi_is(c, TLBI_VA, arg)
                    dvm.tlbi_is(c, TLBI_USER, arg)
            elif op < 0.8:
                dvm.tlbi_is(c, TLBI_VA, arg)
            else:
                dvm.dsb_ish(c)
        assert _state(*a) == _state(*b), (seed, step)


def test_a_dvm_that_overrides_tlbi_is_sees_both_halves_of_a_pair():
    """A subclass overriding tlbi_is (trace.TracingDvm) gets the pair as its two calls."""
    seen = []

    class Recording(Dvm):
        def tlbi_is(self, cpu, kind, arg):
            seen.append((kind, arg))
            super().tlbi_is(cpu, kind, arg)

    tlbs = TlbArray(1)
    c = Cpu(0, tlbs, PhysMem(4), 0.0)
    dvm = Recording(1, tlbs, latency_ns=L, throughput_ns=T, issue_ns=ISSUE, dsb_ns=DSB)
    dvm.tlbi_is_pair(c, 7)
    assert seen == [(TLBI_VA, 7), (TLBI_USER, 7)] and dvm.tlbi_issued == 2
