"""Machine profiles: the built-in TOML files and the loader's errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from minikernel.errors import UserError
from minikernel.profile import (
    KERNEL_SYMBOLS,
    builtin_profiles,
    default_profile,
    default_profile_name,
    find_profile,
    load_profile,
)

SNAPDRAGON = Path(find_profile("snapdragon888")).read_text()


def write(tmp_path: Path, text: str, name: str = "mine.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def error_of(path: Path) -> str:
    with pytest.raises(UserError) as e:
        load_profile(path)
    msg = str(e.value)
    assert "\n" not in msg
    assert str(path) in msg
    return msg


# --- built-in profiles ---

def test_builtin_profiles_load():
    assert builtin_profiles() == ["kunpeng920", "snapdragon888", "x86-2s"]
    sd, kp, x86 = (load_profile(n) for n in ("snapdragon888", "kunpeng920", "x86-2s"))
    assert (sd.arch, sd.cpus, kp.arch, kp.cpus, x86.arch, x86.cpus) == \
        ("arm64", 8, "arm64", 96, "x86", 48)
    assert set(sd.kernel_ns) == set(KERNEL_SYMBOLS)
    # x86 inherits the kernel table but not the arm64 DVM figures.
    assert x86.dvm_latency_base_ns is None and x86.ipi_send_ns is not None
    assert sd.ipi_send_ns is None


def test_default_profile_per_arch_is_data():
    assert default_profile_name("arm64") == "kunpeng920"
    assert default_profile_name("x86") == "x86-2s"
    assert default_profile("arm64").name == "kunpeng920"
    assert default_profile("x86", 4).cpus == 4


def test_kunpeng_inherits_the_snapdragon_kernel_costs_times_its_scale():
    sd, kp = load_profile("snapdragon888"), load_profile("kunpeng920")
    ratio = kp.kernel_ns["filemap_map_pages"] / sd.kernel_ns["filemap_map_pages"]
    assert all(kp.kernel_ns[s] == pytest.approx(sd.kernel_ns[s] * ratio) for s in KERNEL_SYMBOLS)
    assert kp.tlbi_issue_ns == sd.tlbi_issue_ns
    assert kp.dvm_latency_base_ns != sd.dvm_latency_base_ns


@pytest.mark.parametrize("name", ["snapdragon888", "kunpeng920", "x86-2s"])
def test_every_figure_in_a_builtin_profile_is_commented(name):
    for line in Path(find_profile(name)).read_text().splitlines():
        if re.match(r"^\s*[\w.]+\s*=\s*[-\d.]+", line):
            assert "#" in line, f"{name}: figure without a comment: {line}"


def test_dvm_costs_grow_with_the_cpu_count():
    p = load_profile("kunpeng920")
    assert p.with_cpus(8).dvm_latency_ns() < p.dvm_latency_ns() < p.with_cpus(128).dvm_latency_ns()
    assert p.with_cpus(8).dvm_throughput_ns() < p.dvm_throughput_ns()


# --- loading user profiles ---

def test_a_copied_profile_loads_and_is_named_by_its_file(tmp_path):
    text = SNAPDRAGON.replace('name = "snapdragon888"\n', "").replace("cpus = 8 ", "cpus = 16 ")
    p = load_profile(write(tmp_path, text, "phone.toml"))
    assert (p.name, p.cpus, p.source) == ("phone", 16, str(tmp_path / "phone.toml"))


def test_inherit_takes_the_parent_and_overrides_keys(tmp_path):
    path = write(tmp_path, 'inherit = "kunpeng920"\n[machine]\ncpus = 128\n'
                           '[arm64]\ndvm_latency_base_ns = 500.0\n')
    p, kp = load_profile(path), load_profile("kunpeng920")
    assert (p.name, p.cpus, p.dvm_latency_base_ns) == ("mine", 128, 500.0)
    assert p.kernel_ns == kp.kernel_ns and p.dvm_throughput_per_cpu_ns == kp.dvm_throughput_per_cpu_ns


def test_inherit_by_relative_path(tmp_path):
    write(tmp_path, SNAPDRAGON, "base.toml")
    p = load_profile(write(tmp_path, 'inherit = "base.toml"\n[machine]\ncpus = 4\n'))
    assert p.cpus == 4 and p.kernel_ns == load_profile("snapdragon888").kernel_ns


def test_inherit_loop_is_an_error(tmp_path):
    write(tmp_path, 'inherit = "b.toml"\n', "a.toml")
    b = write(tmp_path, 'inherit = "a.toml"\n', "b.toml")
    assert "loop" in error_of(b)


def test_malformed_toml(tmp_path):
    msg = error_of(write(tmp_path, "[machine\ncpus = 8\n"))
    assert "malformed TOML" in msg and "line 1" in msg


@pytest.mark.parametrize("old, new, expect", [
    ("cpus = 8 ", 'cpus = "eight" ', "machine.cpus: expected a positive integer (CPUs), "
                                     "found 'eight'"),
    ("cpus = 8 ", "cpus = 0 ", "machine.cpus: expected a positive integer"),
    ("ghz = 2.84 ", "ghz = true ", "machine.ghz: expected a positive number (GHz), found True"),
    ("init_on_alloc = true ", "init_on_alloc = 1 ", "machine.init_on_alloc: expected true or false"),
    ('arch = "arm64"', 'arch = "riscv"', "machine.arch: expected 'arm64' or 'x86', found 'riscv'"),
    ("dsb_ns = 1.0 ", "dsb_ns = -1.0 ", "arm64.dsb_ns: expected a number >= 0 (ns), found -1.0"),
    ("memset64 = ", "memset64 = 'fast' #", "kernel_ns.memset64: expected a number >= 0"),
])
def test_wrong_type_names_key_and_expected_type(tmp_path, old, new, expect):
    assert old in SNAPDRAGON
    assert expect in error_of(write(tmp_path, SNAPDRAGON.replace(old, new, 1)))


@pytest.mark.parametrize("line, expect", [
    ("cpus = 8 ", "machine.cpus: missing: expected a positive integer"),
    ("walk_ns = 25.0 ", "tlb.walk_ns: missing"),
    ("dvm_latency_base_ns = ", "arm64.dvm_latency_base_ns: missing: expected a number >= 0 (ns)"),
    ("memset64 = ", "kernel_ns.memset64: missing: expected a number >= 0 (ns per call)"),
])
def test_missing_key_is_named(tmp_path, line, expect):
    text = "\n".join(ln for ln in SNAPDRAGON.splitlines() if not ln.startswith(line))
    assert expect in error_of(write(tmp_path, text))


def test_profile_without_arch_needs_both_arch_sections(tmp_path):
    text = SNAPDRAGON.replace('arch = "arm64"\n', "")
    assert "x86.ipi_send_ns: missing" in error_of(write(tmp_path, text))


@pytest.mark.parametrize("old, new, expect", [
    ("[tlb]", "[tlb]\nwalks_ns = 3.0", "tlb.walks_ns: unknown key: expected one of walk_ns"),
    ("\n[kernel_ns]\n", "\n[kernel_ns]\nmemset_64 = 3.0\n", "kernel_ns.memset_64: unknown symbol"),
    ("[tlb]", "[cache]\nsize = 3\n[tlb]", "cache: unknown key"),
])
def test_unknown_keys_are_errors(tmp_path, old, new, expect):
    assert expect in error_of(write(tmp_path, SNAPDRAGON.replace(old, new, 1)))


def test_unknown_machine_name_lists_the_builtins():
    with pytest.raises(UserError, match="kunpeng920, snapdragon888, x86-2s"):
        load_profile("pixel9")


def test_missing_profile_file(tmp_path):
    with pytest.raises(UserError, match="no such profile file"):
        load_profile(str(tmp_path / "nope.toml"))


def test_profile_arch_must_match_the_kernel():
    load_profile("kunpeng920").check_arch("arm64")
    with pytest.raises(UserError, match="is an arm64 machine: expected an arm64 kernel, found x86"):
        load_profile("kunpeng920").check_arch("x86")
