"""Sweeps: where does deferring the TLB flush pay off?  CPUs x arch x machine x workload x config.

Model-only.  Every grid point boots two kernels on the same simulated
machine -- one whose reclaim defers its flushes and one that never does,
each derived from the point's assignments by ``minikernel.arch.deferral_sets``
-- runs the same workload on both, and records what the simulation measured:
elapsed time, the speedup, ``ptep_clear_flush``'s share of the unbatched
run, and the TLB maintenance each did (synchronous flushes, batches, DSBs or
IPIs).

Points are independent and deterministic (the model reads no clock and no
unseeded randomness), so they run in any order on any executor -- a local
process pool (``--jobs``) or an existing Dask cluster -- and the results
are identical.

# File layout:
#   Public interface: Point, parse_cpus(), build_grid(), run_point(),
#       run_point_kernel(), point_row(), run_sweep(), write_outputs(), render_table(),
#       crossovers()
#   Private helpers: the executors, the progress bar, the plot
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minikernel.compat import SLOTS
from minikernel.errors import UserError

WORKLOADS = ("seed", "procs", "threads", "migrate")
EXECUTORS = ("process", "dask")
CSV_FIELDS = ("arch", "machine", "cpus", "workload", "sets", "iterations", "configured_defers",
              "threshold", "batched_defers", "elapsed_batched_ms", "elapsed_unbatched_ms",
              "speedup", "ptep_clear_flush_pct", "sync_flushes_unbatched",
              "batches_batched", "dsb_or_ipi_unbatched", "dsb_or_ipi_batched",
              "pages_reclaimed", "width", "flush_share_pct", "profile_cpus", "saving_pct",
              "saving_low_pct", "saving_high_pct", "saving_moved_most_by", "far_from_measured",
              "saving_fit_input")


@dataclass(frozen=True, **SLOTS)
class Point:
    """One grid point.

    arch, machine: SRCARCH and machine profile (name or TOML path; "" = the arch default)
    cpus:          online CPUs (the profile's count is overridden)
    workload:      "seed", "procs" (the pages mapped by `width` processes),
                   "threads" (the mm active on `width` CPUs) or "migrate" (a working
                   set touched by `width` threads, moved between two NUMA nodes)
    sets:          Kconfig assignments over the arch defconfig
    iterations:    measured benchmark rounds (after one unmeasured warm-up round, as
                   the main job does, so every measured round is a steady-state one)
    width:         processes or threads of the procs/threads workloads
    """

    arch: str
    machine: str
    cpus: int
    workload: str
    sets: tuple[str, ...]
    iterations: int
    width: int = 4
    ranges: bool = True


# Public interface

#: Most measured iterations per point (the main job's bound without --force).
MAX_ITERATIONS = 1000
#: Largest CPU count a --cpus range may reach: NR_CPUS goes up to 4096 on every arch,
#: so A..B/STEP is never expanded past it.
MAX_CPUS = 4096


def parse_cpus(spec: str) -> list[int]:
    """CPU counts from a spec: ``8``, ``2,4,8``, ``2..256`` (powers of two), ``8..64/8`` (step 8).

    Raises UserError naming the bad piece.
    """
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        try:
            if ".." in part:
                lo_s, hi_s = part.split("..", 1)
                step = None
                if "/" in hi_s:
                    hi_s, step_s = hi_s.split("/", 1)
                    step = int(step_s)
                lo, hi = int(lo_s), int(hi_s)
                if lo < 1 or hi < lo or (step is not None and step < 1):
                    raise ValueError
                if hi > MAX_CPUS:
                    raise UserError(f"--cpus {spec!r}: {part!r} goes past {MAX_CPUS}: expected "
                                    f"CPU counts up to {MAX_CPUS} (the largest CONFIG_NR_CPUS)")
                if step is None:
                    n = 1
                    while n <= hi:
                        if n >= lo:
                            out.append(n)
                        n *= 2
                    if not any(lo <= c <= hi for c in out):
                        raise ValueError
                else:
                    out.extend(range(lo, hi + 1, step))
            else:
                n = int(part)
                if n < 1:
                    raise ValueError
                out.append(n)
        except ValueError:
            raise UserError(f"--cpus {spec!r}: bad piece {part!r}: expected N, A,B,C, A..B "
                            "(powers of two) or A..B/STEP with 1 <= A <= B") from None
    if not out:
        raise UserError(f"--cpus {spec!r}: the grid is empty")
    return sorted(set(out))


def build_grid(archs: Sequence[str], cpus: Sequence[int], machines: Sequence[str],
               workloads: Sequence[str], sets: Sequence[str], iterations: int,
               width: int | Sequence[int] = 4, ranges: bool = True) -> list[Point]:
    """Every combination, validated up front: a bad grid fails before anything runs."""
    from minikernel.arch import deferral_sets
    from minikernel.kconfig import load_kernel_config
    from minikernel.machine import Machine
    from minikernel.report import check_sweep_point, dropped_errata, refuse_erratum_flip
    from minikernel.workload import check_buffer_fits

    if not archs or not cpus or not workloads:
        raise UserError("sweep: the grid is empty: expected at least one arch, CPU count and "
                        "workload")
    if iterations < 1:
        raise UserError(f"--iterations {iterations}: expected a positive number")
    if iterations > MAX_ITERATIONS:
        raise UserError(f"--iterations {iterations}: expected at most {MAX_ITERATIONS} per point "
                        "(every steady-state iteration costs the same, so more add nothing "
                        "but host time; the main job takes more with --force)")
    widths = [width] if isinstance(width, int) else list(width)
    if not widths or any(w < 1 for w in widths):
        raise UserError(f"--width {','.join(map(str, widths))}: expected positive numbers of "
                        "processes or threads")
    for w in workloads:
        if w not in WORKLOADS:
            raise UserError(f"--workload {w!r}: unknown workload (known: {', '.join(WORKLOADS)})")
    points = []
    for arch in archs:
        cfg = load_kernel_config(arch, sets=list(sets))
        for machine in machines or [""]:
            prof = _profile(machine, cfg.arch)          # a bad profile fails before anything runs
            check_buffer_fits(prof)
            for c in cpus:
                if c > cfg.NR_CPUS:
                    raise UserError(f"--cpus {c}: above CONFIG_NR_CPUS={cfg.NR_CPUS} for {arch} "
                                    "(raise it with --set NR_CPUS=N)")
                prof_c = prof.with_cpus(c)
                booted: dict[tuple[str, ...], Any] = {}

                def boot(extra: tuple[str, ...], cfg=cfg, prof_c=prof_c, booted=booted):
                    # Each distinct kernel of this point booted once (unrun): the
                    # configured one is often also the deferring or the synchronous
                    # one (no extra assignments), and its checks share it.
                    if extra not in booted:
                        booted[extra] = Machine(cfg.with_sets(extra) if extra else cfg, prof_c)
                    return booted[extra]

                on_sets = deferral_sets(cfg, c, True, prof_c)
                if dropped_errata(on_sets):
                    # refuse_erratum_flip reads the configured machine only then
                    refuse_erratum_flip(boot(()), on_sets)
                check_sweep_point(cfg, c, prof_c, boot)     # issue 13: never a 1.000 row
                if "migrate" in workloads:
                    m0 = boot(())
                    if m0.numa.nr_nodes < 2 or not m0.migration:
                        raise UserError(
                            f"--workload migrate: machine '{prof.name}' "
                            + ("has one NUMA node: expected a machine with 2 or more (a "
                               "profile with [numa] node_cpus, e.g. kunpeng920 or x86-2s)"
                               if m0.numa.nr_nodes < 2 else
                               "runs a kernel without CONFIG_MIGRATION: expected MIGRATION=y"))
                for w in workloads:
                    # the seed workload has no width: one point, not one per --width
                    for width in (widths if w != "seed" else widths[:1]):
                        if w != "seed" and width > c:
                            raise UserError(f"--workload {w} needs {width} CPUs; the grid has "
                                            f"{c} (lower --width or drop CPU counts below "
                                            f"{width})")
                        points.append(Point(cfg.arch, machine, c, w, tuple(sets), iterations,
                                            width, ranges))
    return points


def _bench_kw(point) -> dict:
    """run_seed_benchmark()'s keywords for a point's workload and width."""
    if point.workload == "procs":
        return {"procs": point.width}
    if point.workload == "threads":
        return {"threads": point.width}
    if point.workload == "migrate":
        return {"migrate": point.width}
    return {}


def run_point(point: Point) -> dict[str, Any]:
    """Run one grid point (both kernels); a flat, JSON-able row.  Top-level so it pickles."""
    return point_row(point, run_point_kernel(point, True), run_point_kernel(point, False))


def run_point_kernel(point: Point, defer: bool) -> tuple[Any, tuple[str, ...]]:
    """One of a point's two kernels (*defer*: the one whose reclaim defers): its RunResult
    and the arch counter names.  Top-level so it pickles: the process pool runs each
    kernel of a point as its own task."""
    from minikernel.arch import deferral_sets
    from minikernel.kconfig import load_kernel_config
    from minikernel.machine import Machine
    from minikernel.mm.page_alloc import OutOfMemory
    from minikernel.workload import run_seed_benchmark

    cfg = load_kernel_config(point.arch, sets=list(point.sets))
    profile = _profile(point.machine, cfg.arch).with_cpus(point.cpus)
    kw = _bench_kw(point)
    extra = deferral_sets(cfg, point.cpus, defer, profile)
    m = Machine(cfg.with_sets(extra), profile)
    # build_grid() ran report.check_sweep_point() on every point before any ran,
    # so the two kernels' decisions are known to differ here (never a 1.000 row);
    # a Point built by hand without build_grid() stops here instead.
    if m.tlb_flush_path.batched is not defer:
        raise UserError(
            f"sweep point {point.arch} on {point.cpus} CPUs (+ {' '.join(point.sets) or 'defconfig'}):"
            f" the kernel meant to {'defer' if defer else 'flush synchronously'} does not "
            f"({m.tlb_flush_path.reason}): expected a point from build_grid(), which checks "
            "both kernels of every point before any runs")
    try:
        return run_seed_benchmark(m, point.iterations, warmup=1, **kw), tuple(m.arch.counters())
    except OutOfMemory as e:
        raise UserError(f"--machine {profile.name}: machine.mem_pages = {profile.mem_pages}: "
                        f"{e}: expected enough page frames for the benchmark") from None


def point_row(point: Point, batched: tuple[Any, tuple[str, ...]],
              unbatched: tuple[Any, tuple[str, ...]]) -> dict[str, Any]:
    """A point's row from its two kernels' :func:`run_point_kernel` results."""
    from minikernel.kconfig import load_kernel_config
    from minikernel.machine import Machine

    cfg = load_kernel_config(point.arch, sets=list(point.sets))
    measured = _profile(point.machine, cfg.arch)
    profile = measured.with_cpus(point.cpus)
    (b, counters), (u, _) = batched, unbatched
    configured = Machine(cfg, profile).tlb_flush_path.batched
    total_u = sum(u.profile.values()) or 1.0
    flush_key = "dsb_ish" if "dsb_ish" in counters else "ipis_sent"
    return {
        "arch": point.arch, "machine": profile.name, "cpus": point.cpus,
        "workload": point.workload, "sets": " ".join(point.sets), "iterations": point.iterations,
        "configured_defers": bool(configured),
        "threshold": cfg.values.get("ARM64_NR_CPUS_FOR_BATCHED_TLB", ""),
        "batched_defers": b.vmstat.get("tlb_deferred_pte", 0) > 0,
        "elapsed_batched_ms": b.elapsed_ns / 1e6,
        "elapsed_unbatched_ms": u.elapsed_ns / 1e6,
        "speedup": u.elapsed_ns / b.elapsed_ns,
        "ptep_clear_flush_pct": 100.0 * u.profile.get("ptep_clear_flush", 0.0) / total_u,
        "sync_flushes_unbatched": u.vmstat.get("tlb_sync_flush", 0),
        "batches_batched": b.vmstat.get("tlb_batch_flush", 0),
        "dsb_or_ipi_unbatched": u.arch.get(flush_key, 0),
        "dsb_or_ipi_batched": b.arch.get(flush_key, 0),
        "pages_reclaimed": b.pages_reclaimed,
        "width": point.width if point.workload != "seed" else 1,
        "profile_cpus": measured.cpus,
        "flush_share_pct": 100.0 * sum(u.profile.get(k, 0.0) for k in _FLUSH_SYMBOLS[point.arch])
        / total_u,
        **_range_keys(point, cfg, profile, (1 - b.elapsed_ns / u.elapsed_ns) * 100),
    }

def _range_keys(point: Point, cfg, profile, pct: float) -> dict[str, Any]:
    """saving_pct and, where it rests on assumed figures, its range (minikernel.uncertainty)."""
    from minikernel import uncertainty
    from minikernel.arch import deferral_sets
    from minikernel.machine import Machine
    from minikernel.workload import run_seed_benchmark

    kw = _bench_kw(point)
    out = {"saving_pct": pct, "saving_low_pct": None, "saving_high_pct": None,
           "saving_moved_most_by": None, "far_from_measured": uncertainty.far_note(profile),
           # the seed benchmark's saving at a fitted profile's measured point may have
           # been a fit input: then it is calibration, not a prediction (said so)
           "saving_fit_input": (uncertainty.fit_input_note(profile, cfg)
                                if point.workload == "seed" else None)}
    if not point.ranges or uncertainty.needs_range(profile) is None:
        return out
    on = cfg.with_sets(deferral_sets(cfg, point.cpus, True, profile))
    off = cfg.with_sets(deferral_sets(cfg, point.cpus, False, profile))

    def saving(p) -> float:
        rb = run_seed_benchmark(Machine(on, p), 1, warmup=1, **kw)
        ru = run_seed_benchmark(Machine(off, p), 1, warmup=1, **kw)
        return (1 - rb.elapsed_ns / ru.elapsed_ns) * 100

    r = uncertainty.saving_range(profile, saving, nominal=pct,
                                 skip=() if "migrate" in kw else ("numa.",))
    out.update(saving_low_pct=r["low_pct"], saving_high_pct=r["high_pct"],
               saving_moved_most_by=r["moved_most_by"])
    return out


#: The synchronous flush path of the unbatched run, per arch: what deferring
#: can save.  arm64: ptep_clear_flush (TLBI + DSB ISH inlined into it); x86:
#: the remote-flush IPI round (smp_call_function_many_cond, with its wait for
#: the acks) and flush_tlb_mm_range, plus ptep_clear_flush; riscv: the SBI
#: remote fence (sbi_ecall, with its wait) or the kernel's IPI round, and
#: __flush_tlb_range's local fences, plus ptep_clear_flush.
_FLUSH_SYMBOLS = {"arm64": ("ptep_clear_flush",),
                  "x86": ("ptep_clear_flush", "flush_tlb_mm_range",
                          "smp_call_function_many_cond"),
                  "riscv": ("ptep_clear_flush", "__flush_tlb_range", "sbi_ecall",
                            "smp_call_function_many_cond")}
#: The flush-share panel's title and y-axis label per arch.
_FLUSH_LABEL = {"arm64": ("ptep_clear_flush share", "ptep_clear_flush\n(TLBI + DSB ISH)"),
                "x86": ("remote-flush share", "the remote flush\n(IPI round + flush_tlb_mm_range)"),
                "riscv": ("remote-fence share", "the remote fence (SBI\nRFENCE or IPIs + __flush_tlb_range)")}


def check_executor(jobs: int | None, executor: str, scheduler: str | None) -> None:
    """UserError for a bad --jobs / --executor / --scheduler, before anything runs."""
    if executor not in EXECUTORS:
        raise UserError(f"--executor {executor!r}: unknown executor (known: {', '.join(EXECUTORS)})")
    if executor == "dask":
        if not scheduler:
            raise UserError("--executor dask needs --scheduler ADDRESS (e.g. tcp://host:8786)")
    elif scheduler is not None:
        raise UserError("--scheduler only applies to --executor dask")
    if jobs is not None and jobs < 1:
        raise UserError(f"--jobs {jobs}: expected a positive number")
    if executor == "process":
        from minikernel.parallel import check_jobs
        check_jobs(jobs)


def run_sweep(points: Sequence[Point], *, jobs: int | None = None, executor: str = "process",
              scheduler: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """Run every point; rows come back in grid order whatever the executor or job count."""
    check_executor(jobs, executor, scheduler)
    if jobs is None:
        jobs = os.cpu_count() or 1
    rows: list[dict[str, Any] | None] = [None] * len(points)
    try:
        if executor == "dask":
            _run_dask(points, scheduler, progress, rows)
        elif jobs == 1:
            for i, p in enumerate(points):
                rows[i] = run_point(p)
                if progress:
                    progress(i + 1, len(points))
        else:
            # Each point's two kernels are separate tasks, so even one point keeps
            # two workers busy; a row is put together when both are back.
            # Workers ignore SIGINT: Ctrl-C is the parent's to handle (a worker
            # dying of it would leave the pool hanging), and it ends them.
            pool = ProcessPoolExecutor(max_workers=min(jobs, 2 * len(points)),
                                       initializer=_ignore_sigint)
            try:
                futures = {pool.submit(run_point_kernel, p, defer): (i, defer)
                           for i, p in enumerate(points) for defer in (True, False)}
                halves: dict[int, dict[bool, Any]] = {}
                done = 0
                for f in as_completed(futures):
                    i, defer = futures[f]
                    got = halves.setdefault(i, {})
                    got[defer] = f.result()
                    if len(got) == 2:
                        rows[i] = point_row(points[i], got[True], got[False])
                        done += 1
                        if progress:
                            progress(done, len(points))
            except BaseException:
                for proc in list(getattr(pool, "_processes", {}).values()):
                    proc.terminate()            # the workers this pool started
                # Wait for the pool's manager thread to see its workers gone and
                # close its pipes.  Returning while it still runs races the
                # interpreter's exit hook for process pools, which writes to the
                # same pipe without a lock: under load that printed an OSError
                # traceback after the one-line "interrupted" (CPython 3.11).
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            pool.shutdown(wait=True)
    except KeyboardInterrupt:
        raise SweepInterrupted([r for r in rows if r is not None], len(points)) from None
    return rows  # type: ignore[return-value]


def _ignore_sigint() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class SweepInterrupted(Exception):
    """Ctrl-C: *rows* are the points that had finished (grid order), of *total*."""

    def __init__(self, rows: list[dict[str, Any]], total: int) -> None:
        super().__init__(f"{len(rows)} of {total} points done")
        self.rows = rows
        self.total = total


def series_key(r: dict[str, Any]) -> tuple:
    """One line of the table's crossovers and of the plot: (arch, machine, workload, sets, width)."""
    return (r["arch"], r["machine"], r["workload"], r["sets"], r.get("width", 1))


def crossovers(rows: Iterable[dict[str, Any]]) -> dict[tuple, int | None]:
    """Per series (:func:`series_key`): the smallest CPU count where deferring is faster."""
    best: dict[tuple, int | None] = {}
    for r in sorted(rows, key=lambda r: r["cpus"]):
        key = series_key(r)
        best.setdefault(key, None)
        if best[key] is None and r["speedup"] > 1.0:
            best[key] = r["cpus"]
    return best


def _where(rows: Sequence[dict[str, Any]], key: tuple, c: int | None = None) -> str:
    """Where deferring pays for one series: "from C CPUs" only where the sign of the
    effect changes inside the grid, else "everywhere" or "nowhere in this grid"; a
    sign that changes back (pays below some count, or only in the middle) names the
    CPU counts where it pays.  *c* (the crossover) is accepted and not needed."""
    rs = sorted((r for r in rows if series_key(r) == key), key=lambda r: r["cpus"])
    runs = _paying_runs(rs)
    if not runs:
        return "nowhere in this grid"
    if runs == [(rs[0]["cpus"], rs[-1]["cpus"])]:
        return "everywhere in this grid"
    if len(runs) == 1 and runs[0][1] == rs[-1]["cpus"]:
        return f"from {runs[0][0]} CPUs"
    if len(runs) == 1 and runs[0][0] == rs[0]["cpus"]:
        return f"up to {runs[0][1]} CPUs"
    return "at " + ", ".join(str(a) if a == b else f"{a}..{b}" for a, b in runs) + " CPUs"


def _paying_runs(rs: Sequence[dict[str, Any]]) -> list[tuple[int, int]]:
    """(first, last) CPU counts of each stretch of consecutive grid points (sorted
    *rs* of one series) where deferring is faster."""
    runs: list[tuple[int, int]] = []
    prev = False
    for r in rs:
        pays = r["speedup"] > 1.0
        if pays and prev:
            runs[-1] = (runs[-1][0], r["cpus"])
        elif pays:
            runs.append((r["cpus"], r["cpus"]))
        prev = pays
    return runs


def _sign_changes(rs: Sequence[dict[str, Any]]) -> list[tuple[int, bool]]:
    """(CPU count, pays from here) at each grid point of one sorted series where the
    sign of the effect differs from the point before: the crossovers inside the grid."""
    out = []
    for before, r in zip(rs, rs[1:]):
        if (before["speedup"] > 1.0) != (r["speedup"] > 1.0):
            out.append((r["cpus"], r["speedup"] > 1.0))
    return out


def _series_name(key: tuple) -> str:
    arch, machine, workload, sets, width = key
    wl = workload if workload == "seed" else f"{workload}:{width}"
    return f"{arch}, {machine}, {wl}" + (f", {sets}" if sets else "")


def render_table(rows: Sequence[dict[str, Any]]) -> str:
    """A terminal table, one line per point."""
    head = (f"{'arch':<6}{'machine':<14}{'workload':<11}{'CPUs':>5}{'defers':>7}"
            f"{'unbatched ms':>14}{'batched ms':>12}{'speedup':>9}{'flush %':>8}"
            f"{'flushes':>9}{'batches':>9}{'DSB/IPI':>15}  saving % (range over assumptions)")
    out = [head, "-" * len(head)]
    for r in rows:
        wl = r["workload"] if r["workload"] == "seed" else f"{r['workload']}:{r.get('width', 1)}"
        out.append(
            f"{r['arch']:<6}{r['machine']:<14}{wl:<11}{r['cpus']:>5}"
            f"{'yes' if r['configured_defers'] else 'no':>7}"
            f"{r['elapsed_unbatched_ms']:>14.3f}{r['elapsed_batched_ms']:>12.3f}"
            f"{r['speedup']:>9.3f}{r.get('flush_share_pct', r['ptep_clear_flush_pct']):>8.2f}"
            f"{r['sync_flushes_unbatched']:>9}{r['batches_batched']:>9}"
            f"{str(r['dsb_or_ipi_unbatched']) + '->' + str(r['dsb_or_ipi_batched']):>15}"
            f"  {_saving_cell(r)}")
    for key in crossovers(rows):
        out.append(f"deferring pays ({_series_name(key)}): {_where(rows, key)}")
    out.extend(extrapolation_notes(rows))
    return "\n".join(out) + "\n"


def _saving_cell(r: dict[str, Any]) -> str:
    cell = f"{r['saving_pct']:.2f}"
    if r.get("saving_low_pct") is not None:
        cell += (f" ({r['saving_low_pct']:.1f}..{r['saving_high_pct']:.1f}, "
                 f"most: {r['saving_moved_most_by']})")
    note = r.get("saving_fit_input")
    if note:
        # uncertainty.fit_input_note: the same kernel as the fit reproduces the
        # measurement; another kernel's run rests on it (as the main job says)
        cell += (" (rests on a fit input: another kernel on the fitted figures, not an "
                 "independent prediction)" if "rests on that calibration" in note
                 else " (a fit input: calibration, not a prediction)")
    return cell


def extrapolation_notes(rows: Sequence[dict[str, Any]]) -> list[str]:
    """One line per profile whose grid reaches more than a factor of 2 from
    the CPU count its figures were measured or fitted at."""
    out = []
    for machine in dict.fromkeys(r["machine"] for r in rows):
        rs = [r for r in rows if r["machine"] == machine and "profile_cpus" in r]
        if not rs:
            continue
        base = rs[0]["profile_cpus"]
        far = sorted({r["cpus"] for r in rs if not base / 2 <= r["cpus"] <= base * 2})
        if far:
            out.append(f"note: {machine} was measured or fitted at {base} CPUs; the points at "
                       f"{', '.join(map(str, far))} CPUs extrapolate its assumed fixed/per-CPU "
                       "split of the DVM/IPI costs (the model's prediction, not the hardware's)")
    return out


def write_outputs(rows: Sequence[dict[str, Any]], out_dir: str | os.PathLike,
                  plot: bool = True) -> list[Path]:
    """sweep.csv, sweep.json and (with matplotlib installed) sweep.png under *out_dir*.

    A file of an earlier run there with other contents is kept as ``<name>.old``
    (sweep.csv.old, ...), one generation, as the kernel keeps .config.old.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out {str(out)!r}: cannot create the directory ({e.strerror})") from None
    import io

    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    w.writeheader()
    w.writerows(rows)
    cross = [{"arch": k[0], "machine": k[1], "workload": k[2], "sets": k[3], "width": k[4],
              "cpus": v} for k, v in crossovers(rows).items()]
    files = {out / "sweep.csv": buf.getvalue().encode(),
             out / "sweep.json": (json.dumps({"points": list(rows), "crossovers": cross},
                                             indent=2) + "\n").encode()}
    if plot:
        png = io.BytesIO()
        if _plot(rows, png):
            files[out / "sweep.png"] = png.getvalue()
    # An earlier run's file with other contents is kept as <name>.old first (as the
    # config verbs keep .config.old, --trace and explore --save FILE.old): all the
    # copies before any file is written, so a copy that fails changes nothing.
    for path, data in files.items():
        if path.is_file() and path.read_bytes() != data:
            try:
                path.with_name(path.name + ".old").write_bytes(path.read_bytes())
            except OSError as e:
                raise UserError(f"--out {str(out)!r}: cannot keep the existing {path.name} as "
                                f"{path.name}.old ({e.strerror or e}): expected a writable "
                                "directory") from None
    for path, data in files.items():
        path.write_bytes(data)
    return list(files)


OUTPUTS = ("sweep.csv", "sweep.json", "sweep.png")


def check_out_dir(out_dir: str | os.PathLike) -> None:
    """UserError, before anything runs, when write_outputs() could not write a file
    or keep an earlier one as .old there (a directory in the way)."""
    out = Path(out_dir)
    for name in OUTPUTS:
        for p in (out / name, out / f"{name}.old"):
            if p.exists() and not p.is_file():
                raise UserError(f"--out {out}: {p} is not a file: expected {name} and "
                                f"{name}.old (the earlier run's, kept) to be files")


# Private helpers

def _profile(name: str, arch: str):
    """The point's machine profile: the arch default when *name* is empty."""
    from minikernel.profile import default_profile, load_profile

    if not name:
        return default_profile(arch)
    prof = load_profile(name)
    prof.check_arch(arch)
    return prof


class TtyProgress:
    """A one-line progress bar with an ETA on stderr (only used when stderr is a terminal)."""

    def __init__(self) -> None:
        import time

        self._clock = time.monotonic
        self._start = self._clock()

    def __call__(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // total
        left = (self._clock() - self._start) / done * (total - done)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} points, "
                         f"ETA {left:.0f} s ")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def tty_progress(done: int, total: int) -> None:
    """Compatibility: a progress bar without an ETA."""
    width = 30
    filled = width * done // total
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} points")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _run_dask(points: Sequence[Point], scheduler: str | None,
              progress: Callable[[int, int], None] | None,
              rows: list[dict[str, Any] | None]) -> None:
    """Fill *rows* (grid order) from the Dask cluster; a row per finished point."""
    if not scheduler:
        raise UserError("--executor dask needs --scheduler ADDRESS (e.g. tcp://host:8786)")
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UserError("--executor dask needs the dask extra: pip install 'minikernel[dask]'") \
            from None
    try:
        client = Client(scheduler, timeout=10)
    except (OSError, TimeoutError) as e:
        raise UserError(f"--scheduler {scheduler!r}: cannot connect ({e})") from None
    try:
        futures = client.map(run_point, list(points), pure=True)
        index = {f.key: i for i, f in enumerate(futures)}
        for done, f in enumerate(as_completed(futures), 1):
            rows[index[f.key]] = f.result()
            if progress:
                progress(done, len(points))
    finally:
        client.close()


def _plot(rows: Sequence[dict[str, Any]], path) -> bool:
    """sweep.png, fit to paste into a mail; False without matplotlib.

    One row of panels per arch: the speedup from deferring, and the share of
    the unbatched run's cycles in that arch's synchronous flush path (arm64:
    ptep_clear_flush; x86: the remote-flush IPI round; riscv: the remote
    fence).  x ticks at the grid's CPU counts (a label that would overprint
    its neighbour is left off, never the profile's own count or the ends);
    distinct marker and line style per series; series with identical results
    share one legend entry; the saving's range over the assumed figures as a
    band; a fit input as a hollow marker; a crossover line only where the
    effect changes sign inside the grid.  Each arch's legend sits under its
    panels, off the data, and a wrapped caption names the profiles, kernels,
    config and iterations.  No two texts overlap (tests/minikernel/test_sweep.py).
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig = _figure(rows)
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
    return True


_MARKERS = "osD^vP*Xh<>"
_STYLES = ("-", "--", "-.", ":")
_FIG_WIDTH_IN = 11.0
_CAPTION_CHARS = 160            # a 7.5 pt caption line fits the 11 in figure
_LEGEND_CHARS = (62, 125)       # a 7.5 pt legend label: two columns / one column
_MAX_BANDS = 4                  # more lines' range bands would bury them: left to sweep.csv


def _arch_series(rs_arch: Sequence[dict[str, Any]]) -> list[tuple[list[tuple], list[dict[str, Any]]]]:
    """An arch's lines: (the series keys with identical results, their rows by CPU count)."""
    series: dict[tuple, list[dict[str, Any]]] = {}
    for r in rs_arch:
        series.setdefault(series_key(r), []).append(r)
    merged: dict[tuple, list[tuple]] = {}
    for key, rs in series.items():
        rs.sort(key=lambda r: r["cpus"])
        sig = tuple((r["cpus"], round(r["speedup"], 6), round(r["flush_share_pct"], 6))
                    for r in rs)
        merged.setdefault(sig, []).append(key)
    return [(keys, series[keys[0]]) for keys in merged.values()]


def _legend_label(keys: list[tuple], rs_arch: Sequence[dict[str, Any]], width: int) -> str:
    """A line's legend entry: the series it stands for (the arch is the panel's; the
    machine only when the arch has several; the config, in the caption, only when the
    arch's series differ in it) and where deferring pays, wrapped to *width*."""
    import textwrap

    machines = {r["machine"] for r in rs_arch}
    configs = {r["sets"] for r in rs_arch}
    names = []
    for _arch, machine, workload, sets, wd in keys:
        name = workload if workload == "seed" else f"{workload}:{wd}"
        if len(machines) > 1:
            name = f"{machine}, {name}"
        if len(configs) > 1:
            name += f", {sets or 'defconfig'}"
        names.append(name)
    label = " = ".join(names) + (" (identical results)" if len(keys) > 1 else "")
    label += ": pays " + _where(rs_arch, keys[0])
    return "\n".join(textwrap.wrap(label, width, break_on_hyphens=False))


def _range_speedup(r: dict[str, Any], key: str) -> float:
    """The speedup at one end of a row's saving range (the point itself without one)."""
    pct = r.get(key)
    return r["speedup"] if pct is None else 1 / (1 - pct / 100)


def _speedup_ylim(rs_arch: Sequence[dict[str, Any]]) -> tuple[float, float] | None:
    """The speedup panel's y range when the bands would flatten the lines (a band
    more than 3 times as tall as the lines and speedup 1 together): the lines'
    range with a margin, the bands cut at the edge.  None: autoscale."""
    ys = [1.0] + [r["speedup"] for r in rs_arch]
    ends = [_range_speedup(r, k) for r in rs_arch for k in ("saving_low_pct", "saving_high_pct")]
    lo, hi = min(ys), max(ys)
    pad = 0.15 * ((hi - lo) or 0.01)
    if max(ends) - min(ends) <= 3 * (hi - lo + 2 * pad):
        return None
    return lo - pad, hi + pad


def _caption(rows: Sequence[dict[str, Any]], *, bands: bool, fit_input: bool,
             cut: bool = False, crowded: bool = False) -> str:
    """The figure's caption, one paragraph: what ran (profiles, kernels, config,
    iterations), what extrapolates, and what the band and hollow markers mean."""
    from minikernel.baseline import baseline_for
    from minikernel.kconfig import load_kernel_config

    far = {}
    for note in extrapolation_notes(rows):
        machine, rest = note[len("note: "):].split(" was measured or fitted at ", 1)
        base, pts = rest.split(" CPUs; the points at ", 1)
        far[machine] = (f"measured or fitted at {base} CPUs; the points at "
                        f"{pts.split(' CPUs extrapolate')[0]} CPUs extrapolate")
    profiles = ", ".join(m + (f" ({far[m]})" if m in far else "")
                         for m in dict.fromkeys(r["machine"] for r in rows))
    kernels = []
    for arch, sets in dict.fromkeys((r["arch"], r["sets"]) for r in rows):
        b = baseline_for(load_kernel_config(arch, sets=sets.split())).as_dict()
        v = b["variant"]
        kernels.append(f"{arch} {b['name']}" + (f" ({v})" if v and v not in b["name"] else ""))
    archs = ", ".join(dict.fromkeys(r["arch"] for r in rows))
    sets = list(dict.fromkeys(r["sets"] for r in rows))
    config = f"{archs} defconfig" + (f" + {sets[0]}" if len(sets) == 1 and sets[0] else
                                     "" if len(sets) == 1 else
                                     " + per series (legend)")
    iters = ", ".join(str(i) for i in dict.fromkeys(r["iterations"] for r in rows))
    text = (f"minikernel model (simulated, not a hardware measurement). profile: {profiles}; "
            f"kernel: {', '.join(dict.fromkeys(kernels))}; config: {config}; {iters} measured "
            f"iteration{'' if iters == '1' else 's'} after 1 warm-up per run.")
    if bands:
        text += (" Shaded: the saving's range over the assumed figures (README: Uncertainty)"
                 + ("; a band taller than the panel is cut at its edge (the full range: "
                    "sweep.csv)" if cut else "")
                 + (f"; a panel with more than {_MAX_BANDS} lines has none (sweep.csv)"
                    if crowded else "") + ".")
    if fit_input:
        text += " Hollow marker: the saving there was a fit input (calibration, not a prediction)."
    return text


def _figure(rows: Sequence[dict[str, Any]]):
    """The matplotlib Figure of :func:`_plot` (tests inspect it)."""
    import textwrap

    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullLocator

    archs = list(dict.fromkeys(r["arch"] for r in rows))
    plans = []
    for arch in archs:
        rs_arch = [r for r in rows if r["arch"] == arch]
        lines = _arch_series(rs_arch)
        labels = [_legend_label(keys, rs_arch, _LEGEND_CHARS[0]) for keys, _ in lines]
        ncol = 2 if len(lines) > 1 and all(len(lb) <= _LEGEND_CHARS[0] for lb in labels) else 1
        if ncol == 1:
            labels = [_legend_label(keys, rs_arch, _LEGEND_CHARS[1]) for keys, _ in lines]
        per_entry = [lb.count("\n") + 1 for lb in labels]
        k = -(-len(labels) // ncol)                # legend rows; columns fill top-down
        legend_lines = sum(max(per_entry[i::k]) for i in range(k)) + 0.4 * (k - 1)
        plans.append((arch, rs_arch, lines, labels, ncol, legend_lines,
                      _speedup_ylim(rs_arch) if len(lines) <= _MAX_BANDS else None))
    bands = any(r.get("saving_low_pct") is not None for r in rows)
    crowded = bands and any(len(p[2]) > _MAX_BANDS for p in plans)
    cut = any(p[-1] is not None for p in plans)
    fit_input = any(r.get("saving_fit_input") for r in rows)
    caption = textwrap.wrap(_caption(rows, bands=bands, fit_input=fit_input, cut=cut,
                                     crowded=crowded),
                            _CAPTION_CHARS)
    heights: list[float] = []
    for *_, legend_lines, _ in plans:
        heights += [3.3, 0.25 + 0.16 * legend_lines]
    heights.append(0.1 + 0.15 * len(caption))
    fig = plt.figure(figsize=(_FIG_WIDTH_IN, sum(heights) + 0.3), layout="constrained")
    gs = fig.add_gridspec(len(heights), 2, height_ratios=heights)
    for row, (arch, rs_arch, lines, labels, ncol, _, ylim) in enumerate(plans):
        ax1 = fig.add_subplot(gs[2 * row, 0])
        ax2 = fig.add_subplot(gs[2 * row, 1])
        handles = []
        annotated = 0
        cpus = sorted({r["cpus"] for r in rs_arch})
        for i, ((_keys, rs), label) in enumerate(zip(lines, labels)):
            xs = [r["cpus"] for r in rs]
            style = dict(marker=_MARKERS[i % len(_MARKERS)], linestyle=_STYLES[i % len(_STYLES)],
                         markersize=5, linewidth=1.4)
            line, = ax1.plot(xs, [r["speedup"] for r in rs], label=label, **style)
            color = line.get_color()
            ax2.plot(xs, [r["flush_share_pct"] for r in rs], color=color, **style)
            handles.append(line)
            if len(lines) <= _MAX_BANDS and any(r.get("saving_low_pct") is not None for r in rs):
                ax1.fill_between(xs, [_range_speedup(r, "saving_low_pct") for r in rs],
                                 [_range_speedup(r, "saving_high_pct") for r in rs],
                                 color=color, alpha=0.13, linewidth=0)
            fit = [r for r in rs if r.get("saving_fit_input")]
            if fit:
                ax1.plot([r["cpus"] for r in fit], [r["speedup"] for r in fit],
                         marker=style["marker"], markersize=7, linestyle="none",
                         markerfacecolor="white", markeredgecolor=color, zorder=3)
            for c, pays in _sign_changes(rs):      # only where the sign changes in the grid
                ax1.axvline(c, color=color, linestyle=":", linewidth=1)
                right = c * c > cpus[0] * cpus[-1]     # right of the log axis' middle
                ax1.annotate(f"crossover {c}: " + ("pays from here" if pays else "stops paying"),
                             (c, 0.04 + 0.08 * annotated), xycoords=("data", "axes fraction"),
                             fontsize=7, color=color, ha="right" if right else "left",
                             xytext=(-3 if right else 3, 0), textcoords="offset points")
                annotated += 1
        for t in sorted({int(r["threshold"]) for r in rs_arch if r["threshold"] not in ("", None)}):
            if cpus[0] <= t <= cpus[-1]:       # outside the grid: the caption's config says it
                ax1.axvline(t, color="grey", linestyle="--", linewidth=0.8)
                ax1.annotate(f"threshold {t}", (t, 0.5), xycoords=("data", "axes fraction"),
                             rotation=90, fontsize=7, color="grey", va="center",
                             xytext=(-9, 0), textcoords="offset points")
        ax1.axhline(1.0, color="black", linewidth=0.6)
        if ylim is not None:
            ax1.set_ylim(*ylim)
        machines = list(dict.fromkeys(r["machine"] for r in rs_arch))
        where = f"{arch} ({machines[0]})" if len(machines) == 1 else arch
        for ax, title, ylabel in (
                (ax1, f"{where}: speedup from deferring the flush", "unbatched / batched elapsed"),
                (ax2, f"{where}: {_FLUSH_LABEL[arch][0]}, unbatched",
                 f"% of cycles in {_FLUSH_LABEL[arch][1]}")):
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_locator(FixedLocator(cpus))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xticklabels([str(c) for c in cpus], fontsize=8)
            ax.set_xlabel("online CPUs")
            ax.set_ylabel(ylabel, fontsize=9)
            ax.set_title(title, fontsize=10)
            ax.grid(True, axis="y", alpha=0.3)
            if len(cpus) <= 16:                 # denser, the vertical lines are a grey wall
                ax.grid(True, axis="x", alpha=0.3)
        lax = fig.add_subplot(gs[2 * row + 1, :])
        lax.axis("off")
        lax.legend(handles=handles, labels=labels, loc="upper center", ncol=ncol,
                   fontsize=7.5, frameon=False, borderaxespad=0)
    cax = fig.add_subplot(gs[-1, :])
    cax.axis("off")
    cax.text(0, 1, "\n".join(caption), fontsize=7.5, ha="left", va="top",
             transform=cax.transAxes)
    _thin_tick_labels(fig, rows)
    return fig


def _thin_tick_labels(fig, rows: Sequence[dict[str, Any]]) -> None:
    """Leave off the x tick labels that would overprint a neighbour (the tick stays):
    the profile's own CPU count and the grid's ends are kept first."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    keep_first = {str(r["profile_cpus"]) for r in rows if "profile_cpus" in r}
    for ax in fig.axes:
        labels = [t for t in ax.get_xticklabels() if t.get_text()]
        if not ax.axison or not labels:
            continue
        order = sorted(range(len(labels)), key=lambda i: (
            0 if labels[i].get_text() in keep_first else 1 if i in (0, len(labels) - 1)
            else 2, i))
        kept = []
        texts = []
        for i in order:
            box = labels[i].get_window_extent(renderer).padded(4)    # 8 px apart at least
            if any(box.overlaps(k) for k in kept):
                texts.append((i, ""))
            else:
                kept.append(box)
        if texts:
            names = [t.get_text() for t in labels]
            for i, text in texts:
                names[i] = text
            ax.set_xticklabels(names, fontsize=8)


__all__ = ["Point", "parse_cpus", "build_grid", "run_point", "run_point_kernel", "point_row",
           "run_sweep", "crossovers", "series_key",
           "render_table", "write_outputs", "tty_progress", "TtyProgress", "SweepInterrupted", "WORKLOADS", "EXECUTORS"]
