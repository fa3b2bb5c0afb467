"""minikernel/data/published.toml is the only copy of the published numbers in the code.

The fit, tools/fit_profiles.py, the benchmarks and the tests read them through
minikernel.published; a numeric literal equal to a published measurement in
any code file is a copy that can drift from its source (benchmarks/bench.py
held one: the phone's 14.69 + 13.80 s).  Prose (comments, docstrings, messages)
may quote them; only number tokens count.
"""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

from minikernel.published import published

ROOT = Path(__file__).resolve().parents[2]
CODE = ["minikernel", "mm", "arch", "init", "lib", "tools", "benchmarks"]


def _numbers(d, where=""):
    if isinstance(d, dict):
        for k, v in d.items():
            yield from _numbers(v, f"{where}.{k}" if where else k)
    elif isinstance(d, list):
        for v in d:
            yield from _numbers(v, where)
    elif isinstance(d, float) or (isinstance(d, int) and not isinstance(d, bool) and d > 99999):
        yield where, d


def distinctive() -> dict[float, str]:
    """Published figures precise enough that an equal literal is no coincidence:
    floats of three or more significant digits, and the large counts."""
    out = {}
    for where, v in _numbers({k: v for k, v in published().items() if k != "sources"}):
        digits = len(repr(float(v)).replace(".", "").replace("-", "").strip("0"))
        if isinstance(v, int) or digits >= 3:
            out[float(v)] = where
    return out


def test_the_check_knows_the_numbers():
    d = distinctive()
    assert d[14.69] == "snapdragon888.unbatched.time.elapsed_s"
    assert d[16.99] == "kunpeng920.unbatched.perf.symbols"
    assert 35706225414.0 in d


def test_no_published_number_is_a_literal_in_code():
    d = distinctive()
    copies = []
    for top in CODE:
        for path in sorted((ROOT / top).rglob("*.py")):
            src = path.read_text(encoding="utf-8")
            for tok in tokenize.generate_tokens(io.StringIO(src).readline):
                if tok.type != tokenize.NUMBER:
                    continue
                try:
                    v = float(tok.string.replace("_", ""))
                except ValueError:
                    continue                     # complex/hex literals
                if v in d:
                    copies.append(f"{path.relative_to(ROOT)}:{tok.start[0]}: {tok.string} "
                                  f"(published {d[v]})")
    assert not copies, "read these from minikernel.published:\n" + "\n".join(copies)
