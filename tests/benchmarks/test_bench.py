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
    assert res["bytes_per_resident_page"] > 0
    assert res["memory_method"] in ("tracemalloc", "rss")
    assert res["host"]["implementation"] in ("cpython", "pypy")
    ex = res["explorer"]["explore-2017-mprotect.toml"]
    assert ex["runs"] > 0 and ex["runs_per_s"] > 0 and 0 <= ex["pruning_ratio"] < 1
    out = capsys.readouterr().out
    assert "cycles/s" in out
    # too small to judge: no PASS/FAIL (and no "target" line that reads like one)
    assert "too small to judge" in out and "PASS" not in out and "FAIL" not in out
    assert "verdicts" not in res


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



def test_quick_full_benchmark_runs_both_kernels(tmp_path):
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    f = bench.full_benchmark(iterations=2, jobs=1)
    assert f["batched"] == [False, True]           # A unbatched, B batched, as published
    assert f["pages_reclaimed"] == 2 * 2 * 256 and f["wall_s"] > 0
