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
    assert "cycles/s" in capsys.readouterr().out
