"""The seed benchmark of the arm64 batched-TLB series, as a workload on a Machine.

Model-only.  The cover letter's micro-benchmark: one process maps 1 MiB
``MAP_SHARED|MAP_ANONYMOUS`` (256 pages), fills it, then repeatedly reads one
byte of every page (each read swaps the page back in from zram) and
``madvise(MADV_PAGEOUT)``s the whole range.  Two variants widen it:

  procs=P:   P processes map the same pages (the parent forks P-1 children,
             each pinned to its own CPU, and every process reads every page
             each round), so each reclaimed page has P PTEs to clear.
             MADV_PAGEOUT skips folios mapped more than once, so this variant
             reclaims through direct reclaim (try_to_free_pages) instead.
  threads=T: the mm is active on T CPUs (T-1 extra threads pinned to CPUs
             1..T-1, running, not touching the buffer): what makes x86 defer
             and send IPIs.

Every page is written with a distinct value and every read is checked, so a
lost or leaked write fails the run instead of skewing a number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from minikernel.compat import SLOTS
from minikernel.hw.mmu import PAGE_SIZE
from minikernel.user import MADV_PAGEOUT, MAP_ANONYMOUS, MAP_SHARED, Process

WORKLOADS = ("seed", "procs", "threads")
#: Page frames of the benchmark's buffer (1 MiB of 4 KiB pages): the least
#: memory a machine needs to run it at all.
BUFFER_PAGES = (1 << 20) // PAGE_SIZE


class DataLoss(AssertionError):
    """A page read back something other than what was written to it."""


@dataclass(**SLOTS)
class RunResult:
    """What one benchmark run measured, all from simulated state.

    elapsed_ns:      simulated time of the measured loop (the slowest CPU's busy time)
    cycles:          the benchmark task's CPU cycles in the loop
    pages_reclaimed: pages reclaimed by the loop's reclaim calls
    swapins:         pages read back from zram in the loop
    profile:         symbol -> ns on the benchmark task's CPU during the loop
    other_cpus_ns:   symbol -> ns on every other CPU (IPI handlers, children)
    stalls:          (symbol, insn) -> ns of waits on the benchmark CPU
    vmstat:          counter deltas over the loop
    arch:            arch-specific counter deltas (TLBIs/DSBs or IPIs)
    """

    elapsed_ns: float
    cycles: float
    pages_reclaimed: int
    swapins: int
    profile: dict[str, float]
    other_cpus_ns: dict[str, float]
    stalls: dict[tuple[str, str], float]
    vmstat: dict[str, int]
    arch: dict[str, int] = field(default_factory=dict)


class BenchmarkInterrupted(Exception):
    """Ctrl-C during the loop: *done* of *iterations* measured iterations had finished."""

    def __init__(self, done: int, iterations: int) -> None:
        super().__init__(f"{done} of {iterations} measured iterations done")
        self.done = done
        self.iterations = iterations


def run_seed_benchmark(machine, iterations: int, *, procs: int = 1, threads: int = 1,
                       size: int = 1 << 20, warmup: int = 0,
                       progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Run the seed benchmark on a freshly booted *machine*; measure the loop only.

    *warmup* iterations run first, unmeasured.  The loop's first iteration
    finds every page still resident (nothing to swap in), so a short run
    under-counts the swap-in path by 1/iterations; one warm-up iteration
    makes every measured iteration a steady-state one, as almost all of the
    published 10 000 were.  *progress(done, iterations)* is called after each
    measured iteration; Ctrl-C raises BenchmarkInterrupted with the count done.
    """
    if procs < 1 or threads < 1:
        raise ValueError("procs and threads must be >= 1")
    need = max(procs, threads)
    if need > machine.nr_cpus:
        raise ValueError(f"the workload needs {need} CPUs; the machine has {machine.nr_cpus}")
    npages = size // PAGE_SIZE
    p = Process.spawn(machine, "a.out", cpu=0)
    buf = p.mmap(size, flags=MAP_SHARED | MAP_ANONYMOUS)
    for i in range(npages):
        p.write(buf + i * PAGE_SIZE, _pattern(i))
    others = [p.fork(cpu=c) for c in range(1, procs)]
    others += [p.clone_thread(cpu=c) for c in range(1, threads)]
    readers = [p] + others[:procs - 1]

    m = machine
    before = _snapshot(m)
    reclaimed = 0
    n = 0
    try:
        for n in range(warmup + iterations):
            if m.trace is not None and n in (0, warmup):
                m.trace.append("# warm-up iteration (not measured)" if n < warmup else
                               f"# measured iterations 1..{iterations}")
            if n == warmup and warmup:
                before = _snapshot(m)
                reclaimed = 0
            for r in readers:
                for i in range(npages):
                    v = r.read(buf + i * PAGE_SIZE)
                    if v != _pattern(i):
                        raise DataLoss(f"page {i} of the benchmark buffer read {v:#x}, "
                                       f"expected {_pattern(i):#x}")
            if procs == 1:
                reclaimed += p.madvise(buf, size, MADV_PAGEOUT)
            else:
                reclaimed += p.reclaim(npages)
            if progress is not None and n >= warmup:
                progress(n - warmup + 1, iterations)
    except KeyboardInterrupt:
        raise BenchmarkInterrupted(max(0, n - warmup), iterations) from None
    return _result(m, before, p.task.cpu.id, reclaimed)


def _pattern(i: int) -> int:
    return 0x5EED0000 + i


def _snapshot(m):
    return ([c.now for c in m.cpus], [dict(c.profile) for c in m.cpus],
            [dict(c.stalls) for c in m.cpus], m.vmstat.as_dict(), m.arch.counters())


def _delta(after: dict, before: dict) -> dict:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def _result(m, before, bench_cpu: int, reclaimed: int) -> RunResult:
    nows, profs, stalls, vm, arch = before
    elapsed = max(c.now - nows[c.id] for c in m.cpus)
    cpu = m.cpus[bench_cpu]
    other: dict[str, float] = {}
    for c in m.cpus:
        if c.id == bench_cpu:
            continue
        for k, v in _delta(c.profile, profs[c.id]).items():
            other[k] = other.get(k, 0.0) + v
    vmd = _delta(m.vmstat.as_dict(), vm)
    return RunResult(
        elapsed_ns=elapsed,
        cycles=(cpu.now - nows[bench_cpu]) * m.profile.ghz,
        pages_reclaimed=reclaimed,
        swapins=vmd.get("pswpin", 0),
        profile=_delta(cpu.profile, profs[bench_cpu]),
        other_cpus_ns=other,
        stalls=_delta(cpu.stalls, stalls[bench_cpu]),
        vmstat=vmd,
        arch=_delta(m.arch.counters(), arch),
    )
