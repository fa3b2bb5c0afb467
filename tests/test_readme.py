"""Every command in README.md is run, and every Python block runs as written.

Commands come from the README's ```sh blocks, from ``$ `` lines of any
block, from inline `minikernel ...` spans, and from inline spans that start
with another command (`python ...`, `make ...`, `git ...`, `pip ...`,
`tools/...py ...`; see INLINE_COMMAND).  Each one is run from a scratch
build directory (with ``scenarios/``, ``benchmarks/``, ``minikernel/`` and
``tools/`` linked in, so the README's relative paths work) unless a table
below says otherwise:

  SMALLER    commands that take more than a few seconds: the test runs the
             smaller equivalent given (same options, fewer points or
             iterations) -- README readers run the full one.
  ELSEWHERE  commands another test or .ci/run runs: (file, text, why); the
             file must hold the text (the command or the call that runs it).
  NOT_RUN    commands the suite never runs, each with the reason (they act
             on the user's own machine or environment).
  EXPECT     commands whose documented outcome is not exit status 0.

A README command that is in none of these and fails, one that is in none of
them and is not a command this file knows how to run, or one that was
removed from the README but is still listed here, fails this test: add new
commands to a table only when running them as written is not possible.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()

#: placeholder -> what the test substitutes (README synopses)
PLACEHOLDERS = {"ARCH": "arm64", "FILE": "scenarios/race-2017-mprotect.toml",
                "/path/to/minikernel/Makefile": str(ROOT / "Makefile")}

#: an inline `span` that is a command line: a command word and at least one argument
INLINE_COMMAND = re.compile(r"^(python3?|\.venv(-pypy)?/bin/\S+|make|pip|git|uv|dmesg|apt-get|"
                            r"pypy3|tools/\S+\.py|benchmarks/\S+\.py) +\S")

SMALLER = {
    "minikernel sweep --arch arm64 --cpus 2,4,8,16,32,64,96 --set EXPERT=y --set "
    "ARM64_NR_CPUS_FOR_BATCHED_TLB=1":
        "minikernel sweep --arch arm64 --cpus 2,96 --set EXPERT=y --set "
        "ARM64_NR_CPUS_FOR_BATCHED_TLB=1 --iterations 1 --no-plot",
    "minikernel sweep --arch arm64,x86 --cpus 4..256 --workload seed,threads --jobs 2 --out results/":
        "minikernel sweep --arch arm64,x86 --cpus 4..8 --workload seed,threads --jobs 2 "
        "--out results/ --iterations 1 --no-plot",
    "minikernel sweep --arch arm64 --machine ./mybox.toml --cpus 2..128 --set EXPERT=y --set "
    "ARM64_NR_CPUS_FOR_BATCHED_TLB=1":
        "minikernel sweep --arch arm64 --machine ./mybox.toml --cpus 2,128 --set EXPERT=y --set "
        "ARM64_NR_CPUS_FOR_BATCHED_TLB=1 --iterations 1 --no-plot",
    ".venv/bin/python benchmarks/bench.py --iterations 400 --repeat 3 --full --json bench.json":
        "python benchmarks/bench.py --quick --json bench.json",
    # the default sweep (2..256: 8 points, 5 iterations each, A and B) with --no-ranges
    "minikernel sweep --no-ranges":
        "minikernel sweep --no-ranges --cpus 2,256 --iterations 1 --no-plot",
    # the migrate workload: 10 iterations of 20 moves each by default
    "python -m minikernel --defconfig arm64 --set EXPERT=y --workload migrate":
        "python -m minikernel --defconfig arm64 --set EXPERT=y --workload migrate --iterations 2",
    "python -m minikernel --defconfig arm64 --set EXPERT=y --set MODEL_ARM64_BATCHED_TLB_6_6=y "
    "--workload migrate":
        "python -m minikernel --defconfig arm64 --set EXPERT=y --set MODEL_ARM64_BATCHED_TLB_6_6=y "
        "--workload migrate --iterations 2",
    "python -m minikernel --defconfig x86 --set EXPERT=y --set MODEL_X86_KERNEL_6_6=y "
    "--workload migrate":
        "python -m minikernel --defconfig x86 --set EXPERT=y --set MODEL_X86_KERNEL_6_6=y "
        "--workload migrate --iterations 2",
}

ELSEWHERE = {
    # the suite itself, run by .ci/run in a fresh clone
    "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest":
        (".ci/run", "python3 -m venv .venv && .venv/bin/pip install -e '.[test]'",
         "the whole suite, in a fresh clone (then `.venv/bin/python -m pytest --run-slow`)"),
    "python -m pytest": (".ci/run", ".venv/bin/python -m pytest", "the whole suite"),
    "make test": ("Makefile", "$(PYTHON) -m pytest", "it is `python -m pytest`, which .ci/run runs"),
    # the static checks, run by .ci/run before the tests
    ".venv/bin/ruff check .": (".ci/run", ".venv/bin/ruff check .", "static check"),
    ".venv/bin/python tools/mypy_check.py": (".ci/run", ".venv/bin/python tools/mypy_check.py",
                                             "static check"),
    ".venv/bin/python tools/lint_imports.py": ("tests/test_layering.py", "lint_imports",
                                               "the import contracts (and .ci/run)"),
    # the reference tool: tests/tools/test_reference.py runs each of its command lines
    # (with --jobs 1 and 2) and compares the output byte for byte, which is what
    # --check does.  Running the rewrite here would overwrite tests/reference/ in the
    # checkout before that test compares against it (tests/tools runs after this file).
    ".venv/bin/python tools/update_reference.py":
        ("tests/tools/test_reference.py", "update_reference.py",
         "rewriting tests/reference/ here would defeat the byte-for-byte test"),
    ".venv/bin/python tools/update_reference.py --check":
        ("tests/tools/test_reference.py", "update_reference.py", "what --check compares"),
    "tools/update_reference.py --check":
        ("tests/tools/test_reference.py", "update_reference.py", "what --check compares"),
    # the fit's tables: 34 s; its two halves are tested apart
    "python tools/fit_profiles.py --tables":
        ("tests/tools/test_fit_profiles.py", "ranges_rows()",
         "the range table's rows (the predicted table: tests/minikernel/test_validation.py)"),
    # a curses program: needs a terminal
    "make menuconfig": ("tests/minikernel/test_menuconfig.py", "tmux",
                        "a curses program, driven in a real terminal through tmux"),
    # the optional PyPy route: .ci/run installs pypy3 and runs the suite and the
    # quick benchmark under it
    "apt-get install pypy3 pypy3-venv":
        (".ci/run", "apt-get install -y -qq pypy3 pypy3-venv", "installs a system package"),
    "pypy3 -m venv .venv-pypy && .venv-pypy/bin/pip install -e '.[test-core]' && "
    ".venv-pypy/bin/python -m minikernel --defconfig arm64":
        (".ci/run", "pypy3 -m venv .venv-pypy && .venv-pypy/bin/pip install -q -e '.[test-core]'",
         "the PyPy step (its update_reference --check runs the main job)"),
    ".venv-pypy/bin/python -m pytest": (".ci/run", ".venv-pypy/bin/python -m pytest",
                                        "the PyPy step"),
    ".venv-pypy/bin/python benchmarks/bench.py --iterations 400 --repeat 3 --full --json "
    "bench-pypy.json": (".ci/run", ".venv-pypy/bin/python benchmarks/bench.py --quick --full",
                        "the PyPy step, at --quick size"),
}

NOT_RUN = {
    # measurements on the user's own machine (perf, the benchmark binary); the suite
    # feeds the fit what they would produce (tests/minikernel/test_fit.py, the
    # fit_inputs fixture below)
    "perf record -- taskset -c 4 ./a.out && perf report --stdio > perf.txt":
        "measures the benchmark binary on the user's machine",
    "( time taskset -c 4 ./a.out ) 2> time.txt":
        "measures the benchmark binary on the user's machine",
    "perf annotate --stdio ptep_clear_flush > annotate.txt":
        "measures the benchmark binary on the user's machine",
    "dmesg | grep -i kpti": "reads the boot log of the user's own arm64 machine",
    "uv python install pypy": "the route the README does not take: it downloads an "
                              "interpreter from outside the package registries",
    "pip install '.[dask]'": "installs into the user's environment; the test extra "
                             "holds both extras (test_sweep.py checks it), so the suite has them",
    "pip install '.[plot]'": "installs into the user's environment; the test extra "
                             "holds both extras (test_sweep.py checks it), so the suite has them",
    "python -m minikernel": "names the program (the sentence says it is the console "
                            "script), not a command line",
}

#: The fit walk-through runs as written: the work directory holds perf.txt and
#: time.txt built from the Snapdragon's published lines (what step 1 measures
#: on the user's machine), and mybox.toml is what step 2's fit makes of them,
#: so step 3's commands run on a fitted profile.
FIT_STEP = ("minikernel fit --perf perf.txt --time time.txt --cpus 8 --ghz 2.42 --cores "
            "cortex-a78 --name mybox --out mybox.toml")

#: the install step of the first set-up command is the wheel build of
#: test_packaging.py; its last step, the main job, runs here
SETUP_MAIN = ("python3 -m venv .venv && .venv/bin/pip install . && "
              ".venv/bin/python -m minikernel --defconfig arm64")

EXPECT = {
    # the README shows this error on purpose
    "minikernel --defconfig arm64 --set ARM64_NR_CPUS_FOR_BATCHED_TLB=4": 2,
}


def readme_commands() -> list[str]:
    """Commands of ```sh blocks, ``$ `` lines, and inline `minikernel ...` spans."""
    cmds: list[str] = []
    for lang, body in re.findall(r"```(\w*)\n(.*?)```", README, flags=re.S):
        lines = body.replace("\\\n", " ").splitlines()
        for line in lines:
            if line.strip().startswith("$ "):
                cmds.append(line.strip()[2:].strip())
            elif lang == "sh" and line.strip() and not line.lstrip().startswith("#"):
                cmds.append(re.sub(r"\s+#.*$", "", line).strip())
    for span in re.findall(r"`(minikernel [^`]+)`", README.replace("\n", " ")):
        if "--" in span or " " in span.split(" ", 1)[1].strip():
            cmds.append(re.sub(r"\s+", " ", span))
    prose = re.sub(r"```.*?```", "", README, flags=re.S).replace("\n", " ")
    cmds += [re.sub(r"\s+", " ", s) for s in re.findall(r"`([^`]+)`", prose)
             if INLINE_COMMAND.match(re.sub(r"\s+", " ", s))]
    seen: dict[str, None] = {}
    for c in cmds:
        seen.setdefault(_concrete(c))
    return list(seen)


def _concrete(cmd: str) -> str:
    """A synopsis made runnable: [optional ...] groups dropped, placeholders filled."""
    cmd = re.sub(r"\s+\[-[^\]]*\]", "", cmd)
    words = [PLACEHOLDERS.get(w, w) for w in cmd.split()]
    return " ".join(words)


@pytest.fixture(scope="module")
def fit_inputs(cover_letter, tmp_path_factory):
    """{file name: text} of the fit walk-through: its inputs and the profile step 2 writes."""
    import contextlib
    import io

    from minikernel.cli import main
    files = {"perf.txt": cover_letter.perf(children=True), "time.txt": cover_letter.time()}
    d = tmp_path_factory.mktemp("fit")
    for name, text in files.items():
        (d / name).write_text(text)
    argv = [str(d / a) if a in (*files, "mybox.toml") else a for a in shlex.split(FIT_STEP)[1:]]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(argv) == 0
    files["mybox.toml"] = (d / "mybox.toml").read_text()
    return files


def _workdir(tmp_path: Path, fit_files: dict[str, str]) -> Path:
    for name in ("scenarios", "benchmarks", "tools", "minikernel"):
        (tmp_path / name).symlink_to(ROOT / name)
    mine = 'inherit = "kunpeng920"\n[machine]\nname = "mine"\ncpus = 64\n'
    (tmp_path / "mine.toml").write_text(mine)
    for name, text in fit_files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def _argv(cmd: str) -> list[str]:
    argv = shlex.split(cmd)
    if argv[0] == "minikernel":
        return [sys.executable, "-m", "minikernel", *argv[1:]]
    if argv[0] in ("python", "python3", ".venv/bin/python"):
        return [sys.executable, *argv[1:]]
    if argv[0] == "make":
        if argv[1:2] == ["-f"]:
            return ["make", *argv[1:3], f"PYTHON={sys.executable}", *argv[3:]]
        return ["make", "-f", str(ROOT / "Makefile"), f"PYTHON={sys.executable}", *argv[1:]]
    if argv[0] == "git":                # about the checkout itself
        return ["git", "-C", str(ROOT), *argv[1:]]
    raise AssertionError(f"README command {cmd!r}: add it to a table of tests/test_readme.py")


COMMANDS = readme_commands()


def test_the_tables_name_only_readme_commands():
    listed = set(SMALLER) | set(ELSEWHERE) | set(NOT_RUN) | set(EXPECT) | {SETUP_MAIN, FIT_STEP}
    stale = sorted(c for c in listed if c not in COMMANDS)
    assert not stale, f"no longer in README.md: {stale}"
    assert not set(ELSEWHERE) & set(NOT_RUN) and all(NOT_RUN.values())


@pytest.mark.parametrize("cmd", sorted(ELSEWHERE))
def test_a_command_run_elsewhere_is_run_there(cmd):
    path, text, why = ELSEWHERE[cmd]
    assert why and text in (ROOT / path).read_text(), f"{cmd}: {path} no longer runs {text!r}"


@pytest.mark.parametrize("cmd", [c for c in COMMANDS if c not in ELSEWHERE and c not in NOT_RUN],
                         ids=str)
def test_readme_command_runs(cmd, tmp_path, cli_env, fit_inputs):
    run = SMALLER.get(cmd, cmd)
    if cmd == SETUP_MAIN:
        run = "minikernel --defconfig arm64"
    work = _workdir(tmp_path, fit_inputs)
    if run.startswith("minikernel explore"):       # FILE: an explorer input (finds the race)
        run = run.replace("race-2017-mprotect.toml", "explore-2017-mprotect.toml")
    if run.split()[:2] in (["minikernel", "olddefconfig"], ["minikernel", "savedefconfig"],
                           ["minikernel", "config"], ["make", "olddefconfig"],
                           ["make", "savedefconfig"]):
        subprocess.run(_argv("minikernel defconfig arm64"), cwd=work, env=cli_env(),
                       check=True, capture_output=True, timeout=60)
    p = subprocess.run(_argv(run), cwd=work, env=cli_env(), capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=120)
    expected = EXPECT.get(cmd, 1 if run.startswith("minikernel explore") else 0)
    assert p.returncode == expected, f"{run}: exit {p.returncode}\n{p.stderr[-2000:]}"
    assert "Traceback" not in p.stderr


def test_the_documented_error_is_what_the_program_prints(run_cli):
    block = re.search(r"\$ (minikernel --defconfig arm64 --set "
                      r"ARM64_NR_CPUS_FOR_BATCHED_TLB=4)\n\s*(.*?)\n\s*```", README, flags=re.S)
    r = run_cli(*shlex.split(block.group(1))[1:])
    assert r.rc == 2 and r.err.strip() == block.group(2).strip()


PY_BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize("i", range(len(PY_BLOCKS)))
def test_python_block_runs_as_written(i, tmp_path, cli_env):
    script = tmp_path / f"block{i}.py"
    script.write_text(PY_BLOCKS[i])
    p = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=cli_env(),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"README python block {i}:\n{PY_BLOCKS[i]}\n{p.stderr[-2000:]}"


def test_every_readme_command_is_found():
    # the extraction itself: a few known commands of different shapes
    assert "minikernel defconfig arm64" in COMMANDS or "make ARCH=arm64 defconfig" in COMMANDS
    assert any(c.startswith("minikernel sweep --arch arm64,x86") for c in COMMANDS)
    assert any(c.startswith("minikernel scenario scenarios/") for c in COMMANDS)


# --- the usage block against the real parser ---------------------------------------------

def _parser_options() -> dict[str, dict[str, tuple | None]]:
    """verb ('' for the main job) -> {--option: its choices or None}, from build_parser()."""
    import argparse

    from minikernel.cli import build_parser

    def opts(p):
        return {o: (tuple(a.choices) if a.choices else None) for a in p._actions
                if not isinstance(a, argparse._SubParsersAction) and a.help != argparse.SUPPRESS
                for o in a.option_strings if o.startswith("--") and o != "--help"}

    parser = build_parser()
    out = {"": opts(parser)}
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            out.update({name: opts(sp) for name, sp in a.choices.items()})
    return out


def _usage_block() -> str:
    section = README.split("\n## Command line\n", 1)[1]
    return re.search(r"```\n(.*?)```", section, flags=re.S).group(1)


def _synopses() -> dict[str, list[str]]:
    """verb -> its README synopsis lines: the usage block under "Command line", the
    ```sh synopses (lines with [optional] groups) of the sections, and the rows of
    sweep's option table."""
    lines: list[str] = []
    for raw in _usage_block().splitlines():       # continuation lines are indented
        if raw.startswith(" ") and lines:
            lines[-1] += " " + raw.strip()
        elif raw.strip():
            lines.append(raw.strip())
    for body in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        for line in body.replace("\\\n", " ").splitlines():
            if line.strip().startswith("minikernel ") and "[" in line:
                lines.append(line.strip())
    out: dict[str, list[str]] = {}
    for line in lines:
        words = re.sub(r"\s+#.*$", "", line).split()
        verb = "" if words[1].startswith("-") else words[1]
        out.setdefault(verb, []).append(" ".join(words))
    sweep = README.split("(`minikernel sweep`)\n", 1)[1].split("\n## ", 1)[0]
    out.setdefault("sweep", []).extend(re.findall(r"^\| (`--.*?) \|", sweep, flags=re.M))
    return out


#: options a verb has that its synopsis lines need not show, with where the README
#: says so (the quoted text must be in README.md)
NOT_IN_SYNOPSIS = {
    "--log-format": "Every command also takes `--log-format` and `--log-level`",
    "--log-level": "Every command also takes `--log-format` and `--log-level`",
}


def test_the_usage_block_names_every_verb_and_option_the_parser_has():
    parser, readme = _parser_options(), _synopses()
    assert set(readme) == set(parser), "verbs: README synopses vs build_parser()"
    for verb, lines in readme.items():
        shown = set(re.findall(r"(?<![\w-])--[a-z][-a-z]*", " ".join(lines)))
        name = f"minikernel {verb}".strip()
        assert shown <= set(parser[verb]), f"{name}: README shows options the parser lacks"
        missing = set(parser[verb]) - shown - (set(NOT_IN_SYNOPSIS) if verb else set())
        assert not missing, f"{name}: options missing from README's synopsis: {sorted(missing)}"
    for opt, where in NOT_IN_SYNOPSIS.items():
        assert where in README, f"{opt}: README no longer says {where!r}"


def test_the_usage_blocks_listed_values_are_the_parsers():
    from minikernel.arch import BACKENDS
    from minikernel.kconfig import ARCH_SYMBOLS
    from minikernel.sweep import EXECUTORS
    from minikernel.workload import WORKLOADS

    parser = _parser_options()
    usage = " ".join(_usage_block().split())
    listed = dict(re.findall(r"\[(--[a-z][-a-z]*) ([a-z]+(?:\|[a-z]+)+)[\] ]", usage))
    for opt, values in listed.items():
        verbs = [v for v in parser if parser[v].get(opt)]
        choices = parser[verbs[0]][opt] if verbs else EXECUTORS if opt == "--executor" else None
        assert choices is not None, f"{opt} {values}: the parser has no fixed choices for it"
        assert tuple(values.split("|")) == tuple(choices), opt
    assert "[--log-format console|json]" in usage
    workloads = re.search(r"--workload ([\w:\[\]|]+)\]", usage).group(1)
    assert [w.split("[")[0] for w in workloads.split("|")] == list(WORKLOADS)
    line = re.search(r"^- `ARCH` is (.*?)\.$", README.replace("\n  ", " "), flags=re.M).group(1)
    assert re.findall(r"`(\w+)`", line.split("(")[0]) == list(BACKENDS)
    assert all(f"`CONFIG_{s}=y`" in README for s in ARCH_SYMBOLS.values())


# --- the "Tests" section's suite size ------------------------------------------------------

#: how far the README's test count may drift from the suite before this test fails:
#: a few merged tests do not make the figure wrong, a release of them does
SUITE_SIZE_TOLERANCE = 0.03


def _collected_count(request) -> int:
    """Tests in the default suite: this session's, if it collected the whole default
    suite (no -k, -m, --deselect, no narrower paths), else `pytest --collect-only`."""
    cfg = request.config
    here = Path(cfg.invocation_params.dir)
    paths = {(here / a.split("::")[0]).resolve() for a in cfg.args}
    whole = (paths <= {ROOT / "tests", ROOT} and not cfg.option.keyword
             and not cfg.option.markexpr and not getattr(cfg.option, "deselect", None)
             and not getattr(cfg.option, "lf", False))
    if whole:
        return len(request.session.items)
    p = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                        "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    return int(re.search(r"^(\d+) tests? collected", p.stdout, flags=re.M).group(1))


def test_the_tests_sections_suite_size_is_the_suites(request):
    section = README.split("\n## Tests\n", 1)[1]
    m = re.search(r"runs the default suite: ([\d ]+) tests \(([\d ]+) passed, ([\d ]+)\s+skipped"
                  r".*?, ([\d ]+) expected failures\) in ([\d ]+) s", section, flags=re.S)
    assert m, "README's Tests section no longer quotes the suite's size and time"
    total, passed, skipped, xfailed, _seconds = (int(g.replace(" ", "")) for g in m.groups())
    assert passed + skipped + xfailed == total, "the quoted outcomes do not add up"
    collected = _collected_count(request)
    assert abs(total - collected) <= SUITE_SIZE_TOLERANCE * collected, (
        f"README says {total} tests, the suite has {collected}: measure it again "
        "(`python -m pytest`) and update the Tests section")


# --- what the Python blocks' comments say a line gives -----------------------------------

def _shown_values(block: str) -> list[tuple[int, str, str]]:
    """(line number, expression, comment) of each expression statement whose comment
    says what it gives: a literal (``# True``, ``# 8``, ``# 42, ...``), a repr prefix
    (``# FlushPath(batched=False, reason='...: ...')``), or the keys of a dict
    (``# tlb_deferred_pte, tlb_batch_flush, ...``; ``# arm64: a, b``)."""
    import ast

    lines = block.splitlines()
    out = []
    for node in ast.parse(block).body:
        if isinstance(node, ast.Expr) and "#" in lines[node.lineno - 1]:
            code, comment = lines[node.lineno - 1].split("#", 1)
            out.append((node.lineno, code.strip(), comment.strip()))
    return out


def _check_shown(value, comment: str) -> tuple[bool, str | None]:
    """(does *comment* say what the line gives, what differs or None).  A comment of
    none of the three shapes says nothing checkable: (False, None)."""
    import ast

    lit = re.match(r"(True|False|None|-?\d+(?:\.\d+)?|'[^']*')(?=$|[\s,(])", comment)
    if lit:
        want = ast.literal_eval(lit.group(1))
        return True, None if value == want else f"{value!r} != {want!r}"
    if re.match(r"[A-Z]\w*\(", comment) and "..." in comment:
        want = comment.split("...", 1)[0]
        return True, None if repr(value).startswith(want) else f"{value!r} does not start {want!r}"
    keys = re.fullmatch(r"(?:\w+: )?((?:\w+, )*\w+)(?:, \.\.\.)?", comment)
    if keys and "," in comment:
        if not isinstance(value, dict):
            return True, f"{value!r} is no dict"
        missing = set(keys.group(1).split(", ")) - set(value)
        return True, f"keys missing: {sorted(missing)}" if missing else None
    return False, None


@pytest.mark.parametrize("i", range(len(PY_BLOCKS)))
def test_python_blocks_give_what_their_comments_say(i, tmp_path, monkeypatch):
    import ast

    monkeypatch.chdir(tmp_path)
    block = PY_BLOCKS[i]
    shown = {n: (code, comment) for n, code, comment in _shown_values(block)}
    ns: dict = {}
    checked, wrong = [], []
    for node in ast.parse(block).body:
        if not isinstance(node, ast.Expr):
            exec(compile(ast.Module([node], type_ignores=[]), "<readme>", "exec"), ns)
            continue
        value = eval(compile(ast.Expression(node.value), "<readme>", "eval"), ns)
        if node.lineno in shown:
            code, comment = shown[node.lineno]
            says, diff = _check_shown(value, comment)
            checked += [code] if says else []
            wrong += [f"{code}  # {comment}: {diff}"] if diff else []
    assert not wrong, f"README python block {i}:\n" + "\n".join(wrong)



def test_the_shown_value_check_catches_a_wrong_comment():
    from minikernel.report import Flip

    assert _check_shown(True, "True  (bool symbols -> bool)") == (True, None)
    assert _check_shown(8, "8     (int -> int; no value -> None)") == (True, None)
    assert _check_shown(7, "8     (int -> int)")[1]
    assert _check_shown(42, "42, swapped back in from zram") == (True, None)
    assert _check_shown(Flip(("a",), "b"), "Flip(sets=('a',), why='c...')")[1]
    assert _check_shown(Flip(("a",), "b"), "Flip(sets=('a',), ...)") == (True, None)
    assert _check_shown({"a": 1, "b": 2}, "arm64: a, b, c")[1]
    assert _check_shown({"a": 1, "b": 2}, "a, b, ...") == (True, None)
    assert _check_shown(3, "a free-text note") == (False, None)
    # the README's blocks: these comments are checked
    said = [c for b in PY_BLOCKS for _, _, c in _shown_values(b)]
    assert sum(_check_shown(None, c)[0] for c in said) >= 6, said


# --- Set-up: the documented CPython test run exercises the extras ------------------------

def test_the_documented_cpython_run_has_the_extras_it_says_it_tests():
    """README, Set-up: the test extra holds the plot and dask extras "so the suite
    tests sweep.png and the Dask executor instead of skipping them"."""
    import importlib
    import platform

    from minikernel.compat import tomllib

    assert "so the suite tests `sweep.png` and the Dask\nexecutor instead of skipping them" \
        in README
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert set(extras["plot"]) | set(extras["dask"]) <= set(extras["test"])
    if platform.python_implementation() == "PyPy":
        pytest.skip("PyPy installs test-core only (README, Set-up)")
    for module in ("matplotlib", "distributed", "importlinter"):
        importlib.import_module(module)           # installed: never a silent skip
    users = {f.name for f in (ROOT / "tests").rglob("test_*.py")
             if re.search(r'cpython_extra\("(matplotlib|distributed)"\)', f.read_text())}
    assert {"test_sweep.py"} <= users
    for f in (ROOT / "tests").rglob("*.py"):      # no test may skip on their absence
        assert not re.search(r'importorskip\(\s*"(matplotlib|distributed|dask)', f.read_text()), f
