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
    from minikernel.report import refuse_erratum_flip
    from minikernel.workload import BUFFER_PAGES

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
            if prof.mem_pages <= BUFFER_PAGES:
                raise UserError(f"--machine {prof.name}: machine.mem_pages = {prof.mem_pages}: "
                                f"expected more than {BUFFER_PAGES} page frames (the "
                                "benchmark's 1 MiB buffer)")
            for c in cpus:
                if c > cfg.NR_CPUS:
                    raise UserError(f"--cpus {c}: above CONFIG_NR_CPUS={cfg.NR_CPUS} for {arch} "
                                    "(raise it with --set NR_CPUS=N)")
                refuse_erratum_flip(Machine(cfg, prof.with_cpus(c)),
                                    deferral_sets(cfg, c, True, prof.with_cpus(c)))
                if "migrate" in workloads:
                    m0 = Machine(cfg, prof.with_cpus(c))
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
    if m.tlb_flush_path.batched is not defer:
        # Two kernels that take the same decision would be a speedup of 1.000.
        raise UserError(f"sweep point {point.arch} {point.cpus} CPUs {' '.join(point.sets)}: "
                        f"the {'deferring' if defer else 'synchronous'} kernel (+ "
                        f"{' '.join(extra) or 'nothing'}) does not "
                        f"{'defer' if defer else 'stop deferring'}: "
                        f"{m.tlb_flush_path.reason}")
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
_FLUSH_LABEL = {"arm64": "ptep_clear_flush (TLBI + DSB ISH)",
                "x86": "remote flush (IPI round + flush_tlb_mm_range)",
                "riscv": "remote fence (SBI RFENCE or IPIs + __flush_tlb_range)"}


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
                pool.shutdown(wait=False, cancel_futures=True)
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


def _where(rows: Sequence[dict[str, Any]], key: tuple, c: int | None) -> str:
    """"from C CPUs" only where the sign changes inside the grid."""
    cpus = [r["cpus"] for r in rows if series_key(r) == key]
    if c is None:
        return "nowhere in this grid"
    if c == min(cpus):
        return "everywhere in this grid"
    return f"from {c} CPUs"


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
    for key, c in crossovers(rows).items():
        out.append(f"deferring pays ({_series_name(key)}): {_where(rows, key, c)}")
    out.extend(extrapolation_notes(rows))
    return "\n".join(out) + "\n"


def _saving_cell(r: dict[str, Any]) -> str:
    cell = f"{r['saving_pct']:.2f}"
    if r.get("saving_low_pct") is not None:
        cell += (f" ({r['saving_low_pct']:.1f}..{r['saving_high_pct']:.1f}, "
                 f"most: {r['saving_moved_most_by']})")
    if r.get("saving_fit_input"):
        cell += " (a fit input: calibration, not a prediction)"
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
    """sweep.csv, sweep.json and (with matplotlib installed) sweep.png under *out_dir*."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out {str(out)!r}: cannot create the directory ({e.strerror})") from None
    written = [out / "sweep.csv", out / "sweep.json"]
    with open(written[0], "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        w.writerows(rows)
    cross = [{"arch": k[0], "machine": k[1], "workload": k[2], "sets": k[3], "width": k[4],
              "cpus": v} for k, v in crossovers(rows).items()]
    written[1].write_text(json.dumps({"points": list(rows), "crossovers": cross}, indent=2) + "\n")
    if plot and _plot(rows, out / "sweep.png"):
        written.append(out / "sweep.png")
    return written


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


def _plot(rows: Sequence[dict[str, Any]], path: Path) -> bool:
    """sweep.png, fit to paste into a mail; False without matplotlib.

    One row of panels per arch: the speedup from deferring, and the share of
    the unbatched run's cycles in that arch's synchronous flush path (arm64:
    ptep_clear_flush; x86: the remote-flush IPI round).  x ticks at the grid's
    CPU counts; distinct marker and line style per series; series with
    identical results share one legend entry; a crossover line only where the
    effect changes sign inside the grid; a caption with profile, config and
    iterations.
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig = _figure(rows)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _figure(rows: Sequence[dict[str, Any]]):
    """The matplotlib Figure of :func:`_plot` (tests inspect it)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullLocator

    archs = list(dict.fromkeys(r["arch"] for r in rows))
    fig, axes = plt.subplots(len(archs), 2, figsize=(11, 3.6 * len(archs) + 0.6), squeeze=False)
    markers = "osD^vP*Xh<>"
    styles = ["-", "--", "-.", ":"]
    for row, arch in enumerate(archs):
        ax1, ax2 = axes[row]
        rs_arch = [r for r in rows if r["arch"] == arch]
        series: dict[tuple, list[dict[str, Any]]] = {}
        for r in rs_arch:
            series.setdefault(series_key(r), []).append(r)
        # identical results are one line with a merged legend entry, not hidden ones
        merged: dict[tuple, list[tuple]] = {}
        for key, rs in series.items():
            rs.sort(key=lambda r: r["cpus"])
            sig = tuple((r["cpus"], round(r["speedup"], 6), round(r["flush_share_pct"], 6))
                        for r in rs)
            merged.setdefault(sig, []).append(key)
        cross = crossovers(rs_arch)
        for i, keys in enumerate(merged.values()):
            rs = series[keys[0]]
            xs = [r["cpus"] for r in rs]
            # the config is in the caption; a legend names it only when series differ in it
            one_config = len({k[3] for k in series}) == 1
            label = (" = ".join(_series_name(k[:3] + ("" if one_config else k[3],) + k[4:])
                                .split(", ", 1)[1] for k in keys)
                     + ": pays " + _where(rs_arch, keys[0], cross.get(keys[0])))
            style = dict(marker=markers[i % len(markers)], linestyle=styles[i % len(styles)],
                         markersize=5, linewidth=1.4)
            line, = ax1.plot(xs, [r["speedup"] for r in rs], label=label, **style)
            ax2.plot(xs, [r["flush_share_pct"] for r in rs], label=label,
                     color=line.get_color(), **style)
            c = cross.get(keys[0])
            if c is not None and c != min(xs):          # the sign changes inside the grid
                ax1.axvline(c, color=line.get_color(), linestyle=":", linewidth=1)
                ax1.annotate(f"crossover {c}", (c, 0.04 + 0.09 * i), xycoords=("data", "axes fraction"),
                             fontsize=7, color=line.get_color(), ha="left",
                             xytext=(3, 0), textcoords="offset points")
        for t in sorted({int(r["threshold"]) for r in rs_arch if r["threshold"] not in ("", None)}):
            ax1.axvline(t, color="grey", linestyle="--", linewidth=0.8)
            ax1.annotate(f"threshold {t}", (t, 0.5), xycoords=("data", "axes fraction"),
                         rotation=90, fontsize=7, color="grey", va="center",
                         xytext=(-9, 0), textcoords="offset points")
        ax1.axhline(1.0, color="black", linewidth=0.6)
        cpus = sorted({r["cpus"] for r in rs_arch})
        for ax, title, ylabel in (
                (ax1, f"{arch}: speedup from deferring the flush", "unbatched / batched elapsed"),
                (ax2, f"{arch}: {_FLUSH_LABEL[arch]}, unbatched", "% of benchmark cycles")):
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_locator(FixedLocator(cpus))
            ax.xaxis.set_minor_locator(NullLocator())
            ax.set_xticklabels([str(c) for c in cpus], rotation=45 if len(cpus) > 8 else 0,
                               fontsize=8)
            ax.set_xlabel("online CPUs")
            ax.set_ylabel(ylabel)
            ax.set_title(title, fontsize=10)
            ax.grid(True, alpha=0.3)
        ax1.legend(fontsize=7, loc="best", framealpha=0.85)
    profiles = ", ".join(dict.fromkeys(r["machine"] for r in rows))
    configs = " | ".join(dict.fromkeys(r["sets"] or "defconfig" for r in rows))
    iters = ", ".join(str(i) for i in dict.fromkeys(r["iterations"] for r in rows))
    plural = "" if iters == "1" else "s"
    far = [n.replace("note: ", "").split(" extrapolate")[0] for n in extrapolation_notes(rows)]
    if far:
        profiles += " (" + "; ".join(f.replace(" was measured", " measured") for f in far) \
            + " extrapolate)"
    fig.text(0.01, 0.005, f"minikernel model (simulated). profile: {profiles}; config: "
             f"{configs}; {iters} measured iteration{plural} after 1 warm-up per run",
             fontsize=7.5,
             ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


__all__ = ["Point", "parse_cpus", "build_grid", "run_point", "run_point_kernel", "point_row",
           "run_sweep", "crossovers", "series_key",
           "render_table", "write_outputs", "tty_progress", "TtyProgress", "SweepInterrupted", "WORKLOADS", "EXECUTORS"]
