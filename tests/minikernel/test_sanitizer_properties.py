"""Property tests: random small programs never trip the TLB sanitizer on a correct kernel.

Random programs of 2-10 operations by 2-3 tasks on 2-4 CPUs, at most one of
them paused while 1-3 steps of other tasks run inside it: a reclaim
(madvise(MADV_PAGEOUT) or direct reclaim) at a random reclaim probe point, or
a syscall (mprotect, munmap, MADV_DONTNEED, mremap, MADV_PAGEOUT's walk)
inside its page-table lock.  Every
variant that is not historically broken, with every fix in: arm64 v5 (made
to defer), arm64 with flush_tlb_mm in flush_tlb_batched_pending
(4b634918384c), arm64 without batching, x86 (batching; also on 6.16, whose
mm_cpumask is a superset), x86 without batching, and 6.6 on Cortex-A55s
(the erratum stops deferral).  Issue 17's backends run in tests of their own
below: riscv (6.8, 6.8 unbatched, 6.6) and x86 INVLPGB on 6.16 (programs
with a prefix that puts the mm on 5 CPUs, so it has a global ASID).  Expected: no violation at all -- which includes data-lost, so no
byte a task wrote is ever read back wrong.

Examples: 2 000 by default (derandomized, so the suite is deterministic);
MINIKERNEL_PROPERTY_PROFILE=long runs 50 000 random ones.
"""

from __future__ import annotations

import collections
import functools
import os

import pytest
from hypothesis import HealthCheck, Phase, assume, find, given, settings
from hypothesis import strategies as st

from minikernel.scenario import REGISTRY, Infeasible, machine_config, parse_scenario, run_scenario

VARIANTS = {
    "arm64-v5": ("arm64", ["EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=1"]),
    "arm64-flush-mm": ("arm64", ["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"]),
    "arm64-nobatch": ("arm64", []),
    "x86": ("x86", []),
    # 6.16: mm_cpumask bits cleared only by a flush IPI (209954cbc7d0), lazy CPUs skipped
    "x86-6.16": ("x86", ["MODEL_X86_KERNEL_6_16=y"]),
    "x86-nobatch": ("x86", ["EXPERT=y", "X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y"]),
    # 6.6 is broken (BROKEN below), but not on Cortex-A55s with erratum 2441007
    # (default y): the REPEAT_TLBI capability stops every deferral, and every
    # TLBI is TLBI; DSB; TLBI.  (The first 2-4 CPUs of snapdragon888 are A55s.)
    "arm64-6.6-a55": ("arm64", ["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"], "snapdragon888"),
}
#: Historically broken or with a fix reverted: the same programs must find bugs here.
BROKEN = {
    "arm64-6.6": ("arm64", ["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"]),
    "arm64-revert-3ea277194daa": ("arm64", ["EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=1",
                                            "MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=y"]),
    "arm64-revert-d950c9477d51": ("arm64", ["EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=1",
                                            "MODEL_REVERT_FLUSH_DIRTY_BEFORE_PAGEOUT=y"]),
    "x86-revert-3ea277194daa": ("x86", ["EXPERT=y", "MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=y"]),
    # the model-only migration hazard: the batch's flush after its first copy
    "arm64-6.16-migrate-copy-before-flush": ("arm64", ["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y",
                                                       "MODEL_MIGRATE_COPY_BEFORE_FLUSH=y"]),
    "x86-6.16-migrate-copy-before-flush": ("x86", ["EXPERT=y", "MODEL_X86_KERNEL_6_16=y",
                                                   "MODEL_MIGRATE_COPY_BEFORE_FLUSH=y"]),
}
#: riscv (issue 17): 6.8 (batching; SBI remote fences on the VisionFive 2), 6.8
#: without batching, 6.6 (before riscv batched), and a fix reverted.
RISCV_VARIANTS = {
    "riscv": ("riscv", []),
    "riscv-nobatch": ("riscv", ["EXPERT=y", "RISCV_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y"]),
    "riscv-6.6": ("riscv", ["MODEL_RISCV_KERNEL_6_6=y"]),
}
RISCV_BROKEN = {
    "riscv-revert-3ea277194daa": ("riscv", ["EXPERT=y", "MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=y"]),
}
#: x86 INVLPGB (issue 17): Linux 6.16 on the Genoa profile, as merged and with
#: the bug found in review.  Run by their own test (below), whose programs put
#: the mm on 5 CPUs first, so that it has a global ASID and is in transition.
INVLPGB_VARIANTS = {
    "x86-invlpgb": ("x86", ["MODEL_X86_KERNEL_6_16=y"], "amd-genoa"),
}
INVLPGB_BROKEN = {
    "x86-invlpgb-reviewed-bug": ("x86", ["EXPERT=y", "MODEL_X86_KERNEL_6_16=y",
                                         "MODEL_X86_REVERT_TLBBATCH_FLUSH_BOTH=y"], "amd-genoa"),
}
RECLAIM_PROBES = ["try_to_unmap_one:cleared", "shrink_folio_list:before_flush_dirty",
                  "pageout:before_io", "shrink_folio_list:before_flush"]
MIGRATION_PROBES = ["try_to_migrate_one:cleared", "migrate_pages_batch:unmapped",
                    "migrate_pages_batch:flush", "migrate_folio_move:copy"]
#: Probes a task reaches once per page (the others once per call).
PER_PAGE_PROBES = {"try_to_unmap_one:cleared", "shrink_folio_list:before_flush_dirty",
                   "pageout:before_io", "try_to_migrate_one:cleared", "migrate_folio_move:copy"}
#: Variants whose reclaim can defer a flush (the others flush every PTE at once).
DEFERRING = {"arm64-v5", "arm64-flush-mm", "x86"}

if os.environ.get("MINIKERNEL_PROPERTY_PROFILE") == "long":
    settings.register_profile("minikernel", max_examples=50_000, deadline=None,
                              suppress_health_check=list(HealthCheck))
else:
    settings.register_profile("minikernel", max_examples=int(os.environ.get("MINIKERNEL_PROPERTY_EXAMPLES", "2000")), deadline=None, derandomize=True,
                              suppress_health_check=list(HealthCheck))


@functools.cache
def _cfg(variant: str, cpus: int):
    sc = parse_scenario(_doc(variant, cpus, [], []), "<property>")
    return machine_config(sc)


@functools.cache
def _batches_migration(variant: str) -> bool:
    """Does this variant's kernel baseline batch migration (migrate_pages_batch's one flush)?"""
    from minikernel.baseline import baseline_for
    return baseline_for(_cfg(variant, 2)).migrate_batch > 0


def _doc(variant, cpus, tasks, steps):
    arch, sets, *profile = {**VARIANTS, **BROKEN, **RISCV_VARIANTS, **RISCV_BROKEN,
                            **INVLPGB_VARIANTS, **INVLPGB_BROKEN}[variant]
    machine = {"arch": arch, "cpus": cpus, "config": sets}
    if profile:
        machine["profile"] = profile[0]
    return {"expect": "clean", "machine": machine,
            "task": tasks or [{"name": "main", "cpu": 0, "process": "p"}], "step": steps}


#: How the generator draws each key an op of the registry may need (ctx: pages, cpus).
#: An op the registry gives a weight is drawn with its required keys and those of
#: its optional keys listed in DRAWN_OPTIONAL; a new key type needs a line here
#: (test_the_generator_draws_every_registered_op checks it).
NODES = st.lists(st.integers(0, 3), min_size=1, max_size=2, unique=True)
KEY_DRAW = {
    "addr": lambda draw, pages, cpus: "buf",
    "page": lambda draw, pages, cpus: draw(st.integers(0, pages - 1)),
    "prot": lambda draw, pages, cpus: draw(st.sampled_from(["r", "rw"])),
    "advice": lambda draw, pages, cpus: draw(st.sampled_from(["pageout", "dontneed"])),
    "cpu": lambda draw, pages, cpus: draw(st.integers(0, cpus - 1)),
    "child": lambda draw, pages, cpus: draw(st.sampled_from(["k1", "k2", "k3"])),
    "node": lambda draw, pages, cpus: draw(st.integers(0, 3)),
    "mode": lambda draw, pages, cpus: draw(st.sampled_from(["bind", "interleave"])),
    "nodes": lambda draw, pages, cpus: draw(NODES),
    "from": lambda draw, pages, cpus: draw(NODES),
    "to": lambda draw, pages, cpus: draw(NODES),
}
DRAWN_OPTIONAL = {"page"}
#: The registry's ops, each as often as its weight says (top level / inside a pause).
TOP_OPS = [n for n, op in REGISTRY.items() for _ in range(op.weight)]
NESTED_OPS = [n for n, op in REGISTRY.items() if op.nested for _ in range(op.weight)]


def _op(draw, task, pages, cpus, nested=False):
    name = draw(st.sampled_from(NESTED_OPS if nested else TOP_OPS))
    op = REGISTRY[name]
    step = {"task": task, "op": name}
    for k in op.required + tuple(k for k in op.optional_keys if k in DRAWN_OPTIONAL):
        step[k] = KEY_DRAW[k](draw, pages, cpus)
    return step


def _migration(draw, task):
    """A migration of the buffer's pages (all on node 0 so far) to another node."""
    node = draw(st.integers(1, 3))
    return draw(st.sampled_from([
        {"task": task, "op": "move_pages", "addr": "buf", "node": node},
        {"task": task, "op": "mbind", "addr": "buf", "mode": "bind", "nodes": [node]},
        {"task": task, "op": "migrate_pages", "from": [0], "to": [node]}]))


CORRECT = tuple(sorted(VARIANTS))


@st.composite
def programs(draw, variants=CORRECT):
    variant = draw(st.sampled_from(variants))
    cpus = draw(st.integers(2, 4))
    tasks = [{"name": "main", "cpu": 0, "process": "p"}, {"name": "t1", "cpu": 1, "process": "p"}]
    if cpus > 2 and draw(st.booleans()):
        tasks.append({"name": "t2", "cpu": 2,
                      "process": draw(st.sampled_from(["p", "p", "q"]))})
    names = [t["name"] for t in tasks]
    pages = draw(st.integers(1, 3))
    owner = "main"
    steps = [{"task": owner, "op": "mmap", "as": "buf", "pages": pages,
              "shared": draw(st.booleans())}]
    if len(tasks) > 2 and tasks[2]["process"] == "q":
        names = ["main", "t1"]          # q only runs its own work below
        steps.append({"task": "t2", "op": "mmap", "as": "other", "pages": 1})
        steps.append({"task": "t2", "op": "write", "addr": "other"})
    for i in range(pages):
        steps.append({"task": owner, "op": "write", "addr": "buf", "page": i})
    for i in range(pages):          # t1 caches every page, so its nested accesses may hit
        steps.append({"task": "t1", "op": "read", "addr": "buf", "page": i})
    forks = 0
    n = draw(st.integers(1, 8))
    paused_at = draw(st.integers(0, n))          # n: nothing paused
    for i in range(n):
        task = draw(st.sampled_from(names))
        if i == paused_at:
            op = draw(st.sampled_from(["pageout", "reclaim", "reclaim", "locked", "migrate"]))
            if op == "migrate":                  # a migration syscall at a migration probe
                step = _migration(draw, task)
                # the batch flush exists only where the baseline batches migration (6.3+)
                probe = draw(st.sampled_from(MIGRATION_PROBES if _batches_migration(variant)
                                             else [p for p in MIGRATION_PROBES
                                                   if p != "migrate_pages_batch:flush"]))
            elif op == "locked":                   # a syscall inside its page-table lock
                step, probe = draw(st.sampled_from([
                    ({"task": task, "op": "mprotect", "addr": "buf", "prot": "r"},
                     "change_pte_range:locked"),
                    ({"task": task, "op": "munmap", "addr": "buf"}, "zap_pte_range:locked"),
                    ({"task": task, "op": "madvise", "addr": "buf", "advice": "dontneed"},
                     "zap_pte_range:locked"),
                    ({"task": task, "op": "mremap", "addr": "buf"}, "move_ptes:locked"),
                    ({"task": task, "op": "madvise", "addr": "buf", "advice": "pageout"},
                     "madvise_cold_or_pageout_pte_range:locked")]))
                step = dict(step)
            else:
                step = ({"task": task, "op": "madvise", "addr": "buf", "advice": "pageout"}
                        if op == "pageout" else {"task": task, "op": "reclaim"})
                probe = draw(st.sampled_from(RECLAIM_PROBES))
            step["pause_at"] = probe
            # A second hit exists only for the per-page probes and only with
            # more than one page; elsewhere hit=2 would never pause.
            step["hit"] = (draw(st.sampled_from([1, 1, 1, 2]))
                           if pages > 1 and probe in PER_PAGE_PROBES else 1)
            others = [t for t in names if t != task] + (["t2"] if len(tasks) > 2
                                                        and "t2" not in names else [])
            step["during"] = [_op(draw, draw(st.sampled_from(others)), pages, cpus, nested=True)
                              if draw(st.integers(0, 3)) else
                              {"task": draw(st.sampled_from(others)), "op": "read",
                               "addr": "buf"}
                              for _ in range(draw(st.integers(1, 3)))]
            for j, d in enumerate(step["during"]):
                if d["task"] == "t2" and "t2" not in names:      # process q: its own page
                    step["during"][j] = {"task": "t2", "op": draw(st.sampled_from(
                        ["read", "write"])), "addr": "other"}
            steps.append(step)
            continue
        s = _op(draw, task, pages, cpus)
        if s["op"] == "fork":
            forks += 1
            s["child"] = f"k{forks}"
        steps.append(s)
    return variant, cpus, tasks, steps


def _classify(prog, r) -> str:
    """What one example exercised: no pause, a pause never reached, a pause with
    nothing run inside it (every nested step slept until it returned), or a
    pause with at least one step run inside it."""
    if not any("pause_at" in s for s in prog[3]):
        return "no pause"
    if any("never reached" in f for f in r.failures):
        return "pause never reached"
    inside, ran = False, False
    for line in r.log:
        if line.endswith("-- paused"):
            inside = True
        elif inside and not line.startswith("    "):
            break                                # "... resumed and returned"
        elif inside and "-> blocked:" not in line:
            ran = True
    return "ran a step inside the pause" if ran else "pause reached, nothing ran inside"


STATS: collections.Counter = collections.Counter()
#: The same, per arch: (arch, kind) -> examples.
ARCH_STATS: collections.Counter = collections.Counter()
_APART = ("infeasible (discarded)", "ran a step inside the pause, on a deferring variant",
          "run on a deferring variant")


def _run_clean(prog):
    """Run one example, count what it exercised (overall and per arch), assert it is clean."""
    variant, cpus, tasks, steps = prog
    sc = parse_scenario(_doc(variant, cpus, tasks, steps), "<property>")
    try:
        r = run_scenario(sc, cfg=_cfg(variant, cpus), mem_pages=512)
    except Infeasible:
        STATS["infeasible (discarded)"] += 1
        assume(False)
    kind = _classify(prog, r)
    STATS[kind] += 1
    ARCH_STATS[(sc.arch, kind)] += 1
    if variant in DEFERRING:
        STATS["run on a deferring variant"] += 1
        if kind == "ran a step inside the pause":
            STATS["ran a step inside the pause, on a deferring variant"] += 1
    assert r.violations == [], "\n".join([variant] + r.log + [v.report() for v in r.violations])


def _report(report_line, what: str) -> tuple[int, int]:
    """Report the counts (-rA or the terminal summary); return (ran inside a pause, total)."""
    total = sum(v for k, v in STATS.items() if k not in _APART)
    for k in sorted(STATS):
        report_line(f"{what}: {STATS[k]:6d} {k}")
    for (arch, k) in sorted(ARCH_STATS):
        report_line(f"{what} [{arch}]: {ARCH_STATS[(arch, k)]:6d} {k}")
    report_line(f"{what}: {total:6d} run in all")
    return STATS["ran a step inside the pause"], total


@settings(settings.get_profile("minikernel"))
@given(programs())
def _random_programs_are_clean(prog):
    _run_clean(prog)


def test_random_programs_are_clean_on_correct_kernels(report_line):
    """No violation on any correct kernel; and the examples really pause.

    An example whose pause point is never reached runs its nested steps
    nowhere: it passes without testing an interleaving.  Those are counted
    apart and reported (``-rA`` or the terminal summary), and the run fails
    if too few examples ran a step inside a paused operation, overall or on
    the variants that defer.
    """
    STATS.clear()
    ARCH_STATS.clear()
    _random_programs_are_clean()
    ran, total = _report(report_line, "sanitizer property examples")
    # The generator's purpose: examples that pause something and run a step
    # inside it -- above all on a kernel that defers flushes, where a step
    # inside a pause can race a deferred flush.  Measured (the 2 000
    # derandomized examples; the counts the README quotes): 326 of the 845 run
    # on a deferring variant (39%), 693 of all 2 000 (35%).  A quarter of each
    # (211, 500) leaves a margin of 28-35% under the measurement, so a small
    # generator change moves the counts without failing, while a generator
    # whose pauses stop being reached or whose nested steps stop running fails.
    # (Before: a third of all examples, 666 against 693.)
    deferring, ran_deferring = (STATS["run on a deferring variant"],
                                STATS["ran a step inside the pause, on a deferring variant"])
    assert ran_deferring >= deferring // 4 and deferring >= total // 4, dict(STATS)
    assert ran >= total // 4, dict(STATS)


def test_the_generator_draws_every_registered_op():
    """Every op the registry gives a weight is drawn with keys the generator knows how to
    draw; the ops it leaves out (weight 0) are the ones that bind names, make threads or
    are litmus checks."""
    for name, op in REGISTRY.items():
        if op.weight:
            assert set(op.required) <= set(KEY_DRAW), name
            assert name in TOP_OPS
    assert {n for n, op in REGISTRY.items() if not op.weight} == {"mmap", "clone", "dsb",
                                                                   "cached"}


def _violations(prog):
    variant, cpus, tasks, steps = prog
    sc = parse_scenario(_doc(variant, cpus, tasks, steps), "<property>")
    try:
        return run_scenario(sc, cfg=_cfg(variant, cpus), mem_pages=512).kinds
    except Infeasible:
        return []


@pytest.mark.parametrize("variant,kind", [
    ("arm64-6.6", "stale-after-syscall"),
    ("arm64-revert-3ea277194daa", "stale-after-syscall"),
    ("arm64-revert-d950c9477d51", "io-while-writable"),
    ("x86-revert-3ea277194daa", "stale-after-syscall"),
    ("arm64-6.16-migrate-copy-before-flush", "migrate-copy-while-writable"),
    ("x86-6.16-migrate-copy-before-flush", "migrate-copy-while-writable"),
])
def test_the_same_programs_find_the_historical_bugs(variant, kind):
    """The generator has teeth: on a broken variant it finds the bug."""
    prog = find(programs((variant,)), lambda p: kind in _violations(p),
                settings=settings(max_examples=3_000, deadline=None, derandomize=True,
                                  database=None, phases=[Phase.generate],   # no shrinking
                                  suppress_health_check=list(HealthCheck)))
    assert kind in _violations(prog)


def test_random_programs_are_clean_on_riscv(report_line):
    """The same generator on the riscv kernels: no violation (its migrations find one
    node, visionfive2 has no other: EINVAL, and their pauses are never reached)."""
    STATS.clear()
    ARCH_STATS.clear()

    @settings(settings.get_profile("minikernel"), max_examples=300)
    @given(programs(tuple(sorted(RISCV_VARIANTS))))
    def clean(prog):
        _run_clean(prog)
    clean()
    ran, total = _report(report_line, "sanitizer property examples, riscv")
    # (fewer than on arm64/x86: a migration cannot pause on a one-node machine)
    # Measured: 70 of 300 (23%); a sixth (50) leaves a margin of 29% (a fifth,
    # 60, left 10 examples).
    assert ran >= total // 6, dict(STATS)


def test_the_same_programs_find_the_reverted_fix_on_riscv():
    prog = find(programs(("riscv-revert-3ea277194daa",)),
                lambda p: "stale-after-syscall" in _violations(p),
                settings=settings(max_examples=3_000, deadline=None, derandomize=True,
                                  database=None, phases=[Phase.generate],
                                  suppress_health_check=list(HealthCheck)))
    assert "stale-after-syscall" in _violations(prog)


INVLPGB_CORRECT = tuple(sorted(INVLPGB_VARIANTS))


@st.composite
def invlpgb_programs(draw, variants=INVLPGB_CORRECT):
    """A random program after a prefix that gives its mm a global ASID, in transition.

    Two more threads (CPUs 3 and 4) read the buffer; main's MADV_DONTNEED
    then flushes by IPIs while the mm is loaded on 5 CPUs (consider_global_asid),
    and t1 caches the pages again under its local ASID: a straggler.
    """
    variant, _, tasks, steps = draw(programs(variants))
    tasks = tasks + [{"name": "t3", "cpu": 3, "process": "p"},
                     {"name": "t4", "cpu": 4, "process": "p"}]
    mmap = steps[0]
    pages = mmap["pages"]
    prefix = [{"task": t, "op": "read", "addr": "buf", "page": i}
              for t in ("t3", "t4") for i in range(pages)]
    prefix.append({"task": "main", "op": "madvise", "addr": "buf", "advice": "dontneed"})
    prefix += [{"task": "t1", "op": "read", "addr": "buf", "page": i} for i in range(pages)]
    body = steps[1:]
    split = next((j for j, st_ in enumerate(body) if st_["task"] == "t1"), len(body))
    while split < len(body) and body[split]["task"] == "t1" and body[split]["op"] == "read":
        split += 1
    return variant, 8, tasks, [mmap] + body[:split] + prefix + body[split:]


def test_random_programs_are_clean_on_invlpgb():
    """The generator on the INVLPGB kernel: no violation (the next test shows that the same
    prefix reaches the ASID transition: the reviewed bug is found through it)."""
    @settings(settings.get_profile("minikernel"), max_examples=300)
    @given(invlpgb_programs())
    def clean(prog):
        assert _violations(prog) == [], prog
    clean()


def test_the_invlpgb_programs_find_the_reviewed_bug():
    prog = find(invlpgb_programs(tuple(INVLPGB_BROKEN)),
                lambda p: "use-after-free-tlb" in _violations(p),
                settings=settings(max_examples=3_000, deadline=None, derandomize=True,
                                  database=None, phases=[Phase.generate],
                                  suppress_health_check=list(HealthCheck)))
    assert "use-after-free-tlb" in _violations(prog)
