"""Page migration (mm/migrate.py): the flush per batch, data across migration, the hazard.

Every machine here runs the TLB sanitizer (conftest's make_machine): a test
not marked ``stale_entries`` also checks that migration reported nothing.
"""

from __future__ import annotations

import errno

import pytest

from minikernel.mm.migrate import (
    NR_MAX_BATCHED_MIGRATION,
    MigrationEntryWait,
)
from minikernel.user import (
    MAP_ANONYMOUS,
    MAP_SHARED,
    MPOL_BIND,
    MPOL_INTERLEAVE,
    MPOL_MF_MOVE,
    PAGE_SIZE,
    Process,
    migratepages,
)

#: (arch, sets, batches migration): every baseline of both arches.
BASELINES = [
    ("arm64", ("EXPERT=y",), False),                                    # v5 = Linux 6.1
    ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"), True),     # Linux 6.6
    ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"), True),  # Linux 6.16
    ("x86", (), False),                                                 # Linux 6.1
    ("x86", ("EXPERT=y", "MODEL_X86_KERNEL_6_6=y"), True),
    ("x86", ("EXPERT=y", "MODEL_X86_KERNEL_6_16=y"), True),
]
IDS = [f"{a}-{'+'.join(s) or 'defconfig'}" for a, s, _ in BASELINES]

#: Probe points of the migration path a test can pause at.
PROBES = ("try_to_migrate_one:cleared", "migrate_pages_batch:unmapped",
          "migrate_pages_batch:flush", "migrate_folio_move:copy")


def _set_up(m, npages: int, threads=(1, 2, 3), shared: bool = False):
    """A process on CPU 0 with *npages* written, and threads that cached them all."""
    p = Process.spawn(m, "a.out", cpu=0)
    flags = MAP_SHARED | MAP_ANONYMOUS if shared else None
    buf = p.mmap(npages * PAGE_SIZE, **({"flags": flags} if flags else {}))
    addrs = [buf + i * PAGE_SIZE for i in range(npages)]
    for i, a in enumerate(addrs):
        p.write(a, 0xDA7A0000 + i)
    ts = [p.clone_thread(cpu=c) for c in threads]
    for t in ts:
        for i, a in enumerate(addrs):
            assert t.read(a) == 0xDA7A0000 + i
    return p, ts, addrs


def _machine(make_machine, arch, sets, cpus=8):
    # kunpeng920 / x86-2s: CPUs 0..7 are on node 0 of 4.
    return make_machine(arch, *sets, cpus=cpus)


@pytest.mark.parametrize("arch,sets,batches", BASELINES, ids=IDS)
def test_one_flush_per_batch_where_the_baseline_batches_one_per_page_where_not(
        make_machine, arch, sets, batches):
    m = _machine(make_machine, arch, sets)
    npages = NR_MAX_BATCHED_MIGRATION + 88           # two batches: 512 + 88
    p, ts, addrs = _set_up(m, npages)
    assert m.baseline.migrate_batch == (NR_MAX_BATCHED_MIGRATION if batches else 0)
    vs = m.vmstat
    before = (vs.tlb_sync_flush, vs.tlb_batch_flush, vs.nr_tlb_remote_flush, vs.pgmigrate_success)
    arch_before = m.arch.counters()
    assert p.move_pages(addrs, [1] * npages) == [1] * npages
    after = (vs.tlb_sync_flush, vs.tlb_batch_flush, vs.nr_tlb_remote_flush, vs.pgmigrate_success)
    sync, batch, remote, migrated = (b - a for a, b in zip(before, after))
    counters = {k: v - arch_before.get(k, 0) for k, v in m.arch.counters().items()}
    assert migrated == npages and vs.pgmigrate_fail == 0
    flushes = 2 if batches else npages               # shootdowns the migration needed
    assert (sync, batch) == ((0, 2) if batches else (npages, 0))
    if arch == "arm64":
        # every PTE gets its TLBI (twice with KPTI) either way; the DSBs are the flushes
        assert counters["dsb_ish"] == flushes
        assert counters["tlbi_issued"] == npages * (2 if m.profile.kpti else 1)
    else:
        # one IPI round to the three other CPUs running the mm per flush
        assert remote == flushes
        assert counters["ipis_sent"] == 3 * flushes
    for t in [p, *ts]:
        for i, a in enumerate(addrs):
            assert t.read(a) == 0xDA7A0000 + i


@pytest.mark.parametrize("arch,sets,batches", BASELINES, ids=IDS)
@pytest.mark.parametrize("probe", PROBES)
def test_data_written_before_during_and_after_migration_reads_back(
        make_machine, arch, sets, batches, probe):
    """Pause the migration at *probe*; meanwhile another CPU reads and writes every page."""
    m = _machine(make_machine, arch, sets)
    npages = 24
    p, ts, addrs = _set_up(m, npages, threads=(1, 2))
    want = [0xDA7A0000 + i for i in range(npages)]
    other = ts[0]
    blocked: list[tuple[int, bool, int]] = []        # (page, write, value) to retry afterwards
    paused = []

    def during(current, **ctx):
        if paused:
            return                                   # once per migration is enough
        paused.append(ctx)
        for i, a in enumerate(addrs):
            try:
                assert other.read(a) == want[i]
            except MigrationEntryWait:
                blocked.append((i, False, want[i]))
        for i in range(0, npages, 3):
            want[i] += 0x100
            try:
                other.write(addrs[i], want[i])
            except MigrationEntryWait:
                blocked.append((i, True, want[i]))

    m.probes[probe] = during
    if probe == "migrate_pages_batch:flush" and not batches:
        pytest.skip("no batch flush on a baseline without migration batching")
    assert p.move_pages(addrs, [1] * npages) == [1] * npages
    assert paused, f"{probe} never fired"
    del m.probes[probe]
    for i, write, value in blocked:                  # the waiters wake: the new page
        if write:
            other.write(addrs[i], value)
        else:
            assert other.read(addrs[i]) == value
    for i in range(1, npages, 5):                    # after
        want[i] += 0x10000
        ts[1].write(addrs[i], want[i])
    for t in [p, *ts]:
        for i, a in enumerate(addrs):
            assert t.read(a) == want[i], (t.cpu, i)
    assert p.move_pages(addrs) == [1] * npages
    assert m.sanitizer.violations == []


def test_a_fault_on_a_migration_entry_waits_then_finds_the_new_page(make_machine):
    m = _machine(make_machine, "arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"))
    p, ts, addrs = _set_up(m, 4, threads=(1,))
    waited = []

    def at_copy(current, folio, dst):
        # the PTE is a migration entry and CPU 1's TLB was flushed: CPU 1 must wait
        with pytest.raises(MigrationEntryWait):
            ts[0].read(addrs[0])
        waited.append((folio.pfn, dst.pfn))

    m.probes["migrate_folio_move:copy"] = at_copy
    p.move_pages(addrs[:1], [2])
    del m.probes["migrate_folio_move:copy"]
    old, new = waited[0]
    assert ts[0].read(addrs[0]) == 0xDA7A0000
    assert m.cpus[1].tlb.get(m.cpus[1].asid_key | addrs[0] >> 12).pfn == new != old
    assert m.numa.pfn_to_nid(new) == 2


@pytest.mark.stale_entries
@pytest.mark.parametrize("arch,sets", [
    ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y")),
    ("x86", ("EXPERT=y", "MODEL_X86_KERNEL_6_6=y")),
])
def test_copy_before_the_batch_flush_is_caught_with_its_kind(make_machine, arch, sets):
    """MODEL_MIGRATE_COPY_BEFORE_FLUSH: the first copy of a batch runs with stale entries."""
    m = _machine(make_machine, arch, (*sets, "MODEL_MIGRATE_COPY_BEFORE_FLUSH=y"))
    p, ts, addrs = _set_up(m, 8, threads=(1,))
    ts[0].write(addrs[0], 0x5708E)                   # CPU 1's entry for page 0 is dirty
    lost = []

    def before_flush(current, **ctx):
        # the first page's copy already happened; CPU 1 still stores through its entry
        ts[0].write(addrs[0], 0x1057)
        lost.append(True)

    m.probes["migrate_pages_batch:flush"] = before_flush
    p.move_pages(addrs, [1] * 8)
    del m.probes["migrate_pages_batch:flush"]
    assert lost
    kinds = m.sanitizer.kinds
    assert kinds[0] == "migrate-copy-while-writable"
    assert "use-after-free-tlb" not in kinds         # the old pages outlive the flush
    assert p.read(addrs[0]) == 0x5708E               # the store went to the old page ...
    assert "data-lost" in m.sanitizer.kinds          # ... and the read says so


@pytest.mark.parametrize("arch,sets", [
    ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y")),
    ("x86", ("EXPERT=y", "MODEL_X86_KERNEL_6_6=y")),
])
def test_without_the_hazard_the_same_store_waits_and_lands_in_the_new_page(
        make_machine, arch, sets):
    m = _machine(make_machine, arch, sets)
    p, ts, addrs = _set_up(m, 8, threads=(1,))
    ts[0].write(addrs[0], 0x5708E)
    blocked = []

    def at_copy(current, folio, dst):
        if blocked:
            return
        try:
            ts[0].write(addrs[0], 0x1057)
        except MigrationEntryWait:
            blocked.append(True)

    m.probes["migrate_folio_move:copy"] = at_copy
    p.move_pages(addrs, [1] * 8)
    del m.probes["migrate_folio_move:copy"]
    assert blocked                                   # the flush had removed CPU 1's entry
    ts[0].write(addrs[0], 0x1057)
    assert p.read(addrs[0]) == 0x1057
    assert m.sanitizer.violations == []


def test_shared_anonymous_pages_migrate_with_their_page_cache(make_machine):
    m = _machine(make_machine, "x86", ("EXPERT=y", "MODEL_X86_KERNEL_6_6=y"))
    p, ts, addrs = _set_up(m, 8, shared=True)
    child = p.fork(cpu=5)
    assert child.read(addrs[3]) == 0xDA7A0003
    assert p.move_pages(addrs, [3] * 8) == [3] * 8
    child.write(addrs[3], 0xC41D)
    assert p.read(addrs[3]) == 0xC41D
    assert child.move_pages(addrs) == [3] * 8


def test_policies_place_pages_and_mbind_moves_them(make_machine):
    m = _machine(make_machine, "arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"))
    p = Process.spawn(m, "a.out", cpu=0)
    buf = p.mmap(8 * PAGE_SIZE)
    addrs = [buf + i * PAGE_SIZE for i in range(8)]
    p.mbind(buf, 8 * PAGE_SIZE, MPOL_INTERLEAVE, [1, 3])
    for i, a in enumerate(addrs):
        p.write(a, i)
    assert p.move_pages(addrs) == [1, 3] * 4          # by page offset in the VMA
    assert p.mbind(buf, 8 * PAGE_SIZE, MPOL_BIND, [2], MPOL_MF_MOVE) == 0
    assert p.move_pages(addrs) == [2] * 8
    assert [p.read(a) for a in addrs] == list(range(8))
    buf2 = p.mmap(PAGE_SIZE)
    p.set_mempolicy(MPOL_BIND, [3])
    p.write(buf2, 7)                                  # the task's policy: node 3
    assert p.move_pages([buf2]) == [3]
    assert migratepages(p, [2, 3], [0]) == 0          # numactl's migratepages
    assert p.move_pages(addrs + [buf2]) == [0] * 9
    assert m.vmstat.pgmigrate_success == 8 + 8 + 1
    assert p.move_pages([buf2 + PAGE_SIZE * 100]) == [-errno.EFAULT]


def test_bad_policy_arguments_are_refused(make_machine):
    m = _machine(make_machine, "x86", ())
    p = Process.spawn(m, "a.out", cpu=0)
    buf = p.mmap(PAGE_SIZE)
    with pytest.raises(ValueError, match="nodemask"):
        p.mbind(buf, PAGE_SIZE, MPOL_BIND, [7])       # x86-2s has nodes 0..3
    with pytest.raises(ValueError, match="non-empty"):
        p.mbind(buf, PAGE_SIZE, MPOL_BIND, [])
    with pytest.raises(ValueError, match="not mapped"):
        p.mbind(buf + PAGE_SIZE, PAGE_SIZE, MPOL_BIND, [1])
    with pytest.raises(ValueError, match="expected 0..3"):
        p.move_pages([buf], [4])


def test_without_config_migration_the_syscalls_fail_with_enosys(make_machine):
    m = _machine(make_machine, "x86", ("COMPACTION=n",))
    assert not m.migration
    p = Process.spawn(m, "a.out", cpu=0)
    buf = p.mmap(PAGE_SIZE)
    p.write(buf, 1)
    for call in (lambda: p.move_pages([buf], [1]), lambda: p.migrate_pages([0], [1]),
                 lambda: p.mbind(buf, PAGE_SIZE, MPOL_BIND, [1], MPOL_MF_MOVE)):
        with pytest.raises(OSError) as e:
            call()
        assert e.value.errno == errno.ENOSYS
    assert p.read(buf) == 1


def test_a_full_target_node_fails_the_pages_it_cannot_take(make_machine):
    m = _machine(make_machine, "arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"))
    p, ts, addrs = _set_up(m, 8, threads=(1,))
    node1 = m.page_alloc.free_lists[1]
    keep = node1[3:]
    del node1[3:]                                     # node 1 has 3 free pages left
    status = p.move_pages(addrs, [1] * 8)
    node1.extend(keep)
    assert status.count(1) == 3 and status.count(0) == 5
    # -ENOMEM stops the batch: the folio that met it counts as failed, the
    # untried ones do not (migrate_pages_stats.nr_failed_pages, as upstream)
    assert m.vmstat.pgmigrate_success == 3 and m.vmstat.pgmigrate_fail == 1
    for t in (p, ts[0]):
        assert [t.read(a) for a in addrs] == [0xDA7A0000 + i for i in range(8)]
