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

  migrate=T: not the seed: the migration benchmark (run_migrate_benchmark),
             a pmbench-like working set touched by T threads and moved
             between two NUMA nodes twice per iteration.

Every page is written with a distinct value and every read is checked, so a
lost or leaked write fails the run instead of skewing a number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from minikernel.compat import SLOTS
from minikernel.hw.mmu import PAGE_SIZE
from minikernel.user import MADV_PAGEOUT, MAP_ANONYMOUS, MAP_SHARED, Process

WORKLOADS = ("seed", "procs", "threads", "migrate")
#: Pages of the migration benchmark's working set (1 MiB, as the seed's buffer).
MIGRATE_PAGES = 256
#: Page frames of the benchmark's buffer (1 MiB of 4 KiB pages): the least
#: memory a machine needs to run it at all.
BUFFER_PAGES = (1 << 20) // PAGE_SIZE


def check_buffer_fits(profile) -> None:
    """UserError unless the benchmark's 1 MiB buffer fits in *profile*'s page frames
    (the main job and every sweep point check it before anything runs)."""
    from minikernel.errors import UserError

    if profile.mem_pages <= BUFFER_PAGES:
        raise UserError(f"{profile.source or profile.name}: machine.mem_pages = {profile.mem_pages}: "
                        f"expected more than {BUFFER_PAGES} page frames (the benchmark's 1 MiB "
                        "buffer, plus the kernel's own pages)")


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


class BenchmarkInterrupted(KeyboardInterrupt):
    """Ctrl-C during the loop: *done* of *iterations* measured iterations had finished.

    A KeyboardInterrupt, so a caller that does not count iterations (the
    sweep, the range re-runs, the fit) still sees a Ctrl-C, never an error.
    """

    def __init__(self, done: int, iterations: int) -> None:
        super().__init__(f"{done} of {iterations} measured iterations done")
        self.done = done
        self.iterations = iterations


def run_seed_benchmark(machine, iterations: int, *, procs: int = 1, threads: int = 1,
                       size: int = 1 << 20, warmup: int = 0,
                       progress: Callable[[int, int], None] | None = None,
                       migrate: int = 0) -> RunResult:
    """Run the seed benchmark on a freshly booted *machine*; measure the loop only.

    *warmup* iterations run first, unmeasured.  The loop's first iteration
    finds every page still resident (nothing to swap in), so a short run
    under-counts the swap-in path by 1/iterations; one warm-up iteration
    makes every measured iteration a steady-state one, as almost all of the
    published 10 000 were.  *progress(done, iterations)* is called after each
    measured iteration; Ctrl-C raises BenchmarkInterrupted with the count done.
    """
    if migrate:
        return run_migrate_benchmark(machine, iterations, threads=migrate, size=size,
                                     warmup=warmup, progress=progress)
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
    # Each page's address and expected value, computed once (invariant over the loop)
    pages = [(buf + i * PAGE_SIZE, _pattern(i)) for i in range(npages)]
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
                read = r.read
                for addr, want in pages:
                    v = read(addr)
                    if v != want:
                        raise DataLoss(f"page {(addr - buf) // PAGE_SIZE} of the benchmark "
                                       f"buffer read {v:#x}, expected {want:#x}")
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


class MigrationFailed(AssertionError):
    """move_pages() left a page of the working set somewhere other than where it was sent."""


def migrate_nodes(machine) -> tuple[int, int]:
    """The two nodes the migration benchmark moves its working set between.

    The node of CPU 0 (where the working set is first touched) and the
    next node; ValueError on a one-node machine.
    """
    numa = machine.numa
    if numa.nr_nodes < 2:
        raise ValueError(f"machine '{machine.profile.name}' has 1 NUMA node: the migrate "
                         "workload needs 2 (a profile with [numa] node_cpus)")
    home = numa.cpu_node[0]
    return home, (home + 1) % numa.nr_nodes


def run_migrate_benchmark(machine, iterations: int, *, threads: int = 4, size: int = 1 << 20,
                          warmup: int = 0,
                          progress: Callable[[int, int], None] | None = None) -> RunResult:
    """The migration benchmark on a freshly booted *machine*; measure the loop only.

    Model-only, after pmbench's shape: one process maps *size* bytes of
    private anonymous memory (MIGRATE_PAGES pages by default) and writes
    every page; T-1 more threads are pinned to CPUs 1..T-1.  Each iteration,
    twice (there and back): every thread reads every page (checked) and
    writes the pages i with i % T == its number (a new value each time),
    so every CPU caches translations of the whole set, and the pages one
    CPU wrote are dirty in its TLB; then the first thread moves the whole
    set to the other node with move_pages(2) -- migrate_pages() with
    MIGRATE_SYNC, which since 6.3 unmaps a batch of up to 512 with its
    flushes deferred.  The two nodes are CPU 0's and the next one
    (migrate_nodes()).  Every page must read back what was last written
    and be on the node it was sent to, or the run fails.
    """
    if threads < 1:
        raise ValueError("threads must be >= 1")
    if threads > machine.nr_cpus:
        raise ValueError(f"the workload needs {threads} CPUs; the machine has {machine.nr_cpus}")
    if not machine.migration:
        raise ValueError("the migrate workload needs CONFIG_MIGRATION=y")
    home, away = migrate_nodes(machine)
    npages = size // PAGE_SIZE
    p = Process.spawn(machine, "a.out", cpu=0)
    buf = p.mmap(size)
    addrs = [buf + i * PAGE_SIZE for i in range(npages)]
    want = [_pattern(i) for i in range(npages)]
    for i, a in enumerate(addrs):
        p.write(a, want[i])
    workers = [p] + [p.clone_thread(cpu=c) for c in range(1, threads)]
    m = machine
    before = _snapshot(m)
    n = 0
    stamp = 0
    try:
        for n in range(warmup + iterations):
            if m.trace is not None and n in (0, warmup):
                m.trace.append("# warm-up iteration (not measured)" if n < warmup else
                               f"# measured iterations 1..{iterations}")
            if n == warmup and warmup:
                before = _snapshot(m)
            for dst in (away, home):
                stamp += 1
                for t, w in enumerate(workers):
                    for i, a in enumerate(addrs):
                        v = w.read(a)
                        if v != want[i]:
                            raise DataLoss(f"page {i} of the working set read {v:#x} on CPU "
                                           f"{w.cpu}, expected {want[i]:#x}")
                    for i in range(t, npages, threads):
                        want[i] = (_pattern(i) + (stamp << 32)) & ((1 << 64) - 1)
                        w.write(addrs[i], want[i])
                status = p.move_pages(addrs, [dst] * npages)
                bad = [(i, s) for i, s in enumerate(status) if s != dst]
                if bad:
                    i, s = bad[0]
                    raise MigrationFailed(f"move_pages: page {i} of the working set is on "
                                          f"{s} after moving it to node {dst} "
                                          f"({len(bad)} pages not moved)")
            if progress is not None and n >= warmup:
                progress(n - warmup + 1, iterations)
    except KeyboardInterrupt:
        raise BenchmarkInterrupted(max(0, n - warmup), iterations) from None
    result = _result(m, before, p.task.cpu.id, 0)
    for i, a in enumerate(addrs):                  # after the last move (not measured)
        v = p.read(a)
        if v != want[i]:
            raise DataLoss(f"page {i} of the working set read {v:#x} after the last move, "
                           f"expected {want[i]:#x}")
    return result


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
