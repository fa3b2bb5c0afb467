"""Fit an arm64 machine profile to measurements of the seed benchmark (``minikernel fit``).

Model-only.  Turns what a user can measure on their own machine -- ``perf
report --stdio`` of the cover letter's benchmark, the output of ``time``,
optionally the same for the batched kernel and ``perf annotate`` of
``ptep_clear_flush`` -- into a profile TOML whose every figure says whether it
was measured, fitted or assumed.  ``tools/fit_profiles.py`` is this module
applied to ``minikernel/data/published.toml``.

The model's elapsed time is the *CPU time of the benchmark task* (each
simulated CPU's clock only advances while it runs kernel or user work; the
model has no sleeping, no other tasks, no preemption).  So the fit targets
``user + sys`` of ``time``, never ``real``: the difference (off-CPU time) has
no mechanism in the model.  ``FitResult.other_measure`` says what fitting
the wall-clock time instead would have implied.

What is fitted (all by running the model and correcting, never by a formula
that bypasses it):
  - per-symbol kernel costs: a symbol perf reports gets its share of the
    measured CPU time per iteration, divided by the calls the model makes;
    the unreported rest is spread over the other symbols in the proportions
    of a base profile (``--like``), scaled by one factor, so that the total
    matches the measured CPU time;
  - the DVM latency at the measured CPU count, so that ``ptep_clear_flush``
    gets its measured share;
  - with a batched ``time`` too: the per-TLBI issue cost, so that the
    batched CPU time matches (otherwise that figure is assumed, and the
    batched run is a prediction).
Everything else is assumed: the hardware figures with a plausible range
(``[range]``), the small fixed kernel costs (FIXED), init_on_alloc and the
TLB size without one.

Invariants this module owns:
  - A line of an input file it cannot read is a UserError naming the file,
    the line number and what was expected.
  - A figure is written with one of the provenance tags measured / fit /
    assumed (and published, for the built-in profiles' inputs).
  - A number the fit consumed is a residual, never a prediction: the
    result separates ``residuals`` (inputs reproduced) from
    ``predictions`` (outputs that were not inputs).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from minikernel.errors import UserError
from minikernel.profile import KERNEL_SYMBOLS, MachineProfile, load_profile

PAGES = 256                   # the benchmark's 1 MiB buffer
FIT_ITERATIONS = 2            # every steady-state iteration is identical in the model
UNBATCHED = ["EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=4096"]
BATCHED = ["EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=1"]
#: Kconfig assignments that describe the kernels the published measurements ran
#: (2022 kernels: before 171df58028bf, the Cortex-A55 REPEAT_TLBI erratum
#: 2441007, so that workaround was not in them).  Laid under UNBATCHED/BATCHED.
PUBLISHED_KERNEL = ("ARM64_ERRATUM_2441007=n",)

#: Small fixed costs (ns; assumptions): the non-waiting bookkeeping of the
#: flush paths, and the syscall entry.  (symbol, ns, what it stands for)
FIXED: tuple[tuple[str, float, str], ...] = (
    ("ptep_clear_flush", 6.0, "own PTE work only; the TLBI/DSB cost comes from [arm64]"),
    ("ptep_get_and_clear", 6.0, "same PTE work as ptep_clear_flush, no flush"),
    ("set_tlb_ubc_flush_pending", 4.0, "batch bookkeeping"),
    ("try_to_unmap_flush", 5.0, "per batch, excluding the DSB"),
    ("try_to_unmap_flush_dirty", 3.0, "a flag test per folio"),
    ("flush_tlb_batched_pending", 3.0, "the pending/flushed check"),
    ("tlb_finish_mmu", 5.0, "gather teardown, excluding the flush"),
    ("tlb_flush_mmu", 5.0, "per gather flush, excluding the TLBIs/DSB or IPIs"),
    ("reclaim_pages", 300.0, "once per MADV_PAGEOUT"),
    ("el0_svc", 300.0, "syscall entry/exit"),
    ("main", 2.0, "one user load in the benchmark, excluding the TLB walk"),
)

#: Assumed relative weights of the symbols no perf report gives (their share of
#: the unreported CPU time is proportional to the weight): a graded tail, each
#: below the smallest published Snapdragon line.  Any other called symbol
#: (e.g. one a new code path adds) gets DEFAULT_WEIGHT.
TAIL_WEIGHTS: dict[str, float] = {
    "el0_da": 1.360, "__alloc_pages": 1.355, "shrink_folio_list": 1.351,
    "free_unref_folios": 1.346, "_raw_spin_unlock": 1.342, "__remove_mapping": 1.337,
    "zram_slot_lock": 1.333, "handle_mm_fault": 1.328, "shmem_writeout": 1.323,
    "try_to_unmap_one": 1.319, "page_vma_mapped_walk": 1.314, "folio_isolate_lru": 1.310,
    "shmem_swapin_folio": 1.305, "folio_add_lru": 1.301,
    "madvise_cold_or_pageout_pte_range": 1.296, "swap_writepage": 1.291,
    "shmem_add_to_page_cache": 1.282, "xas_load": 1.273, "_raw_spin_lock_irqsave": 1.264,
    "rmap_walk": 1.255, "shmem_fault": 1.246, "swap_read_folio": 1.241, "zram_bvec_read": 1.237,
    "shmem_get_folio_gfp": 1.227, "do_fault": 1.223, "pageout": 1.214, "finish_fault": 1.209,
    "swap_cache_lookup": 1.200,
}
DEFAULT_WEIGHT = 1.25
#: Symbols the seed benchmark never calls cost what a neighbour does (assumption).
UNCALLED_LIKE: dict[str, str] = {
    "do_anonymous_page": "shmem_fault", "do_wp_page": "shmem_fault",
    "do_swap_page": "shmem_swapin_folio", "folio_referenced": "rmap_walk",
    "add_to_swap": "shmem_writeout", "zap_pte_range": "madvise_cold_or_pageout_pte_range",
    "change_pte_range": "madvise_cold_or_pageout_pte_range",
    "folio_referenced_one": "page_vma_mapped_walk", "shrink_active_list": "shrink_folio_list",
    "migrate_pages": "shrink_folio_list", "migrate_pages_batch": "shrink_folio_list",
    "migrate_folio_unmap": "shrink_folio_list", "migrate_folio_move": "__remove_mapping",
    "unmap_and_move": "shrink_folio_list", "try_to_migrate_one": "try_to_unmap_one",
    "remove_migration_pte": "page_vma_mapped_walk", "migration_entry_wait": "do_swap_page",
    "do_pages_move": "madvise_cold_or_pageout_pte_range",
}

#: Assumed hardware figures: (key, value, (low, high), why).
ASSUMED_ARM64: tuple[tuple[str, Any, tuple, str], ...] = (
    ("tlbi_issue_ns", 2.0, (1.0, 20.0), "issuing one TLBI on an idle fabric, a few cycles"),
    ("dsb_ns", 1.0, (0.5, 5.0), "a DSB with nothing outstanding"),
    ("dvm_throughput_base_ns", 0.0, (0.0, 20.0), "fixed part of a DVM operation's port time"),
    ("dvm_queue_depth", 4, (1, 16), "outstanding DVM operations per requester: the Arm CCN-502 "
                                    "TRM 2.7 limit of 4 outstanding DVM transactions to an RN-F, "
                                    "taken as the requester's queue (neither machine is a CCN-502)"),
    ("dvm_contention", 1.0, (0.25, 1.0), "added latency per extra CPU broadcasting at once, as a "
                                         "fraction of the latency: 'almost linearly' (Arcangeli 2020)"),
)
#: NUMA topology of the published machines ([numa] node_cpus, with its
#: provenance); a machine not listed is written without [numa] (one node).
NUMA_TOPOLOGY: dict[str, tuple[tuple[int, ...], str]] = {
    "kunpeng920": ((24, 24, 24, 24),
                   "spec: a 2-socket Kunpeng 920-4826 has 4 NUMA nodes, one per 24-core die "
                   "(2 dies a socket), as numactl -H shows on such servers; not checked on "
                   "the series' test machine"),
}
#: Assumed page-copy figures of migration ([numa]): (key, value, (low, high), why).
ASSUMED_NUMA: tuple[tuple[str, float, tuple[float, float], str], ...] = (
    ("local_copy_gbps", 10.0, (5.0, 20.0), "one core's copy bandwidth within a node, GB/s"),
    ("local_latency_ns", 0.0, (0.0, 100.0), "before the first line of a local copy arrives"),
    ("remote_copy_gbps", 6.0, (2.0, 10.0), "one core's copy bandwidth from another node, GB/s"),
    ("remote_latency_ns", 150.0, (50.0, 300.0), "the extra latency of a remote node's line"),
)
#: Port time of one DVM operation, as a fraction of the latency (assumption,
#: all of it per CPU: the snoop fan-out), and its range.
THROUGHPUT_SHARE = (0.05, (0.01, 0.25))
#: Fixed part of the DVM latency at the measured CPU count (assumption).
FIXED_SHARE = (0.5, (0.25, 0.75))
TLB_WALK_NS = (25.0, (10.0, 60.0))

#: Cores that lack E0PD (ARMv8.2 and older): with KASLR they run with KPTI
#: (arm64 kaslr_requires_kpti()), so every TLBI is issued twice.  KPTI is a
#: boot CPU-local capability (ARM64_CPUCAP_BOOT_RESTRICTED_CPU_LOCAL_FEATURE):
#: one such core among the boot CPUs turns it on for the whole system.
NO_E0PD_CORES = {"cortex-a53", "cortex-a55", "cortex-a57", "cortex-a72", "cortex-a73",
                 "cortex-a75", "cortex-a76", "cortex-a77", "cortex-a78", "cortex-x1",
                 "neoverse-n1", "tsv110", "kunpeng920", "cortex-a65", "neoverse-e1",
                 "qcom-falkor-v1", "qcom-kryo", "qcom-kryo4xx-gold"}


@dataclass
class Measurements:
    """What the fit is given; ``None`` means not measured.

    name, cpus, ghz, cores: the machine; cores as perf/dmesg name them
    kpti:          True/False if known (dmesg | grep -i kpti), None: decide from cores
    iterations:    the benchmark's loop count (the published runs: 10 000)
    shares:        symbol -> % of the benchmark's cycles, unbatched (perf report)
    cpu_s:         user + sys seconds, unbatched; wall_s: real seconds
    batched_cpu_s, batched_wall_s: the same for the batched kernel
    batched_shares: perf report of the batched kernel (a check, never an input)
    dsb_pct:       perf annotate: % of ptep_clear_flush in its final DSB (a check)
    sources:       what -> where it came from (file:line or a citation)
    sets:          Kconfig assignments of the measured kernel, laid under the
                   fit's unbatched/batched runs (the published data: PUBLISHED_KERNEL)
    """

    name: str
    cpus: int
    ghz: float
    cores: tuple[str, ...] = ()
    kpti: bool | None = None
    iterations: int = 10000
    shares: dict[str, float] = field(default_factory=dict)
    cpu_s: float | None = None
    wall_s: float | None = None
    batched_cpu_s: float | None = None
    batched_wall_s: float | None = None
    batched_shares: dict[str, float] = field(default_factory=dict)
    dsb_pct: float | None = None
    sources: dict[str, str] = field(default_factory=dict)
    tag: str = "measured"             # provenance word for the inputs
    init_on_alloc: bool | None = None  # None: as in the base profile (assumption)
    tlb_entries: int | None = None     # None: as in the base profile (assumption)
    why: dict[str, str] = field(default_factory=dict)   # figure -> provenance override
    sets: tuple[str, ...] = ()


@dataclass
class FitResult:
    """A fitted profile and how well it does.

    profile:     the MachineProfile (usable directly)
    toml:        the profile file text, every figure with its provenance
    residuals:   name -> (target, model) for every input reproduced
    predictions: name -> (measured or None, model) for outputs that were not inputs
    other_measure: what fitting wall-clock time instead would imply (text)
    notes:       lines worth printing
    """

    profile: MachineProfile
    toml: str
    residuals: dict[str, tuple[float, float]]
    predictions: dict[str, tuple[float | None, float]]
    other_measure: str = ""
    notes: list[str] = field(default_factory=list)


#
# Parsers
#

_PERF_LINE = re.compile(
    r"^\s*(?P<a>\d+(?:\.\d+)?)%\s+(?:(?P<b>\d+(?:\.\d+)?)%\s+)?(?P<n>(?:\d+\s+)*)"
    r"(?P<comm>\S+)\s+(?P<dso>\S+)\s+\[(?P<kind>[^\]]+)\]\s+(?P<sym>\S+)")


def parse_perf_report(path: str | Path, text: str | None = None,
                      command: str | None = None) -> tuple[dict[str, float], str]:
    """``perf report --stdio`` text -> ({symbol: self %}, command), summed over DSOs.

    Works with and without ``--children`` (then the Self column is used),
    with call-graph lines, and with other commands present (only
    *command*'s lines count; by default the command of the top line).
    """
    text = Path(path).read_text(encoding="utf-8", errors="replace") if text is None else text
    rows = []
    children = False
    counts = 0                  # numeric columns (-n Samples, Period) before Command
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            if re.search(r"\bChildren\s+Self\b", s):
                children = True
            if re.search(r"\bCommand\b", s):
                counts = len(re.findall(r"\b(?:Samples|Period)\b", s.split("Command")[0]))
            continue
        if s[0] in "|-" or s.startswith("---") or re.match(r"^[\d.]+%\s*$", s) or \
                re.match(r"^\|?\s*--[\d.]+%--", s) or set(s) <= set("|- "):
            continue                                    # call-graph lines
        m = _PERF_LINE.match(line)
        if m and len(m["n"].split()) != counts:
            m = None
        if not m:
            raise UserError(f"{path}:{n}: cannot read this line: expected a perf report "
                            "--stdio line 'OVERHEAD% COMMAND DSO [k] SYMBOL' (or a '#' "
                            f"comment), found {s[:60]!r}")
        pct = float(m["b"]) if (children or m["b"] is not None) and m["b"] is not None \
            else float(m["a"])
        rows.append((m["comm"], m["sym"], pct))
    if not rows:
        raise UserError(f"{path}: no perf report lines: expected the output of "
                        "`perf report --stdio` of the benchmark")
    comm = command or rows[0][0]
    out: dict[str, float] = {}
    for c, sym, pct in rows:
        if c == comm:
            out[sym] = out.get(sym, 0.0) + pct
    if not out:
        raise UserError(f"{path}: no line of command {comm!r}: expected the benchmark's "
                        "command in the Command column (see --command-name)")
    return out, comm


_TIME_GNU = re.compile(r"(?P<u>[\d.]+)user\s+(?P<s>[\d.]+)system\s+(?P<e>[\d:.]+)elapsed")
_TIME_BASH = re.compile(r"^\s*(?P<k>real|user|sys)\s+(?:(?P<m>\d+)m)?(?P<sec>[\d.]+)s?\s*$")


def _clock(v: str) -> float:
    parts = [float(x) for x in v.split(":")]
    t = 0.0
    for p in parts:
        t = t * 60 + p
    return t


def parse_time(path: str | Path, text: str | None = None) -> tuple[float, float]:
    """Output of ``time`` (bash's, ``time -p``, or GNU/busybox's one line) -> (user+sys, real) s."""
    text = Path(path).read_text(encoding="utf-8", errors="replace") if text is None else text
    got: dict[str, float] = {}
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith(("#", "$", "~")) or re.match(r"^\S*\s*[#$]\s", s):
            continue                                    # prompts and comments
        m = _TIME_GNU.search(s)
        if m:
            got.update(user=float(m["u"]), sys=float(m["s"]), real=_clock(m["e"]))
            continue
        m = _TIME_BASH.match(s)
        if m:
            got[m["k"]] = int(m["m"] or 0) * 60 + float(m["sec"])
            continue
        if re.search(r"\d+inputs\+\d+outputs|pagefaults|%CPU", s):
            continue
        raise UserError(f"{path}:{n}: cannot read this line: expected the output of `time` "
                        "('real 0m13.460s' / 'user ...' / 'sys ...', or '0.21user 14.34system "
                        f"0:14.69elapsed'), found {s[:60]!r}")
    missing = [k for k in ("user", "sys", "real") if k not in got]
    if missing:
        raise UserError(f"{path}: no {'/'.join(missing)} time: expected the output of `time` "
                        "with real, user and sys")
    if got["user"] + got["sys"] <= 0 or got["real"] <= 0:
        raise UserError(f"{path}: user+sys {got['user'] + got['sys']:g} s, real {got['real']:g} s: "
                        "expected a run that took time (both above 0)")
    return got["user"] + got["sys"], got["real"]


_ANNOT = re.compile(r"^\s*(?P<pct>\d+(?:\.\d+)?)\s*[:│|]\s*(?P<rest>.*)$")


def parse_annotate(path: str | Path, text: str | None = None) -> float:
    """``perf annotate --stdio ptep_clear_flush`` -> % of its samples on ``dsb ish``."""
    text = Path(path).read_text(encoding="utf-8", errors="replace") if text is None else text
    total = dsb = 0.0
    seen = False
    for n, line in enumerate(text.splitlines(), 1):
        m = _ANNOT.match(line)
        if not m:
            if re.match(r"^\s*\d", line) and not re.match(r"^\s*\d+\s*$", line):
                raise UserError(f"{path}:{n}: cannot read this line: expected 'PERCENT : "
                                f"instruction' of perf annotate --stdio, found "
                                f"{line.strip()[:60]!r}")
            continue                                    # headers and source lines
        seen = True
        pct = float(m["pct"])
        total += pct
        if re.search(r"\bdsb\s+ish\b(?!st)", m["rest"]):
            dsb += pct
    if not seen or total <= 0:
        raise UserError(f"{path}: no annotated instruction: expected the output of "
                        "`perf annotate --stdio ptep_clear_flush`")
    return dsb / total * 100


#
# The fit
#

def _machine(prof: MachineProfile, sets: list[str]):
    from minikernel.kconfig import load_kernel_config
    from minikernel.machine import Machine
    return Machine(load_kernel_config("arm64", sets=sets), prof)


def _run(prof: MachineProfile, sets: list[str], iterations: int = FIT_ITERATIONS,
         kernel: tuple[str, ...] = ()):
    from minikernel.workload import run_seed_benchmark
    return run_seed_benchmark(_machine(prof, [*kernel, *sets]), iterations, warmup=1)


def call_counts(prof: MachineProfile, kernel: tuple[str, ...] = ()) -> dict[str, float]:
    """Calls per iteration of every symbol, unbatched: run with every cost 1 ns, hardware 0."""
    ones = MappingProxyType({s: 1.0 for s in KERNEL_SYMBOLS})
    p = replace(prof, kernel_ns=ones, tlb_walk_ns=0.0, tlbi_issue_ns=0.0, dsb_ns=0.0,
                dvm_latency_base_ns=0.0, dvm_latency_per_cpu_ns=0.0,
                dvm_throughput_base_ns=0.0, dvm_throughput_per_cpu_ns=0.0)
    r = _run(p, UNBATCHED, kernel=kernel)
    return {k: v / FIT_ITERATIONS for k, v in r.profile.items()}


def skeleton_profile(meas: Measurements) -> MachineProfile:
    """A complete arm64 profile built in code (every kernel figure 1 ns, assumed
    hardware figures): the starting point of a fit that reads no profile file,
    so a re-fit works even when the shipped files lack a newly charged symbol."""
    hw = {a: v for a, v, _, _ in ASSUMED_ARM64}
    return MachineProfile(
        name=meas.name, arch="arm64", cpus=meas.cpus, ghz=meas.ghz, mem_pages=16384,
        init_on_alloc=bool(meas.init_on_alloc), tlb_walk_ns=TLB_WALK_NS[0],
        tlb_entries=meas.tlb_entries or 1024, tlbi_issue_ns=hw["tlbi_issue_ns"],
        dsb_ns=hw["dsb_ns"], dvm_latency_base_ns=100.0, dvm_latency_per_cpu_ns=1.0,
        dvm_throughput_base_ns=0.0, dvm_throughput_per_cpu_ns=0.1, ipi_send_ns=None,
        ipi_latency_ns=None, ipi_entry_ns=None, invlpg_ns=None, flush_tlb_ns=None,
        kernel_ns=MappingProxyType({s: 1.0 for s in KERNEL_SYMBOLS}),
        dvm_queue_depth=hw["dvm_queue_depth"], dvm_contention=hw["dvm_contention"])


def _cores(entries) -> tuple | None:
    """The profile's ``[machine] cores`` spelling -> Core values (None: not given,
    or a model without core facts)."""
    if not entries or not _HAS_CORES:
        return None
    from minikernel.hw.cputype import parse_cores
    try:
        return parse_cores(list(entries))
    except ValueError as e:
        raise UserError(f"--cores: {e}") from None


def _has_cores() -> bool:
    from minikernel.profile import _SCHEMA
    return "cores" in _SCHEMA["machine"]


#: Whether profiles carry ``[machine] cores`` (the core facts of the REPEAT_TLBI
#: detection); the fit writes them when they do.
_HAS_CORES = _has_cores()


def _kpti(meas: Measurements) -> tuple[bool, str]:
    if meas.kpti is not None:
        return meas.kpti, f"{meas.tag}: given"
    # "cortex-a78", "cortex-a78:r1p1" or "cortex-a55:r2p0 x4" (the profile's spelling)
    cores = [re.match(r"\s*([a-z0-9-]*)", c.lower()).group(1) for c in meas.cores]
    lacking = [c for c in cores if c in NO_E0PD_CORES]
    if lacking:
        which = ("the cores (" + ", ".join(meas.cores) + ") lack" if len(lacking) == len(cores)
                 else "some cores (" + ", ".join(lacking) + ") lack")
        return True, (f"assumption: KASLR on and {which} E0PD, so kaslr_requires_kpti() "
                      "forces KPTI; check `dmesg | grep -i kpti`")
    return False, "assumption: no KPTI (cores unknown or with E0PD); check `dmesg | grep -i kpti`"


def fit(meas: Measurements, like: MachineProfile | None = None, *,
        fit_issue: bool | None = None, rounds: int | None = None,
        other: bool = True) -> FitResult:
    """Fit a profile to *meas*; *like* gives the proportions of unreported symbols.

    fit_issue: fit the per-TLBI issue cost to the batched CPU time (default:
    whenever a batched CPU time is given).  other: also fit the wall-clock
    times instead and say what that would imply (``FitResult.other_measure``).
    """
    res = _fit(meas, like, fit_issue, rounds)
    if other and meas.wall_s is not None and meas.cpu_s is not None:
        wall = replace(meas, cpu_s=meas.wall_s,
                       batched_cpu_s=meas.batched_wall_s if meas.batched_cpu_s else None)
        w = _fit(wall, like, fit_issue, rounds)
        p, q = res.profile, w.profile
        sv = w.residuals.get("CPU time saved by batching (%)") or \
            w.predictions.get("CPU time saved by batching (%)")
        res.other_measure += (
            f". Fitted to wall time instead ({meas.wall_s:.3f} s"
            + (f" -> {meas.batched_wall_s:.3f} s" if meas.batched_cpu_s else "") + "): "
            f"latency({meas.cpus}) {q.dvm_latency_ns():.0f} ns (CPU-time fit: "
            f"{p.dvm_latency_ns():.0f}), TLBI issue {q.tlbi_issue_ns:.0f} ns "
            f"({p.tlbi_issue_ns:.0f}), share of ptep_clear_flush in its DSB "
            f"{w.predictions[DSB_KEY][1]:.0f} % ({res.predictions[DSB_KEY][1]:.0f} %), saving "
            f"{sv[1]:.2f} % of wall time")
    return res


DSB_KEY = "share of ptep_clear_flush in its DSB (%)"


def _fit(meas: Measurements, like: MachineProfile | None, fit_issue: bool | None,
         rounds: int | None) -> FitResult:
    ptep = meas.shares.get("ptep_clear_flush")
    t_known = meas.cpu_s is not None
    if not t_known and meas.batched_cpu_s is None:
        raise UserError("fit: the unbatched `time` output is missing: expected --time FILE")
    if ptep is None and (meas.batched_cpu_s is None or not t_known):
        raise UserError("fit: ptep_clear_flush is not in the unbatched perf report: expected "
                        "its line (the benchmark run with batching off)")
    if fit_issue is None:
        fit_issue = meas.batched_cpu_s is not None and t_known
    fit_issue = bool(fit_issue and ptep is not None and t_known
                     and meas.batched_cpu_s is not None)
    weights = like is None                # the unreported tail by TAIL_WEIGHTS
    like = like or skeleton_profile(meas)
    rounds = rounds or (20 if (fit_issue or not t_known or ptep is None) else 6)
    kpti, kpti_why = _kpti(meas)
    base = replace(like, name=meas.name, cpus=meas.cpus, ghz=meas.ghz, kpti=kpti,
                   **({"cores": _cores(meas.cores)} if _HAS_CORES else {}),
                   init_on_alloc=like.init_on_alloc if meas.init_on_alloc is None
                   else meas.init_on_alloc,
                   tlb_entries=meas.tlb_entries or like.tlb_entries, ranges=MappingProxyType({}),
                   cpus_measured=meas.cpus, source="")
    kern = tuple(meas.sets)
    calls = call_counts(base, kern)
    fixed = {s: ns for s, ns, _ in FIXED}
    reported = {s: pct for s, pct in meas.shares.items()
                if s in KERNEL_SYMBOLS and s not in fixed and calls.get(s)}
    rest = [s for s in KERNEL_SYMBOLS if s not in fixed and s not in reported]
    hw = {a: v for a, v, _, _ in ASSUMED_ARM64}
    tb_target = meas.batched_cpu_s / meas.iterations * 1e9 if meas.batched_cpu_s else None
    # The unbatched CPU time per iteration the shares refer to: measured, or (when it
    # is withheld) the model's own, re-estimated every round.
    t_iter = meas.cpu_s / meas.iterations * 1e9 if t_known else (tb_target or 1e6)
    k: dict[str, float] = {}
    # What the unreported symbols cost before the common factor: the base
    # profile's figures, or (weights) an assumed weight per symbol spread over
    # its calls, so that each one's share is proportional to its weight.
    if weights:
        base_ns = {s: TAIL_WEIGHTS.get(s, DEFAULT_WEIGHT) / calls[s]
                   for s in rest if calls.get(s)}
    else:
        base_ns = {s: like.kernel_ns[s] for s in rest}

    def set_reported(t: float) -> None:
        for s in KERNEL_SYMBOLS:
            if s in fixed:
                k[s] = fixed[s]
            elif s in reported:
                k[s] = reported[s] / 100 * t / calls[s]

    set_reported(t_iter)
    lat = max((ptep or 5.0) / 100 * t_iter / PAGES, 1.0)
    scale = 1.0
    if weights:
        left = 1 - (sum(reported.values()) + (ptep or 0.0)) / 100
        scale = max(left, 0.05) * t_iter / sum(TAIL_WEIGHTS.get(s, DEFAULT_WEIGHT)
                                               for s in base_ns)

    def profile_of(lat: float, scale: float, issue: float) -> MachineProfile:
        ks = dict(k)
        for s in rest:
            if s in base_ns:
                ks[s] = base_ns[s] * scale
        for s in rest:
            if s not in base_ns:          # not on the seed path: as its neighbour
                ks[s] = ks.get(UNCALLED_LIKE.get(s, ""), like.kernel_ns[s] if not weights
                               else sum(ks[x] for x in base_ns) / max(len(base_ns), 1))
        thr = THROUGHPUT_SHARE[0] * lat
        return replace(base, kernel_ns=MappingProxyType(ks), tlb_walk_ns=TLB_WALK_NS[0],
                       tlbi_issue_ns=issue, dsb_ns=hw["dsb_ns"],
                       dvm_latency_base_ns=lat * FIXED_SHARE[0],
                       dvm_latency_per_cpu_ns=lat * (1 - FIXED_SHARE[0]) / meas.cpus,
                       dvm_throughput_base_ns=hw["dvm_throughput_base_ns"],
                       dvm_throughput_per_cpu_ns=max(thr - hw["dvm_throughput_base_ns"], 0.0)
                       / meas.cpus,
                       dvm_queue_depth=hw["dvm_queue_depth"],
                       dvm_contention=hw["dvm_contention"])

    issue = hw["tlbi_issue_ns"]
    for _ in range(rounds):
        prof = profile_of(lat, scale, issue)
        ru = _run(prof, UNBATCHED, kernel=kern)
        e = ru.elapsed_ns / FIT_ITERATIONS
        f = ru.profile.get("ptep_clear_flush", 0.0) / FIT_ITERATIONS
        T = t_iter if t_known else e
        rb = _run(prof, BATCHED, kernel=kern) if tb_target is not None else None
        b = rb.elapsed_ns / FIT_ITERATIONS if rb is not None else None
        if ptep is not None and not fit_issue:
            # ptep_clear_flush's share of the time: one DSB wait (~ the latency) per page.
            d_lat = (ptep / 100 * T - f) / PAGES
        else:
            # Batching saves about one DSB wait per page, whatever the issue cost
            # (both kernels issue the same TLBIs): the saving fixes the latency ...
            d_lat = ((t_iter - tb_target) - (e - b)) / PAGES
            if fit_issue:
                # ... and the issue cost makes up ptep_clear_flush's share.
                tlbis = ru.arch.get("tlbi_issued", 0) / FIT_ITERATIONS or 1
                issue = max(issue + (ptep / 100 * T - f - PAGES * d_lat) / tlbis, 0.0)
        lat = max(lat + d_lat, 1.0)
        if t_known:
            fixed_part = sum(ru.profile.get(s, 0.0) for s in KERNEL_SYMBOLS
                             if s not in rest) / FIT_ITERATIONS
            rest_part = e - fixed_part
            want_rest = t_iter - fixed_part - PAGES * d_lat
        else:
            # Unbatched time withheld: the batched time sets the scale.
            fixed_part = sum(rb.profile.get(s, 0.0) for s in KERNEL_SYMBOLS
                             if s not in rest) / FIT_ITERATIONS
            rest_part = b - fixed_part
            want_rest = tb_target - fixed_part
            set_reported(e)
        if rest_part > 0:
            scale *= max(want_rest, 0.0) / rest_part
    prof = profile_of(lat, scale, issue)
    return _evaluate(meas, prof, k, rest, None if weights else like, scale, lat, issue,
                     fit_issue, kpti_why, calls, base_ns)


def _evaluate(meas, prof, k, rest, like, scale, lat, issue, fit_issue, kpti_why, calls,
              base_ns):
    ru = _run(prof, UNBATCHED, kernel=tuple(meas.sets))
    rb = _run(prof, BATCHED, kernel=tuple(meas.sets))
    tot = sum(ru.profile.values())
    e = ru.elapsed_ns / FIT_ITERATIONS
    share = {s: v / tot * 100 for s, v in ru.profile.items()}
    saving = (1 - rb.elapsed_ns / ru.elapsed_ns) * 100
    f = ru.profile.get("ptep_clear_flush", 0.0)
    dsb = ru.stalls.get(("ptep_clear_flush", "dsb ish"), 0.0) / f * 100 if f else 0.0
    res: dict[str, tuple[float, float]] = {}
    pred: dict[str, tuple[float | None, float]] = {}
    if meas.cpu_s is not None:
        res["unbatched CPU time per iteration (ms)"] = (meas.cpu_s / meas.iterations * 1e3,
                                                        e / 1e6)
    else:
        pred["unbatched CPU time per iteration (ms)"] = (None, e / 1e6)
        res["batched CPU time per iteration (ms)"] = (
            meas.batched_cpu_s / meas.iterations * 1e3, rb.elapsed_ns / FIT_ITERATIONS / 1e6)
    if "ptep_clear_flush" in meas.shares:
        res["ptep_clear_flush share unbatched (%)"] = (meas.shares["ptep_clear_flush"],
                                                       share.get("ptep_clear_flush", 0.0))
    else:
        pred["ptep_clear_flush share unbatched (%)"] = (None, share.get("ptep_clear_flush", 0.0))
    for s, pct in meas.shares.items():
        if s in KERNEL_SYMBOLS and s != "ptep_clear_flush" and s not in dict(
                (x, 0) for x, _, _ in FIXED) and calls.get(s):
            res[f"{s} share unbatched (%)"] = (pct, share.get(s, 0.0))
    measured_saving = (1 - meas.batched_cpu_s / meas.cpu_s) * 100 \
        if meas.batched_cpu_s and meas.cpu_s else None
    if measured_saving is not None and (fit_issue or "ptep_clear_flush" not in meas.shares):
        res["CPU time saved by batching (%)"] = (measured_saving, saving)
    else:
        pred["CPU time saved by batching (%)"] = (measured_saving, saving)
    pred["share of ptep_clear_flush in its DSB (%)"] = (meas.dsb_pct, dsb)
    bshare = {s: v / sum(rb.profile.values()) * 100 for s, v in rb.profile.items()}
    # Where the batched path's TLBIs land (falsifiable by perf of the batched kernel).
    pred["try_to_unmap_one share batched (%)"] = (
        meas.batched_shares.get("try_to_unmap_one"), bshare.get("try_to_unmap_one", 0.0))
    other = ""
    if meas.wall_s is not None and meas.cpu_s is not None:
        other = (f"elapsed here is CPU time (user+sys {meas.cpu_s:.3f} s); the wall-clock "
                 f"time was {meas.wall_s:.3f} s ({meas.wall_s - meas.cpu_s:+.3f} s off CPU, "
                 "which the model has no mechanism for)")
        if (meas.batched_wall_s is not None and meas.batched_cpu_s is not None
                and "ptep_clear_flush" in meas.shares):
            wsave = (1 - meas.batched_wall_s / meas.wall_s) * 100
            # Per page, what batching must save under each measure.
            cpu_pp = (meas.cpu_s - meas.batched_cpu_s) / meas.iterations / PAGES * 1e9
            wall_pp = (meas.wall_s - meas.batched_wall_s) / meas.iterations / PAGES * 1e9
            flush_pp = meas.shares["ptep_clear_flush"] / 100 * meas.cpu_s / meas.iterations \
                / PAGES * 1e9
            other += (f"; batching saved {measured_saving:.2f} % of CPU time but "
                      f"{wsave:.2f} % of wall time: {cpu_pp:.0f} vs {wall_pp:.0f} ns per page "
                      f"out of a ptep_clear_flush of {flush_pp:.0f} ns, so fitting wall time "
                      f"would leave {max(flush_pp - wall_pp, 0):.0f} ns per page on the batched "
                      f"path instead of {max(flush_pp - cpu_pp, 0):.0f}")
    notes = [f"KPTI: {'on' if prof.kpti else 'off'} ({kpti_why})"]
    toml = render_toml(meas, prof, k, rest, like, scale, lat, issue, fit_issue, kpti_why,
                       calls, res, pred, base_ns)
    return FitResult(prof, toml, res, pred, other, notes)


def _fmt(v: float) -> str:
    return f"{v:.4g}" if abs(v) < 1000 else f"{v:.1f}"


def render_toml(meas, prof, k, rest, like, scale, lat, issue, fit_issue, kpti_why, calls,
                res, pred, base_ns) -> str:
    """The profile file: every figure with its unit and provenance."""
    tag = meas.tag
    src = "; ".join(f"{a}: {b}" for a, b in meas.sources.items())
    L = []
    w = L.append
    w(f"# Machine profile {meas.name!r}, written by `minikernel fit` from measurements of the")
    w("# seed benchmark (see README, 'A profile for your own machine').")
    w(f"# Inputs: {src or 'given on the command line'}")
    w("# Provenance of each figure: measured / published (an input), fit (solved by the")
    w("# fit so the model reproduces the inputs), assumption (nobody measured it; an")
    w("# assumed hardware figure has its plausible range in [range]; the small fixed")
    w("# [kernel_ns] costs, init_on_alloc and the TLB size have none).  The model's")
    w("# elapsed time is the benchmark's CPU time (user + sys): the fit targets that, not")
    w("# the wall-clock time.")
    w("# Residuals (input: target -> model):")
    for n, (t, m) in res.items():
        w(f"#   {n}: {t:.4g} -> {m:.4g}")
    w("")
    w("[machine]")
    w(f"name = {json.dumps(meas.name)}")
    w('arch = "arm64"')
    why = meas.why
    lname = like.name if like is not None else "snapdragon888"
    w(f"cpus = {meas.cpus}".ljust(28) + "# CPUs; " + why.get("cpus", tag))
    w(f"ghz = {meas.ghz}".ljust(28) + "# GHz of the benchmark's core (reports only); "
      + why.get("ghz", tag))
    w(f"mem_pages = {prof.mem_pages}".ljust(28) + "# 4 KiB frames of simulated RAM; model sizing")
    w(f"init_on_alloc = {str(prof.init_on_alloc).lower()}".ljust(28)
      + "# the kernel zeroes allocated pages; "
      + why.get("init_on_alloc", f"assumption, as in {lname}"))
    if meas.cores and _HAS_CORES:
        w("cores = [" + ", ".join(json.dumps(c) for c in meas.cores) + "]  # core type of each "
          "CPU in CPU order; " + why.get("cores", tag))
    w(f"kpti = {str(prof.kpti).lower()}".ljust(28) + f"# {kpti_why}")
    w("")
    w("[tlb]")
    w(f"walk_ns = {TLB_WALK_NS[0]}".ljust(28) + "# a TLB miss walk, tables in cache; assumption")
    w(f"entries = {prof.tlb_entries}".ljust(28) + "# per-CPU TLB capacity; "
      + why.get("tlb_entries", f"assumption, as in {lname}"))
    w("")
    w("[arm64]")
    w(f"# latency({meas.cpus}) = {lat:.1f} ns (fit: makes ptep_clear_flush "
      f"{meas.shares.get('ptep_clear_flush', '(withheld)')} % of the cycles, {tag}); how it "
      "splits into a")
    w(f"# fixed and a per-CPU part is an assumption ({FIXED_SHARE[0]:.0%} fixed, range in "
      "[range]) and is what --smp extrapolates with.")
    w(f"tlbi_issue_ns = {_fmt(issue)}".ljust(36) + (
        "# fit: the batched CPU time needs this per TLBI (no modelled mechanism explains it)"
        if fit_issue else "# assumption: " + ASSUMED_ARM64[0][3]))
    w(f"dsb_ns = {prof.dsb_ns}".ljust(36) + "# assumption: " + ASSUMED_ARM64[1][3])
    w(f"dvm_latency_base_ns = {_fmt(prof.dvm_latency_base_ns)}".ljust(36) + "# fit x assumed split")
    w(f"dvm_latency_per_cpu_ns = {_fmt(prof.dvm_latency_per_cpu_ns)}".ljust(36)
      + "# fit x assumed split")
    w(f"dvm_throughput_base_ns = {_fmt(prof.dvm_throughput_base_ns)}".ljust(36)
      + "# assumption: " + ASSUMED_ARM64[2][3])
    w(f"dvm_throughput_per_cpu_ns = {_fmt(prof.dvm_throughput_per_cpu_ns)}".ljust(36)
      + f"# assumption: port time {THROUGHPUT_SHARE[0]:.0%} of the latency, all snoop fan-out")
    w(f"dvm_queue_depth = {prof.dvm_queue_depth}".ljust(36) + "# assumption: " + ASSUMED_ARM64[3][3])
    w(f"dvm_contention = {prof.dvm_contention}".ljust(36) + "# assumption: " + ASSUMED_ARM64[4][3])
    w("")
    w("[kernel]")
    w("scale = 1.0                 # [kernel_ns] below are final (already scaled)")
    w("")
    w("[kernel_ns]")
    w(f"# ns of each function's own work per call.  'fit: P % over C calls': the {tag} share")
    w("# of the CPU time per iteration, divided by the model's calls per iteration.")
    if like is None:
        w("# 'fit: tail weight W': not reported; the rest of the CPU time is spread over these")
        w("# symbols in proportion to assumed weights W (minikernel.fit.TAIL_WEIGHTS).")
    else:
        w(f"# 'fit: {like.name} x S': not reported; the profile {like.name}'s figure times one")
        w("# factor S that makes the total the measured CPU time.")
    w("# The seed benchmark's path is the one the model's mm/ replays (see the README's")
    w("# calibration section); re-fit after changing it.")
    fixed = {s: why for s, _, why in FIXED}
    for s in KERNEL_SYMBOLS:
        v = prof.kernel_ns[s]
        if s in fixed:
            why = f"assumption: {fixed[s]}"
        elif s in rest and not calls.get(s):
            why = ("not on the seed benchmark's path: as "
                   + (UNCALLED_LIKE.get(s) or "the base profile") if like is None
                   else f"not on the seed benchmark's path: {like.name} x {scale:.4f}")
        elif s in rest and like is None:
            why = (f"fit: tail weight {TAIL_WEIGHTS.get(s, DEFAULT_WEIGHT)} over "
                   f"{calls[s]:g} calls/iteration")
        elif s in rest:
            why = f"fit: {like.name} x {scale:.4f}"
        else:
            why = f"fit: {tag} {meas.shares[s]} % over {calls[s]:g} calls/iteration"
        w(f"{s} = {v:.2f}".ljust(44) + f"# {why}")
    numa = NUMA_TOPOLOGY.get(meas.name)
    if numa is not None and sum(numa[0]) == meas.cpus:
        w("")
        w("[numa]")
        w("# Nodes in CPU order; the page frames split evenly.  The copy figures are what")
        w("# migrating one page costs the copying CPU (copy_page): latency + 4 KiB / bandwidth;")
        w("# nobody measured them on this machine (not fit inputs: the seed never migrates).")
        w(f"node_cpus = [{', '.join(str(c) for c in numa[0])}]".ljust(36) + f"# {numa[1]}")
        for key, val, _, why in ASSUMED_NUMA:
            w(f"{key} = {val}".ljust(36) + f"# assumption: {why}")
    w("")
    w("[range]")
    w("# Plausible ranges of the assumed figures; predictions away from the measured CPU")
    w("# count report the saving as the range these give (minikernel.uncertainty).")
    w(f"cpus_measured = {meas.cpus}".ljust(40) + "# the DVM figures were fitted at this count")
    inputs = ["unbatched_cpu_time"] if meas.cpu_s is not None else []
    if "ptep_clear_flush" in meas.shares:
        inputs.append("ptep_clear_flush_share")
    if any(n.endswith("share unbatched (%)") and not n.startswith("ptep") for n in res):
        inputs.append("symbol_shares")
    if "CPU time saved by batching (%)" in res or "batched CPU time per iteration (ms)" in res:
        inputs.append("batched_cpu_time")
    w("fit_inputs = [" + ", ".join(f'"{x}"' for x in inputs) + "]")
    w(f"dvm_fixed_share = [{FIXED_SHARE[1][0]}, {FIXED_SHARE[1][1]}]".ljust(40)
      + "# assumption: fixed part of the latency")
    for key, _val, (lo, hi), _ in ASSUMED_ARM64:
        if key == "tlbi_issue_ns" and fit_issue:
            continue
        w(f'"arm64.{key}" = [{lo}, {hi}]')
    # The per-CPU port time is the assumed share of the fitted latency (above);
    # its range is that share's range, at the same latency and base.
    thr = [max(f * lat - prof.dvm_throughput_base_ns, 0.0) / meas.cpus
           for f in THROUGHPUT_SHARE[1]]
    w(f'"arm64.dvm_throughput_per_cpu_ns" = [{_fmt(thr[0])}, {_fmt(thr[1])}]'.ljust(53)
      + f" # assumption: port time {THROUGHPUT_SHARE[1][0]:.0%}-{THROUGHPUT_SHARE[1][1]:.0%} "
      "of the latency")
    w(f'"tlb.walk_ns" = [{TLB_WALK_NS[1][0]}, {TLB_WALK_NS[1][1]}]')
    if meas.kpti is None:
        w('"machine.kpti" = [false, true]'.ljust(40) + "# not checked with dmesg")
    if numa is not None and sum(numa[0]) == meas.cpus:
        for key, _val, (lo, hi), _ in ASSUMED_NUMA:
            w(f'"numa.{key}" = [{lo}, {hi}]')
    return "\n".join(L) + "\n"


#
# The published data as Measurements
#

def published_measurements(machine: str) -> Measurements:
    """Measurements of a built-in machine, from minikernel/data/published.toml."""
    from minikernel.published import published
    d = published()[machine]
    sd = published()["snapdragon888"]["unbatched"]
    sd_clear_page = dict(sd["perf"]["symbols"])["clear_page"]
    sd_ghz = sd["perf"]["event_count"] / (sd["time"]["user_s"] + sd["time"]["sys_s"]) / 1e9
    src = d["source"]
    u, b = d["unbatched"], d["batched"]
    cpus = d.get("cpus") or d["cpus_candidates"][0]
    # Machine facts not in the published text: (ghz, cores, init_on_alloc, TLB entries, why)
    ghz, cores, ioa, tlb, why = {
        "snapdragon888": (2.42, ("cortex-a55:r2p0 x4", "cortex-a78:r1p1 x3", "cortex-x1:r1p0"),
                          True, 1024, {
            "cores": "spec (types and order: cpu0-3 A55, cpu4-6 A78, cpu7 X1); revisions: "
                     "assumption (no erratum the model knows depends on them)",
            "cpus": "published (\"snapdragon 888 with 8 cores\")",
            "ghz": "spec: cpu4 (taskset -c 4) is a Cortex-A78 at 2.42 GHz; the published perf "
                   f"event count / CPU time gives {sd_ghz:.2f}",
            "init_on_alloc": "assumption: Android GKI's default (init_on_alloc=1); explains the "
                             f"published clear_page {sd_clear_page} % on a swap-in-only path",
            "tlb_entries": "spec: Cortex-A78 L2 TLB, 1024 entries"}),
        "kunpeng920": (2.6, ("tsv110 x96",), False, 1536, {
            "cores": "spec: HiSilicon TaiShan v110 cores",
            "cpus": "assumption: \"around 100 cores\" (published); 2 x 48 (Kunpeng 920-4826), "
                    "though the series was also \"tested on ... 128 CPU platforms\"",
            "ghz": "spec: Kunpeng 920-4826 clock (reports only)",
            "init_on_alloc": "assumption: a server kernel with the mainline default (off)",
            "tlb_entries": "assumption (L2 TLB size not checked)"}),
    }[machine]
    return Measurements(
        name=machine, cpus=cpus, ghz=ghz, cores=cores, iterations=d["iterations"],
        shares=dict(u["perf"]["symbols"]),
        cpu_s=u["time"]["user_s"] + u["time"]["sys_s"],
        wall_s=u["time"].get("real_s", u["time"].get("elapsed_s")),
        batched_cpu_s=b["time"]["user_s"] + b["time"]["sys_s"],
        batched_wall_s=b["time"].get("real_s", b["time"].get("elapsed_s")),
        dsb_pct=u.get("annotate", {}).get("dsb_pct"),
        sources={machine: f"minikernel/data/published.toml [{machine}] ({src})"},
        tag="published", init_on_alloc=ioa, tlb_entries=tlb, why=why, sets=PUBLISHED_KERNEL)


def render_result(res: FitResult) -> str:
    """Residuals, predictions and notes as text."""
    out = ["fitted (inputs reproduced):"]
    for n, (t, m) in res.residuals.items():
        out.append(f"  {n:48} target {t:9.4g}  model {m:9.4g}  residual {m - t:+.3g}")
    out.append("predicted (not used in the fit):")
    for n, (t, m) in res.predictions.items():
        meas = "not measured" if t is None else f"measured {t:9.4g}"
        err = "" if t is None else f"  error {m - t:+.3g}"
        out.append(f"  {n:48} {meas:>18}  model {m:9.4g}{err}")
    if res.other_measure:
        out.append("other measure: " + res.other_measure)
    out += res.notes
    return "\n".join(out) + "\n"


def leave_one_out(machine: str, symbols=True) -> list[tuple[str, float, float]]:
    """Drop one published number of *machine*, refit from the rest, predict it.

    Returns (what was left out, published value, model's prediction).
    *symbols*: True (every reported symbol), False, or the names to do.
    The remaining numbers fix the parameter the dropped one used to fix:
    without the ptep_clear_flush share the batched CPU time sets the DVM
    latency (issue cost assumed); without the unbatched CPU time the batched
    one sets the kernel scale; without the batched CPU time the issue cost is
    assumed; without a symbol's share it joins the tail (TAIL_WEIGHTS) and
    its share is predicted.  The Snapdragon's tail is the assumed weights;
    the Kunpeng's proportions are the Snapdragon profile's (fitted to
    Snapdragon data only, so nothing of the Kunpeng leaks in).
    """
    like = None if machine == "snapdragon888" else load_profile("snapdragon888")
    full = published_measurements(machine)
    out = []

    def one(label, meas, published_value, fit_issue=None):
        res = fit(meas, like, fit_issue=fit_issue, other=False)
        out.append((label, published_value, res.predictions[label][1]))

    m = published_measurements(machine)
    m.shares.pop("ptep_clear_flush")
    one("ptep_clear_flush share unbatched (%)", m, full.shares["ptep_clear_flush"])
    m = published_measurements(machine)
    m.cpu_s = m.wall_s = None
    one("unbatched CPU time per iteration (ms)", m, full.cpu_s / full.iterations * 1e3)
    m = published_measurements(machine)
    one("CPU time saved by batching (%)", m, (1 - full.batched_cpu_s / full.cpu_s) * 100,
        fit_issue=False)
    if not symbols:
        return out
    for sym, pct in full.shares.items():
        if sym == "ptep_clear_flush" or sym not in KERNEL_SYMBOLS or (
                symbols is not True and sym not in symbols):
            continue
        m = published_measurements(machine)
        m.shares.pop(sym)
        res = fit(m, like, fit_issue=False, other=False)
        r = _run(res.profile, UNBATCHED, kernel=PUBLISHED_KERNEL)
        out.append((f"{sym} share unbatched (%)", pct,
                    r.profile.get(sym, 0.0) / sum(r.profile.values()) * 100))
    return out
