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
#       run_sweep(), write_outputs(), render_table(), crossovers()
#   Private helpers: the executors, the progress bar, the plot
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minikernel.errors import UserError

WORKLOADS = ("seed", "procs", "threads")
EXECUTORS = ("process", "dask")
CSV_FIELDS = ("arch", "machine", "cpus", "workload", "sets", "iterations", "configured_defers",
              "threshold", "batched_defers", "elapsed_batched_ms", "elapsed_unbatched_ms",
              "speedup", "ptep_clear_flush_pct", "sync_flushes_unbatched",
              "batches_batched", "dsb_or_ipi_unbatched", "dsb_or_ipi_batched",
              "pages_reclaimed")


@dataclass(frozen=True, slots=True)
class Point:
    """One grid point.

    arch, machine: SRCARCH and machine profile (name or TOML path; "" = the arch default)
    cpus:          online CPUs (the profile's count is overridden)
    workload:      "seed", "procs" (the pages mapped by `width` processes) or
                   "threads" (the mm active on `width` CPUs)
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


# Public interface

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
               width: int = 4) -> list[Point]:
    """Every combination, validated up front: a bad grid fails before anything runs."""
    from minikernel.kconfig import load_kernel_config

    if not archs or not cpus or not workloads:
        raise UserError("sweep: the grid is empty: expected at least one arch, CPU count and "
                        "workload")
    if iterations < 1:
        raise UserError(f"--iterations {iterations}: expected a positive number")
    for w in workloads:
        if w not in WORKLOADS:
            raise UserError(f"--workload {w!r}: unknown workload (known: {', '.join(WORKLOADS)})")
    points = []
    for arch in archs:
        cfg = load_kernel_config(arch, sets=list(sets))
        for machine in machines or [""]:
            _profile(machine, cfg.arch)                 # a bad profile fails before anything runs
            for c in cpus:
                if c > cfg.NR_CPUS:
                    raise UserError(f"--cpus {c}: above CONFIG_NR_CPUS={cfg.NR_CPUS} for {arch} "
                                    "(raise it with --set NR_CPUS=N)")
                for w in workloads:
                    if w != "seed" and width > c:
                        raise UserError(f"--workload {w} needs {width} CPUs; the grid has {c} "
                                        f"(lower --width or drop CPU counts below {width})")
                    points.append(Point(cfg.arch, machine, c, w, tuple(sets), iterations, width))
    return points


def run_point(point: Point) -> dict[str, Any]:
    """Run one grid point (both kernels); a flat, JSON-able row.  Top-level so it pickles."""
    from minikernel.arch import deferral_sets
    from minikernel.kconfig import load_kernel_config
    from minikernel.machine import Machine
    from minikernel.workload import run_seed_benchmark

    cfg = load_kernel_config(point.arch, sets=list(point.sets))
    profile = _profile(point.machine, cfg.arch).with_cpus(point.cpus)
    kw = {"procs": point.width} if point.workload == "procs" else \
        {"threads": point.width} if point.workload == "threads" else {}
    runs = {}
    for on in (True, False):
        m = Machine(cfg.with_sets(deferral_sets(cfg, point.cpus, on)), profile)
        runs[on] = run_seed_benchmark(m, point.iterations, warmup=1, **kw)
        if on:
            counters = tuple(m.arch.counters())
    configured = Machine(cfg, profile).tlb_flush_path.batched
    b, u = runs[True], runs[False]
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
    }


def run_sweep(points: Sequence[Point], *, jobs: int | None = None, executor: str = "process",
              scheduler: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """Run every point; rows come back in grid order whatever the executor or job count."""
    if executor not in EXECUTORS:
        raise UserError(f"--executor {executor!r}: unknown executor (known: {', '.join(EXECUTORS)})")
    if executor == "dask":
        return _run_dask(points, scheduler, progress)
    if scheduler is not None:
        raise UserError("--scheduler only applies to --executor dask")
    jobs = jobs or os.cpu_count() or 1
    if jobs < 1:
        raise UserError(f"--jobs {jobs}: expected a positive number")
    rows: list[dict[str, Any] | None] = [None] * len(points)
    if jobs == 1 or len(points) == 1:
        for i, p in enumerate(points):
            rows[i] = run_point(p)
            if progress:
                progress(i + 1, len(points))
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, len(points))) as pool:
            for done, (i, row) in enumerate(zip(range(len(points)), pool.map(run_point, points), strict=True), 1):
                rows[i] = row
                if progress:
                    progress(done, len(points))
    return rows  # type: ignore[return-value]


def crossovers(rows: Iterable[dict[str, Any]]) -> dict[tuple, int | None]:
    """Per (arch, machine, workload, sets): the smallest CPU count where deferring is faster."""
    best: dict[tuple, int | None] = {}
    for r in sorted(rows, key=lambda r: r["cpus"]):
        key = (r["arch"], r["machine"], r["workload"], r["sets"])
        best.setdefault(key, None)
        if best[key] is None and r["speedup"] > 1.0:
            best[key] = r["cpus"]
    return best


def render_table(rows: Sequence[dict[str, Any]]) -> str:
    """A terminal table, one line per point."""
    head = (f"{'arch':<6}{'machine':<14}{'workload':<9}{'CPUs':>5}{'defers':>7}"
            f"{'unbatched ms':>14}{'batched ms':>12}{'speedup':>9}{'ptep %':>8}"
            f"{'flushes':>9}{'batches':>9}{'DSB/IPI':>15}")
    out = [head, "-" * len(head)]
    for r in rows:
        out.append(
            f"{r['arch']:<6}{r['machine']:<14}{r['workload']:<9}{r['cpus']:>5}"
            f"{'yes' if r['configured_defers'] else 'no':>7}"
            f"{r['elapsed_unbatched_ms']:>14.3f}{r['elapsed_batched_ms']:>12.3f}"
            f"{r['speedup']:>9.3f}{r['ptep_clear_flush_pct']:>8.2f}"
            f"{r['sync_flushes_unbatched']:>9}{r['batches_batched']:>9}"
            f"{str(r['dsb_or_ipi_unbatched']) + '->' + str(r['dsb_or_ipi_batched']):>15}")
    for key, c in crossovers(rows).items():
        arch, machine, workload, sets = key
        where = f"from {c} CPUs" if c else "nowhere in this grid"
        out.append(f"deferring pays ({arch}, {machine}, {workload}{', ' + sets if sets else ''}): "
                   f"{where}")
    return "\n".join(out) + "\n"


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
    cross = [{"arch": k[0], "machine": k[1], "workload": k[2], "sets": k[3], "cpus": v}
             for k, v in crossovers(rows).items()]
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


def tty_progress(done: int, total: int) -> None:
    """A one-line progress bar on stderr (only used when stderr is a terminal)."""
    width = 30
    filled = width * done // total
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} points")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _run_dask(points: Sequence[Point], scheduler: str | None,
              progress: Callable[[int, int], None] | None) -> list[dict[str, Any]]:
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
        rows: list[dict[str, Any] | None] = [None] * len(points)
        for done, f in enumerate(as_completed(futures), 1):
            rows[index[f.key]] = f.result()
            if progress:
                progress(done, len(points))
        return rows  # type: ignore[return-value]
    finally:
        client.close()


def _plot(rows: Sequence[dict[str, Any]], path: Path) -> bool:
    """Speedup and ptep_clear_flush share against CPUs, per arch; False without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    series: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        series.setdefault((r["arch"], r["machine"], r["workload"], r["sets"]), []).append(r)
    cross = crossovers(rows)
    for key, rs in series.items():
        rs = sorted(rs, key=lambda r: r["cpus"])
        label = f"{key[0]} {key[1]} {key[2]}"
        xs = [r["cpus"] for r in rs]
        line, = ax1.plot(xs, [r["speedup"] for r in rs], marker="o", label=label)
        ax2.plot(xs, [r["ptep_clear_flush_pct"] for r in rs], marker="o", label=label,
                 color=line.get_color())
        if cross.get(key):
            ax1.axvline(cross[key], color=line.get_color(), linestyle=":", linewidth=1)
            ax1.text(cross[key], 0.03, f" crossover: {cross[key]} CPUs", rotation=90,
                     fontsize=7, color=line.get_color(), va="bottom",
                     transform=ax1.get_xaxis_transform())
        threshold = rs[0]["threshold"]
        if threshold not in ("", None):
            ax1.axvline(int(threshold), color="grey", linestyle="--", linewidth=1)
            ax1.text(int(threshold), 0.97, f"threshold {threshold} ", rotation=90,
                     fontsize=7, color="grey", va="top", transform=ax1.get_xaxis_transform())
    ax1.axhline(1.0, color="black", linewidth=0.6)
    for ax, title, ylabel in ((ax1, "speedup from deferring the flush", "unbatched / batched elapsed"),
                              (ax2, "ptep_clear_flush without deferring", "% of benchmark cycles")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("online CPUs")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    ax1.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


__all__ = ["Point", "parse_cpus", "build_grid", "run_point", "run_sweep", "crossovers",
           "render_table", "write_outputs", "tty_progress", "WORKLOADS", "EXECUTORS"]
