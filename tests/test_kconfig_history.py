"""The Kconfig symbols of issue 6: the sanitizer, the arm64 variant choice, the revertable fixes."""

from __future__ import annotations

import pytest
from kconfiglib import BOOL, expr_str

from minikernel.kconfig import load_kernel_config, parse_tree


def _node(kconf, name):
    (node,) = kconf.syms[name].nodes
    return node


@pytest.mark.parametrize("arch", ["arm64", "x86"])
def test_sanitizer_is_a_debug_option_off_by_default(arch):
    k = parse_tree(arch)
    node = _node(k, "DEBUG_TLB_SANITIZER")
    assert node.filename == "lib/Kconfig.debug"
    assert expr_str(k.syms["DEBUG_TLB_SANITIZER"].direct_dep) == "DEBUG_KERNEL"
    for kind in ("use-after-free-tlb", "io-while-writable", "stale-after-syscall", "data-lost"):
        assert kind in node.help
    assert load_kernel_config(arch).DEBUG_TLB_SANITIZER is False


@pytest.mark.parametrize("arch", ["arm64", "x86"])
def test_revertable_fixes_are_model_only_under_expert_and_name_their_commit(arch):
    k = parse_tree(arch)
    for name, commit in (("MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING", "3ea277194daa"),
                         ("MODEL_REVERT_FLUSH_DIRTY_BEFORE_PAGEOUT", "d950c9477d51")):
        node = _node(k, name)
        assert node.filename == "mm/Kconfig" and k.syms[name].orig_type is BOOL
        assert commit in node.prompt[0] and commit in node.help
        assert node.help.startswith("MODEL:")
        assert "EXPERT" in expr_str(k.syms[name].direct_dep)
        assert getattr(load_kernel_config(arch, sets=["EXPERT=y"]), name) is False


def test_arm64_variant_choice_under_expert_defaults_to_v5():
    k = parse_tree("arm64")
    (choice,) = [c for c in k.unique_choices if c.syms[0].name.startswith("MODEL_ARM64_BATCHED_TLB")]
    assert [s.name for s in choice.syms] == ["MODEL_ARM64_BATCHED_TLB_V5", "MODEL_ARM64_BATCHED_TLB_6_6",
                                             "MODEL_ARM64_BATCHED_TLB_FLUSH_MM"]
    assert expr_str(choice.direct_dep) == "EXPERT"
    assert "4b634918384c" in _node(k, "MODEL_ARM64_BATCHED_TLB_FLUSH_MM").prompt[0]
    cfg = load_kernel_config("arm64", sets=["EXPERT=y"])
    assert (cfg.MODEL_ARM64_BATCHED_TLB_V5, cfg.MODEL_ARM64_BATCHED_TLB_6_6) == (True, False)
    cfg = load_kernel_config("arm64", sets=["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"])
    assert (cfg.MODEL_ARM64_BATCHED_TLB_V5, cfg.MODEL_ARM64_BATCHED_TLB_6_6) == (False, True)


@pytest.mark.parametrize("sets,variant,threshold,defers_on_4", [
    (["EXPERT=y"], "v5", 8, False),
    (["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"], "6.6", None, True),
    (["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"], "flush_mm", None, True),
])
def test_variant_is_resolved_once_at_boot(make_machine, sets, variant, threshold, defers_on_4):
    m = make_machine("arm64", *sets, cpus=4)
    ops = m.arch
    assert (ops.variant, ops.threshold) == (variant, threshold)
    assert ops.arch_tlbbatch_should_defer(m.cpus[0], None) is defers_on_4
    assert m.arch.tlb_flush_path().batched is defers_on_4
