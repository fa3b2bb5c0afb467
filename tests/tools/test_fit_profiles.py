"""tools/fit_profiles.py: the shipped arm64 profiles are what the fit produces.

If this fails after a change to the model (a new charge point on the seed
benchmark's path, say), rerun ``python tools/fit_profiles.py --write`` and
update the fitted [arm64] / [kernel] figures of kunpeng920.toml and
snapdragon888.toml from its output; the calibration tests then say whether
the model still reproduces the published results.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from minikernel.profile import KERNEL_SYMBOLS, load_profile

TOOL = Path(__file__).resolve().parents[2] / "tools" / "fit_profiles.py"


@pytest.fixture(scope="module")
def fitted():
    spec = importlib.util.spec_from_file_location("fit_profiles", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.fit(iterations=2)


def test_snapdragon_figures_are_the_fit(fitted):
    k, dvm, _ = fitted["snapdragon888"]
    p = load_profile("snapdragon888")
    stale = {s: (p.kernel_ns[s], round(k[s], 1)) for s in KERNEL_SYMBOLS
             if abs(p.kernel_ns[s] - k[s]) > 0.051}
    assert not stale, f"rerun tools/fit_profiles.py --write: {stale}"
    for key, v in dvm.items():
        assert getattr(p, key) == pytest.approx(v, rel=2e-3, abs=1e-3), key


def test_kunpeng_figures_are_the_fit(fitted):
    scale, dvm, _, _ = fitted["kunpeng920"]
    p = load_profile("kunpeng920")
    sd = load_profile("snapdragon888")
    assert p.kernel_ns["memset64"] / sd.kernel_ns["memset64"] == pytest.approx(scale, abs=1e-3)
    for key, v in dvm.items():
        assert getattr(p, key) == pytest.approx(v, rel=2e-3, abs=1e-3), key
