"""Calibration: the built-in arm64 profiles reproduce the published numbers they were fitted to.

These check *fit inputs* only (the README's "fitted (inputs reproduced)"
table): each is recomputed from the model's own run of the seed benchmark on
the shipped profile and compared with minikernel/data/published.toml.
Predictions -- numbers the fit never saw -- live in test_validation.py.

The model's elapsed time is the benchmark task's CPU time, so the published
targets are user + sys, not real.  The runs use the configuration the
published kernels had (minikernel.fit.PUBLISHED_KERNEL).
"""

from __future__ import annotations

from functools import cache

import pytest

from minikernel.fit import BATCHED as _BATCHED
from minikernel.fit import PUBLISHED_KERNEL
from minikernel.fit import UNBATCHED as _UNBATCHED
from minikernel.kconfig import load_kernel_config
from minikernel.machine import Machine
from minikernel.profile import load_profile
from minikernel.published import cpu_s, published, shares
from minikernel.workload import run_seed_benchmark

ITERATIONS = 2
# The configuration of the kernels the published numbers ran (minikernel.fit).
UNBATCHED = [*PUBLISHED_KERNEL, *_UNBATCHED]
BATCHED = [*PUBLISHED_KERNEL, *_BATCHED]


@cache
def run(machine: str, sets: tuple[str, ...], cpus: int | None = None, threads: int = 1,
        iterations: int = ITERATIONS):
    prof = load_profile(machine)
    if cpus is not None:
        prof = prof.with_cpus(cpus)
    m = Machine(load_kernel_config(prof.arch, sets=list(sets)), prof)
    return m, run_seed_benchmark(m, iterations, threads=threads, warmup=1)


def share(r, sym: str) -> float:
    return r.profile.get(sym, 0.0) / sum(r.profile.values()) * 100


def per_iteration_ms(r, n=ITERATIONS) -> float:
    return r.elapsed_ns / n / 1e6


def test_the_runs_are_the_ones_we_mean():
    for machine in ("snapdragon888", "kunpeng920"):
        m, r = run(machine, tuple(UNBATCHED))
        assert m.tlb_flush_path.batched is False
        assert r.vmstat["tlb_sync_flush"] == 256 * ITERATIONS
        m, r = run(machine, tuple(BATCHED))
        assert m.tlb_flush_path.batched is True
        assert r.vmstat["tlb_deferred_pte"] == 256 * ITERATIONS


@pytest.mark.parametrize("machine", ["snapdragon888", "kunpeng920"])
def test_unbatched_cpu_time_per_iteration(machine):
    _, r = run(machine, tuple(UNBATCHED))
    want = cpu_s(machine, "unbatched") / published()[machine]["iterations"] * 1e3
    assert per_iteration_ms(r) == pytest.approx(want, rel=0.005)


@pytest.mark.parametrize("machine", ["snapdragon888", "kunpeng920"])
def test_published_symbol_shares(machine):
    _, r = run(machine, tuple(UNBATCHED))
    for sym, pct in shares(machine).items():
        if sym in r.profile:                 # mod_zone_state.* is not modelled
            assert share(r, sym) == pytest.approx(pct, abs=0.05), sym


def test_kunpeng_batched_cpu_time_was_a_fit_input():
    _, a = run("kunpeng920", tuple(UNBATCHED))
    _, b = run("kunpeng920", tuple(BATCHED))
    want = (1 - cpu_s("kunpeng920", "batched") / cpu_s("kunpeng920", "unbatched")) * 100
    assert (1 - b.elapsed_ns / a.elapsed_ns) * 100 == pytest.approx(want, abs=0.05)


def test_flush_cost_is_simulated_state():
    """One TLBI (two with KPTI) and one waiting DSB per page in ptep_clear_flush; the
    DSB is a Sync round trip.  (Pre-6.9 kernels add MADV_PAGEOUT's own range flush.)"""
    m, r = run("snapdragon888", tuple(UNBATCHED))
    per = 2 if m.profile.kpti else 1
    pages = 256 * ITERATIONS
    assert r.vmstat["tlb_sync_flush"] == pages
    assert r.arch["tlbi_issued"] >= pages * per
    assert r.arch["dsb_ish_waited"] >= pages
    p = m.profile
    wait = r.stalls[("ptep_clear_flush", "dsb ish")] / pages
    # The Sync queues behind the page's TLBIs in the port, then takes one latency.
    assert wait >= p.dvm_latency_ns() - 2 * p.tlbi_issue_ns - 2 * p.dsb_ns


@pytest.mark.parametrize("machine", ["snapdragon888", "kunpeng920"])
def test_arm64_benefit_never_decreases_as_cpus_grow(machine):
    """Same profile and config; only --smp changes (an extrapolation, see the README ranges)."""
    saved_ns, saved_pct = [], []
    for n in (2, 8, 32, 96, 256):
        _, a = run(machine, tuple(UNBATCHED), cpus=n, iterations=1)
        _, b = run(machine, tuple(BATCHED), cpus=n, iterations=1)
        saved_ns.append(a.elapsed_ns - b.elapsed_ns)
        saved_pct.append(1 - b.elapsed_ns / a.elapsed_ns)
    assert saved_ns == sorted(saved_ns)
    assert saved_pct == sorted(saved_pct)


def test_x86_single_threaded_seed_never_defers_and_sends_no_ipi():
    _, r = run("x86-2s", ())
    assert "tlb_deferred_pte" not in r.vmstat
    assert r.arch.get("ipis_sent", 0) == 0


def test_x86_threaded_batching_sends_twenty_times_fewer_ipis():
    _, a = run("x86-2s", ("EXPERT=y", "X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y"), threads=4)
    _, b = run("x86-2s", (), threads=4)
    assert b.arch["ipis_sent"] > 0
    assert a.arch["ipis_sent"] >= 20 * b.arch["ipis_sent"]
    assert b.elapsed_ns < a.elapsed_ns
    assert "flush_tlb_func" in a.other_cpus_ns and "flush_tlb_func" not in a.profile
