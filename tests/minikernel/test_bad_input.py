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
