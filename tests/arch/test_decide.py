"""Each backend decides once: decide() is what should_defer, tlb_flush_path, deferral_sets and the report say.

Issue 14.2.  The deferral rule is written once per backend (its pure
``decide()``); these tests fail if one of its readers re-derives it
differently, if the Kconfig default threshold comes from anywhere but the
tree, or if a variant is installed on an instance instead of being a class.
"""

import re
from pathlib import Path

import pytest

from minikernel.arch import backend, deferral_sets, deferral_why
from minikernel.boot import boot
from minikernel.kconfig import load_kernel_config, parse_tree
from minikernel.profile import default_profile, load_profile
from minikernel.user import Process

ROOT = Path(__file__).resolve().parents[2]

#: (arch, sets, profile, cpus, the backend class name boot must choose)
CASES = [
    ("arm64", (), None, 8, "TlbOpsV5"),
    ("arm64", ("EXPERT=y",), None, 8, "TlbOpsV5"),
    ("arm64", ("EXPERT=y",), None, 96, "TlbOpsV5"),
    ("arm64", ("EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=4"), "snapdragon888", 8, "TlbOpsV5"),
    ("arm64", ("EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=4", "MODEL_ARM64_TLBBATCH_NEVER_DEFER=y"),
     "snapdragon888", 8, "TlbOpsV5"),
    ("arm64", ("EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=2"), "snapdragon888", 4, "TlbOpsV5"),
    ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"), None, 4, "TlbOps66"),
    ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"), "snapdragon888", 8, "TlbOps66"),
    ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y", "MODEL_ARM64_TLBBATCH_NEVER_DEFER=y"),
     None, 8, "TlbOps66"),
    ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"), None, 8, "TlbOpsFlushMm"),
    ("x86", (), None, 8, "TlbOps"),
    ("x86", ("EXPERT=y", "X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y"), None, 8, "TlbOps"),
    ("x86", ("EXPERT=y", "MODEL_X86_KERNEL_6_6=y"), None, 8, "TlbOps"),
    ("x86", ("EXPERT=y", "MODEL_X86_KERNEL_6_16=y"), None, 8, "TlbOpsLazyCpumask"),
    ("x86", ("EXPERT=y", "MODEL_X86_KERNEL_6_16=y"), "amd-genoa", 8, "InvlpgbTlbOps"),
    ("riscv", (), None, 4, "TlbOps"),
    ("riscv", ("MODEL_RISCV_KERNEL_6_6=y",), None, 4, "TlbOps"),
    ("riscv", ("EXPERT=y", "RISCV_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y"), None, 4, "TlbOps"),
]


def _boot(arch, sets, profile, cpus):
    cfg = load_kernel_config(arch, sets=sets)
    prof = load_profile(profile) if profile else default_profile(arch)
    return cfg, prof.with_cpus(cpus), boot(cfg, cpus=cpus, profile=prof)


def _ids(case):
    arch, sets, profile, cpus, _ = case
    return f"{arch}-{'+'.join(sets) or 'defconfig'}-{profile or 'default'}-{cpus}"


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_every_reader_of_the_decision_agrees(case):
    arch, sets, profile, cpus, cls = case
    cfg, prof, m = _boot(arch, sets, profile, cpus)
    assert type(m.arch).__name__ == cls
    d = m.arch.decision
    # tlb_flush_path is the decision, not a second derivation
    assert m.tlb_flush_path == d.flush_path
    assert (d.path != "synchronous") is d.defer
    # arch_tlbbatch_should_defer: some CPU defers exactly when the decision says so
    # (x86 decides per mm: an mm active on every CPU defers wherever batching is on;
    # without batching should_defer_flush() never asks it)
    p = Process.spawn(m, cpu=0)
    for c in range(1, cpus):
        p.clone_thread(cpu=c)
    answers = [m.arch.arch_tlbbatch_should_defer(cpu, p.mm) for cpu in m.cpus]
    assert all(type(a) is bool for a in answers)
    if d.defer or arch != "x86":
        assert any(answers) is d.defer
        if d.defer_cpus != -1:
            assert answers == [bool(d.defer_cpus >> c & 1) for c in range(cpus)]
    # deferral_sets (config and profile only, no Machine) takes the same decision
    assert deferral_sets(cfg, cpus, d.defer, prof) == []
    assert deferral_sets(cfg, cpus, not d.defer, prof) != []


@pytest.mark.parametrize("case", [c for c in CASES if c[0] == "arm64"],
                         ids=[_ids(c) for c in CASES if c[0] == "arm64"])
def test_arm64_decide_from_config_equals_the_booted_decision(case):
    arch, sets, profile, cpus, _ = case
    cfg, prof, m = _boot(arch, sets, profile, cpus)
    mod = backend("arm64")
    cores = None if prof.cores is None else m.arch.cores
    facts = mod.Arm64Facts(cpus, cores, mod._variant_of(cfg), mod._variant_of(cfg) == "v5")
    assert mod.decide(cfg, facts) == m.arch.decision
    assert facts.variant == m.baseline.variant
    assert facts.this_cpu_cap is (m.baseline.arm64_repeat_tlbi_scope == "this_cpu")


def test_v5_never_defer_knob_wins_over_a_partly_affected_machine():
    """Once written in two places, the v5 boot report said 'deferring only on unaffected CPUs'
    with the never-defer knob on, while arch_tlbbatch_should_defer() said no everywhere."""
    cfg, prof, m = _boot("arm64", ("EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=4",
                                   "MODEL_ARM64_TLBBATCH_NEVER_DEFER=y"), "snapdragon888", 8)
    assert m.arch.repeat_tlbi and m.arch.repeat_tlbi_cpus       # the A55s are affected
    assert m.tlb_flush_path.batched is False
    assert "MODEL_ARM64_TLBBATCH_NEVER_DEFER=y" in m.tlb_flush_path.reason
    p = Process.spawn(m, cpu=0)
    assert not any(m.arch.arch_tlbbatch_should_defer(c, p.mm) for c in m.cpus)


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_the_report_explains_the_flip_with_the_backends_words(case):
    from minikernel.report import flip_deferral

    arch, sets, profile, cpus, _ = case
    cfg, prof, m = _boot(arch, sets, profile, cpus)
    flip = flip_deferral(cfg, cpus, prof)
    assert flip.sets
    assert flip.why.startswith("; ".join(deferral_why(arch, s, cpus) for s in flip.sets))
    if m.tlb_flush_path.batched:
        assert flip.why.endswith("B flushes every page synchronously")
    assert boot(cfg.with_sets(flip.sets), cpus=cpus, profile=prof).tlb_flush_path.batched \
        is not m.tlb_flush_path.batched
    for s in flip.sets:                        # every assignment explained, none echoed bare
        assert deferral_why(arch, s, cpus) != s


def _kconfig_text_default(path: Path, name: str) -> int:
    """The ``default N`` of *name*'s entry, read from the Kconfig file's text."""
    text = path.read_text()
    entry = text[text.index(f"config {name}\n"):]
    entry = entry[:entry.index("\nconfig ", 1)]
    return int(re.search(r"^\s+default\s+(\d+)\s*$", entry, re.M).group(1))


def test_the_threshold_default_comes_from_the_kconfig_tree():
    tree = _kconfig_text_default(ROOT / "arch/arm64/Kconfig", "ARM64_NR_CPUS_FOR_BATCHED_TLB")
    cfg = load_kernel_config("arm64")                  # EXPERT=n: the symbol has no value
    assert cfg.ARM64_NR_CPUS_FOR_BATCHED_TLB is None
    assert cfg.sym_default("ARM64_NR_CPUS_FOR_BATCHED_TLB") == tree
    assert cfg.sym_default("CONFIG_ARM64_NR_CPUS_FOR_BATCHED_TLB") == tree
    # deferral_sets lowers the tree's default just below the CPU count, and no further
    assert deferral_sets(cfg, tree, True) == ["EXPERT=y", f"ARM64_NR_CPUS_FOR_BATCHED_TLB={tree - 1}"]
    assert deferral_sets(cfg, tree + 1, True) == ["EXPERT=y"]
    kconf = parse_tree("arm64")
    assert load_kernel_config("arm64", sets=["EXPERT=y"]).ARM64_NR_CPUS_FOR_BATCHED_TLB \
        == int(kconf.syms["ARM64_NR_CPUS_FOR_BATCHED_TLB"].orig_defaults[0][0].name) == tree


def test_sym_default_types_and_conditions():
    cfg = load_kernel_config("arm64")
    assert cfg.sym_default("ARM64_ERRATUM_2441007") is True      # bool "default y"
    assert cfg.sym_default("EXPERT") is None                     # no default at all
    assert cfg.sym_default("NR_CPUS") == 256                      # default "256", quoted
    x86 = load_kernel_config("x86")
    assert x86.sym_default("X86_BROADCAST_TLB_FLUSH") is True     # def_bool y
    from minikernel.errors import ConfigError
    with pytest.raises(ConfigError, match="NO_SUCH_SYMBOL"):
        cfg.sym_default("NO_SUCH_SYMBOL")


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_no_method_is_installed_on_an_instance(case):
    """The code that runs is the code you read: every verb is the class's."""
    _, _, m = _boot(*case[:4])
    ops = m.arch
    overridden = [k for k, v in vars(ops).items() if callable(v)] if hasattr(ops, "__dict__") else []
    assert overridden == []
    assert type(ops).arch_flush_tlb_batched_pending is not None


def test_arm64_variants_differ_only_where_upstream_did():
    mod = backend("arm64")
    base = mod.TlbOps
    for variant, (cls, sym) in mod.VARIANTS.items():
        assert cls.VARIANT == variant and issubclass(cls, base)
        own = {k for k in vars(cls) if not k.startswith("__")} - {"VARIANT"}
        assert own == {"arch_flush_tlb_batched_pending"}, (cls, own)
        m = boot(load_kernel_config("arm64", sets=["EXPERT=y", f"{sym}=y"]), cpus=4)
        assert type(m.arch) is cls and m.baseline.variant == variant


@pytest.mark.parametrize("sets", [[], ["EXPERT=y"], ["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"],
                                  ["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"]])
def test_arm64_variant_of_a_config_is_the_baselines(sets):
    """arch/arm64 may not import minikernel.baseline, so deferral_sets reads the
    series variant from the Kconfig choice itself: it must name the same one."""
    from minikernel.arch.arm64 import tlbflush
    from minikernel.baseline import baseline_for

    cfg = load_kernel_config("arm64", sets=sets)
    assert tlbflush._variant_of(cfg) == baseline_for(cfg).variant
