"""The Kconfig tree itself: parses cleanly, has the upstream shapes the
model relies on, and its defconfigs are minimal and load without notes."""

from __future__ import annotations

import kconfiglib
import pytest
from kconfiglib import BOOL, INT, expr_str

from minikernel import srctree
from minikernel.kconfig import load_kernel_config, parse_tree

ARCHES = ["arm64", "x86"]


@pytest.fixture(params=ARCHES)
def kconf(request):
    return parse_tree(request.param)


def _node(kconf, name):
    (node,) = kconf.syms[name].nodes
    return node


def test_tree_parses_without_warnings_with_undef_checks(monkeypatch):
    for arch in ARCHES:
        monkeypatch.setenv("srctree", str(srctree()))
        monkeypatch.setenv("SRCARCH", arch)
        monkeypatch.setenv("KCONFIG_WARN_UNDEF", "y")
        k = kconfiglib.Kconfig(str(srctree() / "Kconfig"), warn_to_stderr=False)
        k.load_config(str(srctree() / "arch" / arch / "configs" / "defconfig"))
        for sym in k.unique_defined_syms:
            sym.str_value  # evaluation warnings (e.g. select of unmet deps)
        assert k.warnings == []
        assert k.mainmenu_text == f"minikernel/{arch} Configuration"


def test_every_prompted_symbol_has_help(kconf):
    missing = [s.name for s in kconf.unique_defined_syms
               if any(n.prompt for n in s.nodes) and not any(n.help for n in s.nodes)]
    assert missing == []


def test_expert_is_a_menuconfig_in_init(kconf):
    node = _node(kconf, "EXPERT")
    assert node.is_menuconfig
    assert node.filename == "init/Kconfig"
    assert node.prompt[0] == "Configure standard kernel features (expert users)"
    assert kconf.syms["EXPERT"].orig_type is BOOL


def test_batched_flush_symbol_is_promptless_bool_in_init(kconf):
    node = _node(kconf, "ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH")
    assert node.filename == "init/Kconfig"
    assert node.prompt is None
    assert kconf.syms["ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH"].orig_type is BOOL


def test_arm64_selects_batching_only_if_expert():
    k = parse_tree("arm64")
    assert expr_str(k.syms["ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH"].rev_dep) == "ARM64 && EXPERT"
    thr = k.syms["ARM64_NR_CPUS_FOR_BATCHED_TLB"]
    assert thr.orig_type is INT
    assert _node(k, "ARM64_NR_CPUS_FOR_BATCHED_TLB").prompt[0] == "Threshold to enable batched TLB flush"
    # the threshold is v5's only: the series as merged has none
    assert expr_str(thr.direct_dep) == "ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH && MODEL_ARM64_BATCHED_TLB_V5"
    nr = k.syms["NR_CPUS"]
    assert [(lo.name, hi.name) for lo, hi, _ in nr.ranges] == [("2", "4096")]


def test_x86_selects_batching_unless_model_knob():
    k = parse_tree("x86")
    assert (expr_str(k.syms["ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH"].rev_dep)
            == "X86 && !X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH")
    knob = _node(k, "X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH")
    assert knob.prompt[0].startswith("Model only:")
    assert "no upstream counterpart" in knob.help
    assert expr_str(k.syms["X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH"].direct_dep) == "EXPERT"
    nr = k.syms["NR_CPUS"]
    assert [(lo.name, hi.name) for lo, hi, _ in nr.ranges] == [("2", "512")]


@pytest.mark.parametrize("erratum", ["ARM64_ERRATUM_1286807", "ARM64_ERRATUM_2441007",
                                     "ARM64_ERRATUM_2441009", "QCOM_FALKOR_ERRATUM_1009"])
def test_arm64_errata_select_repeat_tlbi_and_default_y_as_upstream(erratum):
    k = parse_tree("arm64")
    node = _node(k, erratum)
    assert node.parent.prompt[0] == "ARM errata workarounds via the alternatives framework"
    assert k.syms[erratum].str_value == "y"
    assert "only on" in node.help                       # detected per core at boot
    assert erratum in expr_str(k.syms["ARM64_WORKAROUND_REPEAT_TLBI"].rev_dep)
    assert _node(k, "ARM64_WORKAROUND_REPEAT_TLBI").prompt is None


def test_debug_tlbflush_is_x86_only_with_upstreams_prompt():
    x86, arm64 = parse_tree("x86"), parse_tree("arm64")
    node = _node(x86, "DEBUG_TLBFLUSH")
    assert node.filename == "arch/x86/Kconfig.debug"
    assert node.prompt[0] == "Set upper limit of TLB entries to flush one-by-one"
    assert node.parent.prompt[0] == "x86 Debugging"
    assert expr_str(x86.syms["DEBUG_TLBFLUSH"].direct_dep) == "DEBUG_KERNEL"
    assert "DEBUG_TLBFLUSH" not in {s.name for s in arm64.unique_defined_syms}


def test_expert_selects_debug_kernel_and_migration_depends_as_upstream(kconf):
    assert "EXPERT" in expr_str(kconf.syms["DEBUG_KERNEL"].rev_dep)
    assert "Nothing changes by setting this alone" not in _node(kconf, "EXPERT").help
    assert expr_str(kconf.syms["MIGRATION"].direct_dep) == "COMPACTION && MMU"
    assert "mm/migrate.py" in _node(kconf, "MIGRATION").help      # read since issue 15
    assert "COMPACTION" in expr_str(kconf.syms["MIGRATION"].rev_dep)
    assert "BLOCK && SYSFS && MMU" in _node(kconf, "ZRAM").help


def test_mm_and_debug_symbols(kconf):
    syms = kconf.syms
    assert expr_str(syms["ZRAM"].direct_dep) == "SWAP"
    assert "drivers/block/zram/Kconfig" in _node(kconf, "ZRAM").help
    assert _node(kconf, "SWAP").parent.prompt[0] == "Memory Management options"
    assert expr_str(syms["DEBUG_VM"].direct_dep) == "DEBUG_KERNEL"
    assert _node(kconf, "DEBUG_VM").filename == "mm/Kconfig.debug"
    assert syms["SWAP"].str_value == "y" and syms["MIGRATION"].str_value == "y"


@pytest.mark.parametrize("arch", ARCHES)
def test_defconfig_loads_without_notes_and_is_minimal(arch):
    cfg = load_kernel_config(arch)
    assert cfg.notes == []
    k = parse_tree(arch)
    k.load_config(str(srctree() / "arch" / arch / "configs" / "defconfig"))
    text = (srctree() / "arch" / arch / "configs" / "defconfig").read_text()
    assert k._min_config_contents("") == text
