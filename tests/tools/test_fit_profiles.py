"""tools/fit_profiles.py: the shipped arm64 profiles are what the fit of the published data produces.

If this fails after a change to the model (a new charge point on the seed
benchmark's path, the pre-6.9 MADV_PAGEOUT flush, say), rerun
``python tools/fit_profiles.py --write``; tests/minikernel/test_calibration.py
then says whether the inputs are still reproduced and
tests/minikernel/test_validation.py whether the predictions still hold.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from minikernel.profile import KERNEL_SYMBOLS, load_profile

TOOL = Path(__file__).resolve().parents[2] / "tools" / "fit_profiles.py"
FIGURES = ("tlbi_issue_ns", "dvm_latency_base_ns", "dvm_latency_per_cpu_ns",
           "dvm_throughput_per_cpu_ns", "kpti", "cpus", "ghz")


def _tool():
    spec = importlib.util.spec_from_file_location("fit_profiles", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def fitted():
    return _tool().refit(write=False)


@pytest.mark.parametrize("name", ["snapdragon888", "kunpeng920"])
def test_shipped_profile_is_the_fit(fitted, name):
    got, shipped = fitted[name].profile, load_profile(name)
    stale = {s: (shipped.kernel_ns[s], round(got.kernel_ns[s], 2)) for s in KERNEL_SYMBOLS
             if shipped.kernel_ns[s] != pytest.approx(got.kernel_ns[s], rel=1e-3, abs=0.006)}
    assert not stale, f"rerun tools/fit_profiles.py --write: {stale}"
    for key in FIGURES:
        assert getattr(shipped, key) == pytest.approx(getattr(got, key), rel=1e-3), key


def test_fit_reports_residuals_separately_from_predictions(fitted):
    for res in fitted.values():
        assert set(res.residuals).isdisjoint(res.predictions)
        for target, model in res.residuals.values():
            assert model == pytest.approx(target, rel=1e-3)


def _readme_range_table() -> dict[str, tuple[str, str, str, str]]:
    """README "Uncertainty" table: arguments -> (saving, low, high, moved most by) as printed."""
    readme = (TOOL.parents[1] / "README.md").read_text()
    section = readme.split("### Uncertainty", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| ([\d.]+) % \| ([\d.]+) \.\. ([\d.]+) % \| `([^`]+)` \|$",
                      section, flags=re.M)
    return {args: (pct, lo, hi, most) for args, pct, lo, hi, most in rows}


def test_readme_range_table_is_what_the_tool_prints():
    """Every row of the README's range table is a RANGE_ROWS main job, with its figures
    (the table went stale once: its Snapdragon commands were refused after the A55
    erratum option became the default)."""
    table = _readme_range_table()
    mod = _tool()
    assert set(table) == {" ".join(a) for a in mod.RANGE_ROWS}
    for args, pct, lo, hi, most in mod.ranges_rows():
        assert table[args] == (f"{pct:.2f}", f"{lo:.2f}", f"{hi:.2f}", most), args
