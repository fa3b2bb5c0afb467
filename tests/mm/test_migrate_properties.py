"""Property tests of migration: random programs paused at random migration probes stay clean.

These drive the migration from Python, next to the scenario-level property
test (tests/minikernel/test_sanitizer_properties.py, whose generator also
draws the migration ops of the scenario registry): a process with a few pages,
threads on other CPUs, and one move_pages() paused at a random probe point
of the migration path while 1-4 random operations run on the other CPUs --
reads, writes, mprotect, MADV_DONTNEED, fork.  An operation that meets a
migration entry waits (MigrationEntryWait) and is retried after the move, as
the sleeping fault would be.  Expected on every baseline: no sanitizer
violation (data-lost included: every page reads back what was last written
there), and every page that stayed mapped on the node it was sent to.  With
MODEL_MIGRATE_COPY_BEFORE_FLUSH=y the same programs find the hazard.

Examples: 300 per run (derandomized, so the suite is deterministic).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minikernel.mm.memory import SegmentationFault
from minikernel.mm.migrate import MigrationEntryWait
from minikernel.user import MADV_DONTNEED, PAGE_SIZE, PROT_READ, PROT_WRITE, Process

VARIANTS = {
    "arm64-6.1": ("arm64", ("EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=1")),
    "arm64-6.6": ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y")),
    "arm64-6.16": ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y")),
    "x86-6.1": ("x86", ()),
    "x86-6.6": ("x86", ("EXPERT=y", "MODEL_X86_KERNEL_6_6=y")),
}
PROBES = ("try_to_migrate_one:cleared", "migrate_pages_batch:unmapped",
          "migrate_pages_batch:flush", "migrate_folio_move:copy")
NPAGES = 6

_op = st.one_of(
    st.tuples(st.just("read"), st.integers(1, 2), st.integers(0, NPAGES - 1)),
    st.tuples(st.just("write"), st.integers(1, 2), st.integers(0, NPAGES - 1)),
    st.tuples(st.just("mprotect_ro"), st.integers(1, 2), st.integers(0, NPAGES - 1)),
    st.tuples(st.just("dontneed"), st.integers(1, 2), st.integers(0, NPAGES - 1)),
    st.tuples(st.just("fork"), st.integers(1, 2), st.just(0)),
)
programs = st.fixed_dictionaries({
    "variant": st.sampled_from(sorted(VARIANTS)),
    "probe": st.sampled_from(PROBES),
    "hit": st.integers(0, 3),                 # pause at the probe's n-th firing
    "before": st.lists(st.tuples(st.sampled_from(["write", "read"]), st.integers(1, 2),
                                 st.integers(0, NPAGES - 1)), max_size=4),
    "during": st.lists(_op, min_size=1, max_size=4),
    "dirty": st.lists(st.integers(0, NPAGES - 1), max_size=3),
})


def _run(prog, hazard: bool = False):
    from minikernel.kconfig import load_kernel_config
    from minikernel.machine import Machine
    from minikernel.profile import default_profile

    arch, sets = VARIANTS[prog["variant"]]
    sets = ("DEBUG_TLB_SANITIZER=y", *sets) + (("EXPERT=y", "MODEL_MIGRATE_COPY_BEFORE_FLUSH=y")
                                               if hazard else ())
    m = Machine(load_kernel_config(arch, sets=sets), default_profile(arch, 4))
    m.sanitizer.log_violations = False
    p = Process.spawn(m, "a.out", cpu=0)
    buf = p.mmap(NPAGES * PAGE_SIZE)
    addrs = [buf + i * PAGE_SIZE for i in range(NPAGES)]
    for i, a in enumerate(addrs):
        p.write(a, 0xA000 + i)
    tasks = {0: p, 1: p.clone_thread(cpu=1), 2: p.clone_thread(cpu=2)}
    stamp = [0]

    def do(op, waited):
        kind, who, i = op
        t = tasks[who]
        try:
            if kind == "read":
                t.read(addrs[i])
            elif kind == "write":
                stamp[0] += 1
                t.write(addrs[i], 0xB0000 + stamp[0])
            elif kind == "mprotect_ro":
                t.mprotect(addrs[i], PAGE_SIZE, PROT_READ)
                t.mprotect(addrs[i], PAGE_SIZE, PROT_READ | PROT_WRITE)
            elif kind == "dontneed":
                t.madvise(addrs[i], PAGE_SIZE, MADV_DONTNEED)
            elif kind == "fork":
                tasks[3] = t.fork(cpu=3)
        except MigrationEntryWait:
            waited.append(op)
        except SegmentationFault:
            pass

    for op in prog["before"]:
        do(op, [])
    for i in prog["dirty"]:
        tasks[1].write(addrs[i], 0xD000 + i)      # CPU 1 holds a dirty entry
        tasks[1].read(addrs[(i + 1) % NPAGES])
    fired = []
    waited: list = []

    def pause(current, **ctx):
        fired.append(1)
        if len(fired) - 1 == prog["hit"]:
            for op in prog["during"]:
                do(op, waited)

    m.probes[prog["probe"]] = pause
    status = p.move_pages(addrs, [1] * NPAGES)
    del m.probes[prog["probe"]]
    for op in waited:                              # the sleepers wake after the move
        do(op, [])
    for t in list(tasks.values()):
        for a in addrs:
            t.read(a)
    return m, status, p, addrs


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs)
def test_random_programs_paused_in_a_migration_are_clean(prog):
    m, status, p, addrs = _run(prog)
    assert m.sanitizer.violations == [], [v.report() for v in m.sanitizer.violations]
    ops = prog["during"] + prog["before"]
    dropped = {i for kind, _, i in ops if kind == "dontneed"}
    forked = any(kind == "fork" for kind, _, _ in ops)
    now = p.move_pages(addrs)
    for i, (s, n) in enumerate(zip(status, now)):
        if i in dropped or forked:
            # MADV_DONTNEED then a fault, or a write after fork (COW): a new page,
            # allocated on the writer's node (0)
            assert s in (1, 0, -2) and n in (1, 0)
        else:
            assert s == n == 1, (i, status, now)


def test_the_same_programs_find_the_copy_before_flush_hazard():
    """Some program with a dirty entry on CPU 1 and a store inside the pause is caught."""
    found = 0
    for variant in ("arm64-6.6", "x86-6.6"):
        prog = {"variant": variant, "probe": "migrate_folio_move:copy", "hit": 0,
                "before": [], "during": [("read", 2, 0)], "dirty": [0]}
        m, *_ = _run(prog, hazard=True)
        kinds = m.sanitizer.kinds
        assert kinds and kinds[0] == "migrate-copy-while-writable", kinds
        found += 1
        clean, *_ = _run(prog)
        assert clean.sanitizer.violations == []
    assert found == 2


@pytest.mark.parametrize("variant", ["arm64-6.1", "x86-6.1"])
def test_the_hazard_option_changes_nothing_without_migration_batching(variant):
    prog = {"variant": variant, "probe": "migrate_folio_move:copy", "hit": 0,
            "before": [], "during": [("write", 1, 0)], "dirty": [0, 1]}
    m, *_ = _run(prog, hazard=True)
    assert m.sanitizer.violations == []
