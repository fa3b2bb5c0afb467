"""Simulation-speed benchmark (issue 7): how fast the model runs, on one host core.

Measures, for the seed benchmark (arm64, EXPERT=y, so reclaim defers its
flushes; threshold lowered so 8 CPUs defer too):
  - page-out + swap-in cycles per wall-clock second for 8, 96 and 256
    simulated CPUs, with the TLB sanitizer off and (when the tree has it) on;
  - host memory per resident simulated page with N pages mapped and touched
    (1 GiB = 262 144 pages by default).

Usage:
  python benchmarks/bench.py [--iterations N] [--resident-pages N] [--json FILE] [--quick]

Prints a table and, with --json, writes the figures.  Wall-clock figures are
for humans and the README; no test asserts on them.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import time
import tracemalloc

from minikernel.kconfig import load_kernel_config
from minikernel.machine import Machine
from minikernel.profile import default_profile
from minikernel.user import MAP_ANONYMOUS, MAP_PRIVATE, Process
from minikernel.workload import run_seed_benchmark

TARGET_CYCLES_PER_S = 185_000      # the Snapdragon 888's 2.56 M page-outs in 13.8 s


def _config(sanitizer: bool):
    sets = ["EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=4"]
    if sanitizer:
        sets += ["DEBUG_KERNEL=y", "DEBUG_TLB_SANITIZER=y"]
    return load_kernel_config("arm64", sets=sets)


def sanitizer_available() -> bool:
    try:
        _config(True)
    except Exception:                   # the tree has no sanitizer option yet
        return False
    return True


def throughput(cpus: int, iterations: int, sanitizer: bool) -> float:
    """Page-out + swap-in cycles per wall-clock second."""
    m = Machine(_config(sanitizer), default_profile("arm64", cpus))
    t0 = time.perf_counter()
    r = run_seed_benchmark(m, iterations)
    dt = time.perf_counter() - t0
    return r.pages_reclaimed / dt


def bytes_per_resident_page(pages: int) -> float:
    """Host bytes allocated per simulated page mapped and touched (tracemalloc peak)."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.take_snapshot()
    prof = default_profile("arm64", 8)
    from dataclasses import replace
    prof = replace(prof, mem_pages=pages + 1024)
    m = Machine(_config(False), prof)
    p = Process.spawn(m, cpu=0)
    buf = p.mmap(pages * 4096, flags=MAP_PRIVATE | MAP_ANONYMOUS)
    for i in range(pages):
        p.write(buf + i * 4096, i)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del base, m, p
    return peak / pages


def verdicts(res: dict) -> dict[str, bool]:
    """Each target of the README's table, met or not, on this run's figures."""
    t, s = res["throughput"], res["sanitizer_throughput"]
    out = {f"cycles/s at {c} CPUs >= {TARGET_CYCLES_PER_S}": t[c] >= TARGET_CYCLES_PER_S
           for c in (8, 96, 256)}
    out["96 CPUs >= 0.90x of 8 CPUs"] = t[96] / t[8] >= 0.90
    out["256 CPUs >= 0.85x of 8 CPUs"] = t[256] / t[8] >= 0.85
    for c in s:
        out[f"sanitizer cost at {c} CPUs <= 2x"] = t[c] / s[c] <= 2.0
    out["host bytes per resident page <= 300"] = res["bytes_per_resident_page"] <= 300
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--resident-pages", type=int, default=262_144)
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, to prove it runs (CI)")
    a = ap.parse_args(argv)
    if a.quick:
        a.iterations, a.resident_pages = 2, 2048
    res = {"host": {"python": platform.python_version(), "machine": platform.machine(),
                    "processor": platform.processor() or platform.machine()},
           "iterations": a.iterations, "throughput": {}, "sanitizer_throughput": {}}
    san = sanitizer_available()
    for cpus in (8, 96, 256):
        res["throughput"][cpus] = throughput(cpus, a.iterations, False)
        if san:
            res["sanitizer_throughput"][cpus] = throughput(cpus, a.iterations, True)
    res["bytes_per_resident_page"] = bytes_per_resident_page(a.resident_pages)
    res["resident_pages"] = a.resident_pages
    t = res["throughput"]
    print(f"seed benchmark, arm64 batched, {a.iterations} iterations of 256 pages")
    print(f"{'CPUs':>5} {'cycles/s':>10} {'vs 8 CPUs':>9} {'sanitizer on':>13} {'cost':>6}")
    for cpus in (8, 96, 256):
        s = res["sanitizer_throughput"].get(cpus)
        print(f"{cpus:>5} {t[cpus]:>10.0f} {t[cpus] / t[8]:>9.2f} "
              f"{(f'{s:.0f}' if s else 'n/a'):>13} {(f'{t[cpus] / s:.2f}x' if s else ''):>6}")
    print(f"host memory: {res['bytes_per_resident_page']:.0f} bytes per resident page "
          f"({a.resident_pages} pages)")
    if a.quick:
        # 2 iterations and 2048 pages say nothing about the targets.
        print("quick run: too small to judge the targets; no verdicts")
    else:
        res["verdicts"] = verdicts(res)
        for what, ok in res["verdicts"].items():
            print(f"{'PASS' if ok else 'FAIL'}  {what}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
