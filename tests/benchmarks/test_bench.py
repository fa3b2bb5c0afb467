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
    out = capsys.readouterr().out
    assert "cycles/s" in out
    # too small to judge: no PASS/FAIL (and no "target" line that reads like one)
    assert "too small to judge" in out and "PASS" not in out and "FAIL" not in out
    assert "verdicts" not in res


def test_full_run_judges_every_target():
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    res = {"throughput": {8: 200_000, 96: 170_000, 256: 150_000},
           "sanitizer_throughput": {8: 90_000}, "bytes_per_resident_page": 285}
    v = bench.verdicts(res)
    assert v["cycles/s at 8 CPUs >= 185000"] and not v["cycles/s at 96 CPUs >= 185000"]
    assert not v["96 CPUs >= 0.90x of 8 CPUs"] and not v["256 CPUs >= 0.85x of 8 CPUs"]
    assert not v["sanitizer cost at 8 CPUs <= 2x"] and v["host bytes per resident page <= 300"]
