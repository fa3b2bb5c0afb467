"""minikernel/kconfig.py: loading, the immutable KernelConfig, and every
way an assignment can fail to take."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minikernel.errors import ConfigError, UserError
from minikernel.kconfig import KernelConfig, infer_arch, load_kernel_config, parse_tree


def write(tmp_path, text, name=".config"):
    p = tmp_path / name
    p.write_text(text)
    return p


# --- the "Done when" configuration facts -------------------------------------

def test_arm64_defconfig_has_no_batching():
    cfg = load_kernel_config("arm64")
    assert cfg.arch == cfg.srcarch == "arm64"
    assert cfg.EXPERT is False
    assert cfg.ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH is False
    assert cfg.values["ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH"] == "n"
    # the threshold exists but has no value while batching is off
    assert cfg.ARM64_NR_CPUS_FOR_BATCHED_TLB is None
    assert "ARM64_NR_CPUS_FOR_BATCHED_TLB" not in cfg.values


def test_arm64_expert_enables_batching_with_threshold_8():
    cfg = load_kernel_config("arm64", sets=["EXPERT=y"])
    assert cfg.ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH is True
    assert cfg.ARM64_NR_CPUS_FOR_BATCHED_TLB == 8
    assert cfg.values["ARM64_NR_CPUS_FOR_BATCHED_TLB"] == "8"


@pytest.mark.parametrize("expert", ["y", "n"])
def test_x86_batching_whatever_expert(expert):
    cfg = load_kernel_config("x86", sets=[f"EXPERT={expert}"])
    assert cfg.ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH is True
    assert cfg.values["ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH"] == "y"
    assert cfg.NR_CPUS == 512


def test_x86_model_knob_drops_batching():
    cfg = load_kernel_config("x86", sets=["EXPERT=y", "X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y"])
    assert cfg.ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH is False


def test_erratum_selects_repeat_tlbi():
    cfg = load_kernel_config("arm64", sets=["ARM64_ERRATUM_2441007=y"])
    assert cfg.ARM64_WORKAROUND_REPEAT_TLBI is True


def test_kernel_config_fixture_covers_both_sides(kernel_config):
    assert isinstance(kernel_config.ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH, bool)
    assert kernel_config.notes == []


# --- KernelConfig behaviour -----------------------------------------------------

def test_values_are_every_symbol_with_a_value_as_in_dot_config():
    cfg = load_kernel_config("arm64", sets=["EXPERT=y"])
    assert cfg.values == {
        "EXPERT": "y", "ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH": "y", "ARM64": "y",
        "NR_CPUS": "256", "ARM64_NR_CPUS_FOR_BATCHED_TLB": "8", "MODEL_ARM64_TLBBATCH_NEVER_DEFER": "n",
        "ARM64_WORKAROUND_REPEAT_TLBI": "y", "ARM64_ERRATUM_1286807": "y",
        "ARM64_ERRATUM_2441007": "y", "ARM64_ERRATUM_2441009": "y",
        "QCOM_FALKOR_ERRATUM_1009": "y", "MMU": "y", "COMPACTION": "y",
        "SWAP": "y", "ZRAM": "y", "MIGRATION": "y",
        "DEBUG_KERNEL": "y", "DEBUG_VM": "n",
        # issue 6: variant choice, revertable fixes, the sanitizer
        "MODEL_ARM64_BATCHED_TLB_V5": "y", "MODEL_ARM64_BATCHED_TLB_6_6": "n",
        "MODEL_ARM64_BATCHED_TLB_FLUSH_MM": "n", "MODEL_REVERT_FLUSH_TLB_BATCHED_PENDING": "n",
        "MODEL_REVERT_FLUSH_DIRTY_BEFORE_PAGEOUT": "n", "DEBUG_TLB_SANITIZER": "n",
        # issue 15: the migration hazard
        "MODEL_MIGRATE_COPY_BEFORE_FLUSH": "n",
    }
    cfg.values["EXPERT"] = "n"  # a copy: the config cannot be changed through it
    assert cfg.values["EXPERT"] == "y"


def test_unknown_symbol_attribute_raises_not_false():
    cfg = load_kernel_config("arm64")
    with pytest.raises(ConfigError, match=r"^unknown Kconfig symbol CONFIG_FOO$"):
        cfg.FOO
    with pytest.raises(ConfigError, match=r"unknown Kconfig symbol CONFIG_EXPRT \(did you mean CONFIG_EXPERT\?\)"):
        cfg.EXPRT
    # an x86-only symbol is unknown on arm64
    with pytest.raises(ConfigError, match="CONFIG_X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH"):
        cfg.X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH


def test_is_enabled():
    cfg = load_kernel_config("arm64", sets=["EXPERT=y"])
    assert cfg.IS_ENABLED("CONFIG_EXPERT") is True
    assert cfg.IS_ENABLED("CONFIG_DEBUG_VM") is False
    with pytest.raises(ConfigError, match="unknown Kconfig symbol CONFIG_NOPE"):
        cfg.IS_ENABLED("CONFIG_NOPE")
    with pytest.raises(ConfigError, match="CONFIG_NR_CPUS is int, expected a bool"):
        cfg.IS_ENABLED("CONFIG_NR_CPUS")


def test_config_is_immutable():
    cfg = load_kernel_config("arm64")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.EXPERT = True
    with pytest.raises(dataclasses.FrozenInstanceError):
        del cfg.EXPERT
    assert cfg.EXPERT is False


def test_two_arches_coexist_and_environment_is_restored(monkeypatch):
    monkeypatch.setenv("SRCARCH", "sentinel")
    a = load_kernel_config("arm64", sets=["EXPERT=y"])
    x = load_kernel_config("x86")
    assert os.environ["SRCARCH"] == "sentinel"
    assert "srctree" not in os.environ and "KCONFIG_WARN_UNDEF" not in os.environ
    assert (a.arch, a.ARM64_NR_CPUS_FOR_BATCHED_TLB, a.NR_CPUS) == ("arm64", 8, 256)
    assert (x.arch, x.NR_CPUS) == ("x86", 512)
    with pytest.raises(ConfigError):
        x.ARM64_NR_CPUS_FOR_BATCHED_TLB


def test_with_sets_rederives_from_source_and_sets(tmp_path):
    base = load_kernel_config("arm64", sets=["EXPERT=y"])
    flipped = base.with_sets(["EXPERT=n"])
    assert base.ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH and not flipped.ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH
    assert flipped.sets == ("EXPERT=y", "EXPERT=n")
    p = write(tmp_path, "CONFIG_X86=y\nCONFIG_EXPERT=y\n")
    cfg = load_kernel_config(config=p).with_sets(["X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y"])
    assert cfg.arch == "x86" and cfg.source == p
    assert cfg.ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH is False


def test_kernel_config_pickles_and_copies():
    import copy
    import pickle

    cfg = load_kernel_config("arm64", sets=["EXPERT=y"])
    for clone in (pickle.loads(pickle.dumps(cfg)), copy.deepcopy(cfg), copy.copy(cfg)):
        assert clone.values == cfg.values and clone.ARM64_NR_CPUS_FOR_BATCHED_TLB == 8
        with pytest.raises(ConfigError):
            clone.NOPE


def test_kernel_config_is_not_module_state():
    assert isinstance(load_kernel_config("x86"), KernelConfig)
    assert load_kernel_config("arm64") is not load_kernel_config("arm64")


# --- .config loading and arch inference --------------------------------------

@pytest.mark.parametrize("line,arch", [("CONFIG_ARM64=y", "arm64"), ("CONFIG_X86=y", "x86")])
def test_arch_inferred_from_dot_config(tmp_path, line, arch):
    cfg = load_kernel_config(config=write(tmp_path, f"{line}\nCONFIG_EXPERT=y\n"))
    assert cfg.arch == arch
    assert cfg.EXPERT is True


def test_arch_given_and_agreeing(tmp_path):
    assert load_kernel_config("x86_64", config=write(tmp_path, "CONFIG_X86=y\n")).arch == "x86"


def test_arch_disagreeing_with_dot_config(tmp_path):
    p = write(tmp_path, "CONFIG_ARM64=y\n")
    with pytest.raises(ConfigError, match=r"\.config:1: CONFIG_ARM64=y is an arm64 configuration, but arch x86"):
        load_kernel_config("x86", config=p)


def test_arch_not_inferable(tmp_path):
    p = write(tmp_path, "CONFIG_EXPERT=y\n")
    with pytest.raises(ConfigError, match="cannot tell the arch"):
        load_kernel_config(config=p)
    assert load_kernel_config("arm64", config=p).EXPERT is True


def test_saved_dot_config_round_trip(tmp_path):
    k = parse_tree("arm64")
    k.syms["EXPERT"].set_value("y")
    k.syms["ARM64_NR_CPUS_FOR_BATCHED_TLB"].set_value("16")
    k.write_config(str(tmp_path / ".config"))
    cfg = load_kernel_config(config=tmp_path / ".config")
    assert (cfg.arch, cfg.ARM64_NR_CPUS_FOR_BATCHED_TLB, cfg.notes) == ("arm64", 16, [])


def test_is_not_set_on_an_int_is_ignored_like_the_c_tools(tmp_path):
    cfg = load_kernel_config(config=write(tmp_path, "CONFIG_X86=y\n# CONFIG_NR_CPUS is not set\n"))
    assert (cfg.NR_CPUS, cfg.notes) == (64, [])


def test_dropped_dot_config_line_becomes_a_note_with_chain(tmp_path):
    p = write(tmp_path, "CONFIG_ARM64=y\n# CONFIG_EXPERT is not set\nCONFIG_ARM64_NR_CPUS_FOR_BATCHED_TLB=4\n")
    cfg = load_kernel_config(config=p)
    assert cfg.ARM64_NR_CPUS_FOR_BATCHED_TLB is None
    (note,) = cfg.notes
    assert note.startswith(f"{p}:3: CONFIG_ARM64_NR_CPUS_FOR_BATCHED_TLB=4 did not take (value is unset)")
    assert "ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH [=n] ← EXPERT [=n]" in note


def test_promptless_symbol_in_dot_config_that_does_not_take(tmp_path):
    p = write(tmp_path, "CONFIG_ARM64=y\nCONFIG_ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH=y\n")
    (note,) = load_kernel_config(config=p).notes
    assert "has no prompt" in note and "ARM64 && EXPERT" in note and "EXPERT [=n]" in note


@pytest.mark.parametrize("text,match", [
    ("CONFIG_ARM64=y\nCONFIG_SWAP=m\n", r":2: CONFIG_SWAP=m: tristate 'm' is not supported"),
    ("CONFIG_ARM64=y\nthis is junk\n", r":2: malformed line 'this is junk': expected CONFIG_NAME=VALUE"),
    ("CONFIG_ARM64=y\nCONFIG_EXPRT=y\n", r":2: unknown Kconfig symbol CONFIG_EXPRT \(did you mean CONFIG_EXPERT\?\)"),
    ("CONFIG_ARM64=y\nCONFIG_NR_CPUS=lots\n", r":2: CONFIG_NR_CPUS=lots: invalid value for CONFIG_NR_CPUS \(int\): expected a decimal integer"),
    ("CONFIG_ARM64=y\nCONFIG_EXPERT=yes\n", r":2: CONFIG_EXPERT=yes: invalid value .* expected y or n"),
    ("CONFIG_ARM64=y\nCONFIG_NR_CPUS=1\n", r":2: CONFIG_NR_CPUS=1: 1 is outside the range of CONFIG_NR_CPUS: expected 2\.\.4096"),
    ("CONFIG_ARM64=y\nCONFIG_X86=y\n", r"both CONFIG_ARM64=y and CONFIG_X86=y"),
    ("CONFIG_RISCV=y\nCONFIG_ARM64=y\n", r"both CONFIG_RISCV=y and CONFIG_ARM64=y"),
])
def test_bad_dot_config(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        load_kernel_config(config=write(tmp_path, text))


def test_a_riscv_dot_config_names_its_arch_and_the_error_lists_riscv(tmp_path):
    assert infer_arch(write(tmp_path, "CONFIG_RISCV=y\n")) == "riscv"
    with pytest.raises(ConfigError, match=r"CONFIG_RISCV=y line .*--arch arm64\|x86\|riscv"):
        load_kernel_config(config=write(tmp_path, "CONFIG_EXPERT=y\n"))


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.config: no such file"):
        load_kernel_config(config=tmp_path / "nope.config")


def test_unknown_arch():
    with pytest.raises(ConfigError, match=r"unknown arch 'mips': expected one of arm64, riscv, x86"):
        load_kernel_config("mips")


def test_config_error_is_a_user_error():
    assert issubclass(ConfigError, UserError)


# --- --set: every assignment must take -----------------------------------------

def test_set_that_does_not_take_names_the_dependency_chain():
    with pytest.raises(ConfigError) as e:
        load_kernel_config("arm64", sets=["ARM64_NR_CPUS_FOR_BATCHED_TLB=4"])
    msg = str(e.value)
    assert msg.startswith("--set ARM64_NR_CPUS_FOR_BATCHED_TLB=4: assignment did not take")
    assert "ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH [=n] ← EXPERT [=n]" in msg
    assert msg.endswith("set EXPERT=y first")
    assert "\n" not in msg


def test_later_set_can_satisfy_earlier_dependency():
    cfg = load_kernel_config("arm64", sets=["ARM64_NR_CPUS_FOR_BATCHED_TLB=4", "EXPERT=y"])
    assert cfg.ARM64_NR_CPUS_FOR_BATCHED_TLB == 4


def test_cannot_unselect_x86_batching_directly():
    with pytest.raises(ConfigError, match=r"selected by X86 \[=y\] && !X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH \[=n\]"):
        load_kernel_config("x86", sets=["ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH=n"])


def test_model_knob_needs_expert():
    with pytest.raises(ConfigError, match=r"depends on EXPERT \[=n\]; set EXPERT=y first"):
        load_kernel_config("x86", sets=["X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y"])


def test_promptless_workaround_names_its_errata():
    with pytest.raises(ConfigError) as e:
        load_kernel_config("arm64", sets=["ARM64_WORKAROUND_REPEAT_TLBI=n"])
    for erratum in ("ARM64_ERRATUM_2441007", "ARM64_ERRATUM_1286807", "ARM64_ERRATUM_2441009",
                    "QCOM_FALKOR_ERRATUM_1009"):
        assert erratum in str(e.value)


@pytest.mark.parametrize("sets,match", [
    (["EXPRT=y"], r"--set EXPRT=y: unknown Kconfig symbol CONFIG_EXPRT \(did you mean CONFIG_EXPERT\?\)"),
    (["expert=y"], r"did you mean CONFIG_EXPERT"),
    (["EXPERT=m"], r"--set EXPERT=m: tristate 'm' is not supported \(minikernel has no modules\)"),
    (["EXPERT=1"], r"--set EXPERT=1: invalid value for CONFIG_EXPERT \(bool\): expected y or n"),
    (["NR_CPUS=many"], r"expected a decimal integer"),
    (["NR_CPUS=5000"], r"5000 is outside the range of CONFIG_NR_CPUS: expected 2\.\.4096"),
    (["EXPERT"], r"--set EXPERT: expected SYM=VAL"),
    (["=y"], r"expected SYM=VAL"),
])
def test_bad_sets(sets, match):
    with pytest.raises(ConfigError, match=match):
        load_kernel_config("arm64", sets=sets)


def test_config_prefix_accepted_in_sets():
    assert load_kernel_config("arm64", sets=["CONFIG_EXPERT=y"]).EXPERT is True


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=-10, max_value=600))
def test_x86_nr_cpus_takes_exactly_inside_its_range(n):
    if 2 <= n <= 512:
        assert load_kernel_config("x86", sets=[f"NR_CPUS={n}"]).NR_CPUS == n
    else:
        with pytest.raises(ConfigError, match=r"outside the range of CONFIG_NR_CPUS: expected 2\.\.512"):
            load_kernel_config("x86", sets=[f"NR_CPUS={n}"])


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=300), st.booleans())
def test_threshold_takes_iff_batching_configured(n, expert):
    sets = [f"EXPERT={'y' if expert else 'n'}", f"ARM64_NR_CPUS_FOR_BATCHED_TLB={n}"]
    if expert:
        assert load_kernel_config("arm64", sets=sets).ARM64_NR_CPUS_FOR_BATCHED_TLB == n
    else:
        with pytest.raises(ConfigError, match="← EXPERT"):
            load_kernel_config("arm64", sets=sets)


# --- issue 11: .configs written before the Kconfig reshaping keep loading ---------

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_pre_issue11_arm64_config_loads_with_notes():
    """Written by a58d2b6: old variant names, DEBUG_TLBFLUSH on arm64, errata "not set",
    a threshold on the 6.6 variant.  Loads; each changed line gets a one-line note; the
    user's explicit errata=n stay n."""
    cfg = load_kernel_config(config=CONFIGS / "arm64_pre_issue11.config")
    notes = "\n".join(cfg.notes)
    assert cfg.MODEL_ARM64_BATCHED_TLB_6_6 is True
    assert "CONFIG_ARM64_BATCHED_TLB_6_6 is now called" in notes
    assert "CONFIG_DEBUG_TLBFLUSH is an x86-only option" in notes
    assert "CONFIG_ARM64_NR_CPUS_FOR_BATCHED_TLB=4 did not take" in notes
    assert cfg.ARM64_ERRATUM_2441007 is False and cfg.ARM64_ERRATUM_1286807 is False
    assert cfg.ARM64_ERRATUM_2441009 is True            # new option: its default
    assert "DEBUG_TLBFLUSH" not in cfg.values


def test_pre_issue11_x86_config_loads_without_notes():
    cfg = load_kernel_config(config=CONFIGS / "x86_pre_issue11.config")
    assert cfg.notes == [] and cfg.DEBUG_TLBFLUSH is True


def test_arm64_set_of_x86_only_or_v5_only_symbol_is_a_note_not_an_error():
    cfg = load_kernel_config("arm64", sets=["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y",
                                            "ARM64_NR_CPUS_FOR_BATCHED_TLB=2",
                                            "DEBUG_TLBFLUSH=y"])
    notes = "\n".join(cfg.notes)
    assert "exists only with CONFIG_MODEL_ARM64_BATCHED_TLB_V5=y" in notes
    assert "x86-only option" in notes
    # without EXPERT the dependency is real, and still an error naming it
    with pytest.raises(ConfigError, match="set EXPERT=y first"):
        load_kernel_config("arm64", sets=["ARM64_NR_CPUS_FOR_BATCHED_TLB=4"])


def test_unmet_choice_dependency_is_named_not_none():
    with pytest.raises(ConfigError) as e:
        load_kernel_config("arm64", sets=["ARM64_NR_CPUS_FOR_BATCHED_TLB=4"])
    msg = str(e.value)
    assert "None" not in msg
    assert 'MODEL_ARM64_BATCHED_TLB_V5 [=n] ← choice "Batched TLB flush' in msg
