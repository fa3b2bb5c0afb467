"""The main job's and the sweep's output is byte for byte the stored reference (issue 16).

tests/reference/ holds what ``tools/update_reference.py`` recorded: the
``--json`` stdout of fixed command lines on both arches (and two ftrace
files, and a sweep.json).  Speed work and refactors must leave every byte as
it was.  If this fails after a change that *means* to change the model's
output, rerun ``python tools/update_reference.py`` and commit the new files
with that change; otherwise the change broke byte-identity and must be fixed.
"""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "update_reference.py"


def _tool():
    spec = importlib.util.spec_from_file_location("update_reference", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ref = _tool()


def assert_same(name: str, data: bytes) -> None:
    path = ref.REFERENCE_DIR / name
    assert path.exists(), f"no reference file tests/reference/{name}: run tools/update_reference.py"
    want = path.read_bytes()
    if data != want:
        a = want.decode().replace(", ", ",\n").splitlines()
        b = data.decode().replace(", ", ",\n").splitlines()
        diff = "\n".join(list(difflib.unified_diff(a, b, "reference", "now", n=1, lineterm=""))[:40])
        pytest.fail(f"tests/reference/{name} differs from the model's output now:\n{diff}")


# --jobs 1: both kernels in this process, A then B (how the reference was made);
# --jobs 2: each kernel in its own forked worker (minikernel.parallel).
@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("name", sorted(ref.CASES))
def test_main_job_output_is_the_reference(name, jobs):
    files = ref.run_case(ref.CASES[name], ["--jobs", jobs])
    for suffix, data in files.items():
        assert_same(f"{name}.{suffix}", data)
    assert ("{trace}" in ref.CASES[name]) == ("trace" in files)


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("name", sorted(ref.SWEEPS))
def test_sweep_output_is_the_reference(name, jobs):
    assert_same(f"sweep-{name}.json", ref.run_sweep_case(ref.SWEEPS[name], ["--jobs", jobs]))


def test_reference_covers_both_arches_and_both_flush_paths():
    """The reference is only a proof if it exercises what speed work touches."""
    import json

    runs = [json.loads((ref.REFERENCE_DIR / f"{n}.json").read_text()) for n in ref.CASES]
    assert {r["arch"] for r in runs} == {"arm64", "x86", "riscv"}
    batched = {(r["arch"], run["batched"]) for r in runs for run in r["runs"]}
    assert batched == {(a, b) for a in ("arm64", "x86", "riscv") for b in (True, False)}
    assert any(r.get("sanitizer", {}).get("enabled") for r in runs)


def test_a_changed_byte_is_caught(tmp_path, monkeypatch):
    """assert_same fails on one flipped digit (the comparison can fail)."""
    name = sorted(ref.CASES)[0]
    data = (ref.REFERENCE_DIR / f"{name}.json").read_bytes()
    i = data.index(b'"elapsed_s": ') + len(b'"elapsed_s": ')
    changed = data[:i] + (b"9" if data[i:i + 1] != b"9" else b"8") + data[i + 1:]
    with pytest.raises(pytest.fail.Exception, match="differs"):
        assert_same(f"{name}.json", changed)
