"""Validation: predictions of numbers the fit was never given (README: "predicted").

Every target here comes from minikernel/data/published.toml and is *not* an
input of the fit that produced the profile under test -- that is checked
first, on the fit's own bookkeeping (``FitResult.residuals`` lists every
input).  Each test states its tolerance and why; a prediction outside it
fails.  A known miss is marked ``xfail(strict=True)`` with the measured
error, so it fails loudly the day the model starts to meet it.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from statistics import median
from types import MappingProxyType

import pytest

from minikernel.fit import fit, published_measurements
from minikernel.profile import load_profile

SAVING = "CPU time saved by batching (%)"
DSB = "share of ptep_clear_flush in its DSB (%)"


@lru_cache(maxsize=None)
def unbatched_only(machine: str):
    """*machine* fitted from its unbatched measurements alone (perf report, user+sys)."""
    like = load_profile("snapdragon888") if machine == "kunpeng920" else None
    return fit(published_measurements(machine), like, fit_issue=False)


def test_predictions_were_not_fit_inputs():
    for machine in ("snapdragon888", "kunpeng920"):
        res = unbatched_only(machine)
        assert SAVING in res.predictions and SAVING not in res.residuals
        assert DSB in res.predictions and DSB not in res.residuals


def test_snapdragon_unbatched_fit_predicts_the_batched_cpu_time():
    """Tolerance 1.5 points: perf's shares are not additive (a stall is partly
    sampled on the next instruction), so the published saving (6.05 % of CPU
    time) exceeds the published ptep_clear_flush share (5.36 %) -- more than
    any mechanism that removes only that flush can save."""
    measured, model = unbatched_only("snapdragon888").predictions[SAVING]
    assert measured == pytest.approx(6.048, abs=0.01)
    assert model == pytest.approx(measured, abs=1.5)


def test_snapdragon_dsb_share_of_ptep_clear_flush():
    """Published: 'perf annonate shows 95% cpu time of ptep_clear_flush is
    actually used by the final dsb()'.  Tolerance 3 points (perf annotate
    skid on an ~300 ns function)."""
    measured, model = unbatched_only("snapdragon888").predictions[DSB]
    assert measured == 95.0
    assert model == pytest.approx(measured, abs=3.0)


@pytest.mark.xfail(strict=True, reason="known miss: with an idle-fabric TLBI cost the batched "
                   "path keeps almost nothing, so the model predicts ~16 % less CPU time where "
                   "Kunpeng's user+sys fell 4.5 %; the shipped profile fits a ~290 ns per-TLBI "
                   "issue cost to close it (README, calibration)")
def test_kunpeng_unbatched_fit_predicts_the_batched_cpu_time():
    """Tolerance 1.5 points, as for the Snapdragon."""
    measured, model = unbatched_only("kunpeng920").predictions[SAVING]
    assert model == pytest.approx(measured, abs=1.5)


def test_kunpeng_unbatched_fit_overpredicts_by_the_flush_share():
    """The miss above, bounded: the prediction is what the mechanism allows (no
    more than the published ptep_clear_flush share) and above the measurement."""
    measured, model = unbatched_only("kunpeng920").predictions[SAVING]
    assert measured < model <= 16.99


# Leave-one-out over the published Snapdragon symbol shares: drop one, give it
# the typical cost of the unreported tail (assumption), refit, predict it.
TAIL = ["_raw_spin_unlock", "xas_load", "clear_page",
        pytest.param("zram_slot_lock", marks=pytest.mark.xfail(
            strict=True, reason="known miss (+1.8 points): called twice per page, so a "
                                "per-call tail cost doubles its share"))]


@lru_cache(maxsize=None)
def leave_out(sym: str) -> tuple[float, float]:
    meas = published_measurements("snapdragon888")
    measured = meas.shares.pop(sym)
    base = load_profile("snapdragon888")
    reported = set(meas.shares) | {sym}
    tail = [v for s, v in base.kernel_ns.items() if s not in reported and v > 20]
    k = dict(base.kernel_ns)
    k[sym] = median(tail)
    like = replace(base, kernel_ns=MappingProxyType(k))
    res = fit(meas, like, fit_issue=False)
    model = res.profile.kernel_ns[sym]
    # The symbol's share in the refitted model's own run
    from minikernel.fit import UNBATCHED, _run
    r = _run(res.profile, UNBATCHED)
    return measured, r.profile.get(sym, 0.0) / sum(r.profile.values()) * 100 if model else 0.0


@pytest.mark.parametrize("sym", TAIL)
def test_leave_one_out_tail_symbol_shares(sym):
    """Tolerance 1 point: the tail's cost per call is assumed uniform-ish."""
    measured, model = leave_out(sym)
    assert model == pytest.approx(measured, abs=1.0)
