"""Shared fixtures, SimPy-style: small and explicit.

  kernel_config   parametrized over (arch, defconfig [+ tests/configs fragment])
  fragment_sets() a tests/configs/*.config fragment as --set assignments
  run_cli         in-process main() with captured stdout/stderr
  run_cli_proc    `python -m minikernel` in a subprocess (for "no traceback")
  cli_env         environment for such subprocesses
  report_line     a line for the terminal summary (e.g. how many property examples paused)
  cpython_extra   import a module of the CPython-only part of the test extra
  cover_letter    the Snapdragon's published measurements as the files a user
                  gives `minikernel fit` (perf report --stdio text, `time` output)

Tests marked ``slow`` (registered in pyproject.toml) are skipped unless
pytest runs with ``--run-slow``.
"""

from __future__ import annotations

import importlib
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import structlog
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

import minikernel

TESTS = Path(__file__).resolve().parent
CONFIGS = TESTS / "configs"
REPO = TESTS.parent

# Deterministic property tests that write nothing into the checkout
# (no .hypothesis/ example database or cache).
settings.register_profile("minikernel", database=None, derandomize=True, deadline=None)
settings.load_profile("minikernel")
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "minikernel-hypothesis"))

# (arch, fragment or None): both sides of every config-dependent path.
KERNEL_CONFIGS = [
    ("arm64", None),
    ("arm64", "arm64_batched"),
    ("arm64", "arm64_erratum"),
    ("x86", None),
    ("x86", "x86_nobatch"),
    ("riscv", None),
    ("riscv", "riscv_nobatch"),
]


PYPY = platform.python_implementation() == "PyPy"


def cpython_extra(module: str):
    """Import `module`, one of the test extra's packages that PyPy cannot install.

    Under CPython it is a plain import: the test extra is installed, so a
    missing module fails the test (never a silent skip).  Under PyPy, which
    installs only the test-core extra (pyproject.toml), the test is skipped
    with the reason.
    """
    if PYPY:
        return pytest.importorskip(module, reason=f"{module}: not installable under PyPy "
                                   "(pyproject.toml test-core)")
    return importlib.import_module(module)


_REPORT = pytest.StashKey[list]()


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run the tests marked slow (skipped by default)")


def pytest_collection_modifyitems(config, items):
    """Skip the ``slow`` tests unless --run-slow: each is a longer run of checks
    that a cheaper test in the default suite also makes."""
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: runs only with --run-slow")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)


def pytest_configure(config):
    config.stash[_REPORT] = []
    _add_sanitizer_marker(config)


def pytest_terminal_summary(terminalreporter, config):
    lines = config.stash.get(_REPORT, [])
    if lines:
        terminalreporter.section("minikernel")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture
def report_line(request):
    """report_line(text): print *text* in the terminal summary (figures a test measured)."""
    return request.config.stash[_REPORT].append


def fragment_sets(name: str) -> list[str]:
    """tests/configs/NAME.config as SYM=VAL assignments (comments skipped)."""
    out = []
    for line in (CONFIGS / f"{name}.config").read_text().splitlines():
        line = line.strip()
        if line.startswith("CONFIG_"):
            out.append(line[len("CONFIG_"):])
        elif line.startswith("# CONFIG_") and line.endswith(" is not set"):
            out.append(line[len("# CONFIG_"):-len(" is not set")] + "=n")
    return out


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    """No test sees the developer's build directory settings; structlog is
    back to its defaults after each test (main() configures it)."""
    for var in ("KCONFIG_CONFIG", "ARCH", "srctree", "SRCARCH", "KCONFIG_WARN_UNDEF"):
        monkeypatch.delenv(var, raising=False)
    yield
    structlog.reset_defaults()


@pytest.fixture(params=KERNEL_CONFIGS, ids=lambda p: p[1] or f"{p[0]}_defconfig")
def kernel_config(request):
    from minikernel.kconfig import load_kernel_config

    arch, fragment = request.param
    return load_kernel_config(arch, sets=fragment_sets(fragment) if fragment else ())


@dataclass
class CliResult:
    rc: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys):
    """Run minikernel's main() in-process; returns CliResult."""
    from minikernel.cli import main

    def run(*argv: str) -> CliResult:
        rc = main(list(argv))
        cap = capsys.readouterr()
        return CliResult(rc, cap.out, cap.err)

    return run


@pytest.fixture(name="cpython_extra")
def cpython_extra_fixture():
    """cpython_extra(module) as a fixture."""
    return cpython_extra


def cover_letter_perf(children: bool = False, noise: bool = True) -> str:
    """A perf report --stdio text from the published Snapdragon lines (published.toml)."""
    from minikernel.published import published
    d = published()["snapdragon888"]["unbatched"]["perf"]
    lines = ["# Samples: 60K of event 'cycles'", f"# Event count (approx.): {d['event_count']}",
             "#", ("# Children      Self  Command  Shared Object      Symbol" if children else
                   "# Overhead  Command  Shared Object      Symbol"), "#"]
    for sym, pct in d["symbols"]:
        col = f"{min(pct * 2, 99):8.2f}%  {pct:8.2f}%" if children else f"{pct:8.2f}%"
        lines.append(f"  {col}  a.out    [kernel.kallsyms]  [k] {sym}")
        if children:
            lines.append("            |")
            lines.append("            ---el0_svc")
    if noise:
        lines.append("     0.40%  a.out    libc.so.6          [.] __memset_generic")
        lines.append("     0.30%  perf     [kernel.kallsyms]  [k] ptep_clear_flush")
    return "\n".join(lines) + "\n"


def cover_letter_time() -> str:
    """The Snapdragon's unbatched `time` (busybox's one line), after a shell prompt."""
    from minikernel.published import published
    tm = published()["snapdragon888"]["unbatched"]["time"]
    return (f"~ # time taskset -c 4 ./a.out\n {tm['user_s']:.2f}user {tm['sys_s']:.2f}system "
            f"0:{tm['elapsed_s']:.2f}elapsed\n")


@pytest.fixture(name="cover_letter", scope="session")
def cover_letter_fixture():
    """cover_letter.perf(children=, noise=) and cover_letter.time(): file texts."""
    return SimpleNamespace(perf=cover_letter_perf, time=cover_letter_time)


@pytest.fixture(name="cli_env")
def cli_env_fixture():
    """cli_env(**extra) as a fixture (test modules cannot import conftest
    under --import-mode=importlib)."""
    return cli_env


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for a subprocess that imports the minikernel under test."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("KCONFIG_CONFIG", "ARCH", "srctree", "SRCARCH")}
    env["PYTHONPATH"] = str(Path(minikernel.__file__).resolve().parent.parent)
    env.update(extra)
    return env


@pytest.fixture
def run_cli_proc(tmp_path):
    """Run `python -m minikernel ARGS` in a subprocess, cwd=tmp_path."""

    def run(*argv: str, cwd: Path | None = None, **env: str) -> CliResult:
        p = subprocess.run(
            [sys.executable, "-m", "minikernel", *argv],
            cwd=cwd or tmp_path, env=cli_env(**env), capture_output=True, text=True,
            stdin=subprocess.DEVNULL, timeout=60,
        )
        return CliResult(p.returncode, p.stdout, p.stderr)

    return run


def _add_sanitizer_marker(config):
    config.addinivalue_line(
        "markers", "stale_entries: the test leaves stale TLB entries on purpose; the TLB "
                   "sanitizer's reports are not checked")


@pytest.fixture
def make_machine(request):
    """make_machine(arch, *sets, cpus=4, trace=False, profile=None, observe=()) -> a booted Machine.

    *profile*: a MachineProfile or a built-in name (default: the arch's
    default profile), with *cpus* online.  *observe*: functions subscribing
    a test's observers (``Machine(..., observe=)``, minikernel/observe.py),
    after the sanitizer's.

    The TLB sanitizer is on (DEBUG_TLB_SANITIZER=y, as the issue asks of tests):
    at teardown every machine built here must have reported no violation,
    unless the test is marked ``stale_entries`` (it breaks a flush on purpose).
    """
    from minikernel.kconfig import load_kernel_config
    from minikernel.machine import Machine
    from minikernel.profile import default_profile

    machines = []

    def make(arch: str, *sets: str, cpus: int = 4, trace: bool = False, profile=None,
             observe=()):
        from minikernel.profile import load_profile
        cfg = load_kernel_config(arch, sets=("DEBUG_TLB_SANITIZER=y", *sets))
        if profile is None:
            prof = default_profile(arch, cpus)
        else:
            prof = (load_profile(profile) if isinstance(profile, str) else profile).with_cpus(cpus)
        m = Machine(cfg, prof, trace=trace, observe=observe)
        machines.append(m)
        return m

    yield make
    if request.node.get_closest_marker("stale_entries") is None:
        for m in machines:
            assert m.sanitizer is not None
            assert [v.kind for v in m.sanitizer.violations] == [], \
                m.sanitizer.violations[0]
