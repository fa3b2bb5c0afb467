"""benchmarks/bench.py runs end to end at a tiny size (figures are for the README, not asserted)."""

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench.py"


def test_quick_benchmark_writes_its_figures(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert set(res["throughput"]) == {"8", "96", "256"}
    assert all(v > 0 for v in res["throughput"].values())
    # each point in a fresh interpreter; --quick runs no warm-up
    assert (res["isolation"], res["warmup"]) == ("process per point", 0)
    assert res["bytes_per_resident_page"] > 0
    assert res["memory_method"] in ("tracemalloc", "rss")
    assert res["host"]["implementation"] in ("cpython", "pypy")
    # how fast the host runs Python today, and what the hypervisor took (Linux)
    assert res["host"]["reference_loop_ns"] > 0
    steal = res["host"]["steal_percent"]
    assert steal is None or 0.0 <= steal <= 100.0
    ex = res["explorer"]["explore-2017-mprotect.toml"]
    assert ex["runs"] > 0 and ex["runs_per_s"] > 0 and 0 <= ex["pruning_ratio"] < 1
    out = capsys.readouterr().out
    assert "cycles/s" in out
    # too small to judge: no PASS/FAIL (and no "target" line that reads like one)
    assert "too small to judge" in out and "PASS" not in out and "FAIL" not in out
    assert "target:" not in out and "target <=" not in out and "NOT JUDGED" not in out
    assert "verdicts" not in res and "not_judged" not in res


def test_full_run_judges_every_target():
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    res = {"throughput": {8: 200_000, 96: 170_000, 256: 190_000},
           "sanitizer_throughput": {8: 90_000}, "bytes_per_resident_page": 285,
           "host": {"implementation": "cpython"}, "full": {"wall_s": 50.0}}
    v = bench.verdicts(res)
    assert v["cycles/s at 8 CPUs >= 65000 (cpython)"]
    assert not v["96 CPUs >= 0.90x of 8 CPUs"] and v["256 CPUs >= 0.90x of 8 CPUs"]
    assert not v["sanitizer cost at 8 CPUs <= 1.5x"] and v["host bytes per resident page <= 300"]
    assert not v["published benchmark <= 45.0 s wall (cpython)"]
    res["host"]["implementation"] = "pypy"
    assert not bench.verdicts(res)["cycles/s at 8 CPUs >= 250000 (pypy)"]
    assert bench.not_judged(res) == [f"explorer exhausts {bench.TEN_STEP_INPUT}: "
                                     "the input was not run"]
    res["explorer"] = {bench.TEN_STEP_INPUT: {"truncated": True}}
    del res["full"]
    v = bench.verdicts(res)
    assert not v[f"explorer exhausts {bench.TEN_STEP_INPUT} (not truncated)"]
    assert not any(k.startswith("published benchmark") for k in v)
    assert bench.not_judged(res) == ["published benchmark <= 28.5 s wall (pypy): needs --full"]


def test_a_run_that_is_not_quick_prints_pass_or_fail_per_target(tmp_path, capsys, monkeypatch):
    """Without --quick every target gets a PASS/FAIL line, and what the run cannot judge
    (the published benchmark without --full) a NOT JUDGED line; the sizes are kept tiny
    by the options and a stand-in explorer, which is not what is tested here."""
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "explorer_figures", lambda inputs, jobs=1: {
        p.name: {"runs": 1, "pruned": 0, "truncated": False, "wall_s": 1.0, "runs_per_s": 1.0,
                 "jobs": jobs, "pruning_ratio": 0.0} for p in inputs})
    out = tmp_path / "bench.json"
    assert bench.main(["--iterations", "2", "--repeat", "1", "--resident-pages", "2048",
                       "--jobs", "1", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    text = capsys.readouterr().out
    assert res["verdicts"] and "too small to judge" not in text
    for what, ok in res["verdicts"].items():
        assert f"{'PASS' if ok else 'FAIL'}  {what}\n" in text
    assert f"PASS  explorer exhausts {bench.TEN_STEP_INPUT} (not truncated)" in text
    assert res["not_judged"] == [f"published benchmark <= "
                                 f"{bench.TARGET_FULL_S[res['host']['implementation']]:.1f} s wall "
                                 f"({res['host']['implementation']}): needs --full"]
    assert f"NOT JUDGED  {res['not_judged'][0]}" in text



def test_quick_full_benchmark_runs_both_kernels(tmp_path):
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    f = bench.full_benchmark(iterations=2, jobs=1)
    assert f["batched"] == [False, True]           # A unbatched, B batched, as published
    assert f["pages_reclaimed"] == 2 * 2 * 256 and f["wall_s"] > 0


def test_steal_percent_is_the_steal_share_of_the_run():
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.steal_percent((1000, 10), (1400, 110)) == 25.0
    assert bench.steal_percent(None, (1400, 110)) is None
    assert bench.steal_percent((1000, 10), (1000, 10)) is None
