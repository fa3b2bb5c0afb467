"""`minikernel scenario` and `minikernel explore`: exit codes, JSON, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_exits_0(run_cli, path):
    r = run_cli("scenario", str(path))
    assert r.rc == 0, r.out
    assert r.out.startswith(f"scenario {path}: OK")


def test_unmet_expectation_exits_1_and_prints_the_report(run_cli):
    r = run_cli("scenario", str(SCENARIOS / "race-2017-mprotect.toml"),
                "--set", "MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=y")
    assert r.rc == 1
    assert "FAILED (expected clean; found stale-after-syscall)" in r.out
    assert "BUG: TLB-SAN: stale-after-syscall on CPU1 by task t1/2" in r.out
    assert "event trail (oldest first):" in r.out


def test_scenario_json_carries_the_sanitizer(run_cli):
    r = run_cli("scenario", str(SCENARIOS / "race-2017-mprotect-6.6.toml"), "--json")
    assert r.rc == 0
    d = json.loads(r.out)
    assert d["ok"] is True and d["sanitizer"]["enabled"] is True
    (v,) = d["sanitizer"]["violations"]
    assert {"kind", "cpu", "addr", "trail"} <= set(v)
    assert (v["kind"], v["cpu"], v["addr"]) == ("stale-after-syscall", 1, 0x10000000)
    assert v["trail"] and all(isinstance(x, str) for x in v["trail"])


def test_explore_finds_the_race_saves_it_and_the_saved_file_replays(run_cli, tmp_path):
    r = run_cli("explore", str(SCENARIOS / "explore-2017-mprotect.toml"), "--json",
                "--save", str(tmp_path))
    assert r.rc == 1
    d = json.loads(r.out)
    assert d["runs"] == 19 and not d["truncated"]
    assert d["findings"][0]["kinds"] == ["stale-after-syscall"]
    assert d["sanitizer"]["enabled"] and d["sanitizer"]["violations"][0]["kind"] == \
        "stale-after-syscall"
    saved = [Path(p) for p in d["saved"]]
    assert saved and all(p.exists() for p in saved)
    assert run_cli("scenario", str(saved[0])).rc == 0


def test_explore_clean_exits_0(run_cli):
    r = run_cli("explore", str(SCENARIOS / "explore-2017-mprotect.toml"),
                "--set", "MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=n")
    assert r.rc == 0
    assert "19 runs (0 infeasible), 0 violating, 0 distinct" in r.out


@pytest.mark.parametrize("text,msg", [
    ('expect = "clean"\n[machine]\narch = "arm64"\n', "machine.cpus: got nothing, expected"),
    ("expect = [\n", "not valid TOML"),
    ('expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n[[task]]\nname = "a"\ncpu = 0\n'
     '[[step]]\ntask = "a"\nop = "fly"\n', "step[0].op: got 'fly', expected one of mmap"),
])
def test_malformed_file_is_one_line_and_exit_2_without_traceback(run_cli_proc, tmp_path, text, msg):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    for cmd in ("scenario", "explore"):
        r = run_cli_proc(cmd, str(f))
        assert r.rc == 2
        assert r.out == ""
        assert msg in r.err and str(f) in r.err
        assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err


def test_explore_without_an_explore_table_is_exit_2(run_cli):
    r = run_cli("explore", str(SCENARIOS / "race-2017-mprotect.toml"))
    assert r.rc == 2 and "explore: no [explore] table" in r.err


def test_set_that_changes_the_verdict_says_expect_may_not_apply(run_cli):
    path = str(Path(__file__).resolve().parents[2] / "scenarios" / "race-2017-mprotect.toml")
    r = run_cli("scenario", path, "--set", "MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=y")
    assert r.rc == 1 and "expectation may no longer apply" in r.out and "--expect" in r.out
    r = run_cli("scenario", path, "--set", "MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=y",
                "--expect", "stale-after-syscall", "--json")
    d = json.loads(r.out)
    assert r.rc == 0 and d["expect_from"] == "--expect" and "note" not in d
    assert run_cli("scenario", path, "--expect", "clean").rc == 0
