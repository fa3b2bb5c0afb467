"""Regenerate the stored reference output of the main job and the sweep (issue 16).

Model-only tooling, not part of the package.  Speed work and refactors must
leave the model's results byte for byte as they were; this tool records what
the model prints *now* for a few fixed command lines on both arches, and
``tests/tools/test_reference.py`` compares the current output against those
files on every test run:

    python tools/update_reference.py           # rewrite tests/reference/*
    python tools/update_reference.py --check   # compare only; exit 1 on a difference

Run it (without --check) only when a change *means* to alter the model's
output -- a fidelity fix, a new charge point, a recalibration -- and commit
the regenerated files with that change, saying why they changed.  A speed
change never regenerates them: it proves itself by leaving them untouched.

What is recorded, per case in CASES:
  - ``<name>.json``:  the exact stdout bytes of ``minikernel ARGS --json``
    (the main job: boot report, the A/B runs, profiles, vmstat);
  - ``<name>.trace``: for cases that pass --trace, the ftrace file;
  - ``sweep-<name>.json``: for SWEEPS, the sweep.json the sweep writes.
Iteration counts are small (every steady-state iteration costs the same in
the model, so 2 iterations exercise the same code as 10 000), so the test
stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = ROOT / "tests" / "reference"

#: name -> the main job's command line (``--json`` is appended).  Both arches,
#: both flush paths, every workload, a fitted profile, a non-default kernel
#: baseline, the sanitizer on, and a trace.
CASES: dict[str, list[str]] = {
    "arm64-defconfig": ["--defconfig", "arm64", "--iterations", "2"],
    "arm64-expert": ["--defconfig", "arm64", "--set", "EXPERT=y", "--iterations", "2"],
    "arm64-snapdragon-trace": ["--defconfig", "arm64", "--set", "EXPERT=y",
                               "--set", "ARM64_NR_CPUS_FOR_BATCHED_TLB=4",
                               "--machine", "snapdragon888", "--iterations", "1",
                               "--trace", "{trace}"],
    "arm64-6.6-threads": ["--defconfig", "arm64", "--set", "EXPERT=y",
                          "--set", "MODEL_ARM64_BATCHED_TLB_6_6=y", "--smp", "16",
                          "--workload", "threads:4", "--iterations", "2"],
    "arm64-procs-sanitizer": ["--defconfig", "arm64", "--set", "EXPERT=y",
                              "--set", "DEBUG_TLB_SANITIZER=y", "--smp", "32",
                              "--workload", "procs:3", "--iterations", "2"],
    "x86-defconfig": ["--defconfig", "x86", "--iterations", "2"],
    "x86-threads": ["--defconfig", "x86", "--workload", "threads:4", "--iterations", "2"],
    "x86-threads-trace": ["--defconfig", "x86", "--workload", "threads:2", "--iterations", "1",
                          "--trace", "{trace}"],
    "x86-6.16-procs-sanitizer": ["--defconfig", "x86", "--set", "EXPERT=y",
                                 "--set", "MODEL_X86_KERNEL_6_16=y",
                                 "--set", "DEBUG_TLB_SANITIZER=y",
                                 "--workload", "procs:2", "--iterations", "2"],
    # riscv (issue 17): the VisionFive 2, SBI remote fences; and the 6.6 baseline
    "riscv-threads": ["--defconfig", "riscv", "--workload", "threads:4", "--iterations", "2"],
    "riscv-6.6-sanitizer": ["--defconfig", "riscv", "--set", "MODEL_RISCV_KERNEL_6_6=y",
                            "--set", "DEBUG_TLB_SANITIZER=y", "--workload", "procs:2",
                            "--iterations", "2"],
}

#: name -> a sweep's command line (``--out DIR --no-plot`` appended); its sweep.json is stored.
SWEEPS: dict[str, list[str]] = {
    "both-arches": ["sweep", "--arch", "arm64,x86", "--cpus", "4,16", "--workload",
                    "seed,threads", "--set", "EXPERT=y", "--iterations", "2"],
}


def run_case(argv: list[str], extra: list[str] = ()) -> dict[str, bytes]:
    """Run one main-job case in this process; its output files by suffix (``json``, ``trace``)."""
    from minikernel.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace.txt"
        args = [a.replace("{trace}", str(trace)) for a in argv] + ["--json", *extra]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(args)
        if status != 0:
            raise RuntimeError(f"minikernel {' '.join(args)} exited {status}: {err.getvalue()}")
        files = {"json": out.getvalue().encode()}
        if trace.exists():
            files["trace"] = trace.read_bytes()
        return files


def run_sweep_case(argv: list[str], extra: list[str] = ()) -> bytes:
    """Run one sweep case in this process; the bytes of the sweep.json it writes."""
    from minikernel.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        args = [*argv, "--out", tmp, "--no-plot", *extra]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(args)
        if status != 0:
            raise RuntimeError(f"minikernel {' '.join(args)} exited {status}: {err.getvalue()}")
        return (Path(tmp) / "sweep.json").read_bytes()


def current_outputs(extra: list[str] = ()) -> dict[str, bytes]:
    """Reference file name -> what the model prints now (*extra* is appended to every command)."""
    files: dict[str, bytes] = {}
    for name, argv in CASES.items():
        for suffix, data in run_case(argv, extra).items():
            files[f"{name}.{suffix}"] = data
    for name, argv in SWEEPS.items():
        files[f"sweep-{name}.json"] = run_sweep_case(argv, extra)
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="compare with the stored files instead of rewriting them")
    a = ap.parse_args(argv)
    now = current_outputs()
    if a.check:
        bad = [n for n, data in now.items()
               if not (REFERENCE_DIR / n).exists() or (REFERENCE_DIR / n).read_bytes() != data]
        for n in bad:
            print(f"differs from the reference: tests/reference/{n}")
        print(f"{len(now) - len(bad)} of {len(now)} reference files identical")
        return 1 if bad else 0
    REFERENCE_DIR.mkdir(parents=True, exist_ok=True)
    for stale in REFERENCE_DIR.iterdir():
        if stale.name not in now and stale.suffix in (".json", ".trace"):
            stale.unlink()
    for n, data in now.items():
        (REFERENCE_DIR / n).write_bytes(data)
        print(f"wrote tests/reference/{n} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
