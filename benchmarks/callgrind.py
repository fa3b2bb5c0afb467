"""Load-independent cost of one page-out + swap-in cycle: instructions under callgrind.

Model-only tooling (issue 16, the README's "Simulation speed" method).  Wall
clocks on a shared host swing with the load; the instruction count of the
same work does not.  This runs the seed benchmark twice under
``valgrind --tool=callgrind`` -- once with LONG iterations and once with
SHORT -- in fresh interpreters, and divides the difference of the two
totals by the page-out + swap-in cycles the extra iterations ran, so the
interpreter's start-up, the imports, the boot and the first (cold)
iterations cancel out.  ``PYTHONHASHSEED=0`` makes the count repeatable
(string hashes, and so dict and set probing, differ per process otherwise;
at e36cbc1 seeds 0 / 1 / 2 gave 186 703 / 186 748 / 186 733 per cycle on
arm64, within 0.03 %).

Cases:
  arm64   the seed benchmark, arm64 ``EXPERT=y`` with the threshold lowered
          (batched) on 8 CPUs: bench.py's configuration
  arm64-sanitizer
          the same with the TLB sanitizer on (DEBUG_TLB_SANITIZER=y): its
          per-cycle cost is the difference from arm64
  x86     ``--defconfig x86 --workload threads:4`` (x86-2s, 48 CPUs)

Usage:
  python benchmarks/callgrind.py [--case arm64|arm64-sanitizer|x86 ...] [--short 4] [--long 12]
                                 [--hash-seed 0] [--json FILE]

Needs valgrind on PATH.  On PyPy the count measures the JIT's warm-up as
much as the code, so the figures are for CPython.  No test asserts on them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys

PAGES = 256     # pages of the seed benchmark's buffer: cycles per iteration

_PROGRAM = {
    "arm64": (
        "from minikernel.kconfig import load_kernel_config\n"
        "from minikernel.machine import Machine\n"
        "from minikernel.profile import default_profile\n"
        "from minikernel.workload import run_seed_benchmark\n"
        "cfg = load_kernel_config('arm64', sets=['EXPERT=y', 'ARM64_NR_CPUS_FOR_BATCHED_TLB=4'])\n"
        "m = Machine(cfg, default_profile('arm64', 8))\n"
        "run_seed_benchmark(m, {n})\n"),
    "arm64-sanitizer": (
        "from minikernel.kconfig import load_kernel_config\n"
        "from minikernel.machine import Machine\n"
        "from minikernel.profile import default_profile\n"
        "from minikernel.workload import run_seed_benchmark\n"
        "cfg = load_kernel_config('arm64', sets=['EXPERT=y', 'ARM64_NR_CPUS_FOR_BATCHED_TLB=4',\n"
        "                                        'DEBUG_KERNEL=y', 'DEBUG_TLB_SANITIZER=y'])\n"
        "m = Machine(cfg, default_profile('arm64', 8))\n"
        "run_seed_benchmark(m, {n})\n"),
    "x86": (
        "from minikernel.kconfig import load_kernel_config\n"
        "from minikernel.machine import Machine\n"
        "from minikernel.profile import default_profile\n"
        "from minikernel.workload import run_seed_benchmark\n"
        "m = Machine(load_kernel_config('x86'), default_profile('x86'))\n"
        "run_seed_benchmark(m, {n}, threads=4)\n"),
}


def instructions(case: str, iterations: int, hash_seed: str = "0") -> int:
    """Total instructions (callgrind's Ir) of one fresh interpreter running *case*."""
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
           sys.executable, "-c", _PROGRAM[case].format(n=iterations)]
    # String hashes are seeded per process; a fixed seed makes the dict and set
    # work, and so the count, the same on every run.
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    r = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
    if m is None:
        raise RuntimeError(f"no 'Collected' line in valgrind's output:\n{r.stderr[-2000:]}")
    return int(m.group(1))


def per_cycle(case: str, short: int, long: int, hash_seed: str = "0") -> dict:
    a, b = instructions(case, short, hash_seed), instructions(case, long, hash_seed)
    cycles = (long - short) * PAGES
    return {"case": case, "short": short, "long": long, "instructions_short": a,
            "instructions_long": b, "cycles": cycles, "per_cycle": (b - a) / cycles,
            "hash_seed": hash_seed}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", choices=sorted(_PROGRAM))
    ap.add_argument("--short", type=int, default=4)
    ap.add_argument("--long", type=int, default=12)
    ap.add_argument("--hash-seed", default="0", help="PYTHONHASHSEED of the runs (default 0)")
    ap.add_argument("--json", metavar="FILE")
    a = ap.parse_args(argv)
    out = [per_cycle(c, a.short, a.long, a.hash_seed) for c in (a.case or ["arm64", "x86"])]
    for r in out:
        print(f"{r['case']}: {r['instructions_long'] - r['instructions_short']} instructions "
              f"for {r['cycles']} cycles = {r['per_cycle']:.0f} per cycle "
              f"({r['long']} minus {r['short']} iterations)")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
