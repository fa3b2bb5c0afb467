"""Command line: boot and run the main job, and the kernel's config verbs.

Model-only (the kernel's counterparts: scripts/kconfig/Makefile targets
defconfig / olddefconfig / savedefconfig / menuconfig, and scripts/config).

    minikernel --defconfig ARCH [--set SYM=VAL ...] [--machine NAME|FILE.toml] [--smp N]
               [--iterations N] [--workload seed|procs[:N]|threads[:N]] [--vmstat]
               [--trace FILE] [--json]
    minikernel --config FILE    [same options]
    minikernel defconfig ARCH | olddefconfig | savedefconfig [--out FILE]
    minikernel menuconfig
    minikernel config --enable SYM --disable SYM --set-val SYM VAL --state SYM
    minikernel scenario FILE [--set SYM=VAL ...] [--json]
    minikernel explore FILE  [--set SYM=VAL ...] [--max-runs N] [--max-hits N]
                             [--max-nested N] [--save DIR] [--json]

Invariants:
  - stdout carries results only: with --json exactly one JSON object; logs
    go to stderr (structlog, configured here and nowhere else).
  - Bad input of any kind (UserError, argparse usage) prints ONE line on
    stderr and exits 2, never a traceback.
  - The config verbs work on ./.config or $KCONFIG_CONFIG, like a kernel
    build directory; writes keep the previous file as .config.old.
  - After boot, the main job is one call, run_main_job(kernel, args), whose
    dict is the report (JSON object or text).
  - scenario/explore exit 0 when the file's expectations hold (explore: no
    violating interleaving), 1 when not (the report is printed), 2 on a
    malformed file.  Their --json carries ``sanitizer: {enabled, violations}``.
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
import os
import sys
from pathlib import Path
from typing import Any

import structlog

from minikernel import kconfig
from minikernel import report as ab_report
from minikernel.boot import boot
from minikernel.errors import UserError
from minikernel.log import LOG_FORMATS, LOG_LEVELS, configure_logging
from minikernel.machine import Machine
from minikernel.profile import load_profile
from minikernel.report import DEFAULT_COUNT

PROG = "minikernel"
#: Measured iterations per run; small enough that the default machine (96
#: CPUs) answers in a few seconds.  Steady-state iterations all cost the same.
DEFAULT_ITERATIONS = 10

#
# Public interface
#


def main(argv: list[str] | None = None) -> int:
    """Entry point of `minikernel` and `python -m minikernel`; returns the
    exit status (0 ok, 2 bad input)."""
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as e:  # --help / --version
            return int(e.code or 0)
        if args.command is not None:
            _reject_boot_options(args)
        configure_logging(args.log_format, args.log_level)
        return args.func(args)
    except UserError as e:
        print(_one_line(str(e)), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree.  Later options of the main job (--machine,
    --iterations, --workload, --vmstat, --trace) go next to --smp."""
    p = _Parser(
        prog=PROG,
        description="Kconfig-driven model of Linux reclaim and its TLB shootdown.",
        allow_abbrev=False,
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--defconfig", metavar="ARCH",
                     help="boot from arch/ARCH/configs/defconfig (arm64, x86)")
    src.add_argument("--config", metavar="FILE", type=Path,
                     help="boot from a saved .config (arch inferred from CONFIG_ARM64/CONFIG_X86)")
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
    p.add_argument("--workload", metavar="W", dest="boot_workload", default="seed",
                   help="seed (the cover letter's benchmark), procs[:N] (N processes map "
                        "the buffer) or threads[:N] (the mm runs on N CPUs; what makes x86 "
                        f"defer); N defaults to {DEFAULT_COUNT}")
    p.add_argument("--vmstat", action="store_true",
                   help="also print each run's vmstat counter deltas")
    p.add_argument("--trace", metavar="FILE", type=Path, default=None,
                   help="write ftrace-shaped events (tlb_flush, mm_vmscan_*) of both runs to FILE")
    p.add_argument("--json", action="store_true",
                   help="print exactly one JSON object on stdout")
    _add_log_options(p, defaults=True)
    p.set_defaults(func=cmd_boot, command=None)

    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    s = sub.add_parser("defconfig", help="write .config from arch/ARCH/configs/defconfig",
                       allow_abbrev=False)
    s.add_argument("arch", metavar="ARCH", help="arm64 or x86")
    s.set_defaults(func=cmd_defconfig)

    s = sub.add_parser("olddefconfig", help="refresh .config, new symbols get their defaults",
                       allow_abbrev=False)
    s.set_defaults(func=cmd_olddefconfig)

    s = sub.add_parser("savedefconfig", help="write a minimal defconfig from .config",
                       allow_abbrev=False)
    s.add_argument("--out", metavar="FILE", type=Path, default=Path("defconfig"),
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
    s.add_argument("--workload", default="seed", help="comma list of seed, procs, threads")
    s.add_argument("--width", type=int, default=4,
                   help="processes (procs) or threads (threads) of the variants (default 4)")
    s.add_argument("--set", dest="sweep_sets", metavar="SYM=VAL", action="append", default=[],
                   help="Kconfig assignment applied at every point; repeatable")
    s.add_argument("--iterations", type=int, default=5, help="benchmark rounds per run (default 5)")
    s.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    s.add_argument("--executor", default="process", help="process (default) or dask")
    s.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, with --executor dask")
    s.add_argument("--out", metavar="DIR", type=Path, default=Path("sweep"),
                   help="directory for sweep.csv, sweep.json, sweep.png (default: ./sweep)")
    s.add_argument("--no-plot", action="store_true", help="skip sweep.png")
    s.add_argument("--json", dest="sweep_json", action="store_true",
                   help="print the points as one JSON object instead of the table")
    s.set_defaults(func=cmd_sweep)

    s = sub.add_parser("scenario", help="run a scenario file under the TLB sanitizer "
                       "(exit 0: expectations hold, 1: not, 2: bad file)", allow_abbrev=False)
    s.add_argument("file", metavar="FILE", type=Path, help="scenario file (TOML)")
    s.add_argument("--set", dest="scenario_sets", metavar="SYM=VAL", action="append", default=[],
                   help="Kconfig assignment laid over the file's machine.config; repeatable")
    s.add_argument("--json", dest="scenario_json", action="store_true",
                   help="print exactly one JSON object on stdout")
    s.set_defaults(func=cmd_scenario)

    s = sub.add_parser("explore", help="try every bounded interleaving of a scenario's "
                       "[explore] steps (exit 0: none violates, 1: some do, 2: bad file)",
                       allow_abbrev=False)
    s.add_argument("file", metavar="FILE", type=Path, help="scenario file with [explore]")
    s.add_argument("--set", dest="scenario_sets", metavar="SYM=VAL", action="append", default=[],
                   help="Kconfig assignment laid over the file's machine.config; repeatable")
    s.add_argument("--max-runs", metavar="N", type=int, default=None, help="bound on runs (default: file, 5000)")
    s.add_argument("--max-hits", metavar="N", type=int, default=None,
                   help="hits per probe point to pause at (default: file, 2)")
    s.add_argument("--max-nested", metavar="N", type=int, default=None,
                   help="most steps inside one pause (default: file, all)")
    s.add_argument("--save", metavar="DIR", type=Path, default=None,
                   help="write each finding as a replayable scenario file into DIR")
    s.add_argument("--json", dest="scenario_json", action="store_true",
                   help="print exactly one JSON object on stdout")
    s.set_defaults(func=cmd_explore)

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
    if args.boot_iterations < 1:
        raise UserError(f"--iterations {args.boot_iterations}: expected a positive number")
    report = boot_report(kernel)
    flip = ab_report.flip_deferral(kernel.cfg, kernel.nr_cpus)
    flipped = boot(kernel.cfg.with_sets(flip.sets), cpus=kernel.nr_cpus,
                   profile=kernel.profile, trace=kernel.trace is not None)
    ab = ab_report.run_ab(kernel, flipped, flip, iterations=args.boot_iterations,
                          workload=args.boot_workload)
    if args.trace is not None:
        ab_report.write_trace(args.trace, [kernel, flipped],
                              [ab["runs"][0]["label"] + ": " + ab["runs"][0]["kernel"],
                               ab["runs"][1]["label"] + ": " + ab["runs"][1]["kernel"]])
    report["ab"] = {k: ab[k] for k in ("flip", "workload", "iterations", "notes")}
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
    arch = args.defconfig
    if args.config is not None and kconfig.infer_arch(args.config) is None:
        arch = os.environ.get("ARCH") or None  # e.g. a defconfig file: no arch line
    cfg = kconfig.load_kernel_config(arch, config=args.config, sets=args.sets)
    profile = None
    if args.boot_machine is not None:
        profile = load_profile(args.boot_machine)
        profile.check_arch(cfg.arch)
    kernel = boot(cfg, cpus=args.smp, profile=profile, trace=args.trace is not None)
    report = run_main_job(kernel, args)
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        sys.stdout.write(render_text(report, vmstat=args.vmstat))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """minikernel sweep: a grid of A/B points, in parallel; table, CSV, JSON, PNG."""
    from minikernel import sweep

    split = lambda v: [x.strip() for x in v.split(",") if x.strip()]  # noqa: E731
    points = sweep.build_grid(split(args.arch), sweep.parse_cpus(args.cpus),
                              split(args.machine), split(args.workload), args.sweep_sets,
                              args.iterations, args.width)
    progress = sweep.tty_progress if sys.stderr.isatty() else None
    rows = sweep.run_sweep(points, jobs=args.jobs, executor=args.executor,
                           scheduler=args.scheduler, progress=progress)
    written = sweep.write_outputs(rows, args.out, plot=not args.no_plot)
    if args.sweep_json:
        sys.stdout.write(json.dumps({"points": rows, "files": [str(w) for w in written]}) + "\n")
    else:
        sys.stdout.write(sweep.render_table(rows))
        sys.stdout.write("wrote " + ", ".join(str(w) for w in written) + "\n")
    return 0


def cmd_scenario(args: argparse.Namespace) -> int:
    """minikernel scenario FILE: run it; 0 if its expectations hold, 1 if not."""
    from minikernel.scenario import Infeasible, load_scenario, override_config, run_scenario

    sc = override_config(load_scenario(args.file), args.scenario_sets)
    try:
        result = run_scenario(sc)
    except Infeasible as e:
        raise UserError(f"{sc.path}: {e}") from None
    if args.scenario_json:
        sys.stdout.write(json.dumps(result.as_dict()) + "\n")
    else:
        sys.stdout.write(result.render_text() + "\n")
    return 0 if result.ok else 1


def cmd_explore(args: argparse.Namespace) -> int:
    """minikernel explore FILE: bounded exploration; 0 if nothing violates, 1 if something does."""
    from minikernel.explore import explore
    from minikernel.scenario import load_scenario, override_config

    for opt, v in (("--max-runs", args.max_runs), ("--max-hits", args.max_hits),
                   ("--max-nested", args.max_nested)):
        if v is not None and v < 1:
            raise UserError(f"{PROG} explore: {opt} {v}: expected a positive integer")
    sc = override_config(load_scenario(args.file), args.scenario_sets)
    result = explore(sc, max_runs=args.max_runs, max_hits=args.max_hits,
                     max_nested=args.max_nested)
    saved = result.save(args.save) if args.save is not None else []
    if args.scenario_json:
        d = result.as_dict()
        d["saved"] = [str(p) for p in saved]
        sys.stdout.write(json.dumps(d) + "\n")
    else:
        sys.stdout.write(result.render_text() + "\n")
        if saved:
            sys.stdout.write("wrote " + ", ".join(str(p) for p in saved) + "\n")
    return 1 if result.findings else 0


def cmd_defconfig(args: argparse.Namespace) -> int:
    """make ARCH=... defconfig: .config from the arch's defconfig."""
    srcarch = kconfig.srcarch_of(args.arch)
    kconf = kconfig.parse_tree(srcarch)
    _warn_notes(kconfig.load_config_file(kconf, kconfig.defconfig_path(srcarch)))
    print("*** Default configuration is based on 'defconfig'")
    _report_write(kconfig.write_config(kconf, kconfig.config_path()))
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
    if not path.exists():  # menuconfig loads $KCONFIG_CONFIG itself
        kconfig.write_config(kconf, path)
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


class _Op(argparse.Action):
    """Collect scripts/config operations in command-line order."""

    def __call__(self, parser, namespace, values, option_string=None):
        ops = list(getattr(namespace, self.dest) or [])
        ops.append((self.const, values))
        setattr(namespace, self.dest, ops)


def _reject_boot_options(args: argparse.Namespace) -> None:
    given = [opt for opt, on in (("--defconfig", args.defconfig is not None),
                                 ("--config", args.config is not None),
                                 ("--set", bool(args.sets)),
                                 ("--smp", args.smp is not None),
                                 ("--machine", args.boot_machine is not None),
                                 ("--iterations", args.boot_iterations != DEFAULT_ITERATIONS),
                                 ("--workload", args.boot_workload != "seed"),
                                 ("--vmstat", args.vmstat),
                                 ("--trace", args.trace is not None),
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
        log.warning("kconfig: symbol renamed" if " is now called " in note
                    else "kconfig: assignment did not take", note=note)


def _report_write(msg: str) -> None:
    """Print the kernel's conf messages for a .config write."""
    name = kconfig.config_path()
    if msg.startswith("No change"):
        print(f"# No change to {name}")
    else:
        print(f"#\n# configuration written to {name}\n#")


def _one_line(msg: str) -> str:
    return " ".join(part.strip() for part in msg.strip().splitlines() if part.strip())
