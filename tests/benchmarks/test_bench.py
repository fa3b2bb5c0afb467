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
    assert "cycles/s" in capsys.readouterr().out


def test_quick_full_benchmark_runs_both_kernels(tmp_path):
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    f = bench.full_benchmark(iterations=2, jobs=1)
    assert f["batched"] == [False, True]           # A unbatched, B batched, as published
    assert f["pages_reclaimed"] == 2 * 2 * 256 and f["wall_s"] > 0
