"""minikernel/baseline.py: every variant names a kernel release, resolved once at boot."""

from __future__ import annotations

import json

import pytest

from minikernel.baseline import BASELINE_CHOICES, RELEASES, baseline_for
from minikernel.kconfig import RENAMED_SYMBOLS, load_kernel_config, parse_tree


@pytest.mark.parametrize(("arch", "sets", "version", "variant"), [
    ("arm64", [], (6, 1), "v5"),                       # EXPERT=n hides the choice: v5 on 6.1
    ("arm64", ["EXPERT=y"], (6, 1), "v5"),
    ("arm64", ["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"], (6, 6), "6.6"),
    ("arm64", ["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"], (6, 16), "flush_mm"),
    ("x86", [], (6, 1), None),
    ("x86", ["MODEL_X86_KERNEL_6_6=y"], (6, 6), None),
    ("x86", ["MODEL_X86_KERNEL_6_16=y"], (6, 16), None),
])
def test_each_choice_names_one_release(arch, sets, version, variant):
    b = baseline_for(load_kernel_config(arch, sets=sets))
    assert (b.version, b.variant) == (version, variant)
    assert b.name == "Linux {}.{}".format(*version)


@pytest.mark.parametrize("arch", sorted(BASELINE_CHOICES))
def test_the_table_matches_the_kconfig_choice(arch):
    """Every member of the arch's baseline choice is in the table and vice versa,
    each names a known release, and its help says it is model-only."""
    k = parse_tree(arch)
    rows = BASELINE_CHOICES[arch]
    (choice,) = {k.syms[sym].choice for sym, _, _ in rows}
    assert {s.name for s in choice.syms} == {sym for sym, _, _ in rows}
    assert all(version in RELEASES for _, _, version in rows)
    assert choice.nodes[0].help.startswith("MODEL:")
    # The table's last row is the Kconfig default (the choice visible, no member set).
    cfg = load_kernel_config(arch, sets=["EXPERT=y"])
    assert [getattr(cfg, sym) for sym, _, _ in rows] == [False] * (len(rows) - 1) + [True]


def test_machine_carries_the_baseline_and_the_report_names_it(make_machine):
    m = make_machine("arm64", "EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y", cpus=4)
    assert m.baseline.version == (6, 6)
    assert m.arch.variant == "6.6"


def test_boot_json_has_the_kernel_object(run_cli):
    r = run_cli("--defconfig", "x86", "--set", "MODEL_X86_KERNEL_6_6=y", "--iterations", "1", "--json")
    assert r.rc == 0, r.err
    assert json.loads(r.out)["kernel"] == {
        "name": "Linux 6.6", "version": "6.6", "variant": None, "symbol": "MODEL_X86_KERNEL_6_6"}


@pytest.mark.parametrize("old", sorted(RENAMED_SYMBOLS))
def test_old_symbol_names_still_load_with_a_note(tmp_path, old):
    new = RENAMED_SYMBOLS[old]
    via_set = load_kernel_config("arm64", sets=["EXPERT=y", f"{old}=y"])
    assert getattr(via_set, new) is True
    assert any(f"CONFIG_{old} is now called CONFIG_{new}" in n for n in via_set.notes)
    dotconfig = tmp_path / ".config"
    dotconfig.write_text(f"CONFIG_ARM64=y\nCONFIG_EXPERT=y\nCONFIG_{old}=y\n")
    via_file = load_kernel_config(config=dotconfig)
    assert getattr(via_file, new) is True
    assert any(n.startswith(f"{dotconfig}:3: note: CONFIG_{old} is now called") for n in via_file.notes)
    assert dotconfig.read_text().count(old) == 1          # the user's file is not rewritten


def test_a_scenario_file_with_old_names_still_runs(tmp_path):
    from minikernel.scenario import load_scenario, override_config, run_scenario
    f = tmp_path / "old.toml"
    f.write_text('expect = "clean"\n[machine]\narch = "arm64"\ncpus = 2\n'
                 'config = ["EXPERT=y", "ARM64_BATCHED_TLB_6_6=y"]\n'
                 '[[task]]\nname = "main"\ncpu = 0\nprocess = "p"\n'
                 '[[step]]\ntask = "main"\nop = "mmap"\nas = "buf"\n')
    sc = load_scenario(f)
    assert run_scenario(sc).ok
    # An override with the new name of another member replaces the old-named one.
    sc2 = override_config(sc, ["MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"])
    assert sc2.config == ["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"]


@pytest.mark.parametrize("arch,sets,attrs", [
    ("arm64", (), ("this_cpu", "MAX_TLBI_OPS", False)),
    ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"), ("system", "MAX_TLBI_OPS", False)),
    ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"), ("system", "MAX_DVM_OPS", True)),
    ("x86", ("MODEL_X86_KERNEL_6_6=y",), ("system", "MAX_TLBI_OPS", False)),
    ("x86", ("MODEL_X86_KERNEL_6_16=y",), ("system", "MAX_DVM_OPS", True)),
])
def test_arch_behaviour_attributes_follow_the_release(arch, sets, attrs):
    """43b3dfdd0455 (6.6): system-wide REPEAT_TLBI check; ec1c3b9ff160 (6.7): MAX_DVM_OPS;
    209954cbc7d0 (6.14): x86 mm_cpumask updated lazily."""
    b = baseline_for(load_kernel_config(arch, sets=sets))
    assert (b.arm64_repeat_tlbi_scope, b.arm64_max_tlbi_ops_name, b.x86_mm_cpumask_lazy) == attrs
