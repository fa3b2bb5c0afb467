"""minikernel/explore.py: bounded, deterministic exploration; findings replay."""

from __future__ import annotations

import tomllib
from pathlib import Path

from minikernel.explore import _merges, explore
from minikernel.scenario import load_scenario, override_config, parse_scenario, run_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_merges_keep_program_order_and_count_the_multinomial():
    got = list(_merges([["a1", "a2"], ["b1"], ["c1"]]))
    assert len(got) == 12 and len({tuple(g) for g in got}) == 12
    assert all(g.index("a1") < g.index("a2") for g in got)


def test_explorer_finds_the_2017_race_from_tasks_and_operations_only():
    sc = load_scenario(SCENARIOS / "explore-2017-mprotect.toml")
    assert all(s.pause_at is None for s in sc.explore_steps)
    r = explore(sc)
    assert not r.truncated and r.findings
    first = r.findings[0]
    assert first.kinds == ["stale-after-syscall"]
    assert first.probe == "try_to_unmap_one:cleared" and first.nested == 2
    # smallest first
    assert [f.nested for f in r.findings] == sorted(f.nested for f in r.findings)
    # the finding is a scenario file that replays to the same verdict
    replay = parse_scenario(tomllib.loads(first.toml), "finding.toml")
    rr = run_scenario(replay)
    assert rr.ok and rr.kinds == ["stale-after-syscall"]


def test_explorer_is_deterministic():
    sc = load_scenario(SCENARIOS / "explore-2017-mprotect.toml")
    a, b = explore(sc).as_dict(), explore(sc).as_dict()
    assert a == b


def test_with_the_fix_every_interleaving_is_clean_and_6_6_is_not():
    sc = load_scenario(SCENARIOS / "explore-2017-mprotect.toml")
    fixed = explore(override_config(sc, ["MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=n"]))
    assert fixed.runs == 19 and fixed.findings == []
    v66 = explore(override_config(sc, ["MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=n",
                                       "MODEL_ARM64_BATCHED_TLB_6_6=y"]))
    assert {tuple(f.kinds) for f in v66.findings} == {("stale-after-syscall",)}


def test_6_6_variant_exposes_munmap_and_mremap_and_the_fix_closes_them():
    sc = load_scenario(SCENARIOS / "explore-6.6-pte-lock-paths.toml")
    r = explore(sc)
    calls = {v.syscall for f in r.findings for v in f.result.violations}
    assert calls == {"munmap", "mremap"}
    assert explore(override_config(sc, ["MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"])).findings == []


def test_max_runs_bounds_the_search():
    sc = load_scenario(SCENARIOS / "explore-2017-mprotect.toml")
    r = explore(sc, max_runs=3)
    assert r.truncated and r.runs == 3


def test_max_nested_bounds_the_steps_inside_one_pause():
    sc = load_scenario(SCENARIOS / "explore-2017-mprotect.toml")
    r = explore(sc, max_nested=1)
    assert r.findings == []                # the race needs mprotect AND the write inside
    assert explore(sc, max_nested=2).findings


def test_truncated_clean_exploration_exits_3(run_cli):
    # The fix is in: nothing is found in 2 runs, but 2 runs are not the whole search.
    path = str(SCENARIOS / "explore-2017-mprotect.toml")
    r = run_cli("explore", path, "--set", "MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=n",
                "--max-runs", "2")
    assert r.rc == 3 and "TRUNCATED" in r.out
    assert run_cli("explore", path, "--set", "MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=n").rc == 0


def test_save_to_a_file_fails_before_exploring(run_cli, tmp_path, monkeypatch):
    import minikernel.explore as ex

    (tmp_path / "f").write_text("mine\n")
    monkeypatch.setattr(ex, "explore", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    r = run_cli("explore", str(SCENARIOS / "explore-2017-mprotect.toml"), "--save",
                str(tmp_path / "f"))
    assert r.rc == 2 and "not a directory" in r.err
    assert (tmp_path / "f").read_text() == "mine\n"
