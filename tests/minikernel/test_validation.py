"""Validation: predictions of numbers the fit was never given (README: "predicted").

Every target here comes from minikernel/data/published.toml and is *not* an
input of the fit that produced the profile under test -- that is checked
first, on the fit's own bookkeeping (``FitResult.residuals`` lists every
input).  Each test states its tolerance and why; a prediction outside it
fails.  A known miss is marked ``xfail(strict=True)`` with the measured
error, so it fails loudly the day the model starts to meet it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from minikernel.fit import fit, leave_one_out, published_measurements
from minikernel.profile import load_profile
from minikernel.published import cpu_s, published, shares


def _ms(machine: str) -> float:
    return cpu_s(machine, "unbatched") / published()[machine]["iterations"] * 1e3

SAVING = "CPU time saved by batching (%)"
TAIL = ["_raw_spin_unlock", "xas_load", "clear_page", "zram_slot_lock"]
HOT_ENDS = ["_raw_spin_unlock_irq", "memset64"]      # the README's hot-symbol row, first/last
DSB = "share of ptep_clear_flush in its DSB (%)"


@cache
def unbatched_only(machine: str):
    """*machine* fitted from its unbatched measurements alone (perf report, user+sys)."""
    like = load_profile("snapdragon888") if machine == "kunpeng920" else None
    return fit(published_measurements(machine), like, fit_issue=False, other=False)


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
    assert measured == pytest.approx(
        (1 - cpu_s("snapdragon888", "batched") / cpu_s("snapdragon888", "unbatched")) * 100)
    assert model == pytest.approx(measured, abs=1.5)


def test_snapdragon_dsb_share_of_ptep_clear_flush():
    """Published: 'perf annonate shows 95% cpu time of ptep_clear_flush is
    actually used by the final dsb()'.  Tolerance 3 points (perf annotate
    skid on an ~300 ns function)."""
    measured, model = unbatched_only("snapdragon888").predictions[DSB]
    assert measured == published()["snapdragon888"]["unbatched"]["annotate"]["dsb_pct"]
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
    assert measured < model <= shares("kunpeng920")["ptep_clear_flush"]


# Leave-one-out over the published numbers (minikernel.fit.leave_one_out): drop
# one, let the rest fix the parameter it fixed, predict it.


@cache
def loo(machine: str) -> dict[str, tuple[float, float]]:
    rows = leave_one_out(machine, symbols=TAIL + HOT_ENDS if machine == "snapdragon888"
                         else False)
    return {name: (pub, model) for name, pub, model in rows}


KP_MISS = pytest.mark.xfail(strict=True, reason="known miss: the three Kunpeng numbers are "
                            "consistent only with a ~290 ns per-TLBI issue cost, which none "
                            "of the other two can fix once one is dropped (README table)")

# (machine, left-out number, tolerance, why)
LOO = [
    ("snapdragon888", "ptep_clear_flush share unbatched (%)", 1.5,
     "points; the mirror of the batched-saving prediction (perf non-additivity)"),
    ("snapdragon888", "unbatched CPU time per iteration (ms)", 0.05 * _ms("snapdragon888"),
     "5 %: the batched time sets the kernel scale; the flush is 5 % of the time"),
    pytest.param("kunpeng920", "ptep_clear_flush share unbatched (%)", 1.5, "points",
                 marks=KP_MISS),
    pytest.param("kunpeng920", "unbatched CPU time per iteration (ms)", 0.05 * _ms("kunpeng920"),
                 "5 %",
                 marks=KP_MISS),
    pytest.param("kunpeng920", "CPU time saved by batching (%)", 1.5, "points", marks=KP_MISS),
]


@pytest.mark.parametrize("machine, name, tol, why", LOO)
def test_leave_one_out(machine, name, tol, why):
    published_value, model = loo(machine)[name]
    assert model == pytest.approx(published_value, abs=tol), why


# Symbol shares: the left-out symbol joins the unreported tail (an assumed
# weight, minikernel.fit.TAIL_WEIGHTS), so only tail-sized symbols (<= 2 %)
# are expected back; the hot ones (spinlock hold times, zram) come back
# tail-sized, which the README lists as misses.

@pytest.mark.parametrize("sym", TAIL)
def test_leave_one_out_tail_symbol_shares(sym):
    """Tolerance 1 point: the tail's weights are assumed to lie within 1.2-1.36."""
    published_value, model = loo("snapdragon888")[f"{sym} share unbatched (%)"]
    assert model == pytest.approx(published_value, abs=1.0)


def _model_cycles():
    from minikernel.fit import PUBLISHED_KERNEL, UNBATCHED, _run
    r = _run(load_profile("snapdragon888"), UNBATCHED, iterations=1, kernel=PUBLISHED_KERNEL)
    return r.cycles * published()["snapdragon888"]["iterations"]


def test_snapdragon_cycles_match_perfs_event_count():
    """perf's 'Event count (approx.): 35706225414' cycles was not a fit input: the
    model's cycles are its CPU time x the spec clock of the A78 (2.42 GHz).
    Tolerance 3 %: the A78's DVFS steps around 2.42 GHz."""
    model = _model_cycles()
    assert model == pytest.approx(
        published()["snapdragon888"]["unbatched"]["perf"]["event_count"], rel=0.03)


def _kunpeng_unfalsified():
    """The shipped (full) Kunpeng fit's predictions nobody measured: the share of
    ptep_clear_flush in its DSB, unbatched, and try_to_unmap_one's batched share."""
    from minikernel.fit import BATCHED, PUBLISHED_KERNEL, UNBATCHED, _run
    p = load_profile("kunpeng920")
    u = _run(p, UNBATCHED, kernel=PUBLISHED_KERNEL)
    b = _run(p, BATCHED, kernel=PUBLISHED_KERNEL)
    dsb = u.stalls[("ptep_clear_flush", "dsb ish")] / u.profile["ptep_clear_flush"] * 100
    return dsb, b.profile["try_to_unmap_one"] / sum(b.profile.values()) * 100


def test_readme_predicted_table_is_these_predictions():
    """The README's "predicted (not used in the fit)" table shows what the model
    predicts now (a re-fit after a model change must update it)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("Predicted (not used in the fit", 1)[1].split("\n\n", 2)[1]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()
             if line.startswith("| ")]
    shown = {(c[0], c[1]): c[3] for c in cells}

    def row(machine: str, start: str) -> str:
        hits = [v for (m, what), v in shown.items() if m == machine and what.startswith(start)]
        assert len(hits) == 1, (machine, start)
        return hits[0]

    sd, kp = unbatched_only("snapdragon888"), unbatched_only("kunpeng920")
    lsd, lkp = loo("snapdragon888"), loo("kunpeng920")
    ptep = "ptep_clear_flush share unbatched (%)"
    ms = "unbatched CPU time per iteration (ms)"
    assert row("snapdragon888", "user+sys saved") == f"{sd.predictions[SAVING][1]:.2f} %"
    assert row("snapdragon888", "share of `ptep_clear_flush` in its final DSB") == \
        f"{sd.predictions[DSB][1]:.1f} %"
    assert row("snapdragon888", "cycles of the unbatched run") == f"{_model_cycles() / 1e9:.2f} G"
    assert row("snapdragon888", f"leave out the {shares('snapdragon888')['ptep_clear_flush']} %") \
        == f"{lsd[ptep][1]:.2f} %"
    assert row("snapdragon888", "leave out user+sys unbatched") == f"{lsd[ms][1]:.3f} ms"
    tail = [lsd[f"{s} share unbatched (%)"][1] for s in
            ("clear_page", "_raw_spin_unlock", "xas_load", "zram_slot_lock")]
    assert row("snapdragon888", "leave out `clear_page`") == \
        " / ".join(f"{x:.2f}" for x in tail) + " %"
    hot = [lsd[f"{s} share unbatched (%)"][1] for s in HOT_ENDS]
    assert row("snapdragon888", "leave out a hot symbol") == f"{hot[0]:.2f} … {hot[1]:.2f} %"
    assert row("kunpeng920", "fit from its unbatched numbers alone") == \
        f"{kp.predictions[SAVING][1]:.2f} %"
    assert row("kunpeng920", f"leave out the {shares('kunpeng920')['ptep_clear_flush']} %") == \
        f"{lkp[ptep][1]:.2f} %"
    assert row("kunpeng920", "leave out user+sys unbatched") == f"{lkp[ms][1]:.3f} ms"
    dsb, t2u = _kunpeng_unfalsified()
    assert row("kunpeng920", "share of `ptep_clear_flush` in its DSB") == \
        f"{dsb:.0f} %; {t2u:.0f} %"
