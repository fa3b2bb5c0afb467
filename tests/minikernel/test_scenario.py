"""minikernel/scenario.py: shipped scenarios, the file format, and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikernel.compat import tomllib
from minikernel.errors import UserError
from minikernel.scenario import (
    load_scenario,
    override_config,
    parse_scenario,
    run_scenario,
    to_toml,
)

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.toml"))


def test_scenarios_are_shipped():
    names = {p.stem for p in SHIPPED}
    assert {"race-2017-mprotect", "race-2017-mprotect-reverted", "flush-dirty-before-pageout",
            "flush-dirty-before-pageout-reverted", "race-2017-mprotect-6.6",
            "litmus-arm64-dsb-completes-everywhere", "litmus-arm64-dsb-elsewhere",
            "litmus-arm64-reuse-after-completion", "explore-2017-mprotect"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenario_meets_its_expectation(path):
    r = run_scenario(load_scenario(path))
    assert r.ok, r.render_text()
    assert r.sanitizer_enabled


@pytest.mark.parametrize("name,kinds", [
    ("race-2017-mprotect", []),
    ("race-2017-mprotect-reverted", ["stale-after-syscall"]),
    ("race-2017-mprotect-6.6", ["stale-after-syscall"]),
    ("race-2017-mprotect-flush-mm", []),
    ("race-2017-mprotect-x86", []),
    ("race-2017-mprotect-x86-reverted", ["stale-after-syscall"]),
    ("flush-dirty-before-pageout", []),
    ("flush-dirty-before-pageout-reverted", ["io-while-writable", "data-lost"]),
    ("flush-dirty-before-pageout-x86", []),
    ("flush-dirty-before-pageout-reverted-x86", ["io-while-writable", "data-lost"]),
])
def test_each_fix_with_and_without(name, kinds):
    r = run_scenario(load_scenario(SCENARIOS / f"{name}.toml"))
    assert r.kinds == kinds


@pytest.mark.parametrize("name", ["race-6.6-munmap", "race-6.6-mremap",
                                  "race-2017-mprotect-6.6"])
def test_what_6_6_exposes_is_closed_by_4b634918384c(name):
    sc = load_scenario(SCENARIOS / f"{name}.toml")
    assert run_scenario(sc).kinds == ["stale-after-syscall"]
    fixed = override_config(sc, ["MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"])
    assert fixed.config == ["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"]
    assert run_scenario(fixed).kinds == []


def test_the_2017_race_write_faults_with_the_fix_and_lands_without():
    fixed = run_scenario(load_scenario(SCENARIOS / "race-2017-mprotect.toml"))
    broken = run_scenario(load_scenario(SCENARIOS / "race-2017-mprotect-reverted.toml"))
    assert "    t1: write addr='buf' value=2 -> SIGSEGV" in fixed.log
    assert "    t1: write addr='buf' value=2 -> wrote 0x2" in broken.log


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_to_toml_round_trips(path):
    sc = load_scenario(path)
    again = parse_scenario(tomllib.loads(to_toml(sc)), sc.path)
    assert [s.describe() for s in again.steps] == [s.describe() for s in sc.steps]
    assert [[d.describe() for d in s.during] for s in again.steps] == \
        [[d.describe() for d in s.during] for s in sc.steps]
    assert (again.arch, again.cpus, again.config, again.expect) == \
        (sc.arch, sc.cpus, sc.config, sc.expect)


def test_pause_point_never_reached_is_a_failure():
    doc = _doc(step=[{"task": "main", "op": "mmap", "as": "b"},
                      {"task": "main", "op": "mprotect", "addr": "b", "prot": "r",
                       "pause_at": "try_to_unmap_one:cleared",
                       "during": [{"task": "t1", "op": "read", "addr": "b"}]}])
    r = run_scenario(parse_scenario(doc, "x.toml"))
    assert not r.ok and "never reached try_to_unmap_one:cleared" in r.failures[0]


def _doc(**over):
    d = {"expect": "clean", "machine": {"arch": "arm64", "cpus": 2},
         "task": [{"name": "main", "cpu": 0, "process": "p"},
                  {"name": "t1", "cpu": 1, "process": "p"}],
         "step": [{"task": "main", "op": "mmap", "as": "b"}]}
    d.update(over)
    return d


@pytest.mark.parametrize("over,msg", [
    ({"machine": None}, "x.toml: machine: got nothing, expected a [machine] table"),
    ({"machine": {"arch": "mips", "cpus": 2}}, "machine.arch: got 'mips', expected \"arm64\", \"riscv\" or \"x86\""),
    ({"machine": {"arch": "x86"}}, "machine.cpus: got nothing, expected a CPU count"),
    ({"expect": "dirty"}, "expect: got ['dirty'], expected \"clean\" or a list of violation kinds"),
    ({"bogus": 1}, "top level: unknown key 'bogus'"),
    ({"step": [{"task": "main", "op": "jump"}]}, "step[0].op: got 'jump', expected one of mmap"),
    ({"step": [{"task": "nobody", "op": "dsb"}]}, "step[0].task: got 'nobody', expected a task"),
    ({"step": [{"task": "main", "op": "read", "addr": "nowhere"}]},
     "step[0].addr: got 'nowhere', expected the name of a mapping made earlier"),
    ({"step": [{"task": "main", "op": "mmap", "as": "b", "colour": 1}]},
     "step[0]: unknown key 'colour'"),
    ({"step": [{"task": "main", "op": "mmap", "as": "b", "pause_at": "nowhere"}]},
     "step[0].pause_at: got 'nowhere', expected a probe point"),
    ({"step": [{"task": "main", "op": "read", "pause_at": "pageout:before_io"}]},
     "step[0].addr: got nothing"),
    ({"step": [{"task": "main", "op": "mmap", "as": "b"},
               {"task": "main", "op": "reclaim", "pause_at": "pageout:before_io",
                "during": [{"task": "main", "op": "read", "addr": "b"}]}]},
     "step[1].during[0].task: got 'main', expected a task other than the paused one"),
    ({"task": [{"name": "main", "cpu": 7, "process": "p"}]}, "task[0].cpu: got 7, expected a CPU number 0..1"),
])
def test_malformed_files_name_the_key_and_what_was_expected(over, msg):
    with pytest.raises(UserError) as ei:
        parse_scenario(_doc(**over), "x.toml")
    assert msg in str(ei.value)
    assert str(ei.value).startswith("x.toml: ")
    assert "\n" not in str(ei.value)


def test_bad_toml_and_bad_config_are_user_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("expect = [\n")
    with pytest.raises(UserError, match=r"bad.toml: not valid TOML"):
        load_scenario(bad)
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(to_toml(parse_scenario(_doc(machine={"arch": "arm64", "cpus": 2,
                                                        "config": ["NO_SUCH_SYMBOL=y"]}))))
    with pytest.raises(UserError, match=r"machine.config: .*NO_SUCH_SYMBOL"):
        run_scenario(load_scenario(cfg))


def test_machine_profile_instead_of_a_cpu_count():
    sc = parse_scenario(_doc(machine={"arch": "arm64", "profile": "snapdragon888",
                                      "config": ["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"]}),
                        "x.toml")
    r = run_scenario(sc)
    assert r.ok
    bad = parse_scenario(_doc(machine={"arch": "arm64", "profile": "x86-2s"}), "x.toml")
    with pytest.raises(UserError, match=r"x.toml: machine.profile: 'x86-2s' is an x86 machine"):
        run_scenario(bad)
