"""arm64 broadcast TLB maintenance: TLBI ... IS and DSB over the DVM interconnect.

Model-only: the hardware side of arm64 TLB maintenance (Arm ARM D8.13; the
ESOP 2022 "Relaxed virtual memory in Armv8-A" model; AMBA 5 CHI DVM
transactions as the Arm CCN/CMN interconnects implement them).

Invariants this module owns:
  - ``TLBI ...IS`` is *issued*: it is broadcast to every CPU's TLB but the
    architecture guarantees nothing about when it takes effect.  It is
    guaranteed complete, on every CPU, only once the CPU that issued it
    executes ``DSB ISH``.
  - ``DSB ISH`` on CPU c completes exactly the TLBIs c issued since its
    last DSB.  A DSB on any other CPU completes none of them.
  - Until completion a CPU may keep using -- and writing through -- its entry.

Cost structure (every cost comes out of the simulated DVM state below:
each CPU's queue of outstanding DVM operations and its port):
  - A TLBI enters its issuer's bounded queue of outstanding DVM operations
    (``queue_depth`` slots; a slot is held until the operation is complete
    everywhere).  The issuer stalls only when every slot is held: then it
    waits for the oldest one to complete ("tlbi" stall).  The requester's
    port sends one operation per ``throughput_ns``; an operation completes
    ``latency_ns`` after it was sent.
  - ``DSB ISH`` with TLBIs outstanding since this CPU's last DSB sends a DVM
    Sync and waits for its completion -- one full round trip, whatever the
    timing: a CPU cannot know its earlier TLBIs are done without it
    (C. Marinas reviewing the series (v4): the DSB "sends a DVM Sync message
    to all the other CPUs and waits for a DVM Complete response").  A DSB
    with nothing outstanding costs ``dsb_ns``.
  - Contention: the latency of a broadcast grows with the number of CPUs
    broadcasting at the same time, b (A. Arcangeli, "arm64: tlb: skip tlbi
    broadcast", 2020: the latency "increases almost linearly with the number
    of CPUs trying to send tlbi broadcasts at the same time"):
    latency x (1 + contention x (b - 1)).  b counts the CPUs with a DVM
    operation in flight at the issuing CPU's clock.
  Unbatched, every page pays a Sync round trip in ``ptep_clear_flush``;
  batched, a page pays its TLBI's issue (and a queue stall only when
  TLBIs come back to back), and each batch one Sync round trip.

# MODEL: an issued TLBI takes effect exactly when its issuer's DSB completes
# it, never earlier.  The hardware may complete it sooner; keeping stale
# entries for the whole window is the worst case, which is what a race
# detector needs.  (Queue slots, by contrast, free at the completion time:
# that is a cost, not a visibility question.)
# MODEL: the DVM Sync fans out like a TLBI: its round trip is the same
# latency(n) (no separate figure is published), sent through the same port.
# MODEL: one requester's operations complete in the order they were sent.
# MODEL: "at the same time" compares per-CPU clocks, which the scheduler
# keeps loosely in step; b is exact for one broadcaster (the seed benchmark).
"""

from __future__ import annotations

from minikernel.hw.cpu import SYMBOLS, Cpu
from minikernel.hw.observe import HwEvents
from minikernel.hw.tlb import TlbArray

TLBI_VA = 0       # TLBI VALE1IS / VAE1IS: one (ASID, VA)
TLBI_ASID = 1     # TLBI ASIDE1IS: a whole ASID
TLBI_USER = 2     # KPTI's second TLBI, for the user ASID: costs like one, invalidates
                  # nothing more (MODEL: the model's TLB keys carry one ASID per mm)


class Dvm:
    """Distributed virtual memory messages: the broadcast TLBI fabric.

    latency_ns:    send-to-complete time of one broadcast TLBI, and the DVM
                   Sync round trip of a DSB, with one CPU broadcasting
    throughput_ns: how long one operation occupies its requester's DVM port
    issue_ns:      CPU time to issue one TLBI instruction
    dsb_ns:        a DSB with nothing outstanding
    queue_depth:   outstanding DVM operations one requester may have
    contention:    added latency per extra concurrent broadcaster, as a
                   fraction of latency_ns
    tlbi_issued, dsb_ish_count, dsb_ish_waited, tlbi_queue_full: counters
                   (model-only names)
    """

    __slots__ = ("tlbs", "latency_ns", "throughput_ns", "issue_ns", "dsb_ns", "queue_depth",
                 "contention", "port_free", "done_head", "last_done", "active",
                 "tlbi_issued", "dsb_ish_count", "dsb_ish_waited", "tlbi_queue_full",
                 "on_complete")

    def __init__(self, nr_cpus: int, tlbs: TlbArray, *, latency_ns: float,
                 throughput_ns: float, issue_ns: float, dsb_ns: float,
                 queue_depth: int = 4, contention: float = 0.0,
                 events: HwEvents | None = None) -> None:
        self.tlbs = tlbs
        self.latency_ns = latency_ns
        self.throughput_ns = throughput_ns
        self.issue_ns = issue_ns
        self.dsb_ns = dsb_ns
        self.queue_depth = queue_depth
        self.contention = contention
        self.port_free = [0.0] * nr_cpus          # when each requester's port is free
        # Each CPU's queue of outstanding DVM operations is the tail of its
        # cpu.pending_tlbi (whose tuples carry the completion times, in order):
        # done_head[i] counts the leading ones known complete.  One structure
        # serves the queue-full stall and the DSB (chosen for speed: a separate
        # deque of the same times cost an append and a pop per TLBI).
        self.done_head = [0] * nr_cpus
        self.last_done = [0.0] * nr_cpus          # completion of each CPU's latest op
        self.active: set[int] = set()             # CPUs that may have ops in flight
        self.tlbi_issued = 0
        self.dsb_ish_count = 0
        self.dsb_ish_waited = 0
        self.tlbi_queue_full = 0
        # the tlbi_complete hook of *events* (attached): (cpu, kind, arg); None: unobserved
        self.on_complete = events.tlbi_complete if events is not None else None

    def broadcasters(self, cpu: Cpu) -> int:
        """CPUs with a DVM operation in flight at *cpu*'s clock, *cpu* counted (>= 1)."""
        now = cpu.now
        b = 1
        for c in tuple(self.active):
            if c == cpu.id:
                continue
            if self.last_done[c] > now:
                b += 1
            elif self.last_done[c] <= now - self.latency_ns:
                self.active.discard(c)
        return b

    def _latency(self, cpu: Cpu) -> float:
        active = self.active
        if self.contention and active:
            if len(active) == 1 and cpu.id in active:
                # broadcasters() would count 1 and discard nothing: the factor is
                # exactly 1.0 + contention * 0 == 1.0, so the latency is latency_ns.
                return self.latency_ns
            return self.latency_ns * (1.0 + self.contention * (self.broadcasters(cpu) - 1))
        return self.latency_ns

    def _send(self, cpu: Cpu) -> float:
        """Send one operation through *cpu*'s port; return its completion time."""
        i = cpu.id
        now = cpu.now
        start = now if now > self.port_free[i] else self.port_free[i]
        self.port_free[i] = start + self.throughput_ns
        done = start + self._latency(cpu)
        if done < self.last_done[i]:
            done = self.last_done[i]
        self.last_done[i] = done
        self.active.add(i)
        return done

    def tlbi_is(self, cpu: Cpu, kind: int, arg: int) -> None:
        """Issue ``TLBI <kind>IS`` on *cpu* for a TLB key (TLBI_VA) or an ASID (TLBI_ASID).

        The operation takes a slot of this CPU's outstanding-DVM queue; the
        instruction stalls only while every slot is held, until the oldest
        operation completes.  Completion follows asynchronously.
        """
        ns = self.issue_ns
        # cpu.charge(cpu.sym, ns), inlined: the same two additions in the same order
        cpu.now = now = cpu.now + ns
        cpu.ns[cpu.sym] += ns
        i = cpu.id
        pending = cpu.pending_tlbi
        head = self.done_head[i]
        n = len(pending)
        if n - head >= self.queue_depth:
            # Free the slots of the operations complete by now; only a queue
            # that may be full needs it (clocks only move forward, so freeing
            # later frees the same slots).  Completion times are in order: the
            # newest done means all are.
            if pending[-1][0] <= now:
                head = n
            else:
                while pending[head][0] <= now:
                    head += 1
            if n - head >= self.queue_depth:
                self.tlbi_queue_full += 1
                while n - head >= self.queue_depth:
                    cpu.wait_until(SYMBOLS[cpu.sym], "tlbi", pending[head][0])
                    head += 1
                now = cpu.now
            self.done_head[i] = head
        # self._send(cpu), inlined (once per TLBI): the same operations in the same order
        port_free = self.port_free
        start = port_free[i]
        if now > start:
            start = now
        port_free[i] = start + self.throughput_ns
        active = self.active
        if self.contention and active and not (len(active) == 1 and i in active):
            done = start + self._latency(cpu)
        else:
            done = start + self.latency_ns      # what _latency() returns here
        last_done = self.last_done
        prev = last_done[i]
        if done < prev:
            done = prev
        last_done[i] = done
        active.add(i)
        pending.append((done, kind, arg))
        self.tlbi_issued += 1

    def tlbi_is_pair(self, cpu: Cpu, arg: int) -> None:
        """``TLBI VALE1IS`` then KPTI's user-half TLBI on *cpu*: __tlbi, then __tlbi_user.

        Exactly ``tlbi_is(cpu, TLBI_VA, arg); tlbi_is(cpu, TLBI_USER, arg)``:
        the same charges, stalls, port slots, completion times and counters,
        in the same order (one call instead of two: arm64's KPTI page flush is
        the hottest caller).  A subclass that overrides :meth:`tlbi_is` gets
        the two calls instead (``__init_subclass__``).
        """
        # self.tlbi_is(cpu, TLBI_VA, arg), inlined: the same operations in the same order
        ns = self.issue_ns
        qd = self.queue_depth
        cpu_ns = cpu.ns
        sym = cpu.sym
        cpu.now = now = cpu.now + ns          # cpu.charge(cpu.sym, ns), inlined
        cpu_ns[sym] += ns
        i = cpu.id
        pending = cpu.pending_tlbi
        done_head = self.done_head
        head = done_head[i]
        n = len(pending)
        if n - head >= qd:
            # the queue-full stall of tlbi_is, as there
            if pending[-1][0] <= now:
                head = n
            else:
                while pending[head][0] <= now:
                    head += 1
            if n - head >= qd:
                self.tlbi_queue_full += 1
                while n - head >= qd:
                    cpu.wait_until(SYMBOLS[sym], "tlbi", pending[head][0])
                    head += 1
                now = cpu.now
            done_head[i] = head
        port_free = self.port_free
        throughput = self.throughput_ns
        start = port_free[i]
        if now > start:
            start = now
        port_free[i] = start + throughput
        active = self.active
        contention = self.contention
        if contention and active and not (len(active) == 1 and i in active):
            done = start + self._latency(cpu)
        else:
            done = start + self.latency_ns      # what _latency() returns here
        last_done = self.last_done
        prev = last_done[i]
        if done < prev:
            done = prev
        last_done[i] = done
        active.add(i)
        pending.append((done, TLBI_VA, arg))
        # self.tlbi_is(cpu, TLBI_USER, arg), inlined: the same again, one more in the queue
        cpu.now = now = now + ns              # cpu.now is *now* here
        cpu_ns[sym] += ns
        n += 1
        if n - head >= qd:
            if done <= now:                     # pending[-1][0] is *done*
                head = n
            else:
                while pending[head][0] <= now:
                    head += 1
            if n - head >= qd:
                self.tlbi_queue_full += 1
                while n - head >= qd:
                    cpu.wait_until(SYMBOLS[sym], "tlbi", pending[head][0])
                    head += 1
                now = cpu.now
            done_head[i] = head
        start = port_free[i]
        if now > start:
            start = now
        port_free[i] = start + throughput
        # active holds i now: _latency() can differ from latency_ns only with others in it
        if contention and len(active) != 1:
            done2 = start + self._latency(cpu)
        else:
            done2 = start + self.latency_ns
        if done2 < done:                        # last_done[i] is *done*
            done2 = done
        last_done[i] = done2
        pending.append((done2, TLBI_USER, arg))
        self.tlbi_issued += 2

    def __init_subclass__(cls, **kw) -> None:
        super().__init_subclass__(**kw)
        if "tlbi_is" in cls.__dict__ and "tlbi_is_pair" not in cls.__dict__:
            # An overridden tlbi_is (e.g. trace.TracingDvm) must see both TLBIs.
            def tlbi_is_pair(self, cpu: Cpu, arg: int) -> None:
                self.tlbi_is(cpu, TLBI_VA, arg)
                self.tlbi_is(cpu, TLBI_USER, arg)
            cls.tlbi_is_pair = tlbi_is_pair

    def dsb_ishst(self, cpu: Cpu) -> None:
        """``DSB ISHST``: order earlier PTE stores before later TLBIs (cost only)."""
        ns = self.dsb_ns
        cpu.now += ns                       # cpu.charge(cpu.sym, ns), inlined
        cpu.ns[cpu.sym] += ns

    def dsb_ish(self, cpu: Cpu) -> bool:
        """``DSB ISH`` on *cpu*: a DVM Sync round trip that completes every TLBI *cpu* issued.

        Returns True when there was something outstanding to wait for.
        """
        ns = self.dsb_ns
        cpu.now += ns                       # cpu.charge(cpu.sym, ns), inlined
        cpu.ns[cpu.sym] += ns
        self.dsb_ish_count += 1
        pending = cpu.pending_tlbi
        if not pending:
            return False
        self.dsb_ish_waited += 1
        # The Sync queues behind this CPU's TLBIs and returns once all are done.
        cpu.wait_until(SYMBOLS[cpu.sym], "dsb ish", self._send(cpu))
        self.done_head[cpu.id] = 0
        tlbs = self.tlbs
        on_complete = self.on_complete
        by_key = tlbs.by_key
        by_pfn = tlbs.by_pfn
        cpu_tlbs = tlbs.tlbs
        for _, kind, arg in pending:
            if kind == TLBI_VA:
                # tlbs.invalidate_key(arg), inlined (once per TLBI): the same removals
                lst = by_key.pop(arg, None)
                if lst:
                    for e in lst:
                        del cpu_tlbs[e.cpu][arg]
                        plst = by_pfn.get(e.pfn)    # tlbs._unlink_pfn(e)
                        if plst is not None:
                            plst.remove(e)
                            if not plst:
                                del by_pfn[e.pfn]
            elif kind == TLBI_ASID:
                tlbs.invalidate_asid(arg)
            else:
                continue
            if on_complete is not None:
                on_complete(cpu, kind, arg)
        pending.clear()
        return True
