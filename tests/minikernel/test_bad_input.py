"""Bad input to every verb and option: exit status 2, one line on stderr, no traceback.

The corpus is a table of cases, each (argv, env, files, expected): *files*
are created in an empty build directory first (str or bytes contents, or
DIR for a directory), *env* is laid over an environment without
KCONFIG_CONFIG and ARCH.  A verb or option added to the parser must get a
case here: ``test_corpus_covers_every_verb_and_option`` fails until it does
(add the new verb, e.g. ``fit``, with at least one case per option).

Every case runs in-process through ``minikernel.cli.main`` (fast): an
uncaught exception fails the test with its traceback, which is exactly the
bug this guards against.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from minikernel.cli import build_parser, main

DIR = object()          # a directory in *files*
SCEN = str(Path(__file__).resolve().parents[2] / "scenarios")


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    expected: str                       # a substring of the one stderr line
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, object] = field(default_factory=dict)


ARM64_CONFIG = {".config": "CONFIG_ARM64=y\nCONFIG_ZRAM=y\n"}
BAD_TOML = {"bad.toml": "this is = = not toml\n"}


def _migration_scenario(step: str) -> dict[str, object]:
    """A scenario file whose last step is *step* (a migration op with a bad key)."""
    return {"m.toml": 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n'
                      '[[task]]\nname = "a"\ncpu = 0\n'
                      '[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'
                      f'[[step]]\ntask = "a"\n{step}'}
NUMA = 'inherit = "x86-2s"\n[numa]\n'
ONE_NODE = NUMA + "node_cpus = [48]\n"

CASES: dict[str, Case] = {
    # --- the main job -------------------------------------------------------------
    "no source": Case((), "nothing to boot"),
    "--defconfig unknown arch": Case(("--defconfig", "mips"), "unknown arch 'mips'"),
    "--config missing": Case(("--config", "nope"), "nope: no such file"),
    "--jobs zero": Case(("--defconfig", "arm64", "--jobs", "0"), "--jobs 0"),
    "--jobs not a number": Case(("--defconfig", "arm64", "--jobs", "x"), "--jobs"),
    "--config binary": Case(("--config", "bin"), "bin: cannot read", files={"bin": b"\xff\xfe\x00"}),
    "--config malformed": Case(("--config", "x.config"), "malformed line",
                               files={"x.config": "CONFIG_ARM64=y\nwhat\n"}),
    "--config without arch": Case(("--config", "min"), "--arch arm64|x86",
                                  files={"min": "CONFIG_EXPERT=y\n"}),
    "--arch without --config": Case(("--defconfig", "arm64", "--arch", "x86"),
                                    "--arch x86 only applies with --config"),
    "--arch disagrees with the file": Case(("--config", "a.config", "--arch", "x86"),
                                           "is an arm64 configuration, but arch x86",
                                           files={"a.config": "CONFIG_ARM64=y\n"}),
    "--arch unknown": Case(("--config", "min", "--arch", "sparc"), "unknown arch 'sparc'",
                           files={"min": "CONFIG_EXPERT=y\n"}),
    "--set unknown symbol": Case(("--defconfig", "arm64", "--set", "SWAPP=y"), "CONFIG_SWAPP"),
    "--set negative threshold": Case(("--defconfig", "arm64", "--set", "EXPERT=y", "--set",
                                      "ARM64_NR_CPUS_FOR_BATCHED_TLB=-1"), "expected 0..4096"),
    # errata are on by default and act only on matching cores: the Snapdragon's A55s
    "--set erratum flip": Case(("--defconfig", "arm64", "--machine", "snapdragon888", "--set",
                                "EXPERT=y", "--set", "MODEL_ARM64_BATCHED_TLB_6_6=y"),
                               "REPEAT_TLBI erratum workaround"),
    "--machine unknown": Case(("--defconfig", "arm64", "--machine", "nosuch"),
                              "unknown machine profile"),
    "--machine inherit unknown": Case(("--defconfig", "arm64", "--machine", "mine.toml"),
                                      "mine.toml: inherit = 'nosuch'",
                                      files={"mine.toml": 'inherit = "nosuch"\n'}),
    "--machine tiny memory": Case(("--defconfig", "arm64", "--machine", "tiny.toml"),
                                  "machine.mem_pages = 10",
                                  files={"tiny.toml": 'inherit = "kunpeng920"\n[machine]\n'
                                                      "mem_pages = 10\n"}),
    "sweep --machine tiny memory": Case(("sweep", "--arch", "arm64", "--cpus", "4", "--machine",
                                         "tiny.toml", "--out", "o"),
                                        "tiny.toml: machine.mem_pages = 10: expected more than",
                                        files={"tiny.toml": 'inherit = "kunpeng920"\n[machine]\n'
                                                            "mem_pages = 10\n"}),
    # riscv (issue 17): an arm64 machine for a riscv kernel, a bad [riscv] figure
    "--machine wrong arch riscv": Case(("--defconfig", "riscv", "--machine", "kunpeng920"),
                                       "expected an arm64 kernel, found riscv"),
    "--machine riscv bad asid": Case(("--defconfig", "riscv", "--machine", "rv.toml"),
                                     "riscv.asid: expected true or false",
                                     files={"rv.toml": 'inherit = "visionfive2"\n[riscv]\n'
                                                       'asid = 3\n'}),
    "sweep --arch riscv NR_CPUS": Case(("sweep", "--arch", "riscv", "--cpus", "1024"),
                                       "above CONFIG_NR_CPUS=512 for riscv"),
    "--machine invlpgb without costs": Case(("--defconfig", "x86", "--machine", "inv.toml"),
                                            "x86.invlpgb_ns: missing",
                                            files={"inv.toml": 'inherit = "x86-2s"\n[x86]\n'
                                                               'invlpgb = true\n'}),
    "--machine not toml": Case(("--defconfig", "arm64", "--machine", "bad.toml"), "bad.toml",
                               files=BAD_TOML),
    "--smp zero": Case(("--defconfig", "x86", "--smp", "0"), "CPU count 0 out of range"),
    "--smp not a number": Case(("--defconfig", "x86", "--smp", "many"), "invalid int value"),
    "--iterations zero": Case(("--defconfig", "arm64", "--iterations", "0"), "--iterations 0"),
    "--iterations huge": Case(("--defconfig", "arm64", "--iterations", str(10**12)),
                              "add --force"),
    "--force with a command": Case(("--force", "defconfig", "arm64"),
                                   "--force cannot be combined with the defconfig command"),
    "--workload unknown": Case(("--defconfig", "arm64", "--workload", "bogus"), "unknown workload"),
    "--workload too wide": Case(("--defconfig", "arm64", "--smp", "2", "--workload", "threads:4"),
                                "needs 4 CPUs"),
    "--workload migrate bad count": Case(("--defconfig", "arm64", "--workload", "migrate:0"),
                                         "bad count '0'"),
    "--workload migrate one node": Case(("--defconfig", "x86", "--machine", "one.toml",
                                         "--workload", "migrate"), "has one NUMA node",
                                        files={"one.toml": ONE_NODE}),
    "--workload migrate without MIGRATION": Case(("--defconfig", "x86", "--set", "COMPACTION=n",
                                                  "--workload", "migrate"),
                                                 "CONFIG_MIGRATION is not set"),
    "--machine numa cpus do not add up": Case(("--defconfig", "x86", "--machine", "n.toml"),
                                              "numa.node_cpus: expected CPU counts adding up",
                                              files={"n.toml": NUMA + "node_cpus = [12, 12]\n"}),
    "--machine numa pages do not add up": Case(
        ("--defconfig", "x86", "--machine", "n.toml"), "numa.node_pages: expected page counts",
        files={"n.toml": NUMA + "node_cpus = [24, 24]\nnode_pages = [100, 100]\n"}),
    "--machine numa pages per node": Case(
        ("--defconfig", "x86", "--machine", "n.toml"), "numa.node_pages: expected one count",
        files={"n.toml": NUMA + "node_cpus = [24, 24]\nnode_pages = [16384]\n"}),
    "--machine numa not a list": Case(("--defconfig", "x86", "--machine", "n.toml"),
                                      "numa.node_cpus: expected a list of positive integers",
                                      files={"n.toml": NUMA + 'node_cpus = "four"\n'}),
    "--machine numa zero bandwidth": Case(("--defconfig", "x86", "--machine", "n.toml"),
                                          "numa.remote_copy_gbps: expected a positive number",
                                          files={"n.toml": NUMA + "remote_copy_gbps = 0\n"}),
    "--machine numa unknown key": Case(("--defconfig", "x86", "--machine", "n.toml"),
                                       "numa.distance: unknown key",
                                       files={"n.toml": NUMA + "distance = 20\n"}),
    "--vmstat with a command": Case(("--vmstat", "olddefconfig"), "--vmstat cannot be combined"),
    "--trace into a missing directory": Case(("--defconfig", "arm64", "--trace", "/nonexistent/t"),
                                             "--trace /nonexistent/t: no such directory"),
    "--trace a directory": Case(("--defconfig", "arm64", "--trace", "d"), "is a directory",
                                files={"d": DIR}),
    "--json with a command": Case(("--json", "savedefconfig"), "--json cannot be combined"),
    "--log-format unknown": Case(("--defconfig", "x86", "--log-format", "xml"), "invalid choice"),
    "--log-level unknown": Case(("--defconfig", "x86", "--log-level", "loud"), "invalid choice"),
    "--version with a value": Case(("--version=2",), "ignored explicit argument"),
    "unknown option": Case(("--defconfig", "x86", "--frob"), "unrecognized arguments: --frob"),
    "unknown command": Case(("frob",), "invalid choice: 'frob'"),
    # --- defconfig / olddefconfig / savedefconfig / menuconfig / config ------------------
    "defconfig unknown arch": Case(("defconfig", "sparc"), "unknown arch 'sparc'"),
    "defconfig KCONFIG_CONFIG a directory": Case(("defconfig", "arm64"), "is a directory",
                                                 env={"KCONFIG_CONFIG": "d"},
                                                 files={"d": DIR, "d/keep": "mine\n"}),
    "defconfig KCONFIG_CONFIG in a missing directory": Case(
        ("defconfig", "arm64"), "no such directory", env={"KCONFIG_CONFIG": "/nonexistent/d/.config"}),
    "defconfig --log-level unknown": Case(("defconfig", "arm64", "--log-level", "x"),
                                          "invalid choice"),
    "defconfig --log-format unknown": Case(("defconfig", "arm64", "--log-format", "x"),
                                           "invalid choice"),
    "olddefconfig without .config or ARCH": Case(("olddefconfig",), ".config: no such file"),
    "olddefconfig malformed .config": Case(("olddefconfig",), "malformed line",
                                           files={".config": "CONFIG_ARM64=y\nnonsense\n"}),
    "savedefconfig without .config": Case(("savedefconfig",), ".config: no such file"),
    "savedefconfig --out missing directory": Case(("savedefconfig", "--out", "/nonexistent/d/x"),
                                                  "--out /nonexistent/d/x: no such directory",
                                                  files=ARM64_CONFIG),
    "savedefconfig --out a directory": Case(("savedefconfig", "--out", "d"),
                                            "--out d: is a directory",
                                            files={**ARM64_CONFIG, "d": DIR}),
    "olddefconfig --log-level unknown": Case(("olddefconfig", "--log-level", "x"), "invalid choice"),
    "olddefconfig --log-format unknown": Case(("olddefconfig", "--log-format", "x"),
                                              "invalid choice"),
    "savedefconfig --log-level unknown": Case(("savedefconfig", "--log-level", "x"),
                                              "invalid choice"),
    "savedefconfig --log-format unknown": Case(("savedefconfig", "--log-format", "x"),
                                               "invalid choice"),
    "menuconfig without a terminal": Case(("menuconfig",), "expected an interactive terminal"),
    "menuconfig --log-level unknown": Case(("menuconfig", "--log-level", "x"), "invalid choice"),
    "menuconfig --log-format unknown": Case(("menuconfig", "--log-format", "x"), "invalid choice"),
    "config --log-level unknown": Case(("config", "--log-level", "x"), "invalid choice"),
    "config --log-format unknown": Case(("config", "--log-format", "x"), "invalid choice"),
    "config without ops": Case(("config",), "nothing to do"),
    "config --enable unknown": Case(("config", "--enable", "FROB"), "CONFIG_FROB",
                                    files=ARM64_CONFIG),
    "config --disable needs a dependency": Case(("config", "--disable", "ARM64"),
                                                "did not take", files=ARM64_CONFIG),
    "config --set-val wrong type": Case(("config", "--set-val", "NR_CPUS", "lots"),
                                        "decimal integer", files=ARM64_CONFIG),
    "config --state without .config": Case(("config", "--state", "EXPERT"), "no such file"),
    # --- sweep ------------------------------------------------------------------------
    "sweep --arch unknown": Case(("sweep", "--arch", "mips", "--cpus", "4"), "unknown arch"),
    "sweep --cpus bad": Case(("sweep", "--cpus", "4..2"), "--cpus '4..2'"),
    "sweep --cpus above NR_CPUS": Case(("sweep", "--arch", "x86", "--cpus", "1024"),
                                       "above CONFIG_NR_CPUS"),
    "sweep --machine unknown": Case(("sweep", "--arch", "arm64", "--cpus", "4", "--machine",
                                     "nosuch"), "unknown machine profile"),
    "sweep --machine wrong arch": Case(("sweep", "--arch", "x86", "--cpus", "4", "--machine",
                                        "kunpeng920"), "arm64 machine"),
    "sweep --workload unknown": Case(("sweep", "--workload", "bogus"), "unknown workload"),
    "sweep --width not a list": Case(("sweep", "--width", "2,x"), "--width 2,x"),
    "sweep --width zero": Case(("sweep", "--arch", "arm64", "--cpus", "4", "--workload", "procs",
                                "--width", "0"), "--width 0"),
    "sweep --width too wide": Case(("sweep", "--arch", "arm64", "--cpus", "2", "--workload",
                                    "threads"), "needs 4 CPUs"),
    "sweep --workload migrate one node": Case(("sweep", "--arch", "x86", "--machine", "one.toml",
                                               "--cpus", "4", "--workload", "migrate"),
                                              "has one NUMA node", files={"one.toml": ONE_NODE}),
    "sweep --set unknown": Case(("sweep", "--set", "FROB=y"), "CONFIG_FROB"),
    "sweep --set erratum flip": Case(("sweep", "--arch", "arm64", "--machine", "snapdragon888",
                                      "--cpus", "4", "--set", "ARM64_ERRATUM_2441007=y"),
                                     "REPEAT_TLBI"),
    "sweep --iterations zero": Case(("sweep", "--iterations", "0"), "--iterations 0"),
    "sweep --jobs zero": Case(("sweep", "--arch", "arm64", "--cpus", "4,8", "--jobs", "0",
                               "--no-plot", "--out", "o"), "--jobs 0"),
    "sweep --executor unknown": Case(("sweep", "--arch", "arm64", "--cpus", "4", "--executor",
                                      "mpi", "--out", "o"), "unknown executor"),
    "sweep --scheduler without dask": Case(("sweep", "--arch", "arm64", "--cpus", "4",
                                            "--scheduler", "tcp://x:1", "--out", "o"),
                                           "--scheduler only applies"),
    "sweep --out a file": Case(("sweep", "--arch", "arm64", "--cpus", "4", "--out", "f"),
                               "--out f: not a directory", files={"f": "mine\n"}),
    "sweep --out .old a directory": Case(("sweep", "--arch", "arm64", "--cpus", "4", "--out", "o"),
                                         "o/sweep.csv.old is not a file",
                                         files={"o/sweep.csv": "mine\n", "o/sweep.csv.old": DIR}),
    "sweep --no-plot with a value": Case(("sweep", "--no-plot=yes"), "ignored explicit argument"),
    "sweep --json with a value": Case(("sweep", "--json=1"), "ignored explicit argument"),
    "sweep --log-format unknown": Case(("sweep", "--log-format", "x"), "invalid choice"),
    "sweep --log-level unknown": Case(("sweep", "--log-level", "x"), "invalid choice"),
    # --- fit ----------------------------------------------------------------------
    "fit nothing": Case(("fit",), "--perf, --time, --cpus, --ghz missing"),
    "fit --published unknown": Case(("fit", "--published", "nosuch"), "--published nosuch"),
    "fit --like unknown": Case(("fit", "--published", "snapdragon888", "--like", "nosuch"),
                               "--like nosuch: unknown machine profile"),
    "fit --perf missing": Case(("fit", "--perf", "nope.txt", "--time", "t.txt", "--cpus", "8",
                                "--ghz", "2.4"), "nope.txt: no such file", files={"t.txt": "x"}),
    "fit --time missing": Case(("fit", "--perf", "p.txt", "--time", "nope", "--cpus", "8",
                                "--ghz", "2.4"), "nope: no such file", files={"p.txt": "x"}),
    "fit --cpus zero": Case(("fit", "--perf", "p.txt", "--time", "p.txt", "--cpus", "0",
                             "--ghz", "2.4"), "expected positive numbers", files={"p.txt": "x"}),
    "fit --ghz negative": Case(("fit", "--perf", "p.txt", "--time", "p.txt", "--cpus", "8",
                                "--ghz", "-1"), "expected positive numbers", files={"p.txt": "x"}),
    "fit --kpti unknown": Case(("fit", "--kpti", "maybe"), "--kpti"),
    "fit --annotate missing": Case(("fit", "--perf", "p.txt", "--time", "p.txt", "--cpus", "8",
                                    "--ghz", "2.4", "--annotate", "nope"), "nope: no such file",
                                   files={"p.txt": "x"}),
    "fit --batched-perf missing": Case(("fit", "--perf", "p.txt", "--time", "p.txt", "--cpus",
                                        "8", "--ghz", "2.4", "--batched-perf", "nope"),
                                       "nope: no such file", files={"p.txt": "x"}),
    "fit --batched-time missing": Case(("fit", "--perf", "p.txt", "--time", "p.txt", "--cpus",
                                        "8", "--ghz", "2.4", "--batched-time", "nope"),
                                       "nope: no such file", files={"p.txt": "x"}),
    "fit --perf unreadable line": Case(("fit", "--perf", "p.txt", "--time", "t.txt", "--cpus",
                                        "8", "--ghz", "2.4", "--cores", "cortex-a78"), "p.txt:",
                                       files={"p.txt": "garbage line\n", "t.txt": "x"}),
    "fit --bench-iterations zero": Case(("fit", "--published", "snapdragon888",
                                         "--bench-iterations", "0"), "--bench-iterations 0"),
    "fit --command-name without value": Case(("fit", "--command-name"), "--command-name"),
    "fit --name without value": Case(("fit", "--name"), "--name"),
    "fit --out in a missing directory": Case(("fit", "--published", "snapdragon888", "--out",
                                              "nodir/x.toml"), "no such directory"),
    "fit --unbatched-only with a value": Case(("fit", "--unbatched-only=1"), "--unbatched-only"),
    "fit --log-format unknown": Case(("fit", "--log-format", "x"), "--log-format"),
    "fit --log-level unknown": Case(("fit", "--log-level", "x"), "--log-level"),
    "sweep --no-ranges with a value": Case(("sweep", "--no-ranges=1"), "--no-ranges"),
    # --- scenario / explore -----------------------------------------------------------
    "scenario missing file": Case(("scenario", "nope.toml"), "nope.toml"),
    "scenario binary file": Case(("scenario", "bin.toml"), "not a text file",
                                 files={"bin.toml": b"\x7fELF\x02\x01\x01\x00\xd0\xff"}),
    "scenario not toml": Case(("scenario", "bad.toml"), "not valid TOML", files=BAD_TOML),
    "scenario --set unknown": Case(("scenario", f"{SCEN}/race-2017-mprotect.toml", "--set",
                                    "FROB=y"), "CONFIG_FROB"),
    "scenario --expect unknown kind": Case(("scenario", f"{SCEN}/race-2017-mprotect.toml",
                                            "--expect", "use-after-frees"), "--expect use-after-frees"),
    "scenario --json with a value": Case(("scenario", "x.toml", "--json=1"),
                                         "ignored explicit argument"),
    "scenario --log-level unknown": Case(("scenario", "x.toml", "--log-level", "x"),
                                         "invalid choice"),
    "scenario --log-format unknown": Case(("scenario", "x.toml", "--log-format", "x"),
                                          "invalid choice"),
    "scenario move_pages node not a number": Case(
        ("scenario", "m.toml"), "step[1].node: got 'one', expected a node number 0..63",
        files=_migration_scenario('op = "move_pages"\naddr = "buf"\nnode = "one"\n')),
    "scenario move_pages without node": Case(
        ("scenario", "m.toml"), "step[1].node: got nothing, expected a value ('move_pages' "
        "needs addr, node)", files=_migration_scenario('op = "move_pages"\naddr = "buf"\n')),
    "scenario mbind unknown mode": Case(
        ("scenario", "m.toml"), "step[1].mode: got 'fast', expected \"default\", \"preferred\"",
        files=_migration_scenario('op = "mbind"\naddr = "buf"\nmode = "fast"\n')),
    "scenario mbind move not a bool": Case(
        ("scenario", "m.toml"), "step[1].move: got 1, expected true or false",
        files=_migration_scenario('op = "mbind"\naddr = "buf"\nmode = "bind"\nmove = 1\n')),
    "scenario migrate_pages from not a list": Case(
        ("scenario", "m.toml"), "step[1].from: got 0, expected a list of node numbers 0..63",
        files=_migration_scenario('op = "migrate_pages"\nfrom = 0\nto = [1]\n')),
    "scenario migrate_pages pause_at nowhere": Case(
        ("scenario", "m.toml"), "step[1].pause_at: got 'nowhere', expected a probe point",
        files=_migration_scenario('op = "migrate_pages"\nfrom = [0]\nto = [1]\n'
                                  'pause_at = "nowhere"\n')),
    "explore missing file": Case(("explore", "nope.toml"), "nope.toml"),
    "explore --set unknown": Case(("explore", f"{SCEN}/explore-2017-mprotect.toml", "--set",
                                   "FROB=y"), "CONFIG_FROB"),
    "explore --jobs zero": Case(("explore", "x.toml", "--jobs", "0"), "--jobs 0"),
    "explore --exhaustive with a value": Case(("explore", "x.toml", "--exhaustive=1"),
                                              "--exhaustive"),
    "explore --max-runs zero": Case(("explore", "x.toml", "--max-runs", "0"), "--max-runs 0"),
    "explore --max-hits zero": Case(("explore", "x.toml", "--max-hits", "0"), "--max-hits 0"),
    "explore --max-nested zero": Case(("explore", "x.toml", "--max-nested", "0"),
                                      "--max-nested 0"),
    "explore --save a file": Case(("explore", f"{SCEN}/explore-2017-mprotect.toml", "--save", "f"),
                                  "--save f: not a directory", files={"f": "mine\n"}),
    "explore --save unwritable": Case(("explore", f"{SCEN}/explore-2017-mprotect.toml", "--save",
                                       "/proc/minikernel-findings"), "--save /proc/minikernel-findings:"),
    "explore --json with a value": Case(("explore", "x.toml", "--json=1"),
                                        "ignored explicit argument"),
    "explore --log-level unknown": Case(("explore", "x.toml", "--log-level", "x"),
                                        "invalid choice"),
    "explore --log-format unknown": Case(("explore", "x.toml", "--log-format", "x"),
                                         "invalid choice"),
}


# --- issue 13 audit: fresh bad inputs (every option, every key of a profile, a scenario, an
# explorer input; .config handling; KCONFIG_CONFIG/ARCH; empty, binary, directory, missing
# paths; huge, negative, NaN numbers).  Most passed when written; those that crashed or ran
# were fixed with them (the commit messages name them).  Kept apart from CASES to be counted.
def _published_measurements() -> dict[str, object]:
    """perf report / time texts of the published Snapdragon run (a fit that gets far)."""
    from minikernel.published import published

    d = published()["snapdragon888"]["unbatched"]
    perf = "# Overhead  Command  Shared Object      Symbol\n" + "".join(
        f"  {pct:8.2f}%  a.out    [kernel.kallsyms]  [k] {sym}\n" for sym, pct in d["perf"]["symbols"])
    tm = d["time"]
    return {"p.txt": perf, "t.txt": f"{tm['user_s']:.2f}user {tm['sys_s']:.2f}system "
                                      f"0:{tm['elapsed_s']:.2f}elapsed\n"}


COVER = _published_measurements()

FRESH: dict[str, Case] = {
    '--smp negative': Case(('--defconfig', 'arm64', '--smp', '-3'), '--smp -3: CPU count -3 out of range: expected 1..256'),
    '--smp above NR_CPUS': Case(('--defconfig', 'arm64', '--smp', '100000'), '--smp 100000: CPU count 100000 out of range: expected 1..256'),
    '--iterations negative': Case(('--defconfig', 'arm64', '--iterations', '-5'), '--iterations -5: expected a positive number'),
    '--iterations float': Case(('--defconfig', 'arm64', '--iterations', '1e3'), "minikernel: error: argument --iterations: invalid int value: '1e3'"),
    '--iterations nan': Case(('--defconfig', 'arm64', '--iterations', 'nan'), "minikernel: error: argument --iterations: invalid int value: 'nan'"),
    '--jobs negative': Case(('--defconfig', 'arm64', '--jobs', '-1'), '--jobs -1: expected a positive number of worker processes'),
    '--jobs huge': Case(('--defconfig', 'arm64', '--jobs', '100000'), '--jobs 100000: expected at most 1024 worker processes'),
    '--workload threads:0': Case(('--defconfig', 'arm64', '--workload', 'threads:0'), "--workload threads:0: bad count '0': expected threads:N, N >= 1"),
    '--workload threads:x': Case(('--defconfig', 'arm64', '--workload', 'threads:x'), "--workload threads:x: bad count 'x': expected threads:N, N >= 1"),
    '--workload procs:-1': Case(('--defconfig', 'arm64', '--workload', 'procs:-1'), "--workload procs:-1: bad count '-1': expected procs:N, N >= 1"),
    '--workload threads huge': Case(('--defconfig', 'arm64', '--workload', 'threads:100000'), '--workload threads:100000: needs 100000 CPUs: expected at most 96'),
    '--workload seed:4': Case(('--defconfig', 'arm64', '--workload', 'seed:4'), "--workload seed:4: the seed workload takes no count: expected 'seed'"),
    '--workload empty': Case(('--defconfig', 'arm64', '--workload', ''), '--workload : unknown workload: expected one of seed, procs, threads, m'),
    '--workload procs:': Case(('--defconfig', 'arm64', '--workload', 'procs:'), "--workload procs:: bad count '': expected procs:N, N >= 1"),
    '--set without =': Case(('--defconfig', 'arm64', '--set', 'EXPERT'), '--set EXPERT: expected SYM=VAL (e.g. EXPERT=y)'),
    '--set empty name': Case(('--defconfig', 'arm64', '--set', '=y'), '--set =y: expected SYM=VAL (e.g. EXPERT=y)'),
    '--set m': Case(('--defconfig', 'arm64', '--set', 'EXPERT=m'), "--set EXPERT=m: tristate 'm' is not supported"),
    '--set int not a number': Case(('--defconfig', 'arm64', '--set', 'NR_CPUS=abc'), '--set NR_CPUS=abc: invalid value for CONFIG_NR_CPUS (int): expected a '),
    '--set int huge': Case(('--defconfig', 'arm64', '--set', 'NR_CPUS=99999999999999999999'), '--set NR_CPUS=99999999999999999999: assignment did not take'),
    '--set int hex': Case(('--defconfig', 'arm64', '--set', 'NR_CPUS=0x10'), '--set NR_CPUS=0x10: invalid value for CONFIG_NR_CPUS (int): expected a'),
    '--set newline': Case(('--defconfig', 'arm64', '--set', 'EXPERT=y\nZRAM=n'), '--set EXPERT=y ZRAM=n: invalid value for CONFIG_EXPERT (bool): expecte'),
    '--set CONFIG_ only': Case(('--defconfig', 'arm64', '--set', 'CONFIG_=y'), '--set =y: expected SYM=VAL (e.g. EXPERT=y)'),
    '--set bool value': Case(('--defconfig', 'arm64', '--set', 'EXPERT=yes'), '--set EXPERT=yes: invalid value for CONFIG_EXPERT (bool): expected y o'),
    '--set empty': Case(('--defconfig', 'arm64', '--set', ''), '--set : expected SYM=VAL (e.g. EXPERT=y)'),
    '--config directory': Case(('--config', 'd'), 'd: is a directory: expected a .config or defconfig file', files={'d': DIR}),
    '--config /dev/null': Case(('--config', '/dev/null'), '/dev/null: cannot tell the arch: expected a CONFIG_ARM64=y or CONFIG_X'),
    '--config both arches': Case(('--config', 'b.config'), 'b.config: both CONFIG_ARM64=y and CONFIG_X86=y: expected exactly one a', files={'b.config': 'CONFIG_ARM64=y\nCONFIG_X86=y\n'}),
    '--config NUL byte': Case(('--config', 'n.config'), 'n.config:2: CONFIG_EXPERT=y\x00: invalid value for CONFIG_EXPERT (bool): ', files={'n.config': 'CONFIG_ARM64=y\nCONFIG_EXPERT=y\x00\n'}),
    '--config quoted int': Case(('--config', 'q.config'), 'q.config:2: CONFIG_NR_CPUS="abc": invalid value for CONFIG_NR_CPUS', files={'q.config': 'CONFIG_ARM64=y\nCONFIG_NR_CPUS="abc"\n'}),
    '--config unknown symbol': Case(('--config', 'u.config'), 'u.config:2: unknown Kconfig symbol CONFIG_FROBNICATE', files={'u.config': 'CONFIG_ARM64=y\nCONFIG_FROBNICATE=y\n'}),
    '--config m': Case(('--config', 'm.config'), "m.config:2: CONFIG_ZRAM=m: tristate 'm' is not supported", files={'m.config': 'CONFIG_ARM64=y\nCONFIG_ZRAM=m\n'}),
    '--config threshold out of range': Case(('--config', 't.config'), 't.config:3: CONFIG_ARM64_NR_CPUS_FOR_BATCHED_TLB=-2: -2 is outside the', files={'t.config': 'CONFIG_ARM64=y\nCONFIG_EXPERT=y\nCONFIG_ARM64_NR_CPUS_FOR_BATCHED_TLB=-2\n'}),
    '--config latin-1': Case(('--config', 'l.config'), "l.config: cannot read: 'utf-8' codec can't decode byte 0xe9 in positio", files={'l.config': b'CONFIG_ARM64=y\n# caf\xe9\n'}),
    '--config nonexistent with ARCH': Case(('--config', 'nope'), 'nope: no such file: expected a .config or defconfig file', env={'ARCH': 'arm64'}),
    'ARCH unknown with --config': Case(('--config', 'min'), "unknown arch 'mips': expected one of arm64, riscv, x86", env={'ARCH': 'mips'}, files={'min': 'CONFIG_EXPERT=y\n'}),
    '--machine empty': Case(('--defconfig', 'arm64', '--machine', ''), '--machine : unknown machine profile: expected one of amd-genoa, kunpen'),
    '--machine a directory': Case(('--defconfig', 'arm64', '--machine', 'd.toml'), 'd.toml: no such profile file: expected a TOML machine profile or one o', files={'d.toml': DIR}),
    '--machine missing file': Case(('--defconfig', 'arm64', '--machine', 'missing.toml'), 'missing.toml: no such profile file: expected a TOML machine profile or'),
    '--machine binary': Case(('--defconfig', 'arm64', '--machine', 'b.toml'), 'b.toml: not a text file: expected a machine profile in TOML (UTF-8)', files={'b.toml': b'\x7fELF\x00\xff\xfe'}),
    'profile machine.cpus zero': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: machine.cpus: expected a positive integer (CPUs), found 0', files={'p.toml': 'inherit = "kunpeng920"\n[machine]\ncpus = 0\n'}),
    'profile machine.cpus float': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: machine.cpus: expected a positive integer (CPUs), found 1.5', files={'p.toml': 'inherit = "kunpeng920"\n[machine]\ncpus = 1.5\n'}),
    'profile machine.cpus string': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), "p.toml: machine.cpus: expected a positive integer (CPUs), found '8'", files={'p.toml': 'inherit = "kunpeng920"\n[machine]\ncpus = "8"\n'}),
    'profile machine.cpus bool': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: machine.cpus: expected a positive integer (CPUs), found True', files={'p.toml': 'inherit = "kunpeng920"\n[machine]\ncpus = true\n'}),
    'profile machine.cpus huge': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: machine.cpus = 100000: CPU count 100000 out of range: expected', files={'p.toml': 'inherit = "kunpeng920"\n[machine]\ncpus = 100000\n'}),
    'profile machine.ghz nan': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: machine.ghz: expected a positive number (GHz), found nan', files={'p.toml': 'inherit = "kunpeng920"\n[machine]\nghz = nan\n'}),
    'profile machine.ghz inf': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: machine.ghz: expected a positive number (GHz), found inf', files={'p.toml': 'inherit = "kunpeng920"\n[machine]\nghz = inf\n'}),
    'profile machine.ghz zero': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: machine.ghz: expected a positive number (GHz), found 0', files={'p.toml': 'inherit = "kunpeng920"\n[machine]\nghz = 0\n'}),
    'profile machine.mem_pages float': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: machine.mem_pages: expected a positive integer', files={'p.toml': 'inherit = "kunpeng920"\n[machine]\nmem_pages = 1e9\n'}),
    'profile machine.mem_pages huge': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: machine.mem_pages: expected at most 4194304 page frames', files={'p.toml': 'inherit = "kunpeng920"\n[machine]\nmem_pages = 1000000000000\n'}),
    'profile machine.init_on_alloc string': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), "p.toml: machine.init_on_alloc: expected true or false, found 'yes'", files={'p.toml': 'inherit = "kunpeng920"\n[machine]\ninit_on_alloc = "yes"\n'}),
    'profile machine.kpti int': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: machine.kpti: expected true or false, found 1', files={'p.toml': 'inherit = "kunpeng920"\n[machine]\nkpti = 1\n'}),
    'profile machine.arch unknown': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), "p.toml: machine.arch: expected 'arm64', 'x86' or 'riscv', found 'mips'", files={'p.toml': 'inherit = "kunpeng920"\n[machine]\narch = "mips"\n'}),
    'profile machine.name int': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: machine.name: expected a string, found 5', files={'p.toml': 'inherit = "kunpeng920"\n[machine]\nname = 5\n'}),
    'profile machine.name empty': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), "p.toml: machine.name: expected a string, found ''", files={'p.toml': 'inherit = "kunpeng920"\n[machine]\nname = ""\n'}),
    'profile machine.cores string': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: machine.cores: expected a list of core types in CPU order, e.g', files={'p.toml': 'inherit = "kunpeng920"\n[machine]\ncores = "cortex-a55"\n'}),
    'profile machine.cores unknown core': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), "p.toml: machine.cores: 'nosuch:r0p0': unknown core 'nosuch': expected ", files={'p.toml': 'inherit = "kunpeng920"\n[machine]\ncores = ["nosuch:r0p0"]\n'}),
    'profile machine.cores bad revision': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: machine.cores: \'cortex-a55:rXpY\': expected "PART:rVpR" or "PAR', files={'p.toml': 'inherit = "kunpeng920"\n[machine]\ncores = ["cortex-a55:rXpY"]\n'}),
    'profile machine.cores x0': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), "p.toml: machine.cores: 'cortex-a55 x0': expected a count of at least 1", files={'p.toml': 'inherit = "kunpeng920"\n[machine]\ncores = ["cortex-a55 x0"]\n'}),
    'profile machine.cores huge count': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), "p.toml: machine.cores: 'cortex-a55 x99999999999': expected a count of ", files={'p.toml': 'inherit = "kunpeng920"\n[machine]\ncores = ["cortex-a55 x99999999999"]\n'}),
    'profile machine.unknown key': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: machine.sockets: unknown key: expected one of name, arch, cpus', files={'p.toml': 'inherit = "kunpeng920"\n[machine]\nsockets = 2\n'}),
    'profile tlb.walk_ns negative': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: tlb.walk_ns: expected a number >= 0 (ns), found -1', files={'p.toml': 'inherit = "kunpeng920"\n[tlb]\nwalk_ns = -1\n'}),
    'profile tlb.entries zero': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: tlb.entries: expected a positive integer (TLB entries per CPU)', files={'p.toml': 'inherit = "kunpeng920"\n[tlb]\nentries = 0\n'}),
    'profile arm64.dsb_ns string': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), "p.toml: arm64.dsb_ns: expected a number >= 0 (ns), found 'fast'", files={'p.toml': 'inherit = "kunpeng920"\n[arm64]\ndsb_ns = "fast"\n'}),
    'profile arm64.tlbi_issue_ns nan': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: arm64.tlbi_issue_ns: expected a number >= 0 (ns), found nan', files={'p.toml': 'inherit = "kunpeng920"\n[arm64]\ntlbi_issue_ns = nan\n'}),
    'profile arm64.dvm_queue_depth zero': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: arm64.dvm_queue_depth: expected a positive integer', files={'p.toml': 'inherit = "kunpeng920"\n[arm64]\ndvm_queue_depth = 0\n'}),
    'profile arm64.dvm_queue_depth float': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: arm64.dvm_queue_depth: expected a positive integer', files={'p.toml': 'inherit = "kunpeng920"\n[arm64]\ndvm_queue_depth = 1.5\n'}),
    'profile arm64.dvm_contention negative': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: arm64.dvm_contention: expected a number >= 0', files={'p.toml': 'inherit = "kunpeng920"\n[arm64]\ndvm_contention = -1\n'}),
    'profile arm64.dvm_latency_base_ns inf': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: arm64.dvm_latency_base_ns: expected a number >= 0 (ns), found ', files={'p.toml': 'inherit = "kunpeng920"\n[arm64]\ndvm_latency_base_ns = inf\n'}),
    'profile arm64.dvm_latency_per_cpu_ns negative': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: arm64.dvm_latency_per_cpu_ns: expected a number >= 0 (ns), fou', files={'p.toml': 'inherit = "kunpeng920"\n[arm64]\ndvm_latency_per_cpu_ns = -0.5\n'}),
    'profile arm64.dvm_throughput_base_ns bool': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: arm64.dvm_throughput_base_ns: expected a number >= 0 (ns), fou', files={'p.toml': 'inherit = "kunpeng920"\n[arm64]\ndvm_throughput_base_ns = false\n'}),
    'profile arm64.dvm_throughput_per_cpu_ns list': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: arm64.dvm_throughput_per_cpu_ns: expected a number >= 0 (ns), ', files={'p.toml': 'inherit = "kunpeng920"\n[arm64]\ndvm_throughput_per_cpu_ns = [1]\n'}),
    'profile x86.ipi_send_ns nan': Case(('--defconfig', 'x86', '--machine', 'p.toml'), 'p.toml: x86.ipi_send_ns: expected a number >= 0 (ns), found nan', files={'p.toml': 'inherit = "x86-2s"\n[x86]\nipi_send_ns = nan\n'}),
    'profile x86.ipi_latency_ns negative': Case(('--defconfig', 'x86', '--machine', 'p.toml'), 'p.toml: x86.ipi_latency_ns: expected a number >= 0 (ns), found -1', files={'p.toml': 'inherit = "x86-2s"\n[x86]\nipi_latency_ns = -1\n'}),
    'profile x86.ipi_entry_ns string': Case(('--defconfig', 'x86', '--machine', 'p.toml'), "p.toml: x86.ipi_entry_ns: expected a number >= 0 (ns), found '1'", files={'p.toml': 'inherit = "x86-2s"\n[x86]\nipi_entry_ns = "1"\n'}),
    'profile x86.invlpg_ns inf': Case(('--defconfig', 'x86', '--machine', 'p.toml'), 'p.toml: x86.invlpg_ns: expected a number >= 0 (ns), found inf', files={'p.toml': 'inherit = "x86-2s"\n[x86]\ninvlpg_ns = inf\n'}),
    'profile x86.flush_tlb_ns table': Case(('--defconfig', 'x86', '--machine', 'p.toml'), "p.toml: x86.flush_tlb_ns: expected a number >= 0 (ns), found {'a': 1}", files={'p.toml': 'inherit = "x86-2s"\n[x86.flush_tlb_ns]\na = 1\n'}),
    'profile x86.invlpgb string': Case(('--defconfig', 'x86', '--machine', 'p.toml'), 'p.toml: x86.invlpgb: expected true or false', files={'p.toml': 'inherit = "x86-2s"\n[x86]\ninvlpgb = "yes"\n'}),
    'profile x86.invlpgb_ns negative': Case(('--defconfig', 'x86', '--machine', 'p.toml'), 'p.toml: x86.invlpgb_ns: expected a number >= 0 (ns), found -1', files={'p.toml': 'inherit = "amd-genoa"\n[x86]\ninvlpgb_ns = -1\n'}),
    'profile x86.tlbsync_ns nan': Case(('--defconfig', 'x86', '--machine', 'p.toml'), 'p.toml: x86.tlbsync_ns: expected a number >= 0 (ns), found nan', files={'p.toml': 'inherit = "amd-genoa"\n[x86]\ntlbsync_ns = nan\n'}),
    'profile riscv.sfence_vma_ns negative': Case(('--defconfig', 'riscv', '--machine', 'p.toml'), 'p.toml: riscv.sfence_vma_ns: expected a number >= 0 (ns), found -1', files={'p.toml': 'inherit = "visionfive2"\n[riscv]\nsfence_vma_ns = -1\n'}),
    'profile riscv.sfence_vma_all_ns string': Case(('--defconfig', 'riscv', '--machine', 'p.toml'), "p.toml: riscv.sfence_vma_all_ns: expected a number >= 0 (ns), found 'x", files={'p.toml': 'inherit = "visionfive2"\n[riscv]\nsfence_vma_all_ns = "x"\n'}),
    'profile riscv.sbi_ecall_ns nan': Case(('--defconfig', 'riscv', '--machine', 'p.toml'), 'p.toml: riscv.sbi_ecall_ns: expected a number >= 0 (ns), found nan', files={'p.toml': 'inherit = "visionfive2"\n[riscv]\nsbi_ecall_ns = nan\n'}),
    'profile riscv.sbi_mtrap_ns bool': Case(('--defconfig', 'riscv', '--machine', 'p.toml'), 'p.toml: riscv.sbi_mtrap_ns: expected a number >= 0 (ns), found True', files={'p.toml': 'inherit = "visionfive2"\n[riscv]\nsbi_mtrap_ns = true\n'}),
    'profile riscv.ipi_send_ns inf': Case(('--defconfig', 'riscv', '--machine', 'p.toml'), 'p.toml: riscv.ipi_send_ns: expected a number >= 0 (ns), found inf', files={'p.toml': 'inherit = "visionfive2"\n[riscv]\nipi_send_ns = inf\n'}),
    'profile riscv.ipi_latency_ns negative': Case(('--defconfig', 'riscv', '--machine', 'p.toml'), 'p.toml: riscv.ipi_latency_ns: expected a number >= 0 (ns), found -3', files={'p.toml': 'inherit = "visionfive2"\n[riscv]\nipi_latency_ns = -3\n'}),
    'profile riscv.ipi_entry_ns list': Case(('--defconfig', 'riscv', '--machine', 'p.toml'), 'p.toml: riscv.ipi_entry_ns: expected a number >= 0 (ns), found []', files={'p.toml': 'inherit = "visionfive2"\n[riscv]\nipi_entry_ns = []\n'}),
    'profile riscv.ipi_for_rfence int': Case(('--defconfig', 'riscv', '--machine', 'p.toml'), 'p.toml: riscv.ipi_for_rfence: expected true or false', files={'p.toml': 'inherit = "visionfive2"\n[riscv]\nipi_for_rfence = 1\n'}),
    'profile kernel.scale zero': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: kernel.scale: expected a positive number', files={'p.toml': 'inherit = "kunpeng920"\n[kernel]\nscale = 0\n'}),
    'profile kernel.scale negative': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: kernel.scale: expected a positive number', files={'p.toml': 'inherit = "kunpeng920"\n[kernel]\nscale = -1\n'}),
    'profile kernel.scale nan': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: kernel.scale: expected a positive number', files={'p.toml': 'inherit = "kunpeng920"\n[kernel]\nscale = nan\n'}),
    'profile kernel.unknown': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: kernel.factor: unknown key: expected one of scale', files={'p.toml': 'inherit = "kunpeng920"\n[kernel]\nfactor = 2\n'}),
    'profile kernel_ns negative': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: kernel_ns.clear_page: expected a number >= 0 (ns per call), fo', files={'p.toml': 'inherit = "kunpeng920"\n[kernel_ns]\nclear_page = -1\n'}),
    'profile kernel_ns nan': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: kernel_ns.clear_page: expected a number >= 0 (ns per call), fo', files={'p.toml': 'inherit = "kunpeng920"\n[kernel_ns]\nclear_page = nan\n'}),
    'profile kernel_ns not a table': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: kernel_ns: expected a table [kernel_ns], found 5', files={'p.toml': 'inherit = "kunpeng920"\nkernel_ns = 5\n'}),
    'profile kernel_ns unknown symbol': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: kernel_ns.nosuch_fn: unknown symbol: expected one the model ch', files={'p.toml': 'inherit = "kunpeng920"\n[kernel_ns]\nnosuch_fn = 1\n'}),
    'profile range reversed': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: range.arm64.dsb_ns: expected [low, high] with low <= high', files={'p.toml': 'inherit = "kunpeng920"\n[range]\n"arm64.dsb_ns" = [2, 1]\n'}),
    'profile range cpus_measured zero': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: range.cpus_measured: expected a positive integer (CPUs), found', files={'p.toml': 'inherit = "kunpeng920"\n[range]\ncpus_measured = 0\n'}),
    'profile range fit_inputs string': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: range.fit_inputs: expected a list of unbatched_cpu_time, ptep_', files={'p.toml': 'inherit = "kunpeng920"\n[range]\nfit_inputs = "x"\n'}),
    'profile range share above 1': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: range.dvm_fixed_share: expected [low, high] with low <= high', files={'p.toml': 'inherit = "kunpeng920"\n[range]\ncpus_measured = 8\ndvm_fixed_share = [0.5, 2]\n'}),
    'profile range share without cpus': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: range.dvm_fixed_share: needs range.cpus_measured: expected the', files={'p.toml': 'inherit = "kunpeng920"\n[range]\ndvm_fixed_share = [0.1, 0.2]\n'}),
    'profile range on a string key': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: range.machine.name: expected [low, high] with low <= high', files={'p.toml': 'inherit = "kunpeng920"\n[range]\n"machine.name" = [1, 2]\n'}),
    'profile range int+ float': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: range.tlb.entries: expected [low, high] with low <= high', files={'p.toml': 'inherit = "kunpeng920"\n[range]\n"tlb.entries" = [1.5, 2]\n'}),
    'profile range unknown key': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: range.arm64.nosuch: unknown key: expected "section.key" of a p', files={'p.toml': 'inherit = "kunpeng920"\n[range]\n"arm64.nosuch" = [1, 2]\n'}),
    'profile range nan': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: range.arm64.dsb_ns: expected [low, high] with low <= high', files={'p.toml': 'inherit = "kunpeng920"\n[range]\n"arm64.dsb_ns" = [nan, 1]\n'}),
    'profile range three values': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: range.arm64.dsb_ns: expected [low, high] with low <= high', files={'p.toml': 'inherit = "kunpeng920"\n[range]\n"arm64.dsb_ns" = [1, 2, 3]\n'}),
    'profile numa.node_cpus empty': Case(('--defconfig', 'x86', '--machine', 'p.toml'), 'p.toml: numa.node_cpus: expected a list of positive integers', files={'p.toml': 'inherit = "x86-2s"\n[numa]\nnode_cpus = []\n'}),
    'profile numa.local_latency_ns negative': Case(('--defconfig', 'x86', '--machine', 'p.toml'), 'p.toml: numa.local_latency_ns: expected a number >= 0', files={'p.toml': 'inherit = "x86-2s"\n[numa]\nlocal_latency_ns = -1\n'}),
    'profile numa.local_copy_gbps zero': Case(('--defconfig', 'x86', '--machine', 'p.toml'), 'p.toml: numa.local_copy_gbps: expected a positive number', files={'p.toml': 'inherit = "x86-2s"\n[numa]\nlocal_copy_gbps = 0\n'}),
    'profile numa.remote_latency_ns nan': Case(('--defconfig', 'x86', '--machine', 'p.toml'), 'p.toml: numa.remote_latency_ns: expected a number >= 0', files={'p.toml': 'inherit = "x86-2s"\n[numa]\nremote_latency_ns = nan\n'}),
    'profile numa.node_pages zero': Case(('--defconfig', 'x86', '--machine', 'p.toml'), 'p.toml: numa.node_pages: expected a list of positive integers', files={'p.toml': 'inherit = "x86-2s"\n[numa]\nnode_cpus = [24, 24]\nnode_pages = [0, 16384]\n'}),
    'profile inherit int': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: inherit: expected a profile name or path (string), found 5', files={'p.toml': 'inherit = 5\n'}),
    'profile inherit itself': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: inherit: profiles inherit from each other in a loop', files={'p.toml': 'inherit = "p.toml"\n'}),
    'profile inherit empty': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), "p.toml: inherit = '': unknown machine profile: expected one of amd-gen", files={'p.toml': 'inherit = ""\n'}),
    'profile inherit missing path': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), "p.toml: inherit = '../nonexistent.toml': no such profile file ../nonex", files={'p.toml': 'inherit = "../nonexistent.toml"\n'}),
    'profile inherit a directory': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), "p.toml: inherit = 'sub/': no such profile file sub: expected a TOML ma", files={'p.toml': 'inherit = "sub/"\n', 'sub': DIR}),
    'profile inherit bad toml': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'q.toml: malformed TOML: Invalid statement (at line 1, column 1): expec', files={'p.toml': 'inherit = "q.toml"\n', 'q.toml': '= =\n'}),
    'profile unknown table': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: foo: unknown key: expected one of the tables arm64, kernel, ke', files={'p.toml': 'inherit = "kunpeng920"\n[foo]\na = 1\n'}),
    'profile machine not a table': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: machine: expected a table [machine], found 5', files={'p.toml': 'inherit = "kunpeng920"\nmachine = 5\n'}),
    'profile without inherit, empty': Case(('--defconfig', 'arm64', '--machine', 'p.toml'), 'p.toml: machine.cpus: missing: expected a positive integer (CPUs)', files={'p.toml': ''}),
    'sweep --cpus empty': Case(('sweep', '--cpus', ''), "--cpus '': bad piece '': expected N, A,B,C, A..B (powers of two) or A."),
    'sweep --cpus zero': Case(('sweep', '--cpus', '0'), "--cpus '0': bad piece '0': expected N, A,B,C, A..B (powers of two) or "),
    'sweep --cpus negative': Case(('sweep', '--cpus', '-4'), "--cpus '-4': bad piece '-4': expected N, A,B,C, A..B (powers of two) o"),
    'sweep --cpus range not a number': Case(('sweep', '--cpus', '2..x'), "--cpus '2..x': bad piece '2..x': expected N, A,B,C, A..B"),
    'sweep --cpus step zero': Case(('sweep', '--cpus', '2..256/0'), "--cpus '2..256/0': bad piece '2..256/0': expected N, A,B,C, A..B"),
    'sweep --cpus huge step range': Case(('sweep', '--cpus', '1..100000000000/1'), "--cpus '1..100000000000/1': '1..100000000000/1' goes past 4096: expect"),
    'sweep --cpus huge': Case(('sweep', '--cpus', '99999999999999999999'), '--cpus 99999999999999999999: above CONFIG_NR_CPUS=256 for arm64'),
    'sweep --cpus huge power range': Case(('sweep', '--cpus', '1..10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000'), "--cpus '1..10000000000000000000000000000000000000000000000000000000000"),
    'sweep --arch empty': Case(('sweep', '--arch', ''), 'sweep: the grid is empty: expected at least one arch, CPU count and wo'),
    'sweep --arch commas': Case(('sweep', '--arch', ','), 'sweep: the grid is empty: expected at least one arch, CPU count and wo'),
    'sweep --workload empty': Case(('sweep', '--workload', ''), 'sweep: the grid is empty: expected at least one arch, CPU count and wo'),
    'sweep --workload with count': Case(('sweep', '--workload', 'threads:4'), "--workload 'threads:4': unknown workload"),
    'sweep --width empty': Case(('sweep', '--width', ''), '--width : expected positive numbers of processes or threads'),
    'sweep --width negative': Case(('sweep', '--width', '-1'), '--width -1: expected positive numbers of processes or threads'),
    'sweep --width huge': Case(('sweep', '--arch', 'arm64', '--cpus', '4', '--workload', 'procs', '--width', '99999'), '--workload procs needs 99999 CPUs; the grid has 4'),
    'sweep --iterations negative': Case(('sweep', '--iterations', '-1'), '--iterations -1: expected a positive number'),
    'sweep --iterations huge': Case(('sweep', '--arch', 'arm64', '--cpus', '4', '--iterations', '1000000000000'), '--iterations 1000000000000: expected at most 1000 per point'),
    'sweep --iterations not a number': Case(('sweep', '--iterations', 'ten'), "minikernel sweep: error: argument --iterations: invalid int value: 'te"),
    'sweep --jobs negative': Case(('sweep', '--arch', 'arm64', '--cpus', '4', '--no-plot', '--out', 'o', '--jobs', '-1'), '--jobs -1: expected a positive number'),
    'sweep --jobs huge': Case(('sweep', '--arch', 'arm64', '--cpus', '4', '--no-plot', '--out', 'o', '--jobs', '100000'), '--jobs 100000: expected at most 1024 worker processes'),
    'sweep --executor dask without --scheduler': Case(('sweep', '--arch', 'arm64', '--cpus', '4', '--no-plot', '--out', 'o', '--executor', 'dask'), '--executor dask needs --scheduler ADDRESS (e.g. tcp://host:8786)'),
    'sweep --out /proc': Case(('sweep', '--arch', 'arm64', '--cpus', '4', '--out', '/proc/sweep-out'), '--out /proc/sweep-out: cannot create the directory'),
    'sweep --out empty': Case(('sweep', '--arch', 'arm64', '--cpus', '4', '--out', ''), "minikernel sweep: error: argument --out: '': expected a path, not an e"),
    'sweep --machine empty entries': Case(('sweep', '--arch', 'arm64', '--cpus', '4', '--machine', 'bad.toml'), 'bad.toml: not a text file: expected a machine profile in TOML (UTF-8)', files={'bad.toml': b'\xff\xfe'}),
    'sweep --set without =': Case(('sweep', '--set', 'EXPERT'), '--set EXPERT: expected SYM=VAL (e.g. EXPERT=y)'),
    'sweep --set m': Case(('sweep', '--arch', 'arm64', '--cpus', '4', '--set', 'ZRAM=m'), "--set ZRAM=m: tristate 'm' is not supported"),
    'sweep --scheduler empty': Case(('sweep', '--arch', 'arm64', '--cpus', '4', '--no-plot', '--out', 'o', '--executor', 'dask', '--scheduler', ''), '--executor dask needs --scheduler ADDRESS (e.g. tcp://host:8786)'),
    'scenario a directory': Case(('scenario', 'd'), 'd: cannot read scenario: Is a directory: expected a scenario file', files={'d': DIR}),
    'scenario empty file': Case(('scenario', 's.toml'), 's.toml: machine: got nothing, expected a [machine] table with arch and', files={'s.toml': ''}),
    'scenario expect int': Case(('scenario', 's.toml'), 's.toml: expect: got 5, expected "clean" or a list of violation kinds', files={'s.toml': 'expect = 5\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario expect empty list': Case(('scenario', 's.toml'), 's.toml: expect: got [], expected "clean" or a list of violation kinds ', files={'s.toml': 'expect = []\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario expect unknown kind': Case(('scenario', 's.toml'), 's.toml: expect: got [\'dirty\'], expected "clean" or a list of violation', files={'s.toml': 'expect = "dirty"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario machine.arch int': Case(('scenario', 's.toml'), 's.toml: machine.arch: got 5, expected "arm64", "riscv" or "x86"', files={'s.toml': 'expect = "clean"\n[machine]\narch = 5\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario machine.cpus zero': Case(('scenario', 's.toml'), 's.toml: machine.cpus: got 0, expected an integer 1..512', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 0\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario machine.cpus 513': Case(('scenario', 's.toml'), 's.toml: machine.cpus: got 513, expected an integer 1..512', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 513\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario machine.cpus bool': Case(('scenario', 's.toml'), 's.toml: machine.cpus: got true, expected an integer 1..512', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = true\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario machine.cpus float': Case(('scenario', 's.toml'), 's.toml: machine.cpus: got 2.0, expected an integer 1..512', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2.0\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario machine.cpus above NR_CPUS': Case(('scenario', 's.toml'), 's.toml: machine.cpus: 300 CPUs but CONFIG_NR_CPUS=256: expected at mos', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 300\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario machine.profile unknown': Case(('scenario', 's.toml'), "s.toml: machine.profile = 'nosuch': --machine nosuch: unknown machine ", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\nprofile = "nosuch"\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario machine.profile int': Case(('scenario', 's.toml'), 's.toml: machine.profile: got 5, expected a profile name (string)', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\nprofile = 5\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario machine.profile wrong arch': Case(('scenario', 's.toml'), "s.toml: machine.profile: 'x86-2s' is an x86 machine, expected one for ", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\nprofile = "x86-2s"\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario machine.profile bad file': Case(('scenario', 's.toml'), "s.toml: machine.profile = 'p.toml': p.toml: malformed TOML: Invalid st", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\nprofile = "p.toml"\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n', 'p.toml': '= ='}),
    'scenario machine.config string': Case(('scenario', 's.toml'), 's.toml: machine.config: got \'EXPERT=y\', expected a list of "SYM=VAL" s', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\nconfig = "EXPERT=y"\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario machine.config without =': Case(('scenario', 's.toml'), 's.toml: machine.config: got [\'EXPERT\'], expected a list of "SYM=VAL" s', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\nconfig = ["EXPERT"]\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario machine.config unknown symbol': Case(('scenario', 's.toml'), 's.toml: machine.config: --set FROB=y: unknown Kconfig symbol CONFIG_FR', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\nconfig = ["FROB=y"]\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario machine.config bad int': Case(('scenario', 's.toml'), 's.toml: machine.config: --set NR_CPUS=abc: invalid value for CONFIG_NR', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\nconfig = ["NR_CPUS=abc"]\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario machine.sanitizer string': Case(('scenario', 's.toml'), "s.toml: machine.sanitizer: got 'yes', expected true or false", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\nsanitizer = "yes"\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario machine unknown key': Case(('scenario', 's.toml'), "s.toml: machine: unknown key 'smp', expected one of arch, config, cpus", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\nsmp = 4\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario machine not a table': Case(('scenario', 's.toml'), 's.toml: machine: got 5, expected a [machine] table with arch and cpus', files={'s.toml': 'expect = "clean"\nmachine = 5\n'}),
    'scenario task a table': Case(('scenario', 's.toml'), "s.toml: task: got {'name': 'a', 'cpu': 0}, expected at least one [[tas", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[task]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario task.cpu negative': Case(('scenario', 's.toml'), 's.toml: task[0].cpu: got -1, expected a CPU number 0..1', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = -1\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario task.cpu beyond cpus': Case(('scenario', 's.toml'), 's.toml: task[0].cpu: got 2, expected a CPU number 0..1', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 2\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario task.name empty': Case(('scenario', 's.toml'), "s.toml: task[0].name: got '', expected a non-empty string", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = ""\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario task.name duplicate': Case(('scenario', 's.toml'), "s.toml: task[1].name: got 'a', expected a name not used by another tas", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[task]]\nname = "a"\ncpu = 1\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario task.process int': Case(('scenario', 's.toml'), 's.toml: task[0].process: got 5, expected a process name (string)', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\nprocess = 5\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario task unknown key': Case(('scenario', 's.toml'), "s.toml: task[0]: unknown key 'prio', expected one of cpu, name, proces", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\nprio = 5\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario step.op unknown': Case(('scenario', 's.toml'), "s.toml: step[1].op: got 'fly', expected one of mmap, munmap, mprotect,", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\nop = "fly"\n'}),
    'scenario step.op missing': Case(('scenario', 's.toml'), 's.toml: step[1].op: got nothing, expected one of mmap, munmap, mprotec', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\naddr = "buf"\n'}),
    'scenario step.task unknown': Case(('scenario', 's.toml'), "s.toml: step[1].task: got 'zz', expected a task declared earlier (a)", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "zz"\nop = "read"\naddr = "buf"\n'}),
    'scenario step.pages zero': Case(('scenario', 's.toml'), 's.toml: step[0].pages: got 0, expected a page count 1..4096', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\npages = 0\n'}),
    'scenario step.pages huge': Case(('scenario', 's.toml'), 's.toml: step[0].pages: got 5000, expected a page count 1..4096', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\npages = 5000\n'}),
    'scenario step.page negative': Case(('scenario', 's.toml'), 's.toml: step[1].page: got -1, expected a page index >= 0', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\nop = "read"\naddr = "buf"\npage = -1\n'}),
    'scenario step.page beyond the mapping': Case(('scenario', 's.toml'), "s.toml: step[1].page: 7 is past the end of 'buf' (1 pages)", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\nop = "read"\naddr = "buf"\npage = 7\n'}),
    'scenario step.value negative': Case(('scenario', 's.toml'), 's.toml: step[1].value: got -1, expected a non-negative integer', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\nop = "write"\naddr = "buf"\nvalue = -1\n'}),
    'scenario step.addr unknown mapping': Case(('scenario', 's.toml'), "s.toml: step[1].addr: got 'nope', expected the name of a mapping made ", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\nop = "read"\naddr = "nope"\n'}),
    'scenario step.prot unknown': Case(('scenario', 's.toml'), 's.toml: step[1].prot: got \'rwx\', expected "none", "r" or "rw"', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\nop = "mprotect"\naddr = "buf"\nprot = "rwx"\n'}),
    'scenario step.advice unknown': Case(('scenario', 's.toml'), 's.toml: step[1].advice: got \'cold\', expected "pageout" or "dontneed"', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\nop = "madvise"\naddr = "buf"\nadvice = "cold"\n'}),
    'scenario step.shared string': Case(('scenario', 's.toml'), "s.toml: step[0].shared: got 'yes', expected true or false", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\nshared = "yes"\n'}),
    'scenario step.as empty': Case(('scenario', 's.toml'), "s.toml: step[0].as: got '', expected a name (string)", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = ""\n'}),
    'scenario step unknown key': Case(('scenario', 's.toml'), "s.toml: step[1]: unknown key 'when', expected one of addr, during, hit", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\nop = "read"\naddr = "buf"\nwhen = 3\n'}),
    'scenario step.pause_at on a read': Case(('scenario', 's.toml'), "s.toml: step[1].pause_at: got 'try_to_unmap_one:cleared', expected a p", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\nop = "read"\naddr = "buf"\npause_at = "try_to_unmap_one:cleared"\n'}),
    'scenario step.hit zero': Case(('scenario', 's.toml'), 's.toml: step[1].hit: got 0, expected an integer >= 1', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\nop = "reclaim"\npause_at = "try_to_unmap_one:cleared"\nhit = 0\n'}),
    'scenario step.during without pause_at': Case(('scenario', 's.toml'), "s.toml: step[1].during: got [], expected nothing: 'during'/'hit' need ", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\nop = "reclaim"\nduring = []\n'}),
    'scenario step.during not a list': Case(('scenario', 's.toml'), 's.toml: step[1].during: got 5, expected an array of tables ([[...]])', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\nop = "reclaim"\npause_at = "try_to_unmap_one:cleared"\nduring = 5\n'}),
    'scenario step.during same task': Case(('scenario', 's.toml'), "s.toml: step[1].during[0].task: got 'a', expected a task other than th", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\nop = "reclaim"\npause_at = "try_to_unmap_one:cleared"\n[[step.during]]\ntask = "a"\nop = "read"\naddr = "buf"\n'}),
    'scenario step.pause_at unknown': Case(('scenario', 's.toml'), "s.toml: step[1].pause_at: got 'nowhere', expected a probe point", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\nop = "reclaim"\npause_at = "nowhere"\n'}),
    'scenario step.cpu of move out of range': Case(('scenario', 's.toml'), 's.toml: step[1].cpu: got 9, expected a CPU number 0..1', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\nop = "move"\ncpu = 9\n'}),
    'scenario step.nodes not a list': Case(('scenario', 's.toml'), 's.toml: step[1].nodes: got 1, expected a list of node numbers 0..63', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\nop = "mbind"\naddr = "buf"\nmode = "bind"\nnodes = 1\n'}),
    'scenario step.to node 64': Case(('scenario', 's.toml'), 's.toml: step[1].to: got [64], expected a list of node numbers 0..63', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\nop = "migrate_pages"\nfrom = [0]\nto = [64]\n'}),
    'scenario step not a table': Case(('scenario', 's.toml'), "s.toml: step[0]: unknown key 'step', expected one of as, during, hit, ", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\nstep = 5\n'}),
    'scenario description int': Case(('scenario', 's.toml'), 's.toml: description: got 5, expected a string', files={'s.toml': 'description = 5\nexpect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario top-level unknown key': Case(('scenario', 's.toml'), "s.toml: top level: unknown key 'author', expected one of description, ", files={'s.toml': 'author = \'me\'\nexpect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario explore not a table': Case(('scenario', 's.toml'), 's.toml: explore: got 5, expected an [explore] table', files={'s.toml': 'expect = "clean"\nexplore = 5\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n'}),
    'scenario --expect empty': Case(('scenario', f"{SCEN}/race-2017-mprotect.toml", '--expect', ''), "--expect : expected 'clean' or a comma list of violation kinds"),
    'scenario --expect commas': Case(('scenario', f"{SCEN}/race-2017-mprotect.toml", '--expect', ','), "--expect ,: expected 'clean' or a comma list of violation kinds"),
    'scenario --set without =': Case(('scenario', f"{SCEN}/race-2017-mprotect.toml", '--set', 'EXPERT'), 'race-2017-mprotect.toml: machine.config: --set EXPERT: expected SYM=VA'),
    'scenario --set bad value': Case(('scenario', f"{SCEN}/race-2017-mprotect.toml", '--set', 'EXPERT=2'), 'race-2017-mprotect.toml: machine.config: --set EXPERT=2: invalid value'),
    'scenario latin-1': Case(('scenario', 'l.toml'), 'l.toml: not a text file: expected a scenario in TOML (UTF-8)', files={'l.toml': b'description = "caf\xe9"\n'}),
    'explore a directory': Case(('explore', 'd'), 'd: cannot read scenario: Is a directory: expected a scenario file', files={'d': DIR}),
    'explore binary': Case(('explore', 'b.toml'), 'b.toml: not a text file: expected a scenario in TOML (UTF-8)', files={'b.toml': b'\xff\xfe\x00'}),
    'explore no explore.step': Case(('explore', 's.toml'), 's.toml: explore.step: got nothing, expected at least one [[explore.ste', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[explore]\nmax_runs = 4\n'}),
    'explore explore.pause_at string': Case(('explore', 's.toml'), "s.toml: explore.pause_at: got 'try_to_unmap_one:cleared', expected a l", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[explore]\npause_at = "try_to_unmap_one:cleared"\n[[explore.step]]\ntask = "a"\nop = "reclaim"\n'}),
    'explore explore.pause_at unknown': Case(('explore', 's.toml'), "s.toml: explore.pause_at: got ['nowhere'], expected a list of probe po", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[explore]\npause_at = ["nowhere"]\n[[explore.step]]\ntask = "a"\nop = "reclaim"\n'}),
    'explore explore.max_runs zero': Case(('explore', 's.toml'), 's.toml: explore.max_runs: got 0, expected an integer >= 1', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[explore]\nmax_runs = 0\n[[explore.step]]\ntask = "a"\nop = "reclaim"\n'}),
    'explore explore.max_hits string': Case(('explore', 's.toml'), "s.toml: explore.max_hits: got '2', expected an integer >= 1", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[explore]\nmax_hits = "2"\n[[explore.step]]\ntask = "a"\nop = "reclaim"\n'}),
    'explore explore.max_nested negative': Case(('explore', 's.toml'), 's.toml: explore.max_nested: got -1, expected an integer >= 1', files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[explore]\nmax_nested = -1\n[[explore.step]]\ntask = "a"\nop = "reclaim"\n'}),
    'explore explore unknown key': Case(('explore', 's.toml'), "s.toml: explore: unknown key 'seed', expected one of max_hits, max_nes", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[explore]\nseed = 1\n[[explore.step]]\ntask = "a"\nop = "reclaim"\n'}),
    'explore explore.step pauses': Case(('explore', 's.toml'), "s.toml: explore.step[0].pause_at: got 'try_to_unmap_one:cleared', expe", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[explore]\n[[explore.step]]\ntask = "a"\nop = "reclaim"\npause_at = "try_to_unmap_one:cleared"\n'}),
    'explore explore.step unknown op': Case(('explore', 's.toml'), "s.toml: explore.step[0].op: got 'fly', expected one of mmap, munmap, m", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[explore]\n[[explore.step]]\ntask = "a"\nop = "fly"\n'}),
    'explore --max-runs negative': Case(('explore', f"{SCEN}/explore-2017-mprotect.toml", '--max-runs', '-1'), 'minikernel explore: --max-runs -1: expected a positive integer'),
    'explore --max-hits not a number': Case(('explore', f"{SCEN}/explore-2017-mprotect.toml", '--max-hits', 'abc'), "minikernel explore: error: argument --max-hits: invalid int value: 'ab"),
    'explore --max-runs huge': Case(('explore', f"{SCEN}/explore-2017-mprotect.toml", '--max-runs', '1000000000000000000000000000000', '--max-hits', '0'), 'minikernel explore: --max-hits 0: expected a positive integer'),
    'explore --jobs huge': Case(('explore', f"{SCEN}/explore-2017-mprotect.toml", '--jobs', '100000'), '--jobs 100000: expected at most 1024 worker processes'),
    'explore --jobs negative': Case(('explore', f"{SCEN}/explore-2017-mprotect.toml", '--jobs', '-2'), '--jobs -2: expected a positive number of worker processes'),
    'explore --save empty': Case(('explore', f"{SCEN}/explore-2017-mprotect.toml", '--save', ''), "minikernel explore: error: argument --save: '': expected a path, not a"),
    'explore --save under a file': Case(('explore', f"{SCEN}/explore-2017-mprotect.toml", '--save', 'f/sub'), '--save f/sub: f is not a writable directory: expected a directory the ', files={'f': 'mine\n'}),
    'explore --set m': Case(('explore', f"{SCEN}/explore-2017-mprotect.toml", '--set', 'ZRAM=m'), "explore-2017-mprotect.toml: machine.config: --set ZRAM=m: tristate 'm'"),
    '--trace empty': Case(('--defconfig', 'arm64', '--trace', ''), "minikernel: error: argument --trace: '': expected a path, not an empty"),
    '--config empty': Case(('--config', ''), "minikernel: error: argument --config: '': expected a path, not an empt"),
    'scenario empty path': Case(('scenario', ''), "minikernel scenario: error: argument FILE: '': expected a path, not an"),
    'fit --out empty': Case(('fit', '--published', 'snapdragon888', '--out', ''), "minikernel fit: error: argument --out: '': expected a path, not an emp"),
    'savedefconfig --out empty': Case(('savedefconfig', '--out', ''), "minikernel savedefconfig: error: argument --out: '': expected a path, ", files={'.config': 'CONFIG_ARM64=y\nCONFIG_ZRAM=y\n'}),
    'config --set-val one arg': Case(('config', '--set-val', 'NR_CPUS'), 'minikernel config: error: argument --set-val: expected 2 arguments', files={'.config': 'CONFIG_ARM64=y\nCONFIG_ZRAM=y\n'}),
    'config --enable empty': Case(('config', '--enable', ''), 'config =y: expected SYM=VAL (e.g. EXPERT=y)', files={'.config': 'CONFIG_ARM64=y\nCONFIG_ZRAM=y\n'}),
    'config --enable CONFIG_ only': Case(('config', '--enable', 'CONFIG_'), 'config =y: expected SYM=VAL (e.g. EXPERT=y)', files={'.config': 'CONFIG_ARM64=y\nCONFIG_ZRAM=y\n'}),
    'config --state empty': Case(('config', '--state', ''), "config --state '': expected a symbol name (SYM or CONFIG_SYM)", files={'.config': 'CONFIG_ARM64=y\nCONFIG_ZRAM=y\n'}),
    'config --set-val huge': Case(('config', '--set-val', 'NR_CPUS', '99999999999999999999'), 'config NR_CPUS=99999999999999999999: assignment did not take', files={'.config': 'CONFIG_ARM64=y\nCONFIG_ZRAM=y\n'}),
    'config --enable an int': Case(('config', '--enable', 'NR_CPUS'), 'config NR_CPUS=y: invalid value for CONFIG_NR_CPUS (int): expected a d', files={'.config': 'CONFIG_ARM64=y\nCONFIG_ZRAM=y\n'}),
    'config --set-val m': Case(('config', '--set-val', 'ZRAM', 'm'), "config ZRAM=m: tristate 'm' is not supported", files={'.config': 'CONFIG_ARM64=y\nCONFIG_ZRAM=y\n'}),
    'config --disable unknown, suggests': Case(('config', '--disable', 'ZRAMM'), 'config ZRAMM=n: unknown Kconfig symbol CONFIG_ZRAMM', files={'.config': 'CONFIG_ARM64=y\nCONFIG_ZRAM=y\n'}),
    'config .config a directory': Case(('config', '--state', 'EXPERT'), '.config: is a directory: expected a .config or defconfig file', files={'.config': DIR}),
    'config KCONFIG_CONFIG a directory': Case(('config', '--state', 'EXPERT'), 'd: is a directory: expected a .config or defconfig file', env={'KCONFIG_CONFIG': 'd'}, files={'d': DIR}),
    'config .config binary': Case(('config', '--enable', 'EXPERT'), ".config: cannot read: 'utf-8' codec can't decode byte 0xff in position", files={'.config': b'\xff\xfe\x00'}),
    'config .config without arch and no ARCH': Case(('config', '--enable', 'EXPERT'), '.config: cannot tell the arch: expected a CONFIG_ARM64=y or CONFIG_X86', files={'.config': 'CONFIG_EXPERT=y\n'}),
    'config .config without arch, ARCH unknown': Case(('config', '--enable', 'EXPERT'), "unknown arch 'mips': expected one of arm64, riscv, x86", env={'ARCH': 'mips'}, files={'.config': 'CONFIG_EXPERT=y\n'}),
    'config -e unknown': Case(('config', '-e', 'FROB'), 'config FROB=y: unknown Kconfig symbol CONFIG_FROB', files={'.config': 'CONFIG_ARM64=y\nCONFIG_ZRAM=y\n'}),
    'config -d unknown': Case(('config', '-d', 'FROB'), 'config FROB=n: unknown Kconfig symbol CONFIG_FROB', files={'.config': 'CONFIG_ARM64=y\nCONFIG_ZRAM=y\n'}),
    'config -s without symbol': Case(('config', '-s'), 'minikernel config: error: argument --state/-s: expected one argument', files={'.config': 'CONFIG_ARM64=y\nCONFIG_ZRAM=y\n'}),
    'defconfig without arch': Case(('defconfig',), 'minikernel defconfig: error: the following arguments are required: ARC'),
    'defconfig two arches': Case(('defconfig', 'arm64', 'x86'), 'minikernel: error: unrecognized arguments: x86 (see --help)'),
    'defconfig empty arch': Case(('defconfig', ''), "unknown arch '': expected one of arm64, riscv, x86"),
    'olddefconfig ARCH unknown': Case(('olddefconfig',), "unknown arch 'mips': expected one of arm64, riscv, x86", env={'ARCH': 'mips'}),
    'olddefconfig .config both arches': Case(('olddefconfig',), '.config: both CONFIG_ARM64=y and CONFIG_X86=y: expected exactly one ar', files={'.config': 'CONFIG_ARM64=y\nCONFIG_X86=y\n'}),
    'olddefconfig .config m': Case(('olddefconfig',), ".config:2: CONFIG_ZRAM=m: tristate 'm' is not supported", files={'.config': 'CONFIG_ARM64=y\nCONFIG_ZRAM=m\n'}),
    'olddefconfig KCONFIG_CONFIG binary': Case(('olddefconfig',), "b: cannot read: 'utf-8' codec can't decode byte 0xff in position 1: in", env={'KCONFIG_CONFIG': 'b'}, files={'b': b'\x00\xff'}),
    'olddefconfig KCONFIG_CONFIG in a missing directory': Case(('olddefconfig',), "KCONFIG_CONFIG=/nonexistent/x/.config: no such directory '/nonexistent", env={'KCONFIG_CONFIG': '/nonexistent/x/.config', 'ARCH': 'arm64'}),
    'olddefconfig extra argument': Case(('olddefconfig', 'x86'), 'minikernel: error: unrecognized arguments: x86 (see --help)'),
    'savedefconfig .config out of range': Case(('savedefconfig',), '.config:2: CONFIG_NR_CPUS=1: 1 is outside the range of CONFIG_NR_CPUS:', files={'.config': 'CONFIG_ARM64=y\nCONFIG_NR_CPUS=1\n'}),
    'savedefconfig --out under a file': Case(('savedefconfig', '--out', 'f/defconfig'), "--out f/defconfig: no such directory 'f': expected a file in an existi", files={'.config': 'CONFIG_ARM64=y\nCONFIG_ZRAM=y\n', 'f': 'mine\n'}),
    'savedefconfig --out /proc': Case(('savedefconfig', '--out', '/proc/defconfig'), '--out /proc/defconfig: cannot write', files={'.config': 'CONFIG_ARM64=y\nCONFIG_ZRAM=y\n'}),
    'menuconfig extra argument': Case(('menuconfig', 'x'), 'minikernel: error: unrecognized arguments: x (see --help)'),
    'fit --ghz nan': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '8', '--ghz', 'nan'), 'fit: --cpus 8 --ghz nan --bench-iterations 10000: expected positive nu', files={'p.txt': '# Overhead  Command  Shared Object  Symbol\n 10.00%  a.out  [kernel.kallsyms]  [k] clear_page\n', 't.txt': 'real 1.0\nuser 0.5\nsys 0.5\n'}),
    'fit --ghz inf': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '8', '--ghz', 'inf'), 'fit: --cpus 8 --ghz inf --bench-iterations 10000: expected positive nu', files={'p.txt': '# Overhead  Command  Shared Object  Symbol\n 10.00%  a.out  [kernel.kallsyms]  [k] clear_page\n', 't.txt': 'real 1.0\nuser 0.5\nsys 0.5\n'}),
    'fit --ghz not a number': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '8', '--ghz', 'fast'), "minikernel fit: error: argument --ghz: invalid float value: 'fast'", files={'p.txt': 'x', 't.txt': 'x'}),
    'fit --cpus huge': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '100000', '--ghz', '2'), 'fit: --cpus 100000 --ghz 2.0 --bench-iterations 10000: expected positi', files={'p.txt': '# Overhead  Command  Shared Object  Symbol\n 10.00%  a.out  [kernel.kallsyms]  [k] clear_page\n', 't.txt': 'real 1.0\nuser 0.5\nsys 0.5\n'}),
    'fit --cores unknown': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '8', '--ghz', '2.84', '--cores', 'nosuch'), "--cores: 'nosuch': unknown core 'nosuch': expected one of cortex-a510,", files=COVER),
    'fit --like file missing': Case(('fit', '--published', 'kunpeng920', '--like', 'nope.toml'), '--like nope.toml: no such profile file: expected a TOML machine profil'),
    'fit --time garbage': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '8', '--ghz', '2.4'), 't.txt:1: cannot read this line: expected the output of `time`', files={'p.txt': '# Overhead  Command  Shared Object  Symbol\n 10.00%  a.out  [kernel.kallsyms]  [k] clear_page\n', 't.txt': 'garbage\n'}),
    'fit --perf binary': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '8', '--ghz', '2.4'), "p.txt:1: cannot read this line: expected a perf report --stdio line 'O", files={'p.txt': b'\xff\xfe\x00', 't.txt': 'x'}),
    'fit --perf a directory': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '8', '--ghz', '2.4'), 'p.txt: no such file: expected a measurement file', files={'p.txt': DIR, 't.txt': 'x'}),
    'fit --out a directory': Case(('fit', '--published', 'kunpeng920', '--out', 'd'), '--out d: is a directory: expected a file path', files={'d': DIR}),
    'fit --bench-iterations negative': Case(('fit', '--published', 'kunpeng920', '--bench-iterations', '-5'), 'fit: --bench-iterations -5: expected a positive number'),
    'fit --name empty': Case(('fit', '--published', 'kunpeng920', '--name', ''), "fit: --name '': expected a profile name"),
    'fit --name with a newline': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '8', '--ghz', '2.4', '--name', 'a\nb'), "p.txt:1: cannot read this line: expected a perf report --stdio line 'O", files={'p.txt': 'x', 't.txt': 'x'}),
    'fit --command-name nosuch': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '8', '--ghz', '2.84', '--command-name', 'nosuch'), "p.txt: no line of command 'nosuch': expected the benchmark's command i", files=COVER),
    'fit --annotate garbage': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '8', '--ghz', '2.4', '--annotate', 'a.txt'), 'a.txt: no annotated instruction: expected the output of `perf annotate', files={'p.txt': '# Overhead  Command  Shared Object  Symbol\n 10.00%  a.out  [kernel.kallsyms]  [k] clear_page\n', 't.txt': 'real 1.0\nuser 0.5\nsys 0.5\n', 'a.txt': 'nothing\n'}),
    'fit --batched-time a directory': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '8', '--ghz', '2.4', '--batched-time', 'd'), 'd: no such file: expected a measurement file', files={'p.txt': 'x', 't.txt': 'x', 'd': DIR}),
    'fit --kpti empty': Case(('fit', '--kpti', ''), "minikernel fit: error: argument --kpti: invalid choice: ''"),
    '--log-format= empty': Case(('--defconfig', 'arm64', '--log-format='), "minikernel: error: argument --log-format: invalid choice: ''"),
    '--log-level json value': Case(('--log-level', 'json', '--defconfig', 'arm64'), "minikernel: error: argument --log-level: invalid choice: 'json'"),
    'KCONFIG_CONFIG empty string with defconfig x86 then config': Case(('config', '--state', 'EXPERT'), '.config: no such file: expected a configured build directory', env={'KCONFIG_CONFIG': ''}),
    'ARCH empty with olddefconfig': Case(('olddefconfig',), '.config: no such file: expected a configured build directory', env={'ARCH': ''}),
    'ARCH with a newline': Case(('olddefconfig',), "unknown arch 'arm64 x': expected one of arm64, riscv, x86", env={'ARCH': 'arm64\nx'}),
    '--version with a command': Case(('defconfig', '--version'), 'minikernel defconfig: error: the following arguments are required: ARC'),
    '--help with a value': Case(('--help=x',), "minikernel: error: argument -h/--help: ignored explicit argument 'x'"),
    '--defconfig and --config': Case(('--defconfig', 'arm64', '--config', '.config'), 'minikernel: error: argument --config: not allowed with argument --defc', files={'.config': 'CONFIG_ARM64=y\nCONFIG_ZRAM=y\n'}),
    '--defconfig twice': Case(('--defconfig', 'arm64', '--defconfig', 'mips'), "unknown arch 'mips': expected one of arm64, riscv, x86"),
    '--smp with a command': Case(('--smp', '4', 'config', '--state', 'EXPERT'), 'minikernel: error: --smp cannot be combined with the config command: e'),
    '--machine with a command': Case(('--machine', 'x86-2s', 'olddefconfig'), 'minikernel: error: --machine cannot be combined with the olddefconfig '),
    '--arch with a command': Case(('--arch', 'x86', 'savedefconfig'), 'minikernel: error: --arch cannot be combined with the savedefconfig co'),
    '--config with a command': Case(('--config', '.config', 'olddefconfig'), 'minikernel: error: --config cannot be combined with the olddefconfig c', files={'.config': 'CONFIG_ARM64=y\nCONFIG_ZRAM=y\n'}),
    '--set with a command': Case(('--set', 'EXPERT=y', 'defconfig', 'arm64'), 'minikernel: error: --set cannot be combined with the defconfig command'),
    '--iterations with a command': Case(('--iterations', '5', 'menuconfig'), 'minikernel: error: --iterations cannot be combined with the menuconfig'),
    '--workload with a command': Case(('--workload', 'procs', 'sweep'), 'minikernel: error: --workload cannot be combined with the sweep comman'),
    '--trace with a command': Case(('--trace', 't', 'explore', f"{SCEN}/explore-2017-mprotect.toml"), 'minikernel: error: --trace cannot be combined with the explore command'),
    '--jobs with a command': Case(('--jobs', '2', 'scenario', f"{SCEN}/race-2017-mprotect.toml"), 'minikernel: error: --jobs cannot be combined with the scenario command'),
    '--defconfig with a command': Case(('--defconfig', 'arm64', 'fit'), 'minikernel: error: --defconfig cannot be combined with the fit command'),
    'config --state with a space': Case(('config', '--state', 'EXPERT y'), "config --state 'EXPERT y': expected a symbol name (SYM or CONFIG_SYM)", files={'.config': 'CONFIG_ARM64=y\nCONFIG_ZRAM=y\n'}),
    'fit --perf no kernel symbols': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '8', '--ghz', '2.4'), 'fit: ptep_clear_flush is not in the unbatched perf report: expected it', files={'p.txt': '# Overhead  Command  Shared Object  Symbol\n 10.00%  a.out  [kernel.kallsyms]  [k] clear_page\n', 't.txt': 'real 1.0\nuser 0.5\nsys 0.5\n'}),
    'fit --time negative': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '8', '--ghz', '2.4'), 't.txt:1: cannot read this line: expected the output of `time`', files={'p.txt': '# Overhead  Command  Shared Object  Symbol\n 10.00%  a.out  [kernel.kallsyms]  [k] clear_page\n', 't.txt': 'real -1.0\nuser -0.5\nsys 0.5\n'}),
    'fit --batched-perf garbage': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '8', '--ghz', '2.4', '--batched-perf', 'b.txt'), "b.txt:1: cannot read this line: expected a perf report --stdio line 'O", files={'p.txt': '# Overhead  Command  Shared Object  Symbol\n 10.00%  a.out  [kernel.kallsyms]  [k] clear_page\n', 't.txt': 'real 1.0\nuser 0.5\nsys 0.5\n', 'b.txt': 'garbage\n'}),
    'fit --cores huge count': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '8', '--ghz', '2.84', '--cores', 'cortex-a55 x99999999999'), "--cores: 'cortex-a55 x99999999999': expected a count of at most 4096 a", files=COVER),
    'fit --like unknown (measured run)': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '8', '--ghz', '2.84', '--like', 'nosuch'), '--like nosuch: unknown machine profile: expected one of amd-genoa, kun', files=COVER),
    'fit --batched-time garbage': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '8', '--ghz', '2.84', '--batched-time', 'b.txt'), 'b.txt:1: cannot read this line: expected the output of `time`', files={**COVER, "b.txt": "x\n"}),
    'fit --time zero': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '8', '--ghz', '2.84'), 't.txt: user+sys 0 s, real 0 s: expected a run that took time', files={**COVER, "t.txt": "real 0.0\nuser 0.0\nsys 0.0\n"}),
    'fit --out under a file': Case(('fit', '--perf', 'p.txt', '--time', 't.txt', '--cpus', '8', '--ghz', '2.84', '--out', 'f/x.toml'), "--out f/x.toml: no such directory 'f': expected a file in an existing ", files={**COVER, "f": "mine\n"}),
    'scenario step.child existing': Case(('scenario', 's.toml'), "s.toml: step[1].child: got 'a', expected a new task name", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\nop = "fork"\nchild = "a"\ncpu = 1\n'}),
    'scenario step.expect string': Case(('scenario', 's.toml'), "s.toml: step[1].expect: got 'yes', expected true or false", files={'s.toml': 'expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n[[step]]\ntask = "a"\nop = "mmap"\nas = "buf"\n[[step]]\ntask = "a"\nop = "cached"\naddr = "buf"\nexpect = "yes"\n'}),
}
assert not set(FRESH) & set(CASES)
CASES.update(FRESH)


def _make_files(root: Path, files: dict[str, object]) -> None:
    for name, content in files.items():
        p = root / name
        if content is DIR:
            p.mkdir(parents=True, exist_ok=True)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(str(content))


def _snapshot(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


def _must_not_run(*args, **kw):
    raise AssertionError("bad input reached the simulation: it must be refused before")


def run_case(case: Case, tmp_path, monkeypatch, capsys):
    # Bad input is refused before anything runs; a case that gets as far as the
    # benchmark or the explorer fails at once instead of running (10**12 iterations).
    # The forked workers of --jobs 2 would not see a patched run_seed_benchmark, so the
    # parallel runner and the sweep's runner are stopped here too.
    import minikernel.explore
    import minikernel.report
    import minikernel.sweep
    import minikernel.workload

    for mod, name in ((minikernel.workload, "run_seed_benchmark"),
                      (minikernel.report, "run_seed_benchmark"),
                      (minikernel.report, "run_benchmarks"),
                      (minikernel.sweep, "run_sweep"),
                      (minikernel.explore, "explore")):
        monkeypatch.setattr(mod, name, _must_not_run)
    monkeypatch.chdir(tmp_path)
    for var in ("KCONFIG_CONFIG", "ARCH"):
        monkeypatch.delenv(var, raising=False)
    for k, v in case.env.items():
        monkeypatch.setenv(k, v)
    _make_files(tmp_path, case.files)
    rc = main(list(case.argv))          # an uncaught exception fails the test right here
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_bad_input_is_one_line_exit_2_and_touches_no_file(name, tmp_path, monkeypatch, capsys):
    case = CASES[name]
    _make_files(tmp_path, case.files)
    before = _snapshot(tmp_path)
    rc, out, err = run_case(case, tmp_path, monkeypatch, capsys)
    assert rc == 2, err
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert case.expected in err, err
    assert out == ""
    assert _snapshot(tmp_path) == before          # nothing the user had was changed


@pytest.mark.parametrize("name", ["unknown command", "--smp zero", "sweep --width zero",
                                  "savedefconfig --out a directory"])
def test_errors_are_json_under_log_format_json(name, tmp_path, monkeypatch, capsys):
    case = CASES[name]
    case = Case(("--log-format", "json", *case.argv), case.expected, case.env, case.files)
    rc, out, err = run_case(case, tmp_path, monkeypatch, capsys)
    assert rc == 2 and err.count("\n") == 1
    line = json.loads(err)
    assert line["level"] == "error" and case.expected in line["event"]


def _verbs_and_options():
    """(verb, option) for every option of the main parser ('') and of every subcommand."""
    parser = build_parser()
    out = set()
    sub = None
    for action in parser._actions:
        if action.option_strings:
            out.add(("", max(action.option_strings, key=len)))
        elif hasattr(action, "choices") and isinstance(action.choices, dict):
            sub = action
    for verb, p in sub.choices.items():
        out.add((verb, None))
        for action in p._actions:
            if action.option_strings:
                out.add((verb, max(action.option_strings, key=len)))
    return out - {(v, "--help") for v in ["", *sub.choices]}


def test_corpus_covers_every_verb_and_option():
    verbs = set(build_parser()._subparsers._group_actions[0].choices)
    covered = set()
    for case in CASES.values():
        verb = case.argv[0] if case.argv and case.argv[0] in verbs else ""
        covered.add((verb, None))
        for a in case.argv:
            if a.startswith("--"):
                covered.add((verb, a.split("=", 1)[0]))
    missing = sorted(_verbs_and_options() - covered, key=str)
    assert not missing, f"add a bad-input case for each of: {missing}"


def _file_keys() -> dict[str, str]:
    """Every key a user writes in a file -> a regex its error line must match in some case.

    Profile TOMLs: every ``section.key`` of the schema, plus inherit, kernel_ns and the
    [range] table; scenario files and explorer inputs: every key of the top level, of
    [machine], [[task]], [explore] and every step key the op registry declares.
    """
    from minikernel import profile
    from minikernel.scenario import parse
    from minikernel.scenario.ops import KEYS

    keys = {f"profile {s}.{k}": rf"(\.toml: |^){s}\.{k}\b"
            for s, table in profile._SCHEMA.items() for k in table}
    keys.update({"profile inherit": r"\.toml: inherit\b", "profile kernel_ns": r"\.toml: kernel_ns\b",
                 "profile range": r"\.toml: range\.", "profile range.cpus_measured":
                 r"range\.cpus_measured", "profile range.fit_inputs": r"range\.fit_inputs",
                 "profile range.dvm_fixed_share": r"range\.dvm_fixed_share"})
    top = {"description", "expect", "machine", "task", "step", "explore"}
    keys.update({f"scenario {k}": rf"\.toml: {k}\b" for k in top - {"step"}})
    keys["scenario step"] = r"\.toml: step\[\d+\]"
    keys.update({f"scenario machine.{k}": rf"\.toml: machine\.{k}\b" for k in parse._MACHINE_KEYS})
    keys.update({f"scenario task.{k}": rf"\.toml: task\[\d+\]\.{k}\b"
                 for k in ("name", "cpu", "process")})
    keys.update({f"scenario step.{k}": rf"step\[\d+\]\.{k}\b" for k in set(KEYS) | parse._STEP_KEYS})
    keys.update({f"explore {k}": rf"\.toml: explore\.{k}\b" for k in parse._EXPLORE_KEYS})
    return keys


#: .config handling: each way a .config (--config FILE, ./.config, $KCONFIG_CONFIG) can be bad.
CONFIG_FILE_ERRORS = ("malformed line", "tristate 'm' is not supported", "unknown Kconfig symbol",
                      "invalid value for", "is outside the range", "both CONFIG_ARM64=y and",
                      "cannot tell the arch", "cannot read", "is a directory", "no such file",
                      "no such directory")


def test_corpus_covers_every_file_key():
    import re

    lines = [c.expected for c in CASES.values()]
    missing = [k for k, rx in _file_keys().items() if not any(re.search(rx, ln) for ln in lines)]
    assert not missing, f"add a bad-input case whose error names each of: {missing}"
    config_lines = [c.expected for c in CASES.values()
                    if "--config" in c.argv or ".config" in c.files or "KCONFIG_CONFIG" in c.env
                    or c.argv[:1] in (("config",), ("olddefconfig",), ("savedefconfig",))]
    missing = [e for e in CONFIG_FILE_ERRORS if not any(e in ln for ln in config_lines)]
    assert not missing, f"add a bad .config case for each of: {missing}"


def test_the_readme_gives_the_corpus_size():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    said = re.search(r"corpus of (\d+) bad inputs", readme)
    assert said and int(said.group(1)) == len(CASES), "update the README's corpus size"
