"""Command line: boot and run the main job, and the kernel's config verbs.

Model-only (the kernel's counterparts: scripts/kconfig/Makefile targets
defconfig / olddefconfig / savedefconfig / menuconfig, and scripts/config).

    minikernel --defconfig ARCH [--set SYM=VAL ...] [--machine NAME|FILE.toml] [--smp N]
               [--iterations N [--force]] [--workload seed|procs[:N]|threads[:N]|migrate[:N]]
               [--vmstat]
               [--trace FILE] [--jobs N] [--json]
    minikernel --config FILE [--arch ARCH] [same options]
    minikernel --version
    minikernel defconfig ARCH | olddefconfig | savedefconfig [--out FILE]
    minikernel menuconfig
    minikernel config --enable SYM --disable SYM --set-val SYM VAL --state SYM
    minikernel scenario FILE [--set SYM=VAL ...] [--expect clean|KIND,...] [--json]
    minikernel sweep [--arch A,B] [--cpus SPEC] [--width N,M] ... (see --help)
    minikernel explore FILE  [--set SYM=VAL ...] [--max-runs N] [--max-hits N]
                             [--max-nested N] [--jobs N] [--exhaustive] [--save DIR] [--json]
    minikernel fit --perf FILE --time FILE --cpus N --ghz G [--cores LIST] [--kpti yes|no]
                   [--batched-time FILE] [--batched-perf FILE] [--annotate FILE]
                   [--name NAME] [--like PROFILE] [--out FILE.toml] | --published MACHINE

Invariants:
  - stdout carries results only: with --json exactly one JSON object; logs
    go to stderr (structlog, configured here and nowhere else).
  - Bad input of any kind (UserError, argparse usage) prints ONE line on
    stderr (a JSON object under --log-format json) and exits 2, never a
    traceback; what can be checked before booting or running is (paths
    written at the end, the flip, the workload, memory).  Ctrl-C prints one
    line saying what had finished and exits 130.  tests/minikernel/
    test_bad_input.py holds a case for every verb and option.
  - A run whose two kernels take the same deferral decision is an error.
  - The config verbs work on ./.config or $KCONFIG_CONFIG, like a kernel
    build directory; writes keep the previous file as .config.old.
  - After boot, the main job is one call, run_main_job(kernel, args), whose
    dict is the report (JSON object or text).
  - fit writes --out only whole, keeping an existing file as FILE.old.
  - scenario/explore exit 0 when the file's expectations hold (explore: no
    violating interleaving), 1 when not (the report is printed), 2 on a
    malformed file; explore exits 3 (EXIT_TRUNCATED) when max_runs cut a
    search short that had found nothing.  Their --json carries ``sanitizer: {enabled, violations}``.
"""

# File layout:
#
#   Public interface
#     main(), build_parser(), run_main_job(), boot_report(), render_text()
#   Subcommands
#     cmd_boot(), cmd_defconfig(), cmd_olddefconfig(), cmd_savedefconfig(),
#     cmd_menuconfig(), cmd_config(), cmd_scenario(), cmd_explore()
#   Private helpers

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

import structlog

from minikernel import kconfig
from minikernel import report as ab_report
from minikernel.arch import BACKENDS
from minikernel.boot import boot
from minikernel.compat import tune_jit
from minikernel.errors import UserError
from minikernel.log import LOG_FORMATS, LOG_LEVELS, configure_logging
from minikernel.machine import Machine
from minikernel.mm.page_alloc import OutOfMemory
from minikernel.parallel import check_jobs
from minikernel.profile import default_profile, load_profile
from minikernel.report import DEFAULT_COUNT

PROG = "minikernel"
#: explore's exit status when max_runs cut the search short and nothing was
#: found: neither "clean" (0) nor "found" (1).
EXIT_TRUNCATED = 3
#: Measured iterations per run; small enough that the default machine (96
#: CPUs) answers in a few seconds.  Steady-state iterations all cost the same.
DEFAULT_ITERATIONS = 10

#
# Public interface
#


def main(argv: list[str] | None = None) -> int:
    """Entry point of `minikernel` and `python -m minikernel`; returns the
    exit status (0 ok, 2 bad input)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as e:  # --help / --version
            return int(e.code or 0)
        if args.command is not None:
            _reject_boot_options(args)
        configure_logging(args.log_format, args.log_level)
        tune_jit()                      # PyPy only: longer JIT traces (minikernel/compat.py)
        return args.func(args)
    except UserError as e:
        _print_error(_one_line(str(e)), argv)
        return 2
    except Interrupted as e:
        _print_error(_one_line(str(e)), argv)
        return 130
    except KeyboardInterrupt:
        _print_error("interrupted", argv)
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree.  Later options of the main job (--machine,
    --iterations, --workload, --vmstat, --trace) go next to --smp."""
    p = _Parser(
        prog=PROG,
        description="Kconfig-driven model of Linux reclaim and its TLB shootdown.",
        allow_abbrev=False,
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--defconfig", metavar="ARCH",
                     help="boot from arch/ARCH/configs/defconfig "
                     f"({', '.join(sorted(BACKENDS))})")
    src.add_argument("--config", metavar="FILE", type=_path_arg,
                     help="boot from a saved .config (arch inferred from its CONFIG_ARM64, "
                          "CONFIG_X86 or CONFIG_RISCV line)")
    p.add_argument("--arch", metavar="ARCH", dest="boot_arch", default=None,
                   help="with --config: the arch of a file that has no arch line "
                        "(CONFIG_ARM64=y, ...; e.g. a minimal defconfig); else $ARCH")
    p.add_argument("--set", dest="sets", metavar="SYM=VAL", action="append", default=[],
                   help="assign a Kconfig symbol (without CONFIG_) after loading; repeatable")
    p.add_argument("--machine", metavar="NAME|FILE.toml", dest="boot_machine", default=None,
                   help="machine profile: a built-in name (kunpeng920, snapdragon888, x86-2s) "
                        "or a TOML file (default: kunpeng920 on arm64, x86-2s on x86)")
    p.add_argument("--smp", metavar="N", type=int, default=None,
                   help="number of online CPUs (default: the machine profile's)")
    p.add_argument("--iterations", metavar="N", type=int, dest="boot_iterations",
                   default=DEFAULT_ITERATIONS,
                   help="measured iterations of the seed benchmark per run, after one "
                        f"warm-up (default: {DEFAULT_ITERATIONS}; every steady-state "
                        "iteration costs the same, so per-iteration figures do not depend on N)")
    p.add_argument("--force", action="store_true",
                   help=f"allow --iterations above {MAX_ITERATIONS} (they take minutes)")
    p.add_argument("--workload", metavar="W", dest="boot_workload", default="seed",
                   help="seed (the cover letter's benchmark), procs[:N] (N processes map "
                        "the buffer), threads[:N] (the mm runs on N CPUs; what makes x86 "
                        "defer) or migrate[:N] (N threads touch a working set that move_pages "
                        f"moves between two NUMA nodes); N defaults to {DEFAULT_COUNT}")
    p.add_argument("--vmstat", action="store_true",
                   help="also print each run's vmstat counter deltas")
    p.add_argument("--trace", metavar="FILE", type=_path_arg, default=None,
                   help="write ftrace-shaped events (tlb_flush, mm_vmscan_*) of both runs to FILE")
    p.add_argument("--jobs", metavar="N", type=int, dest="boot_jobs", default=None,
                   help="host processes for the two kernels (default: 2 when 2 cores are "
                        "usable, else 1; the results are identical for any N)")
    p.add_argument("--json", action="store_true",
                   help="print exactly one JSON object on stdout")
    _add_log_options(p, defaults=True)
    p.set_defaults(func=cmd_boot, command=None)

    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    s = sub.add_parser("defconfig", help="write .config from arch/ARCH/configs/defconfig",
                       allow_abbrev=False)
    s.add_argument("arch", metavar="ARCH", help=", ".join(sorted(BACKENDS)))
    s.set_defaults(func=cmd_defconfig)

    s = sub.add_parser("olddefconfig", help="refresh .config, new symbols get their defaults",
                       allow_abbrev=False)
    s.set_defaults(func=cmd_olddefconfig)

    s = sub.add_parser("savedefconfig", help="write a minimal defconfig from .config",
                       allow_abbrev=False)
    s.add_argument("--out", metavar="FILE", type=_path_arg, default=Path("defconfig"),
                   help="output file (default: ./defconfig)")
    s.set_defaults(func=cmd_savedefconfig)

    s = sub.add_parser("menuconfig", help="kconfiglib's curses menuconfig on .config (needs a TTY)",
                       allow_abbrev=False)
    s.set_defaults(func=cmd_menuconfig)

    s = sub.add_parser("config", help="scripts/config-style edits and queries of .config",
                       allow_abbrev=False)
    s.add_argument("--enable", "-e", metavar="SYM", action=_Op, const="enable", dest="ops",
                   help="set SYM=y")
    s.add_argument("--disable", "-d", metavar="SYM", action=_Op, const="disable", dest="ops",
                   help="set SYM=n")
    s.add_argument("--set-val", metavar=("SYM", "VAL"), nargs=2, action=_Op, const="set-val",
                   dest="ops", help="set SYM=VAL")
    s.add_argument("--state", "-s", metavar="SYM", action=_Op, const="state", dest="ops",
                   help="print the value of SYM (y, n, a value, or undef)")
    s.set_defaults(func=cmd_config, ops=None)

    s = sub.add_parser("sweep", help="where does deferring pay off: run a grid of A/B points",
                       allow_abbrev=False)
    s.add_argument("--arch", default="arm64,x86", help="comma list (default: arm64,x86)")
    s.add_argument("--cpus", default="2..256",
                   help="N, A,B,C, A..B (powers of two) or A..B/STEP (default: 2..256)")
    s.add_argument("--machine", default="", help="comma list of profiles (default: the arch's)")
    s.add_argument("--workload", default="seed", help="comma list of seed, procs, threads, migrate")
    s.add_argument("--width", default="4",
                   help="comma list: processes (procs) or threads (threads) of the variants, "
                        "a sweep axis (default 4)")
    s.add_argument("--set", dest="sweep_sets", metavar="SYM=VAL", action="append", default=[],
                   help="Kconfig assignment applied at every point; repeatable")
    s.add_argument("--iterations", type=int, default=5, help="benchmark rounds per run (default 5)")
    s.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    s.add_argument("--executor", default="process", help="process (default) or dask")
    s.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, with --executor dask")
    s.add_argument("--out", metavar="DIR", type=_path_arg, default=Path("sweep"),
                   help="directory for sweep.csv, sweep.json, sweep.png (default: ./sweep); "
                        "a file of an earlier run with other contents is kept as FILE.old")
    s.add_argument("--no-plot", action="store_true", help="skip sweep.png")
    s.add_argument("--no-ranges", action="store_true",
                   help="skip the saving's range over the profiles' assumed figures (faster)")
    s.add_argument("--json", dest="sweep_json", action="store_true",
                   help="print the points as one JSON object instead of the table")
    s.set_defaults(func=cmd_sweep)

    s = sub.add_parser("scenario", help="run a scenario file under the TLB sanitizer "
                       "(exit 0: expectations hold, 1: not, 2: bad file)", allow_abbrev=False)
    s.add_argument("file", metavar="FILE", type=_path_arg, help="scenario file (TOML)")
    s.add_argument("--set", dest="scenario_sets", metavar="SYM=VAL", action="append", default=[],
                   help="Kconfig assignment laid over the file's machine.config; repeatable")
    s.add_argument("--expect", metavar="clean|KIND,...", default=None,
                   help="replace the file's expect (e.g. after --set changed the kernel)")
    s.add_argument("--json", dest="scenario_json", action="store_true",
                   help="print exactly one JSON object on stdout")
    s.set_defaults(func=cmd_scenario)

    s = sub.add_parser("explore", help="try every bounded interleaving of a scenario's "
                       "[explore] steps (exit 0: none violates, 1: some do, 2: bad file, "
                       "3: none found but --max-runs cut the exploration short)",
                       description="Try every bounded interleaving of a scenario's [explore] "
                       "steps. Exit status: 0 none violates, 1 some do, 2 bad input, 3 none "
                       "found but the run bound cut the exploration short (not clean).",
                       allow_abbrev=False)
    s.add_argument("file", metavar="FILE", type=_path_arg, help="scenario file with [explore]")
    s.add_argument("--set", dest="scenario_sets", metavar="SYM=VAL", action="append", default=[],
                   help="Kconfig assignment laid over the file's machine.config; repeatable")
    s.add_argument("--max-runs", metavar="N", type=int, default=None, help="bound on runs (default: file, 5000)")
    s.add_argument("--max-hits", metavar="N", type=int, default=None,
                   help="hits per probe point to pause at (default: file, 2)")
    s.add_argument("--max-nested", metavar="N", type=int, default=None,
                   help="most steps inside one pause (default: file, all)")
    s.add_argument("--jobs", metavar="N", type=int, dest="explore_jobs", default=None,
                   help="worker processes for the runs (default: all usable cores; "
                        "the findings are identical for any N)")
    s.add_argument("--exhaustive", action="store_true",
                   help="no partial-order reduction: run every interleaving (same findings, "
                        "more runs)")
    s.add_argument("--save", metavar="DIR", type=_path_arg, default=None,
                   help="write each finding as a replayable scenario file into DIR")
    s.add_argument("--json", dest="scenario_json", action="store_true",
                   help="print exactly one JSON object on stdout")
    s.set_defaults(func=cmd_explore)

    s = sub.add_parser("fit", help="build an arm64 machine profile from your own perf/time "
                       "measurements of the seed benchmark", allow_abbrev=False)
    s.add_argument("--perf", metavar="FILE", type=_path_arg,
                   help="perf report --stdio of the benchmark, batching off (with or without "
                        "--children)")
    s.add_argument("--time", dest="time_file", metavar="FILE", type=_path_arg,
                   help="output of `time` for that run (bash, time -p, or GNU/busybox format)")
    s.add_argument("--batched-perf", metavar="FILE", type=_path_arg, default=None,
                   help="perf report --stdio of the batched kernel (a check, not a fit input)")
    s.add_argument("--batched-time", metavar="FILE", type=_path_arg, default=None,
                   help="output of `time` of the batched kernel (fits the per-TLBI issue cost)")
    s.add_argument("--annotate", metavar="FILE", type=_path_arg, default=None,
                   help="perf annotate --stdio ptep_clear_flush (a check, not a fit input)")
    s.add_argument("--cpus", dest="fit_cpus", metavar="N", type=int, default=None,
                   help="online CPUs of the measured machine")
    s.add_argument("--ghz", metavar="GHZ", type=float, default=None,
                   help="clock of the core the benchmark ran on")
    s.add_argument("--cores", metavar="LIST", default="",
                   help="core types, comma list (e.g. cortex-a78,cortex-a55): decides KPTI")
    s.add_argument("--kpti", choices=("yes", "no"), default=None,
                   help="KPTI on or off, if known (dmesg | grep -i kpti)")
    s.add_argument("--command-name", dest="comm", metavar="COMM", default=None,
                   help="the benchmark's Command column in perf report (default: the top line's)")
    s.add_argument("--bench-iterations", metavar="N", type=int, default=10000,
                   help="iterations the measured benchmark ran (default 10000, as published)")
    s.add_argument("--name", default="mine", help="profile name (default: mine)")
    s.add_argument("--like", metavar="PROFILE", default="snapdragon888",
                   help="profile whose proportions the unreported symbols take (default "
                        "snapdragon888)")
    s.add_argument("--published", metavar="MACHINE", default=None,
                   help="fit a built-in machine to minikernel/data/published.toml instead "
                        "(snapdragon888, kunpeng920)")
    s.add_argument("--unbatched-only", action="store_true",
                   help="do not fit to the batched time (then the batched run is a "
                        "prediction; tools/fit_profiles.py fits snapdragon888 so)")
    s.add_argument("--out", metavar="FILE", type=_path_arg, default=None,
                   help="write the profile here (an existing file is kept as FILE.old); "
                        "default: print it")
    s.set_defaults(func=cmd_fit)

    for s in sub.choices.values():
        _add_log_options(s, defaults=False)
    return p


def run_main_job(kernel: Machine, args: argparse.Namespace) -> dict:
    """The main job run after boot; its dict is the whole report.

    The boot report, then the A/B run of the seed benchmark (minikernel.report):
    *kernel* is run A; run B boots the same configuration plus the assignments
    that flip the deferral decision, on the same machine profile.  The report
    gains ``ab`` (flip, workload, iterations, notes) and ``runs`` (A, then B).
    """
    _check_iterations(args.boot_iterations, getattr(args, "force", False))
    jobs = getattr(args, "boot_jobs", None)
    check_jobs(jobs)
    report = boot_report(kernel)
    flip = ab_report.flip_deferral(kernel.cfg, kernel.nr_cpus, kernel.profile)
    flipped = boot(kernel.cfg.with_sets(flip.sets), cpus=kernel.nr_cpus,
                   profile=kernel.profile, trace=kernel.trace is not None)
    progress = _IterationProgress() if (sys.stderr.isatty() and not args.json) else None
    if progress is not None and jobs is None:
        jobs = 1            # a progress bar needs the runs here: sequential unless --jobs says
    try:
        ab = ab_report.run_ab(kernel, flipped, flip, iterations=args.boot_iterations,
                              workload=args.boot_workload, progress=progress, jobs=jobs)
    except ab_report.ABInterrupted as e:
        raise Interrupted(str(e)) from None
    finally:
        if progress is not None:
            progress.close()
    if args.trace is not None:
        _keep_old(args.trace, "--trace")       # a file already there is kept as FILE.old
        ab_report.write_trace(args.trace, [kernel, flipped],
                              [ab["runs"][0]["label"] + ": " + ab["runs"][0]["kernel"],
                               ab["runs"][1]["label"] + ": " + ab["runs"][1]["kernel"]])
    measured = getattr(args, "measured_cpus", None)
    if measured and not measured / 2 <= kernel.nr_cpus <= measured * 2:
        ab["notes"].append(
            f"--smp {kernel.nr_cpus}: the {kernel.profile.name} profile's figures were measured "
            f"or fitted at {measured} CPUs; at {kernel.nr_cpus} they extrapolate the assumed "
            "split of the DVM/IPI costs into a fixed and a per-CPU part (README, Machine "
            "profiles): the model's prediction, not the hardware's")
    report["ab"] = {k: ab[k] for k in ("flip", "workload", "iterations", "notes")}
    try:
        report["ab"]["saving"] = ab_report.saving_report(kernel.cfg, flipped.cfg, kernel.profile,
                                                         ab["runs"], args.boot_workload)
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted: A and B finished (all {args.boot_iterations} measured iterations "
            "each), the re-runs for the saving's range did not; nothing printed"
            + (f"; wrote {args.trace}" if args.trace is not None else "")) from None
    report["runs"] = ab["runs"]
    return report


def boot_report(kernel: Machine) -> dict:
    """arch, machine, config and tlb_flush_path of a booted kernel (the
    README documents this schema)."""
    report = {
        "arch": kernel.cfg.arch,
        "machine": {"cpus": kernel.nr_cpus, "profile": kernel.profile.name,
                    "ghz": kernel.profile.ghz},
        "kernel": kernel.baseline.as_dict(),
        "config": kernel.cfg.values,
        "tlb_flush_path": {
            "batched": kernel.tlb_flush_path.batched,
            "reason": kernel.tlb_flush_path.reason,
        },
    }
    if kernel.sanitizer is not None:      # CONFIG_DEBUG_TLB_SANITIZER=y
        report["sanitizer"] = kernel.sanitizer.as_dict()
    return report


def render_text(report: dict, vmstat: bool = False) -> str:
    """Human-readable form of a report (what stdout shows without --json);
    *vmstat* adds each run's counters (--vmstat)."""
    out = []
    if "arch" in report and "machine" in report:
        out.append(f"minikernel/{report['arch']} on {report['machine']['cpus']} CPUs")
    kern = report.get("kernel")
    if kern is not None:
        variant = f", series variant {kern['variant']}" if kern.get("variant") else ""
        out.append(f"Kernel baseline: {kern['name']}{variant}")
    path = report.get("tlb_flush_path")
    if path is not None:
        state = "batched" if path["batched"] else "not batched"
        out.append(f"TLB flush path: {state}: {path['reason']}")
    cfg = report.get("config")
    if cfg is not None:
        out.append("Configuration:")
        out.extend(
            f"  CONFIG_{name}={value}" if value != "n" else f"  # CONFIG_{name} is not set"
            for name, value in cfg.items()
        )
    if "runs" in report and "ab" in report:
        out.append("")
        out.append(ab_report.render_text({**report["ab"], "runs": report["runs"]},
                                         vmstat=vmstat).rstrip("\n"))
    for key, value in report.items():
        if key not in ("arch", "machine", "kernel", "tlb_flush_path", "config", "ab", "runs"):
            out.append(f"{key}: {json.dumps(value, indent=2)}")
    return "\n".join(out) + "\n"


#
# Subcommands
#


def cmd_boot(args: argparse.Namespace) -> int:
    """minikernel --defconfig ARCH | --config FILE: boot, run the main job."""
    if args.defconfig is None and args.config is None:
        raise UserError(
            f"{PROG}: error: nothing to boot: expected --defconfig ARCH or --config FILE, "
            "or a command (see --help)"
        )
    check_jobs(args.boot_jobs)          # bad input fails before anything boots
    arch = args.defconfig
    if args.boot_arch is not None and args.config is None:
        raise UserError(f"{PROG}: error: --arch {args.boot_arch} only applies with --config FILE "
                        "(for a file without a CONFIG_ARM64=y / CONFIG_X86=y line): expected "
                        "--defconfig ARCH alone")
    if args.config is not None:
        inferred = kconfig.infer_arch(args.config)
        env_arch = os.environ.get("ARCH") or None
        if inferred is None:
            arch = args.boot_arch or env_arch      # e.g. a minimal defconfig: no arch line
        elif args.boot_arch is not None:
            arch = args.boot_arch                  # must agree with the file (checked on load)
        elif env_arch is not None and kconfig.srcarch_of(env_arch) != inferred:
            structlog.get_logger(PROG).warning(
                f"ARCH={env_arch} ignored: {args.config} is an {inferred} configuration "
                f"(CONFIG_{kconfig.ARCH_SYMBOLS[inferred]}=y), and the file's arch wins")
    cfg = kconfig.load_kernel_config(arch, config=args.config, sets=args.sets)
    profile = None
    if args.boot_machine is not None:
        profile = load_profile(args.boot_machine)
        profile.check_arch(cfg.arch)
    # Refuse what the main job would refuse before anything boots or logs.
    if args.trace is not None:
        _check_output_file("--trace", args.trace)
    _check_iterations(args.boot_iterations, getattr(args, "force", False))
    prof = profile or default_profile(cfg.arch)
    from minikernel.workload import check_buffer_fits

    check_buffer_fits(prof)
    cpus = args.smp if args.smp is not None else prof.cpus
    nr_cpus = cfg.NR_CPUS or 0
    if not 1 <= cpus <= nr_cpus:        # name where the count came from: --smp or the profile
        where = (f"--smp {cpus}" if args.smp is not None
                 else f"{prof.source or prof.name}: machine.cpus = {cpus}")
        raise UserError(f"{where}: CPU count {cpus} out of range: expected 1..{nr_cpus} "
                        f"(CONFIG_NR_CPUS={nr_cpus}; raise it with --set NR_CPUS=N"
                        + (")" if args.smp is not None else ", or run fewer with --smp N)"))
    # The flip, checked on unbooted machines (nothing is logged or run).
    plain = prof.with_cpus(cpus)
    flip = ab_report.flip_deferral(cfg, cpus, plain)
    a = Machine(cfg, plain)
    ab_report.refuse_erratum_flip(a, flip.sets)
    ab_report.check_flip(a, Machine(cfg.with_sets(flip.sets), plain), flip)
    _, procs, threads = ab_report.parse_workload(args.boot_workload)
    if max(procs, threads) > cpus:
        raise UserError(f"--workload {args.boot_workload}: needs {max(procs, threads)} CPUs: "
                        f"expected at most {cpus} (the machine's CPU count; see --smp)")
    ab_report.check_migrate_machine(a, args.boot_workload)
    kernel = boot(cfg, cpus=args.smp, profile=profile, trace=args.trace is not None)
    args.measured_cpus = (profile or default_profile(cfg.arch)).cpus
    try:
        report = run_main_job(kernel, args)
    except OutOfMemory as e:
        raise UserError(f"--machine {kernel.profile.name}: machine.mem_pages = "
                        f"{kernel.profile.mem_pages}: {e}: expected enough page frames for the "
                        "benchmark (1 MiB = 256 pages plus the kernel's)") from None
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        sys.stdout.write(render_text(report, vmstat=args.vmstat))
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    """minikernel fit: a machine profile from measurements (or from the published data)."""
    from minikernel import fit as fitmod

    if args.out is not None:
        _check_output_file("--out", args.out)       # before fitting, which takes seconds
    if not args.name.strip():
        raise UserError(f"fit: --name {args.name!r}: expected a profile name (not empty: the "
                        "profile's machine.name)")
    if args.bench_iterations < 1:
        raise UserError(f"fit: --bench-iterations {args.bench_iterations}: expected a positive "
                        "number")
    if args.published is not None:
        if args.published not in ("snapdragon888", "kunpeng920"):
            raise UserError(f"--published {args.published}: no published measurements of that "
                            "machine: expected snapdragon888 or kunpeng920")
        meas = fitmod.published_measurements(args.published)
        # The Snapdragon's own tail comes from the assumed weights, not from the
        # file a re-fit rewrites (as tools/fit_profiles.py does).
        like = None if args.published == args.like == "snapdragon888" else _like_profile(args.like)
    else:
        missing = [o for o, v in (("--perf", args.perf), ("--time", args.time_file),
                                  ("--cpus", args.fit_cpus), ("--ghz", args.ghz)) if v is None]
        if missing:
            raise UserError(f"fit: {', '.join(missing)} missing: expected --perf FILE --time "
                            "FILE --cpus N --ghz GHZ (or --published MACHINE)")
        if (not 1 <= args.fit_cpus <= 4096 or not math.isfinite(args.ghz) or args.ghz <= 0
                or args.bench_iterations < 1):
            raise UserError(f"fit: --cpus {args.fit_cpus} --ghz {args.ghz} --bench-iterations "
                            f"{args.bench_iterations}: expected positive numbers (--cpus at most "
                            "4096, the largest CONFIG_NR_CPUS; --ghz finite)")
        for f in (args.perf, args.time_file, args.batched_perf, args.batched_time, args.annotate):
            if f is not None and not f.is_file():
                raise UserError(f"{f}: no such file: expected a measurement file")
        shares, comm = fitmod.parse_perf_report(args.perf, command=args.comm)
        cpu, wall = fitmod.parse_time(args.time_file)
        meas = fitmod.Measurements(
            name=args.name, cpus=args.fit_cpus, ghz=args.ghz,
            cores=tuple(c.strip() for c in args.cores.split(",") if c.strip()),
            kpti=None if args.kpti is None else args.kpti == "yes",
            iterations=args.bench_iterations, shares=shares, cpu_s=cpu, wall_s=wall,
            sources={"perf": str(args.perf), "time": str(args.time_file)})
        if args.batched_time is not None:
            meas.batched_cpu_s, meas.batched_wall_s = fitmod.parse_time(args.batched_time)
            meas.sources["batched time"] = str(args.batched_time)
        if args.batched_perf is not None:
            meas.batched_shares, _ = fitmod.parse_perf_report(args.batched_perf, command=comm)
        if args.annotate is not None:
            meas.dsb_pct = fitmod.parse_annotate(args.annotate)
        like = _like_profile(args.like)
    res = fitmod.fit(meas, like, fit_issue=False if args.unbatched_only else None)
    if args.out is not None:
        _keep_old(args.out, "--out")
        args.out.write_text(res.toml, encoding="utf-8")
    else:
        sys.stdout.write(res.toml)
    sys.stdout.write(fitmod.render_result(res) if args.out is not None else
                     "".join("# " + ln + "\n" for ln in fitmod.render_result(res).splitlines()))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """minikernel sweep: a grid of A/B points, in parallel; table, CSV, JSON, PNG."""
    from minikernel import sweep

    split = lambda v: [x.strip() for x in v.split(",") if x.strip()]  # noqa: E731
    points = sweep.build_grid(split(args.arch), sweep.parse_cpus(args.cpus),
                              split(args.machine), split(args.workload), args.sweep_sets,
                              args.iterations, _ints("--width", args.width),
                              ranges=not args.no_ranges)
    sweep.check_executor(args.jobs, args.executor, args.scheduler)
    _check_save_dir(args.out, "--out", "sweep.csv, sweep.json and sweep.png")
    sweep.check_out_dir(args.out)
    progress = sweep.TtyProgress() if (sys.stderr.isatty() and not args.sweep_json) else None
    try:
        rows = sweep.run_sweep(points, jobs=args.jobs, executor=args.executor,
                               scheduler=args.scheduler, progress=progress)
    except sweep.SweepInterrupted as e:
        # Keep what finished: the completed points are written as usual.
        written = sweep.write_outputs(e.rows, args.out, plot=not args.no_plot) if e.rows else []
        if progress is not None:
            sys.stderr.write("\n")
        raise Interrupted(f"interrupted: {e}" + (f"; wrote {', '.join(map(str, written))}"
                                                   if written else "; nothing written")) from None
    written = sweep.write_outputs(rows, args.out, plot=not args.no_plot)
    if args.sweep_json:
        sys.stdout.write(json.dumps({"points": rows, "files": [str(w) for w in written]}) + "\n")
    else:
        sys.stdout.write(sweep.render_table(rows))
        sys.stdout.write("wrote " + ", ".join(str(w) for w in written) + "\n")
    return 0


def cmd_scenario(args: argparse.Namespace) -> int:
    """minikernel scenario FILE: run it; 0 if its expectations hold, 1 if not."""
    from dataclasses import replace

    from minikernel.sanitizer import KINDS
    from minikernel.scenario import Infeasible, load_scenario, override_config, run_scenario

    expect = None
    if args.expect is not None:
        expect = [k.strip() for k in args.expect.split(",") if k.strip()]
        expect = [] if expect == ["clean"] else expect
        bad = [k for k in expect if k not in KINDS]
        if bad or not expect and args.expect.strip() != "clean":      # "" or ","
            raise UserError(f"--expect {args.expect}: expected 'clean' or a comma list of "
                            f"violation kinds ({', '.join(KINDS)})")
    sc = override_config(load_scenario(args.file), args.scenario_sets)
    if expect is not None:
        sc = replace(sc, expect=expect)
    try:
        result = run_scenario(sc)
    except Infeasible as e:
        raise UserError(f"{sc.path}: {e}") from None
    note = None
    if args.scenario_sets and expect is None and not result.ok:
        note = (f"note: --set {' '.join(args.scenario_sets)} changed the kernel the file's expect "
                "was written for, so that expectation may no longer apply; state this kernel's "
                "with --expect clean|KIND,...")
    if args.scenario_json:
        d = result.as_dict()
        d["expect_from"] = "--expect" if expect is not None else "file"
        if note:
            d["note"] = note
        sys.stdout.write(json.dumps(d) + "\n")
    else:
        sys.stdout.write(result.render_text() + "\n" + (note + "\n" if note else ""))
    return 0 if result.ok else 1


def cmd_explore(args: argparse.Namespace) -> int:
    """minikernel explore FILE: bounded exploration; 0 if nothing violates, 1 if something does."""
    from minikernel.explore import explore
    from minikernel.scenario import load_scenario, machine_config, override_config

    for opt, v in (("--max-runs", args.max_runs), ("--max-hits", args.max_hits),
                   ("--max-nested", args.max_nested)):
        if v is not None and v < 1:
            raise UserError(f"{PROG} explore: {opt} {v}: expected a positive integer")
    check_jobs(args.explore_jobs)
    if args.save is not None:
        _check_save_dir(args.save)      # before exploring: a bad --save must not lose findings
    sc = override_config(load_scenario(args.file), args.scenario_sets)
    machine_config(sc)          # a bad --set or machine.config fails before exploring
    result = explore(sc, max_runs=args.max_runs, max_hits=args.max_hits,
                     max_nested=args.max_nested, por=not args.exhaustive,
                     jobs=args.explore_jobs)
    try:
        saved = result.save(args.save) if args.save is not None else []
    except OSError as e:
        # The findings are not lost: they are printed before the error.
        sys.stdout.write(json.dumps(result.as_dict()) + "\n" if args.scenario_json
                         else result.render_text() + "\n")
        raise UserError(f"--save {args.save}: cannot write the findings ({e.strerror or e}; "
                        "printed above): expected a writable directory") from None
    if args.scenario_json:
        d = result.as_dict()
        d["saved"] = [str(p) for p in saved]
        sys.stdout.write(json.dumps(d) + "\n")
    else:
        sys.stdout.write(result.render_text() + "\n")
        if saved:
            sys.stdout.write("wrote " + ", ".join(str(p) for p in saved) + "\n")
    if result.findings:
        return 1
    return EXIT_TRUNCATED if result.truncated else 0


def cmd_defconfig(args: argparse.Namespace) -> int:
    """make ARCH=... defconfig: .config from the arch's defconfig."""
    srcarch = kconfig.srcarch_of(args.arch)
    kconf = kconfig.parse_tree(srcarch)
    _warn_notes(kconfig.load_config_file(kconf, kconfig.defconfig_path(srcarch)))
    msg = kconfig.write_config(kconf, kconfig.config_path())
    print("*** Default configuration is based on 'defconfig'")
    _report_write(msg)
    return 0


def cmd_olddefconfig(args: argparse.Namespace) -> int:
    """make olddefconfig: reload .config, give new symbols their defaults,
    drop what does not take (reported), write it back."""
    kconf = _load_build_config(allow_defconfig=True)
    _report_write(kconfig.write_config(kconf, kconfig.config_path()))
    return 0


def cmd_savedefconfig(args: argparse.Namespace) -> int:
    """make savedefconfig: minimal config, byte-identical to a defconfig file
    when .config came from it."""
    kconf = _load_build_config(allow_defconfig=False)
    kconfig.write_min_config(kconf, args.out)
    return 0


def cmd_menuconfig(args: argparse.Namespace) -> int:
    """make menuconfig: kconfiglib's curses interface on .config."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UserError(
            "menuconfig: stdin/stdout is not a terminal: expected an interactive terminal; "
            "without one use `minikernel config --enable SYM --disable SYM --set-val SYM VAL`"
        )
    import menuconfig as kconfiglib_menuconfig  # top-level module of the kconfiglib wheel

    path = kconfig.config_path()
    kconf = _load_build_config(allow_defconfig=True)
    # Nothing is written on start: without a .config, kconfiglib's menuconfig
    # keeps the defconfig values loaded above and asks to save on exit.
    saved = os.environ.get("KCONFIG_CONFIG")
    os.environ["KCONFIG_CONFIG"] = str(path)
    try:
        kconfiglib_menuconfig.menuconfig(kconf)
    finally:
        if saved is None:
            os.environ.pop("KCONFIG_CONFIG", None)
        else:
            os.environ["KCONFIG_CONFIG"] = saved
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    """scripts/config: --enable/--disable/--set-val/--state in order.

    Unlike scripts/config (a text editor that checks nothing), assignments
    go through kconfiglib: every one must take or nothing is written.
    Assignments before a --state take effect before it prints.
    """
    if not args.ops:
        raise UserError(
            f"{PROG} config: error: nothing to do: expected --enable SYM, --disable SYM, "
            "--set-val SYM VAL or --state SYM"
        )
    kconf = _load_build_config(allow_defconfig=False)
    pending: list[tuple[str, str]] = []
    changed = False
    for op, arg in args.ops:
        if op == "state":
            if not re.fullmatch(r"(CONFIG_)?[A-Za-z0-9_]+", arg):
                raise UserError(f"config --state {arg!r}: expected a symbol name (SYM or "
                                "CONFIG_SYM)")
            kconfig.apply_assignments(kconf, pending, origin="config")
            pending = []
            print(kconfig.symbol_state(kconf, arg))
            continue
        if op == "set-val":
            name, value = arg
        else:
            name, value = arg, ("y" if op == "enable" else "n")
        pending.append((name, value))
        changed = True
    kconfig.apply_assignments(kconf, pending, origin="config")
    if changed:
        kconfig.write_config(kconf, kconfig.config_path())
    return 0


#
# Private helpers
#


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one-line UserErrors (exit 2)."""

    def error(self, message: str):
        raise UserError(f"{self.prog}: error: {message} (see --help)")


def _path_arg(value: str) -> Path:
    """A path option's value: an empty string is not "." (it would write into the cwd)."""
    if not value.strip():
        raise argparse.ArgumentTypeError(f"{value!r}: expected a path, not an empty string")
    return Path(value)


class _Op(argparse.Action):
    """Collect scripts/config operations in command-line order."""

    def __call__(self, parser, namespace, values, option_string=None):
        ops = list(getattr(namespace, self.dest) or [])
        ops.append((self.const, values))
        setattr(namespace, self.dest, ops)


def _reject_boot_options(args: argparse.Namespace) -> None:
    given = [opt for opt, on in (("--defconfig", args.defconfig is not None),
                                 ("--config", args.config is not None),
                                 ("--arch", args.boot_arch is not None),
                                 ("--set", bool(args.sets)),
                                 ("--smp", args.smp is not None),
                                 ("--machine", args.boot_machine is not None),
                                 ("--iterations", args.boot_iterations != DEFAULT_ITERATIONS),
                                 ("--workload", args.boot_workload != "seed"),
                                 ("--vmstat", args.vmstat),
                                 ("--force", args.force),
                                 ("--trace", args.trace is not None),
                                 ("--jobs", args.boot_jobs is not None),
                                 ("--json", args.json)) if on]
    if given:
        raise UserError(
            f"{PROG}: error: {given[0]} cannot be combined with the {args.command} command: "
            "expected boot options only without a command (see --help)"
        )


def _add_log_options(p: argparse.ArgumentParser, defaults: bool) -> None:
    # The same options work before and after a subcommand; SUPPRESS keeps a
    # subparser from overwriting a value given before the subcommand.
    kw: dict[str, Any] = {} if defaults else {"default": argparse.SUPPRESS}
    p.add_argument("--log-format", choices=LOG_FORMATS,
                   help="stderr log format (default: console)",
                   **({"default": "console"} if defaults else kw))
    p.add_argument("--log-level", choices=LOG_LEVELS,
                   help="minimum level logged (default: info)",
                   **({"default": "info"} if defaults else kw))


def _load_build_config(*, allow_defconfig: bool):
    """kconfiglib tree + values of the build directory's .config.

    The arch comes from the .config (CONFIG_ARM64=y / CONFIG_X86=y), else
    from $ARCH.  Without a .config, olddefconfig and menuconfig start from
    $ARCH's defconfig, as the kernel's do; the other verbs need one.
    """
    path = kconfig.config_path()
    env_arch = os.environ.get("ARCH") or None
    if not path.exists():
        if allow_defconfig and env_arch:
            srcarch = kconfig.srcarch_of(env_arch)
            kconf = kconfig.parse_tree(srcarch)
            _warn_notes(kconfig.load_config_file(kconf, kconfig.defconfig_path(srcarch)))
            return kconf
        raise UserError(
            f"{path}: no such file: expected a configured build directory "
            "(run `minikernel defconfig ARCH` first)"
        )
    inferred = kconfig.infer_arch(path)
    if inferred is not None:
        srcarch = inferred
    else:
        if env_arch is None:
            raise UserError(
                f"{path}: cannot tell the arch: expected a CONFIG_ARM64=y or CONFIG_X86=y line, "
                "or ARCH=arm64|x86 in the environment"
            )
        srcarch = kconfig.srcarch_of(env_arch)
    kconf = kconfig.parse_tree(srcarch)
    _warn_notes(kconfig.load_config_file(kconf, path))
    return kconf


def _warn_notes(notes: list[str]) -> None:
    log = structlog.get_logger(PROG)
    for note in notes:
        log.warning(kconfig.note_kind(note), note=note)


def _report_write(msg: str) -> None:
    """Print the kernel's conf messages for a .config write."""
    name = kconfig.config_path()
    if msg.startswith("No change"):
        print(f"# No change to {name}")
    else:
        print(f"#\n# configuration written to {name}\n#")


#: Beyond this many measured iterations the main job wants --force: at about
#: 16 ms of host time per iteration on the default machine, 1000 take ~20 s.
MAX_ITERATIONS = 1000


def _check_iterations(n: int, force: bool) -> None:
    if n < 1:
        raise UserError(f"--iterations {n}: expected a positive number")
    if n > MAX_ITERATIONS and not force:
        raise UserError(
            f"--iterations {n}: expected at most {MAX_ITERATIONS} (about "
            f"{n * 16 / 1000 / 60:.0f} min of host time at ~16 ms an iteration; every "
            "steady-state iteration costs the same, so more add nothing): add --force to run it")


def _ints(option: str, spec: str) -> list[int]:
    try:
        return [int(x) for x in spec.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"{option} {spec}: expected a comma list of integers (e.g. 2,4,8)") \
            from None


def _check_save_dir(path: Path, option: str = "--save", what: str = "the findings") -> None:
    """explore --save DIR, sweep --out DIR: a directory, or one that can be created;
    checked before the run so that a bad path does not lose its results."""
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {path}: not a directory: expected a directory for {what}")
    ancestor = path
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK):
        raise UserError(f"{option} {path}: {ancestor} is not a writable directory: expected a "
                        f"directory {what} can be written to")
    try:                    # access() says yes to root everywhere: create it now
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{option} {path}: cannot create the directory ({e.strerror}): expected "
                        f"a directory {what} can be written to") from None


def _like_profile(spec: str):
    """fit --like PROFILE, its errors naming --like (load_profile's name --machine)."""
    try:
        return load_profile(spec)
    except UserError as e:
        msg = str(e)
        if msg.startswith(f"--machine {spec}:"):
            msg = msg[len("--machine "):]
        raise UserError(f"--like {msg}" if msg.startswith(f"{spec}:") else f"--like {spec}: {msg}") \
            from None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("minikernel")
    except PackageNotFoundError:        # run from a source tree
        return "(not installed)"


class _IterationProgress:
    """`A configured: 37/100 iterations, ETA 12 s (both runs)` on stderr (a TTY only;
    never with --json).

    The ETA is for the whole A/B job: the iterations left in this run and in
    the runs still to come (*runs* in all, each of the same length), at the
    rate measured since the job started (boot, warm-ups and all, so it errs
    long).  The line is rewritten at most every *every* seconds, and always
    for a run's first and last iteration.
    """

    def __init__(self, runs: int = 2, every: float = 0.2, clock=None) -> None:
        import time

        self._clock = clock or time.monotonic
        self._start = self._clock()
        self._runs, self._every = runs, every
        self._labels: list[str] = []
        self._written: float | None = None

    def __call__(self, label: str, done: int, total: int) -> None:
        now = self._clock()
        first = label not in self._labels
        if first:
            self._labels.append(label)
        done_all = (len(self._labels) - 1) * total + done
        if not first and done != total and self._written is not None \
                and now - self._written < self._every:
            return
        left = (now - self._start) / done_all * (self._runs * total - done_all)
        sys.stderr.write(f"\r{label.split(':')[0]} {label.split(': ')[-1]}: {done}/{total} "
                         f"iterations, ETA {_duration(left)} (both runs)   ")
        sys.stderr.flush()
        self._written = now

    def close(self) -> None:
        if self._written is not None:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _duration(seconds: float) -> str:
    """12 s, 3 min 05 s, 1 h 02 min."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class Interrupted(Exception):
    """Ctrl-C, with a one-line account of what was finished (exit 130)."""


def _print_error(msg: str, argv: list[str]) -> None:
    """The one error line on stderr; a JSON object under --log-format json."""
    if _wants_json_log(argv):
        print(json.dumps({"event": msg, "level": "error"}), file=sys.stderr)
    else:
        print(msg, file=sys.stderr)


def _wants_json_log(argv: list[str]) -> bool:
    for i, a in enumerate(argv):
        if a == "--log-format=json" or (a == "--log-format" and argv[i + 1:i + 2] == ["json"]):
            return True
    return False


def _check_output_file(option: str, path: Path) -> None:
    """An output file the run writes at its end: checked before anything runs."""
    if path.is_dir():
        raise UserError(f"{option} {path}: is a directory: expected a file path")
    parent = path.parent
    if not parent.is_dir():
        raise UserError(f"{option} {path}: no such directory {str(parent)!r}: expected a file in "
                        "an existing directory")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UserError(f"{option} {path}: not writable: expected a writable file path")


def _keep_old(path: Path, option: str) -> None:
    """Before overwriting *path*: keep what is there as <path>.old (as fit --out and the
    config verbs do); a copy that cannot be made is a UserError and nothing is written."""
    if not path.is_file():
        return
    try:
        path.with_name(path.name + ".old").write_bytes(path.read_bytes())
    except OSError as e:
        raise UserError(f"{option} {path}: cannot keep the existing file as {path.name}.old "
                        f"({e.strerror or e}): expected a writable directory") from None


def _one_line(msg: str) -> str:
    return " ".join(part.strip() for part in msg.strip().splitlines() if part.strip())
