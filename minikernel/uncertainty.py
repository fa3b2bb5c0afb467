"""Uncertainty of a prediction: the saving as a range over the profile's assumed figures.

Model-only.  A profile's ``[range]`` table gives a plausible low and high for
each assumed figure.  Where a prediction depends on them -- another CPU count
than the DVM figures were fitted at, or a profile nothing was fitted to
(x86-2s) -- the main job and the sweep re-run the model with each assumed
figure at its low and its high end (the others nominal), one measured
iteration after the warm-up (every steady-state iteration costs the same),
and report the saving as [nominal + sum of the negative swings, nominal +
sum of the positive swings], naming the figure whose swing is largest.

# MODEL: one figure at a time, swings added: the extremes of a linearised
# model, not a search of every corner (2 x k runs instead of 2^k).
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from types import MappingProxyType
from typing import Callable

from minikernel.profile import MachineProfile

#: How far from the measured CPU count a prediction is "far" (ratio).
FAR = 2.0

_FIELD = {"machine.kpti": "kpti", "tlb.walk_ns": "tlb_walk_ns", "tlb.entries": "tlb_entries",
          "machine.ghz": "ghz", "machine.init_on_alloc": "init_on_alloc"}


def needs_range(profile: MachineProfile) -> str | None:
    """Why a prediction on *profile* (at its current CPU count) depends on assumed figures."""
    if not profile.ranges:
        return None
    if profile.cpus_measured is None:
        return f"{profile.name} is not fitted to any measurement: every figure is assumed"
    if profile.cpus != profile.cpus_measured:
        return (f"{profile.cpus} CPUs, but {profile.name}'s DVM figures were fitted at "
                f"{profile.cpus_measured}: the per-CPU growth is assumed")
    return None


def fit_input_note(profile: MachineProfile, cfg=None) -> str | None:
    """A sentence when the seed benchmark's saving at this CPU count was itself a fit
    input; with *cfg* (the kernel run), it also says when that kernel is not the one
    the fit ran (minikernel.fit: the arch's default baseline, the published config)."""
    if profile.cpus != profile.cpus_measured or \
            "batched_cpu_time" not in profile.ranges.get("fit_inputs", ()):
        return None
    note = f"at {profile.cpus} CPUs {profile.name}'s batched CPU time was a fit input"
    if cfg is not None:
        ran, fitted = _kernel_name(cfg), _fitted_kernel(cfg.arch)
        if ran != fitted:
            return (note + f" on {fitted}: this saving on {ran} rests on that calibration "
                    "(the same fitted figures, another kernel's path), it is not an "
                    "independent prediction")
    return note + ": this saving reproduces a measurement (calibration), it does not predict one"


def _kernel_name(cfg) -> str:
    from minikernel.baseline import baseline_for
    b = baseline_for(cfg).as_dict()
    v = b["variant"]
    return b["name"] + (f" ({v})" if v and v not in b["name"] else "")


@cache
def _fitted_kernel(arch: str) -> str:
    """The kernel the fit's runs boot (minikernel.fit.UNBATCHED over PUBLISHED_KERNEL)."""
    from minikernel.fit import PUBLISHED_KERNEL, UNBATCHED
    from minikernel.kconfig import load_kernel_config
    return _kernel_name(load_kernel_config(arch, sets=[*PUBLISHED_KERNEL, *UNBATCHED]))


def far_note(profile: MachineProfile) -> str | None:
    """A sentence when the CPU count is far from any measured point."""
    m = profile.cpus_measured
    if m is None:
        return (f"no measured point: {profile.name} is not fitted, the prediction is the "
                "assumed figures'")
    if profile.cpus >= m * FAR or profile.cpus * FAR <= m:
        return (f"{profile.cpus} CPUs is far from the measured {m}: an extrapolation by the "
                "assumed fixed/per-CPU split of the DVM latency")
    return None


def variant(profile: MachineProfile, key: str, value) -> MachineProfile:
    """*profile* with one ranged figure set to *value*."""
    if key == "dvm_fixed_share":
        n0 = profile.cpus_measured
        lat0 = profile.dvm_latency_base_ns + profile.dvm_latency_per_cpu_ns * n0
        return replace(profile, dvm_latency_base_ns=lat0 * value,
                       dvm_latency_per_cpu_ns=lat0 * (1 - value) / n0)
    if key == "kernel.scale":
        f = value / (profile.kernel_scale or 1.0)
        return replace(profile, kernel_ns=MappingProxyType(
            {s: v * f for s, v in profile.kernel_ns.items()}), kernel_scale=value)
    section, _, name = key.partition(".")
    field = _FIELD.get(key, "riscv_" + name if section == "riscv" else name)
    if section in ("arm64", "x86", "riscv") and getattr(profile, field, None) is None:
        return profile                          # the other arch's figure: not used
    return replace(profile, **{field: value})


def saving_range(profile: MachineProfile, saving: Callable[[MachineProfile], float],
                 nominal: float | None = None, skip: tuple[str, ...] = ("numa.",)) -> dict:
    """The saving (%) over *profile*'s ranges; *saving* runs the model on a profile.

    Ranges whose key starts with one of *skip* are left out: by default the
    [numa] copy figures, which only a workload that migrates pages uses.
    """
    base = saving(profile) if nominal is None else nominal
    swings: dict[str, list[float]] = {}
    for key, (lo, hi) in ((k, v) for k, v in profile.ranges.items()
                          if k != "fit_inputs" and not k.startswith(skip or ("\0",))):
        vals = []
        for v in (lo, hi):
            p = variant(profile, key, v)
            vals.append(base if p is profile else saving(p))
        swings[key] = vals
    low = base + sum(min(0.0, a - base, b - base) for a, b in swings.values())
    high = base + sum(max(0.0, a - base, b - base) for a, b in swings.values())
    most = max(swings, key=lambda k: abs(swings[k][1] - swings[k][0]), default=None)
    return {"nominal_pct": base, "low_pct": low, "high_pct": high,
            "moved_most_by": most,
            "by_assumption": {k: [round(a, 4), round(b, 4)] for k, (a, b) in swings.items()},
            "method": "each assumed figure at the low and high end of its [range], the others "
                      "nominal; swings added"}
