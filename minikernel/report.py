"""Reports: the main job's A/B run of the seed benchmark, perf-style profiles, vmstat, trace.

Model-only.  Answers "what does deferring the TLB flush buy on this
machine?": the seed benchmark runs on the configured kernel (A) and on the
same kernel with the deferral decision flipped (B), changing only the Kconfig
assignments needed to flip it, and says which.  Every number comes out of the
simulated machines; nothing is computed from the profile's figures directly.

Invariants this module owns:
  - Run A is the configured kernel, run B the flipped one, in that order,
    on identical profiles and workloads.
  - ``batched`` of a run says whether that run actually deferred flushes
    (the model-only vmstat counter ``tlb_deferred_pte``), not whether
    batching was configured: on x86 the single-threaded seed never defers.
  - A run's ``profile`` is percent of the benchmark task's own cycles (what
    ``perf record`` of the process shows); cycles spent on other CPUs, such
    as IPI handlers, are reported separately under ``other_cpus``.
  - The flip comes from the arch backends (``minikernel.arch.deferral_sets``,
    the same assignments the sweep uses); this module only explains them.
"""

# File layout:
#
#   Public interface
#     Flip, flip_deferral(), parse_workload(), run_ab(), render_ab(),
#     render_perf(), render_vmstat(), render_text(), write_trace()
#   Private helpers
#     _verdict(), _kernel_desc(), _run_dict(), _why()

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from minikernel.arch import deferral_sets, deferral_why
from minikernel.compat import SLOTS
from minikernel.errors import UserError
from minikernel.mm.vmstat import MODEL_COUNTERS
from minikernel.parallel import default_jobs, run_benchmarks
from minikernel.workload import WORKLOADS, BenchmarkInterrupted, run_seed_benchmark

#
# Public interface
#

DEFAULT_COUNT = 4       # processes / threads of the procs / threads workloads


@dataclass(frozen=True, **SLOTS)
class Flip:
    """The assignments that turn the configured kernel into run B.

    sets: SYM=VAL assignments appended to the configuration
    why:  one sentence saying what they change and why they are needed
    """

    sets: tuple[str, ...]
    why: str


def flip_deferral(cfg, cpus: int, profile=None) -> Flip:
    """The fewest assignments that flip whether reclaim may defer its flushes.

    The assignments come from the arch backend (``minikernel.arch.deferral_sets``):
    if turning deferral off needs any, the configured kernel defers (or, on
    x86, is configured to) and B is the kernel without; otherwise B is the
    kernel with.  ``why`` explains each assignment.
    """
    if profile is None:
        from minikernel.profile import default_profile
        profile = default_profile(cfg.arch)
    off = deferral_sets(cfg, cpus, False, profile)
    sets = off or deferral_sets(cfg, cpus, True, profile)
    if not sets:
        raise UserError(f"{_kernel_desc(cfg)} on {cpus} CPUs: no assignment flips the deferral "
                        "decision: expected a kernel whose reclaim defers or could")
    why = "; ".join(_why(cfg, s, cpus) for s in sets)
    outcome = ("B flushes every page synchronously" if off else
               "B may defer (on x86 only while the mm is active on another CPU)"
               if "X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=n" in sets else "B defers")
    return Flip(tuple(sets), f"{why}: {outcome}")


def dropped_errata(sets) -> list[str]:
    """The arm64 erratum workarounds that *sets* turn off (``ARM64_ERRATUM_*=n``, ...), by name."""
    return [s.partition("=")[0] for s in sets
            if s.startswith(("ARM64_ERRATUM_", "QCOM_FALKOR_ERRATUM_")) and s.endswith("=n")]


def refuse_erratum_flip(machine_a, sets) -> None:
    """A flip that drops a REPEAT_TLBI erratum workaround in force is refused
    (main job and sweep).

    Turning deferral on would also drop the workaround, whose repeated
    TLBI + DSB costs apart from batching: the A/B would credit batching
    with the workaround's cost.  *machine_a* is the configured kernel's
    Machine (booted or not): whether the workaround is in force is the arch
    backend's decision on that machine (``repeat_tlbi``), not the config's.
    """
    errata = dropped_errata(sets)
    if errata and getattr(machine_a.arch, "repeat_tlbi", False):
        names = ", ".join(errata)
        raise UserError(
            f"CONFIG_{errata[0]}=y: the REPEAT_TLBI erratum workaround ({names}) is what keeps "
            "this kernel from deferring, and dropping it also removes its repeated TLBIs, so an "
            "A/B would mix the workaround's cost with batching's effect: expected a kernel "
            f"without it (compare with --set {errata[0]}=n; run both to see the workaround's "
            "own cost)")


def parse_workload(spec: str) -> tuple[str, int, int]:
    """``seed``, ``procs[:N]``, ``threads[:N]`` or ``migrate[:N]`` -> (name, procs, threads).

    migrate:N is N threads (what the CPU check needs); bench_kw() says how
    to run it.
    """
    name, sep, count = spec.partition(":")
    if name not in WORKLOADS:
        raise UserError(f"--workload {spec}: unknown workload: expected one of "
                        f"{', '.join(WORKLOADS)} (procs, threads and migrate take :N)")
    if name == "seed":
        if count:
            raise UserError(f"--workload {spec}: the seed workload takes no count: "
                            "expected 'seed'")
        return name, 1, 1
    try:
        n = int(count) if count or sep else DEFAULT_COUNT      # "procs:" has no count
    except ValueError:
        n = 0
    if n < 1:
        raise UserError(f"--workload {spec}: bad count {count!r}: expected {name}:N, N >= 1")
    return (name, n, 1) if name == "procs" else (name, 1, n)


def bench_kw(spec: str) -> dict:
    """The run_seed_benchmark() keywords of a workload spec."""
    name, procs, threads = parse_workload(spec)
    if name == "migrate":
        return {"migrate": threads}
    return {"procs": procs, "threads": threads}


def check_migrate_machine(machine, workload: str) -> None:
    """The migrate workload needs two NUMA nodes and CONFIG_MIGRATION (UserError if not)."""
    if parse_workload(workload)[0] != "migrate":
        return
    if machine.numa.nr_nodes < 2:
        raise UserError(f"--workload {workload}: machine '{machine.profile.name}' has one NUMA "
                        "node: expected a machine with 2 or more (a profile with [numa] "
                        "node_cpus, e.g. kunpeng920 or x86-2s)")
    if not machine.migration:
        raise UserError(f"--workload {workload}: CONFIG_MIGRATION is not set: expected "
                        "MIGRATION=y (the move_pages syscall needs it)")


class ABInterrupted(Exception):
    """Ctrl-C during the A/B run; the message says what had finished."""


def check_flip(machine_a, machine_b, flip: Flip) -> None:
    """An A/B whose kernels take the same deferral decision is an error, never a table."""
    a, b = machine_a.tlb_flush_path, machine_b.tlb_flush_path
    if a.batched == b.batched:
        state = "defers" if a.batched else "does not defer"
        raise UserError(
            f"{_kernel_desc(machine_a.cfg)}: the flip (B = A + {' '.join(flip.sets)}) does not "
            f"change the deferral decision (both kernels: {state}: {b.reason}): expected two "
            "kernels that differ in it; no A/B to show")


def check_sweep_point(cfg, cpus: int, profile, boot=None) -> None:
    """A sweep point's two kernels must take different deferral decisions (UserError if not).

    The sweep runs, per point, *cfg* plus the assignments that make reclaim
    defer and *cfg* plus those that stop it (``minikernel.arch.deferral_sets``);
    their boot decisions are compared before anything runs, so a point whose
    two kernels would decide alike is an error, never a speedup of 1.000.
    *profile* is the machine at *cpus* CPUs.  *boot* (sets -> Machine, unrun),
    if given, builds the machines: the sweep passes one that boots each
    distinct kernel of a point once.
    """
    from minikernel.machine import Machine

    if boot is None:
        boot = lambda sets: Machine(cfg.with_sets(sets), profile)  # noqa: E731
    decided = {}
    for on in (True, False):
        sets = deferral_sets(cfg, cpus, on, profile)
        path = boot(tuple(sets)).tlb_flush_path
        decided[on] = (sets, path)
    (on_sets, on_path), (off_sets, off_path) = decided[True], decided[False]
    if on_path.batched is not True or off_path.batched is not False:
        raise UserError(
            f"sweep point {_kernel_desc(cfg)} on {cpus} CPUs: the deferring kernel "
            f"(+ {' '.join(on_sets) or 'nothing'}) and the synchronous one "
            f"(+ {' '.join(off_sets) or 'nothing'}) do not differ in the deferral decision "
            f"({on_path.reason}; {off_path.reason}): expected two kernels that differ in it; "
            "no point to show")


def run_ab(machine_a, machine_b, flip: Flip, *, iterations: int, workload: str = "seed",
           warmup: int = 1, progress=None, jobs: int | None = 1) -> dict:
    """Run the seed benchmark on freshly booted *machine_a* (configured) and *machine_b*.

    *jobs* > 1 (None: one per usable core) runs the two in parallel host
    processes (``minikernel.parallel``); the report is the same bytes.
    *progress* (called with label, done, total) needs the runs in this
    process, so it is honoured only when they run one after the other.
    Returns the report's ``ab`` part: ``flip`` (sets, why), ``workload``,
    ``iterations``, ``notes`` and ``runs`` (A then B, see :func:`_run_dict`).
    Raises UserError if the two kernels do not differ in the deferral decision.
    """
    refuse_erratum_flip(machine_a, flip.sets)
    check_flip(machine_a, machine_b, flip)
    name, procs, threads = parse_workload(workload)
    kw = bench_kw(workload)
    for m in (machine_a, machine_b):
        need = max(procs, threads)
        if need > m.nr_cpus:
            raise UserError(f"--workload {workload}: needs {need} CPUs: expected at most "
                            f"{m.nr_cpus} (the machine's CPU count; see --smp)")
        check_migrate_machine(m, workload)
    if jobs is None:
        jobs = default_jobs(2)
    if jobs > 1:
        try:
            results = run_benchmarks([machine_a, machine_b], iterations, jobs=jobs,
                                     warmup=warmup, **kw)
        except KeyboardInterrupt:
            raise ABInterrupted("interrupted: both kernels were running in parallel; "
                                "nothing finished, nothing printed") from None
        runs = [_run_dict(label, m, r, iterations) for label, m, r in
                zip(("A: configured", "B: flipped"), (machine_a, machine_b), results)]
    else:
        runs = []
        for label, m in (("A: configured", machine_a), ("B: flipped", machine_b)):
            try:
                r = run_seed_benchmark(m, iterations, warmup=warmup, **kw,
                                       progress=progress and (lambda d, t, lb=label: progress(lb, d, t)))
            except BenchmarkInterrupted as e:
                done = "; ".join(f"{x['label']}: all {iterations} done, "
                                 f"{x['elapsed_per_iteration_ms']:.4f} ms per iteration" for x in runs)
                raise ABInterrupted(f"interrupted: {label}: {e.done} of {iterations} measured "
                                    f"iterations done" + (f" ({done})" if done else "")
                                    + "; nothing printed") from None
            runs.append(_run_dict(label, m, r, iterations))
    notes = []
    if any(r["flush_path"]["batched"] and not r["batched"] for r in runs):
        # Batching was on but nothing deferred: the arch decides per mm at run
        # time, which only x86 does (an mm active on another CPU).
        if name == "migrate":
            notes.append("migration never deferred a flush: "
                         + "; ".join(f"{m.baseline.name}" + (
                             " predates migration batching (7e12beb8ca2a, Linux 6.3): "
                             "try_to_migrate() flushes every PTE at once"
                             if not m.baseline.migrate_batch else
                             " batches migration, but the mm ran on one CPU only")
                             for m in {x.baseline.name: x for x in (machine_a, machine_b)}.values())
                         + " (compare a 6.6 kernel: --set MODEL_ARM64_BATCHED_TLB_6_6=y on "
                         "arm64, --set MODEL_X86_KERNEL_6_6=y on x86)")
        else:
            notes.append("x86: with one thread the seed benchmark never defers -- the mm is "
                         "active on one CPU only, so arch_tlbbatch_should_defer() is false and "
                         "a flush is one local INVLPG; try --workload threads:4")
    return {"flip": {"sets": list(flip.sets), "why": flip.why}, "workload": workload,
            "iterations": iterations, "notes": notes, "runs": runs}


def saving_report(cfg_a, cfg_b, profile, runs: list[dict], workload: str) -> dict:
    """The saving from deferring (% of the non-deferring run's elapsed), with its range.

    ``pct`` comes from the two runs above.  Where it depends on assumed
    figures (minikernel.uncertainty.needs_range), ``low_pct``/``high_pct``
    are its extremes over the profile's [range] table (re-runs of one
    measured iteration each) and ``moved_most_by`` names the assumption with
    the largest swing; otherwise ``range`` is null.  ``far`` says when the
    CPU count is far from any measured point.
    """
    from minikernel import uncertainty
    from minikernel.machine import Machine
    from minikernel.workload import run_seed_benchmark

    a_defers = bool(deferral_sets(cfg_a, profile.cpus, False))
    a, b = runs
    on, off = (a, b) if a_defers else (b, a)
    pct = (1 - on["elapsed_s"] / off["elapsed_s"]) * 100 if off["elapsed_s"] else 0.0
    why = uncertainty.needs_range(profile)
    if why is None and workload.startswith("migrate") and any(
            k.startswith("numa.") for k in profile.ranges):
        why = (f"the migration benchmark was never measured on {profile.name}: its page-copy "
               "figures ([numa]) are assumptions")
    out = {"pct": pct, "range": None, "why_range": why, "far": uncertainty.far_note(profile),
           # the fits consumed the seed benchmark's figures (one process, one thread),
           # never those of threads:N, procs:N or the migration benchmark
           "fit_input": (uncertainty.fit_input_note(profile, cfg_a) if workload == "seed"
                         else None)}
    if why is None:
        return out
    kw = bench_kw(workload)
    cfg_on, cfg_off = (cfg_a, cfg_b) if a_defers else (cfg_b, cfg_a)

    def saving(p) -> float:
        r_on = run_seed_benchmark(Machine(cfg_on, p), 1, warmup=1, **kw)
        r_off = run_seed_benchmark(Machine(cfg_off, p), 1, warmup=1, **kw)
        return (1 - r_on.elapsed_ns / r_off.elapsed_ns) * 100

    out["range"] = uncertainty.saving_range(profile, saving,
                                            skip=() if "migrate" in kw else ("numa.",))
    return out


def render_saving(s: dict) -> str:
    """One or two lines: the saving, and its range when it depends on assumptions."""
    out = f"  saving from deferring: {s['pct']:.2f} % of the non-deferring run's elapsed"
    r = s.get("range")
    if r:
        out += (f"; range {r['low_pct']:.2f} .. {r['high_pct']:.2f} % over the assumed figures "
                f"(moved most by {r['moved_most_by']}) -- {s['why_range']}")
    for k in ("far", "fit_input"):
        if s.get(k):
            out += f"\n  note: {s[k]}"
    return out + "\n"


def render_ab(ab: dict) -> str:
    """The A/B table: simulated elapsed, cycles, flushes, batches, DSBs/IPIs, change in %."""
    a, b = ab["runs"]
    what = ("migration benchmark (2 moves of the working set per iteration)"
            if ab["workload"].startswith("migrate") else "seed benchmark")
    out = [f"A/B: {what} ({ab['workload']}, {ab['iterations']} iterations after 1 "
           "warm-up), configured kernel vs deferral flipped",
           f"  B = A + {' '.join('--set ' + s for s in ab['flip']['sets'])}",
           f"      ({ab['flip']['why']})"]
    out += [f"  note: {n}" for n in ab["notes"]]
    rows = [("elapsed (simulated ms)", a["elapsed_s"] * 1e3, b["elapsed_s"] * 1e3, "{:.3f}"),
            ("  per iteration (ms)", a["elapsed_per_iteration_ms"],
             b["elapsed_per_iteration_ms"], "{:.4f}"),
            ("cycles (a.out)", a["cycles"], b["cycles"], "{:,.0f}"),
            ("pages reclaimed", a["pages_reclaimed"], b["pages_reclaimed"], "{:,}")
            if "pages_migrated" not in a else
            ("pages migrated", a["pages_migrated"], b.get("pages_migrated", 0), "{:,}"),
            ("synchronous flushes", a["sync_flushes"], b["sync_flushes"], "{:,}"),
            ("deferred PTEs", a["deferred_ptes"], b["deferred_ptes"], "{:,}"),
            ("batch flushes", a["batches"], b["batches"], "{:,}")]
    for k in dict.fromkeys([*a["arch"], *b["arch"]]):
        rows.append((_ARCH_LABEL.get(k, k), a["arch"].get(k, 0), b["arch"].get(k, 0), "{:,}"))
    rows.append(("other CPUs' cycles", a["other_cpus_cycles"], b["other_cpus_cycles"],
                 "{:,.0f}"))
    out.append("  " + _verdict(a, b))
    if "saving" in ab:
        out.append(render_saving(ab["saving"]).rstrip("\n"))
    w = max(len(r[0]) for r in rows)
    la = "A " + ("batched" if a["batched"] else "unbatched")
    lb = "B " + ("batched" if b["batched"] else "unbatched")
    out.append(f"  {'':{w}}  {la:>16}  {lb:>16}  {'change':>9}")
    for label, va, vb, fmt in rows:
        change = f"{(vb - va) / va * 100:+.1f}%" if va else ("" if not vb else "new")
        out.append(f"  {label:{w}}  {fmt.format(va):>16}  {fmt.format(vb):>16}  {change:>9}")
    return "\n".join(out) + "\n"


def render_perf(run: dict, top: int = 20, comm: str = "a.out") -> str:
    """A ``perf report --stdio``-shaped table of one run's benchmark task."""
    out = [f"# {run['label']}: {run['kernel']}",
           f"# Event count (approx.): {run['cycles']:,.0f} cycles of {comm} "
           "(simulated, benchmark loop only)",
           "#",
           "# Overhead  Command  Shared Object      Symbol",
           "# ........  .......  .................  ....................................",
           "#"]
    items = sorted(run["profile"].items(), key=lambda kv: kv[1], reverse=True)
    for sym, pct in items[:top]:
        if sym in _USER_SYMBOLS:
            dso, kind = comm, "[.]"
        else:
            dso, kind = "[kernel.kallsyms]", "[k]"
        out.append(f"{pct:9.2f}%  {comm:<7}  {dso:<17}  {kind} {sym}")
    rest = sum(p for _, p in items[top:])
    if rest:
        out.append(f"{rest:9.2f}%  (other {len(items) - top} symbols)")
    stalls = sorted(run["stalls_pct"].items(), key=lambda kv: kv[1], reverse=True)[:3]
    if stalls:
        out.append("#")
        out.append("# Waits inside one instruction (perf annotate), % of the cycles above:")
        for what, pct in stalls:
            out.append(f"#   {pct:6.2f}%  {what}")
    if run["other_cpus"]:
        out.append("#")
        out.append("# Other CPUs (not in the percentages above), cycles:")
        for sym, cyc in sorted(run["other_cpus"].items(), key=lambda kv: kv[1], reverse=True):
            out.append(f"#   {cyc:14,.0f}  [k] {sym}")
    return "\n".join(out) + "\n"


def render_vmstat(run: dict) -> str:
    """/proc/vmstat-style deltas of one run (model-only counters marked)."""
    out = [f"# vmstat deltas, {run['label']}"]
    for k, v in run["vmstat"].items():
        out.append(f"{k} {v}" + ("    # model-only" if k in MODEL_COUNTERS else ""))
    return "\n".join(out) + "\n"


def render_text(ab: dict, vmstat: bool = False, top: int = 20) -> str:
    """The A/B table, then each run's perf table (and vmstat)."""
    parts = [render_ab(ab)]
    for run in ab["runs"]:
        parts.append(render_perf(run, top))
        if vmstat:
            parts.append(render_vmstat(run))
    return "\n".join(parts)


def write_trace(path: str | Path, machines: list, labels: list[str]) -> None:
    """Write the machines' trace to *path* in ftrace's text format, one section per run.

    Each section opens as the kernel's trace file does with irq-info off
    (print_event_info(), print_func_help_header()): the entry count and the
    CPU count (``#P:``), then the two column-header lines.
    """
    from minikernel.trace import MODEL_EVENTS

    lines = ["# tracer: nop", "#",
             "# TIMESTAMP: one global clock per run, simulated seconds since boot",
             f"# model-only events (no upstream tracepoint): {', '.join(MODEL_EVENTS)}",
             "# lines before '# warm-up iteration' are the benchmark's set-up (mapping and "
             "first touch), lines between it and '# measured iterations' the warm-up: "
             "neither is measured", "#"]
    # (no zip(strict=True): Python 3.9, PyPy 7.3)
    if len(machines) != len(labels):
        raise ValueError(f"write_trace: {len(machines)} machines, {len(labels)} labels")
    for m, label in zip(machines, labels):
        events = m.trace or []
        n = sum(not e.startswith("#") for e in events)
        lines.append(f"# {label}")
        lines.append(f"# entries-in-buffer/entries-written: {n}/{n}   #P:{m.nr_cpus}")
        lines.append("#")
        lines.append("#           TASK-PID     CPU#     TIMESTAMP  FUNCTION")
        lines.append("#              | |         |         |         |")
        lines.extend(events)
    try:
        Path(path).write_text("\n".join(lines) + "\n")
    except OSError as e:
        raise UserError(f"--trace {path}: cannot write: {e.strerror or e}") from None


#
# Private helpers
#

_USER_SYMBOLS = frozenset({"main"})
_ARCH_LABEL = {"tlbi_issued": "TLBIs issued", "dsb_ish": "DSB ISH",
               "dsb_ish_waited": "DSB ISH that waited", "ipis_sent": "IPIs sent",
               "tlbi_queue_full": "TLBIs that found the DVM queue full"}


def _verdict(a: dict, b: dict) -> str:
    """One line answering "what does deferring buy here?"."""
    if a["batched"] == b["batched"]:
        return ("neither run deferred a flush, so this workload shows no effect of batching"
                if not a["batched"] else "both runs deferred flushes")
    on, off = (a, b) if a["batched"] else (b, a)
    saved = (1 - on["elapsed_s"] / off["elapsed_s"]) * 100
    return (f"deferring the flushes {'saves' if saved >= 0 else 'costs'} {abs(saved):.1f} % of "
            f"elapsed on {off['machine']} with {off['cpus']} CPUs")


def _kernel_desc(cfg) -> str:
    src = "defconfig" if cfg.source is None else str(cfg.source)
    sets = " ".join(f"{s}" for s in cfg.sets)
    return f"{cfg.arch} {src}" + (f" + {sets}" if sets else "")


def _run_dict(label: str, m, r, iterations: int) -> dict:
    ghz = m.profile.ghz
    total = sum(r.profile.values()) or 1.0
    # DEBUG_TLBFLUSH exists only on x86 (as upstream): on arm64 no nr_tlb_* counters.
    debug_tlbflush = m.cfg.values.get("DEBUG_TLBFLUSH") == "y"
    vmstat = {k: v for k, v in r.vmstat.items()
              if debug_tlbflush or not k.startswith("nr_tlb_")}
    # The arch's own TLB counters (arm64: tlbi_issued, dsb_ish, dsb_ish_waited;
    # x86: ipis_sent) sit beside the kernel's, model-only names and all.
    vmstat.update(r.arch)
    path = m.tlb_flush_path
    return {
        "label": label,
        "kernel": _kernel_desc(m.cfg),
        "baseline": m.baseline.as_dict(),
        "sets": list(m.cfg.sets),
        "machine": m.profile.name,
        "cpus": m.nr_cpus,
        "flush_path": {"batched": path.batched, "reason": path.reason},
        "batched": r.vmstat.get("tlb_deferred_pte", 0) > 0,
        "iterations": iterations,
        "elapsed_s": r.elapsed_ns / 1e9,
        "elapsed_per_iteration_ms": r.elapsed_ns / iterations / 1e6,
        "cycles": r.cycles,
        "pages_reclaimed": r.pages_reclaimed,
        **({"pages_migrated": r.vmstat["pgmigrate_success"]}
           if r.vmstat.get("pgmigrate_success") else {}),
        "swapins": r.swapins,
        "sync_flushes": r.vmstat.get("tlb_sync_flush", 0),
        "deferred_ptes": r.vmstat.get("tlb_deferred_pte", 0),
        "batches": r.vmstat.get("tlb_batch_flush", 0),
        "arch": dict(r.arch),
        "profile": {k: round(v / total * 100, 4)
                    for k, v in sorted(r.profile.items(), key=lambda kv: kv[1], reverse=True)},
        "stalls_pct": {f"{sym} ({insn})": round(v / total * 100, 4)
                       for (sym, insn), v in r.stalls.items()},
        "other_cpus": {k: round(v * ghz) for k, v in r.other_cpus_ns.items()},
        "other_cpus_cycles": round(sum(r.other_cpus_ns.values()) * ghz),
        "vmstat": vmstat,
    }


def _why(cfg, assignment: str, cpus: int) -> str:
    """What one assignment of a flip does, in words: the arch backend's (``deferral_why``)."""
    return deferral_why(cfg.arch, assignment, cpus)
