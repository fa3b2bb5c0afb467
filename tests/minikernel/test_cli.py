"""minikernel/cli.py: the boot report, the config verbs, and bad input
(exit 2, one line on stderr, never a traceback)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from minikernel import srctree

REPO = Path(__file__).resolve().parents[2]

HEADER = "#\n# Automatically generated file; DO NOT EDIT.\n# minikernel/{arch} Configuration\n#\n"


# --- boot and the report -------------------------------------------------------

def test_json_is_exactly_one_object_and_logs_only_on_stderr(run_cli):
    r = run_cli("--defconfig", "arm64", "--json")
    assert r.rc == 0
    assert r.out.endswith("\n") and r.out.count("\n") == 1
    report = json.loads(r.out)
    assert set(report) == {"arch", "machine", "kernel", "config", "tlb_flush_path", "ab", "runs"}
    assert report["arch"] == "arm64"
    assert report["machine"] == {"cpus": 96, "profile": "kunpeng920", "ghz": 2.6}
    assert report["config"]["ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH"] == "n"
    assert report["config"]["NR_CPUS"] == "256"
    assert report["tlb_flush_path"]["batched"] is False
    assert "EXPERT=n" in report["tlb_flush_path"]["reason"]
    assert "Booting minikernel/arm64" in r.err
    assert "tlb: batched unmap TLB flush disabled" in r.err


def test_json_with_sets_and_smp(run_cli):
    r = run_cli("--defconfig", "arm64", "--set", "EXPERT=y", "--set",
                "ARM64_NR_CPUS_FOR_BATCHED_TLB=4", "--smp", "8", "--json")
    report = json.loads(r.out)
    assert report["machine"]["cpus"] == 8
    assert report["config"]["ARM64_NR_CPUS_FOR_BATCHED_TLB"] == "4"
    assert report["tlb_flush_path"]["batched"] is True


def test_x86_json(run_cli):
    report = json.loads(run_cli("--defconfig", "x86", "--json").out)
    assert report["arch"] == "x86" and report["machine"]["cpus"] == 48
    assert report["tlb_flush_path"]["batched"] is True


def test_json_log_format_is_one_object_per_line(run_cli):
    r = run_cli("--defconfig", "x86", "--json", "--log-format", "json")
    events = [json.loads(line) for line in r.err.splitlines()]
    assert [e["event"] for e in events][0] == "Booting minikernel/x86"
    # The configured kernel boots first; the A/B's flipped kernel boots after it.
    reasons = [e["reason"] for e in events if "reason" in e]
    assert reasons[0] == json.loads(r.out)["tlb_flush_path"]["reason"]
    assert reasons[1] == json.loads(r.out)["runs"][1]["flush_path"]["reason"]


def test_log_level_filters(run_cli):
    assert run_cli("--defconfig", "x86", "--log-level", "warning").err == ""


def test_text_report(run_cli):
    r = run_cli("--defconfig", "arm64", "--set", "EXPERT=y")
    assert r.out.splitlines()[0] == "minikernel/arm64 on 96 CPUs"
    assert "TLB flush path: batched: deferring: 96 online CPUs > CONFIG_ARM64_NR_CPUS_FOR_BATCHED_TLB=8" in r.out
    assert "  CONFIG_ARM64_NR_CPUS_FOR_BATCHED_TLB=8" in r.out
    assert "Booting" not in r.out


def test_boot_from_saved_config(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli("defconfig", "x86").rc == 0
    report = json.loads(run_cli("--config", ".config", "--json").out)
    assert report["arch"] == "x86"


def test_config_without_arch_line_uses_arch_env(run_cli, monkeypatch):
    path = str(srctree() / "arch" / "x86" / "configs" / "defconfig")
    monkeypatch.setenv("ARCH", "x86")
    assert json.loads(run_cli("--config", path, "--json").out)["arch"] == "x86"


def test_dropped_line_in_config_is_a_boot_warning(run_cli, tmp_path):
    p = tmp_path / "my.config"
    p.write_text("CONFIG_ARM64=y\nCONFIG_ARM64_NR_CPUS_FOR_BATCHED_TLB=4\n")
    r = run_cli("--config", str(p), "--json")
    assert r.rc == 0
    assert "kconfig: assignment did not take" in r.err
    assert "ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH [=n] ← EXPERT [=n]" in r.err
    json.loads(r.out)


def test_run_main_job_result_is_the_report(monkeypatch, run_cli):
    from minikernel import cli

    monkeypatch.setattr(cli, "run_main_job",
                        lambda kernel, args: {**cli.boot_report(kernel), "runs": [1]})
    assert json.loads(run_cli("--defconfig", "x86", "--json").out)["runs"] == [1]


# --- config verbs on ./.config ---------------------------------------------------

@pytest.mark.parametrize("arch", ["arm64", "x86"])
def test_savedefconfig_after_defconfig_reproduces_defconfig(run_cli, tmp_path, monkeypatch, arch):
    monkeypatch.chdir(tmp_path)
    r = run_cli("defconfig", arch)
    assert r.rc == 0
    assert r.out == "*** Default configuration is based on 'defconfig'\n#\n# configuration written to .config\n#\n"
    assert (tmp_path / ".config").read_text().startswith(HEADER.format(arch=arch))
    assert run_cli("savedefconfig").rc == 0
    expected = (srctree() / "arch" / arch / "configs" / "defconfig").read_bytes()
    assert (tmp_path / "defconfig").read_bytes() == expected
    assert run_cli("savedefconfig", "--out", "min").rc == 0
    assert (tmp_path / "min").read_bytes() == expected


def test_defconfig_again_reports_no_change(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_cli("defconfig", "arm64")
    assert run_cli("defconfig", "arm64").out.endswith("# No change to .config\n")
    assert not (tmp_path / ".config.old").exists()


def test_config_enable_disable_set_val_state(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_cli("defconfig", "arm64")
    before = (tmp_path / ".config").read_text()
    r = run_cli("config", "--state", "EXPERT", "--enable", "EXPERT",
                "--set-val", "ARM64_NR_CPUS_FOR_BATCHED_TLB", "16", "--disable", "ZRAM",
                "--state", "ARM64_NR_CPUS_FOR_BATCHED_TLB", "--state", "CONFIG_ZRAM")
    assert (r.rc, r.out) == (0, "n\n16\nn\n")
    text = (tmp_path / ".config").read_text()
    assert "CONFIG_EXPERT=y\n" in text and "CONFIG_ARM64_NR_CPUS_FOR_BATCHED_TLB=16\n" in text
    assert "# CONFIG_ZRAM is not set\n" in text
    assert (tmp_path / ".config.old").read_text() == before
    r = run_cli("config", "--disable", "EXPERT", "--state", "ARM64_NR_CPUS_FOR_BATCHED_TLB")
    assert r.out == "undef\n"
    assert "ARM64_NR_CPUS_FOR_BATCHED_TLB" not in (tmp_path / ".config").read_text()


def test_config_state_only_does_not_write(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_cli("defconfig", "x86")
    assert run_cli("config", "--state", "NR_CPUS").out == "512\n"
    assert not (tmp_path / ".config.old").exists()


def test_config_assignment_that_does_not_take_writes_nothing(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_cli("defconfig", "arm64")
    before = (tmp_path / ".config").read_text()
    r = run_cli("config", "--set-val", "ARM64_NR_CPUS_FOR_BATCHED_TLB", "4")
    assert r.rc == 2
    assert "ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH [=n] ← EXPERT [=n]" in r.err
    assert (tmp_path / ".config").read_text() == before
    assert not (tmp_path / ".config.old").exists()


def test_kconfig_config_env_selects_the_file(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KCONFIG_CONFIG", "build.cfg")
    run_cli("defconfig", "x86")
    run_cli("config", "--enable", "EXPERT")
    assert not (tmp_path / ".config").exists()
    assert "CONFIG_EXPERT=y" in (tmp_path / "build.cfg").read_text()
    assert (tmp_path / "build.cfg.old").exists()
    assert json.loads(run_cli("--config", "build.cfg", "--json").out)["config"]["EXPERT"] == "y"


def test_olddefconfig_drops_stale_values_and_warns(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_cli("defconfig", "arm64")
    run_cli("config", "--enable", "EXPERT")
    cfg = tmp_path / ".config"
    cfg.write_text(cfg.read_text().replace("CONFIG_EXPERT=y", "# CONFIG_EXPERT is not set"))
    r = run_cli("olddefconfig")
    assert r.rc == 0
    assert "CONFIG_ARM64_NR_CPUS_FOR_BATCHED_TLB=8 did not take" in r.err
    assert "BATCHED" not in cfg.read_text().replace("# CONFIG_ARCH_WANT", "")


def test_olddefconfig_without_config_uses_arch_env(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARCH", "x86_64")
    assert run_cli("olddefconfig").rc == 0
    assert "CONFIG_X86=y" in (tmp_path / ".config").read_text()


def test_console_script_and_module_are_the_same_program(tmp_path, cli_env):
    script = Path(sys.executable).with_name("minikernel")
    if not script.exists():
        pytest.skip("no minikernel console script next to this interpreter")
    outs = []
    for cmd in ([str(script)], [sys.executable, "-m", "minikernel"]):
        p = subprocess.run([*cmd, "--defconfig", "x86", "--json"], cwd=tmp_path, env=cli_env(),
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        outs.append(json.loads(p.stdout))
    assert outs[0] == outs[1]


# --- bad input: exit 2, one line, no traceback ---------------------------------

BAD = {
    "unknown arch": (["--defconfig", "mips"], "unknown arch 'mips': expected one of arm64, riscv, x86"),
    "unknown defconfig arch": (["defconfig", "sparc"], "unknown arch 'sparc'"),
    "missing config file": (["--config", "nope.config"], "nope.config: no such file"),
    "config is a directory": (["--config", "."], ".: is a directory: expected a .config"),
    "malformed line": (["--config", "bad.config"], "bad.config:2: malformed line 'CONFIG_FOO is y'"),
    "m value in file": (["--config", "m.config"], "m.config:2: CONFIG_SWAP=m: tristate 'm' is not supported"),
    "unknown symbol": (["--defconfig", "arm64", "--set", "SWAPP=y"],
                       "unknown Kconfig symbol CONFIG_SWAPP (did you mean CONFIG_SWAP?)"),
    "bad value": (["--defconfig", "arm64", "--set", "NR_CPUS=lots"], "expected a decimal integer"),
    "out of range": (["--defconfig", "x86", "--set", "NR_CPUS=1000"], "expected 2..512"),
    "m value": (["--defconfig", "x86", "--set", "ZRAM=m"], "tristate 'm' is not supported"),
    "did not take": (["--defconfig", "arm64", "--set", "ARM64_NR_CPUS_FOR_BATCHED_TLB=4"],
                     "ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH [=n] ← EXPERT [=n]"),
    "cpus too many": (["--defconfig", "arm64", "--smp", "257"], "CPU count 257 out of range: expected 1..256"),
    "cpus zero": (["--defconfig", "x86", "--smp", "0"], "CPU count 0 out of range"),
    "smp not int": (["--defconfig", "x86", "--smp", "many"], "argument --smp: invalid int value: 'many'"),
    "unknown option": (["--defconfig", "x86", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    "both sources": (["--defconfig", "x86", "--config", "x"], "not allowed with argument"),
    "nothing to boot": ([], "expected --defconfig ARCH or --config FILE"),
    "unknown command": (["frob"], "invalid choice: 'frob'"),
    "set without value": (["--defconfig", "x86", "--set", "EXPERT"], "--set EXPERT: expected SYM=VAL"),
    "arch not inferable": (["--config", "noarch.config"], "cannot tell the arch"),
    "savedefconfig without .config": (["savedefconfig"], ".config: no such file"),
    "config without .config": (["config", "--enable", "EXPERT"], ".config: no such file"),
    "config without ops": (["config"], "nothing to do"),
    "boot option with a command": (["--defconfig", "x86", "defconfig", "arm64"],
                                   "--defconfig cannot be combined with the defconfig command"),
    "menuconfig without a tty": (["menuconfig"], "use `minikernel config --enable SYM"),
    "bad log format": (["--defconfig", "x86", "--log-format", "xml"], "argument --log-format: invalid choice"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input_exits_2_with_one_line(run_cli_proc, tmp_path, case):
    argv, expected = BAD[case]
    (tmp_path / "bad.config").write_text("CONFIG_ARM64=y\nCONFIG_FOO is y\n")
    (tmp_path / "m.config").write_text("CONFIG_X86=y\nCONFIG_SWAP=m\n")
    (tmp_path / "noarch.config").write_text("CONFIG_EXPERT=y\n")
    r = run_cli_proc(*argv)
    assert r.rc == 2, r.err
    assert "Traceback" not in r.err
    assert r.err.count("\n") == 1 and r.err.endswith("\n"), r.err
    assert expected in r.err
    assert r.out == ""


def test_help_exits_0(run_cli):
    r = run_cli("--help")
    assert r.rc == 0 and "--defconfig ARCH" in r.out


# --- Makefile: the kernel's spelling of the verbs ----------------------------------

@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_makefile_verbs(tmp_path, cli_env):
    def make(*args):
        p = subprocess.run(["make", "-s", "-f", str(REPO / "Makefile"), f"PYTHON={sys.executable}", *args],
                           cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return p.stdout

    assert "configuration written to .config" in make("ARCH=arm64", "defconfig")
    make("olddefconfig")
    make("savedefconfig")
    assert (tmp_path / "defconfig").read_bytes() == (REPO / "arch/arm64/configs/defconfig").read_bytes()


# --- issue 13: user files, small semantics ------------------------------------------

def test_defconfig_never_renames_a_directory_at_kconfig_config(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "mine").write_text("keep\n")
    monkeypatch.setenv("KCONFIG_CONFIG", "d")
    r = run_cli("defconfig", "arm64")
    assert r.rc == 2 and "is a directory" in r.err
    assert (tmp_path / "d" / "mine").read_text() == "keep\n"
    assert not (tmp_path / "d.old").exists()


@pytest.mark.parametrize("verb", [("defconfig", "arm64"), ("config", "--enable", "EXPERT")])
def test_config_write_without_a_backup_is_refused(run_cli, tmp_path, monkeypatch, verb):
    # A build directory where .config.old cannot be made (as root, chmod does not stop
    # writes, so the failing copy is injected): refuse, and leave .config as it was.
    import shutil

    monkeypatch.chdir(tmp_path)
    assert run_cli("defconfig", "x86").rc == 0
    before = (tmp_path / ".config").read_bytes()

    def no_backup(src, dst, **kw):
        raise PermissionError(13, "Permission denied", dst)

    monkeypatch.setattr(shutil, "copyfile", no_backup)
    r = run_cli(*verb)
    assert r.rc == 2 and "cannot write" in r.err and r.err.count("\n") == 1
    assert (tmp_path / ".config").read_bytes() == before
    assert not (tmp_path / ".config.old").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_config_write_in_a_read_only_directory_is_refused(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli("defconfig", "x86").rc == 0
    before = (tmp_path / ".config").read_bytes()
    tmp_path.chmod(0o555)
    try:
        r = run_cli("config", "--enable", "EXPERT")
    finally:
        tmp_path.chmod(0o755)
    assert r.rc == 2 and "not writable" in r.err
    assert (tmp_path / ".config").read_bytes() == before


def test_savedefconfig_keeps_an_existing_out_file_as_old(run_cli, tmp_path, monkeypatch):
    # The kernel's savedefconfig overwrites ./defconfig; here the user's file is kept.
    monkeypatch.chdir(tmp_path)
    assert run_cli("defconfig", "arm64").rc == 0
    (tmp_path / "defconfig").write_text("CONFIG_MINE=y\n")
    assert run_cli("savedefconfig").rc == 0
    assert (tmp_path / "defconfig.old").read_text() == "CONFIG_MINE=y\n"
    assert (tmp_path / "defconfig").read_bytes() == (REPO / "arch/arm64/configs/defconfig").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".config", "defconfig", "defconfig.old"]


def test_trace_keeps_an_existing_file_as_old(run_cli, tmp_path):
    mine = tmp_path / "t.txt"
    mine.write_text("my notes\n")
    r = run_cli("--defconfig", "x86", "--iterations", "1", "--trace", str(mine), "--json")
    assert r.rc == 0
    assert (tmp_path / "t.txt.old").read_text() == "my notes\n"
    assert mine.read_text().startswith("# tracer: nop")


def test_config_state_of_an_unknown_symbol_is_undef(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli("defconfig", "arm64").rc == 0
    r = run_cli("config", "--state", "FOO", "--state", "EXPERT")
    assert r.rc == 0 and r.out == "undef\nn\n"


def test_duplicate_config_line_is_logged_as_an_override(run_cli, tmp_path):
    cfg = tmp_path / "dup.config"
    cfg.write_text("CONFIG_ARM64=y\nCONFIG_EXPERT=y\nCONFIG_EXPERT=n\n")
    r = run_cli("--config", str(cfg), "--iterations", "1", "--json")
    assert r.rc == 0
    assert "override: symbol set more than once" in r.err and "dup.config:3" in r.err
    assert json.loads(r.out)["config"]["EXPERT"] == "n"


def test_arch_env_that_loses_to_the_file_is_logged(run_cli, tmp_path, monkeypatch):
    cfg = tmp_path / "a.config"
    cfg.write_text("CONFIG_ARM64=y\n")
    monkeypatch.setenv("ARCH", "x86")
    r = run_cli("--config", str(cfg), "--iterations", "1", "--json")
    assert r.rc == 0 and json.loads(r.out)["arch"] == "arm64"
    assert "ARCH=x86 ignored" in r.err and "the file's arch wins" in r.err


def test_arch_option_for_a_config_without_an_arch_line(run_cli, tmp_path):
    cfg = tmp_path / "defconfig"
    cfg.write_text("CONFIG_EXPERT=y\n")
    r = run_cli("--config", str(cfg), "--arch", "x86", "--iterations", "1", "--json")
    assert r.rc == 0 and json.loads(r.out)["arch"] == "x86"


def test_version(run_cli):
    r = run_cli("--version")
    assert r.rc == 0 and r.out.startswith("minikernel ")


def test_iterations_above_the_bound_need_force(run_cli, monkeypatch):
    import minikernel.report

    def must_not_run(*a, **kw):
        raise AssertionError("1001 iterations ran without --force")

    monkeypatch.setattr(minikernel.report, "run_ab", must_not_run)
    r = run_cli("--defconfig", "arm64", "--iterations", "1001")
    assert r.rc == 2 and "--force" in r.err
    from minikernel.cli import _check_iterations

    _check_iterations(1001, True)               # --force lets it through (not run: minutes)


def test_the_command_line_tunes_the_jit_before_it_runs_a_command(tmp_path, monkeypatch):
    """main() calls compat.tune_jit() (PyPy's trace limit; nothing on CPython) before the verb runs."""
    from minikernel import cli
    calls = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "tune_jit", lambda: calls.append((tmp_path / ".config").exists()))
    assert cli.main(["defconfig", "x86"]) == 0
    assert calls == [False] and (tmp_path / ".config").is_file()


def test_tune_jit_sets_the_trace_limit_only_where_there_is_a_jit(monkeypatch):
    import sys
    import types

    from minikernel import compat
    seen = []
    monkeypatch.setitem(sys.modules, "pypyjit", types.SimpleNamespace(set_param=seen.append))
    compat.tune_jit()
    assert seen == [f"trace_limit={compat.PYPY_TRACE_LIMIT}"]

    def refuse(_):
        raise SystemError("TraceLimitTooHigh")
    monkeypatch.setitem(sys.modules, "pypyjit", types.SimpleNamespace(set_param=refuse))
    compat.tune_jit()                   # a PyPy that refuses the value keeps its own
    monkeypatch.setitem(sys.modules, "pypyjit", None)     # CPython: import fails
    compat.tune_jit()
