"""minikernel/explore.py: bounded, deterministic exploration; findings replay."""

from __future__ import annotations

from pathlib import Path

from minikernel.compat import tomllib
from minikernel.explore import _merges, explore
from minikernel.scenario import load_scenario, override_config, parse_scenario, run_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_merges_keep_program_order_and_count_the_multinomial():
    got = list(_merges([["a1", "a2"], ["b1"], ["c1"]]))
    assert len(got) == 12 and len({tuple(g) for g in got}) == 12
    assert all(g.index("a1") < g.index("a2") for g in got)


def test_explorer_finds_the_2017_race_from_tasks_and_operations_only():
    sc = load_scenario(SCENARIOS / "explore-2017-mprotect.toml")
    assert all(s.pause_at is None for s in sc.explore_steps)
    r = explore(sc)
    assert not r.truncated and r.findings
    first = r.findings[0]
    assert first.kinds == ["stale-after-syscall"]
    assert first.probe == "try_to_unmap_one:cleared" and first.nested == 2
    # smallest first
    assert [f.nested for f in r.findings] == sorted(f.nested for f in r.findings)
    # the finding is a scenario file that replays to the same verdict
    replay = parse_scenario(tomllib.loads(first.toml), "finding.toml")
    rr = run_scenario(replay)
    assert rr.ok and rr.kinds == ["stale-after-syscall"]


def test_explorer_is_deterministic():
    sc = load_scenario(SCENARIOS / "explore-2017-mprotect.toml")
    a, b = explore(sc).as_dict(), explore(sc).as_dict()
    a.pop("timing"), b.pop("timing")          # host wall-clock figures
    assert a == b


def test_with_the_fix_every_interleaving_is_clean_and_6_6_is_not():
    sc = load_scenario(SCENARIOS / "explore-2017-mprotect.toml")
    fixed = explore(override_config(sc, ["MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=n"]))
    assert fixed.runs == 19 and fixed.findings == []
    v66 = explore(override_config(sc, ["MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=n",
                                       "MODEL_ARM64_BATCHED_TLB_6_6=y"]))
    assert {tuple(f.kinds) for f in v66.findings} == {("stale-after-syscall",)}


def test_6_6_variant_exposes_munmap_and_mremap_and_the_fix_closes_them():
    sc = load_scenario(SCENARIOS / "explore-6.6-pte-lock-paths.toml")
    r = explore(sc)
    calls = {v.syscall for f in r.findings for v in f.result.violations}
    assert calls == {"munmap", "mremap"}
    assert explore(override_config(sc, ["MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"])).findings == []


def test_max_runs_bounds_the_search():
    sc = load_scenario(SCENARIOS / "explore-2017-mprotect.toml")
    r = explore(sc, max_runs=3)
    assert r.truncated and r.runs == 3


def test_max_nested_bounds_the_steps_inside_one_pause():
    sc = load_scenario(SCENARIOS / "explore-2017-mprotect.toml")
    r = explore(sc, max_nested=1)
    assert r.findings == []                # the race needs mprotect AND the write inside
    assert explore(sc, max_nested=2).findings


def test_truncated_clean_exploration_exits_3(run_cli):
    # The fix is in: nothing is found in 2 runs, but 2 runs are not the whole search.
    path = str(SCENARIOS / "explore-2017-mprotect.toml")
    r = run_cli("explore", path, "--set", "MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=n",
                "--max-runs", "2")
    assert r.rc == 3 and "TRUNCATED" in r.out
    assert run_cli("explore", path, "--set", "MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=n").rc == 0


def test_explore_help_names_every_exit_status(run_cli):
    # `explore --help` said 0/1/2 only; a script reading the status must learn of 3 there.
    import re
    out = " ".join(run_cli("explore", "--help").out.split())
    assert re.search(r"0 none violates, 1 some do, 2 bad input, 3 none found", out), out
    assert "3: none found" in " ".join(run_cli("--help").out.split())


def test_save_to_a_file_fails_before_exploring(run_cli, tmp_path, monkeypatch):
    import minikernel.explore as ex

    (tmp_path / "f").write_text("mine\n")
    monkeypatch.setattr(ex, "explore", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    r = run_cli("explore", str(SCENARIOS / "explore-2017-mprotect.toml"), "--save",
                str(tmp_path / "f"))
    assert r.rc == 2 and "not a directory" in r.err
    assert (tmp_path / "f").read_text() == "mine\n"


def test_save_keeps_an_edited_finding_as_old(tmp_path):
    """A finding file is a scenario the user may have edited: a second --save into
    the same directory keeps it as .old (issue 13 item 4), an unchanged one is not copied."""
    r = explore(load_scenario(SCENARIOS / "explore-2017-mprotect.toml"))
    first = r.save(tmp_path)[0]
    assert not list(tmp_path.glob("*.old"))
    r.save(tmp_path)                                  # same contents: nothing to keep
    assert not list(tmp_path.glob("*.old"))
    edited = first.read_text() + "# my note\n"
    first.write_text(edited)
    r.save(tmp_path)
    assert first.with_name(first.name + ".old").read_text() == edited
    assert first.read_text() == r.findings[0].toml


# --- partial-order reduction and worker processes (issue 16) -----------------------------

import pytest  # noqa: E402

from minikernel.explore import DEFAULT_MAX_RUNS, footprint, independent  # noqa: E402

#: Every shipped explorer input, with the --set variants the README discusses.
SHIPPED = [
    ("explore-2017-mprotect.toml", []),
    ("explore-2017-mprotect.toml", ["MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=n"]),
    ("explore-2017-mprotect.toml", ["MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=n",
                                    "MODEL_ARM64_BATCHED_TLB_6_6=y"]),
    ("explore-6.6-pte-lock-paths.toml", []),
    ("explore-6.6-pte-lock-paths.toml", ["MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"]),
    ("explore-two-processes-10-steps.toml", []),
    # issue 17: x86 INVLPGB on the Genoa profile, merged / the version found in review
    ("explore-invlpgb-transition.toml", []),
    ("explore-invlpgb-transition.toml", ["EXPERT=y", "MODEL_X86_REVERT_TLBBATCH_FLUSH_BOTH=y"]),
    # issue 15: migration ops, as merged / with the model-only copy-before-flush hazard
    ("explore-migrate-copy-before-flush.toml", []),
    ("explore-migrate-copy-before-flush.toml", ["MODEL_MIGRATE_COPY_BEFORE_FLUSH=y"]),
    # issue 17: riscv 6.8, the 2017 race with the fix reverted / in
    ("explore-riscv-2017-mprotect.toml", []),
    ("explore-riscv-2017-mprotect.toml", ["MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=n"]),
]
#: Exhaustively, this one needs ~20 000 runs (about two minutes): --run-slow.
BIG = "explore-two-processes-10-steps.toml"


def _findings(r):
    """Everything a finding says except its run number (which differs when runs are pruned)."""
    return [(f.kinds, f.paused, f.probe, f.hit, f.nested, f.before, f.toml.split("\n", 2)[2],
             f.result.log, [v.as_dict() for v in f.result.violations]) for f in r.findings]


def test_every_shipped_explorer_input_is_covered():
    shipped = {p.name for p in SCENARIOS.glob("*.toml") if "[explore]" in p.read_text()}
    assert shipped == {name for name, _ in SHIPPED}


@pytest.mark.parametrize("name,sets", [pytest.param(n, s, marks=pytest.mark.slow) if n == BIG
                                       else (n, s) for n, s in SHIPPED],
                         ids=[f"{n}{'+' if s else ''}{'+'.join(s)}" for n, s in SHIPPED])
def test_reduction_finds_what_the_exhaustive_enumeration_finds(name, sets):
    sc = override_config(load_scenario(SCENARIOS / name), sets)
    full = explore(sc, por=False, max_runs=50_000, jobs=None)
    por = explore(sc, jobs=None, max_runs=50_000)
    assert not full.truncated and not por.truncated
    assert _findings(por) == _findings(full)
    # Each pruned run is one the exhaustive enumeration ran: the counts add up.
    assert por.runs + por.pruned == full.runs
    assert full.pruned == 0


def test_reduction_exhausts_a_10_step_3_task_program_the_exhaustive_explorer_truncates():
    sc = load_scenario(SCENARIOS / BIG)
    assert len(sc.explore_steps) == 10 and len({s.task for s in sc.explore_steps}) == 3
    r = explore(sc, jobs=None)                      # default bounds
    assert not r.truncated and r.runs <= DEFAULT_MAX_RUNS
    assert r.runs + r.pruned > DEFAULT_MAX_RUNS     # what the exhaustive order would need
    assert [f.kinds for f in r.findings] == [["stale-after-syscall"]]


def test_worker_processes_change_nothing_but_the_timing():
    sc = load_scenario(SCENARIOS / "explore-6.6-pte-lock-paths.toml")
    one, two = explore(sc, jobs=1).as_dict(), explore(sc, jobs=2).as_dict()
    assert one.pop("timing")["jobs"] == 1 and two.pop("timing")["jobs"] == 2
    assert one == two and one["reduction"].startswith("partial-order")


def _steps(text):
    sc = parse_scenario(tomllib.loads(text), "t.toml")
    return sc, {f"{s.task}:{s.op}:{s.args.get('addr', '')}": s for s in sc.explore_steps}


FACTS = """
expect = "clean"
[machine]
arch = "arm64"
cpus = 4
[[task]]
name = "a"
cpu = 0
process = "p"
[[task]]
name = "b"
cpu = 1
process = "p"
[[task]]
name = "c"
cpu = 2
process = "q"
[[task]]
name = "d"
cpu = 3
process = "r"
[[step]]
task = "a"
op = "mmap"
as = "x"
[[step]]
task = "c"
op = "mmap"
as = "y"
[[step]]
task = "d"
op = "fork"
child = "e"
cpu = 3
[explore]
[[explore.step]]
task = "a"
op = "mprotect"
addr = "x"
prot = "r"
[[explore.step]]
task = "b"
op = "write"
addr = "x"
[[explore.step]]
task = "c"
op = "mprotect"
addr = "y"
prot = "r"
[[explore.step]]
task = "c"
op = "read"
addr = "y"
[[explore.step]]
task = "a"
op = "reclaim"
[[explore.step]]
task = "d"
op = "munmap"
addr = "x"
[[explore.step]]
task = "e"
op = "mprotect"
addr = "x"
prot = "r"
"""


def test_independence_is_conservative():
    sc, st = _steps(FACTS)
    fp = {k: footprint(sc, s) for k, s in st.items()}
    ind = lambda x, y: independent(fp[x], fp[y])  # noqa: E731
    # different mms, no shared page allocator use: commute
    assert ind("a:mprotect:x", "c:mprotect:y")
    assert ind("b:write:x", "c:mprotect:y")
    # same mm (threads a and b): never
    assert not ind("a:mprotect:x", "b:write:x")
    # user accesses may fault pages in: the allocator and LRU order them, whatever the mm
    assert not ind("b:write:x", "c:read:y")
    # munmap frees pages: ordered against accesses anywhere
    assert not ind("d:munmap:x", "c:read:y")
    # a forked child shares its parent's pages: one fork family, one mm resource
    assert not ind("d:munmap:x", "e:mprotect:x")
    assert ind("e:mprotect:x", "c:mprotect:y")
    # reclaim touches every mm and every CPU
    assert not any(ind("a:reclaim:", k) for k in fp if k != "a:reclaim:")
    # symmetric
    assert all(ind(x, y) == ind(y, x) for x in fp for y in fp)


def test_the_independence_relation_knows_every_scenario_op():
    """A new scenario op must be given a footprint on purpose (until then it commutes with
    nothing, which is safe)."""
    from minikernel.explore import EVERYTHING, FOOTPRINT_OPS
    from minikernel.scenario import OPS, Step

    assert FOOTPRINT_OPS == set(OPS)
    sc, _ = _steps(FACTS)
    novel = Step("a", "frobnicate", {})
    assert EVERYTHING in footprint(sc, novel)[1]


@pytest.mark.parametrize("sets, found", [
    ([], set()),
    (["EXPERT=y", "MODEL_X86_REVERT_TLBBATCH_FLUSH_BOTH=y"], {"use-after-free-tlb"}),
])
def test_invlpgb_explorer_input_is_clean_as_merged_and_finds_the_reviewed_bug(sets, found):
    sc = override_config(load_scenario(SCENARIOS / "explore-invlpgb-transition.toml"), sets)
    r = explore(sc, jobs=None)
    assert not r.truncated and r.runs > 1
    assert found <= {k for f in r.findings for k in f.kinds}
    assert bool(r.findings) is bool(found)


@pytest.mark.parametrize("sets, found", [
    ([], set()),
    (["MODEL_MIGRATE_COPY_BEFORE_FLUSH=y"], {"migrate-copy-while-writable", "data-lost"}),
])
def test_migration_explorer_input_is_clean_as_merged_and_finds_the_copy_before_flush(sets, found):
    sc = override_config(load_scenario(SCENARIOS / "explore-migrate-copy-before-flush.toml"), sets)
    r = explore(sc, jobs=1)
    assert not r.truncated and r.runs > 1
    assert {k for f in r.findings for k in f.kinds} == found
    # the migration was paused at every one of its probe points in some run
    probes = {f.probe for f in r.findings}
    if found:
        assert {"migrate_pages_batch:flush", "migrate_folio_move:copy"} <= probes, probes


@pytest.mark.parametrize("sets, found", [
    ([], {"stale-after-syscall"}),
    (["MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=n"], set()),
    (["MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING=n", "MODEL_RISCV_KERNEL_6_6=y"], set()),
])
def test_the_explorer_runs_on_riscv(sets, found):
    """The 2017 race on riscv 6.8: found with 3ea277194daa reverted, clean with it (6.8, 6.6)."""
    sc = override_config(load_scenario(SCENARIOS / "explore-riscv-2017-mprotect.toml"), sets)
    r = explore(sc, jobs=1)
    assert not r.truncated and r.runs > 1
    assert {k for f in r.findings for k in f.kinds} == found
