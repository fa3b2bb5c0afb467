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
    assert builtin_profiles() == ["amd-genoa", "kunpeng920", "snapdragon888", "visionfive2",
                                  "x86-2s"]
    sd, kp, x86 = (load_profile(n) for n in ("snapdragon888", "kunpeng920", "x86-2s"))
    assert (sd.arch, sd.cpus, kp.arch, kp.cpus, x86.arch, x86.cpus) == \
        ("arm64", 8, "arm64", 96, "x86", 48)
    assert set(sd.kernel_ns) == set(KERNEL_SYMBOLS)
    # x86 inherits the kernel table but not the arm64 DVM figures.
    assert x86.dvm_latency_base_ns is None and x86.ipi_send_ns is not None
    assert sd.ipi_send_ns is None
    rv = load_profile("visionfive2")
    assert (rv.arch, rv.cpus, rv.riscv_asid, rv.riscv_ipi_for_rfence) == ("riscv", 4, False, False)
    assert rv.dvm_latency_base_ns is None and rv.ipi_send_ns is None
    assert rv.riscv_sbi_ecall_ns is not None and sd.riscv_sbi_ecall_ns is None


@pytest.mark.parametrize("name", ["visionfive2", "amd-genoa"])
def test_issue_17_profiles_label_every_figure(name):
    """Every figure the VisionFive 2 and Genoa files set says whether it is measured or assumed."""
    from minikernel.profile import _profiles_dir
    text = (_profiles_dir() / f"{name}.toml").read_text()
    section = None
    for line in text.splitlines():
        if line.startswith("["):
            section = line
        elif ("=" in line and not line.startswith(("#", "inherit", "name", "arch"))
              and section != "[range]"):
            assert "measured" in line or "assumption" in line or "not used" in line, line


def test_genoa_has_invlpgb_and_others_do_not():
    g = load_profile("amd-genoa")
    assert (g.invlpgb, g.cpus, g.invlpgb_ns is not None, g.tlbsync_ns is not None) == \
        (True, 192, True, True)
    assert not load_profile("x86-2s").invlpgb


def test_a_profile_without_a_riscv_table_cannot_run_riscv():
    from dataclasses import replace
    with pytest.raises(UserError, match=r"expected an arm64 kernel, found riscv"):
        load_profile("snapdragon888").check_arch("riscv")
    anyarch = replace(load_profile("x86-2s"), arch=None)     # usable with arm64 and x86 only
    anyarch.check_arch("x86")
    with pytest.raises(UserError, match=r"no \[riscv\] table"):
        anyarch.check_arch("riscv")


def test_default_profile_per_arch_is_data():
    assert default_profile_name("arm64") == "kunpeng920"
    assert default_profile_name("x86") == "x86-2s"
    assert default_profile_name("riscv") == "visionfive2"
    assert default_profile("arm64").name == "kunpeng920"
    assert default_profile("x86", 4).cpus == 4


def test_kunpeng_keeps_the_snapdragon_kernel_costs_times_its_scale():
    """No per-symbol Kunpeng profile was published: one factor over the Snapdragon's."""
    from minikernel.fit import FIXED
    sd, kp = load_profile("snapdragon888"), load_profile("kunpeng920")
    fixed = {s for s, _, _ in FIXED}
    ratio = kp.kernel_ns["filemap_map_pages"] / sd.kernel_ns["filemap_map_pages"]
    assert 0.5 < ratio < 1.0
    for s in KERNEL_SYMBOLS:
        want = sd.kernel_ns[s] if s in fixed else sd.kernel_ns[s] * ratio
        assert kp.kernel_ns[s] == pytest.approx(want, rel=1e-3), s
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
    ("ghz = 2.42 ", "ghz = true ", "machine.ghz: expected a positive number (GHz), found True"),
    ("init_on_alloc = true ", "init_on_alloc = 1 ", "machine.init_on_alloc: expected true or false"),
    ('arch = "arm64"', 'arch = "mips"', "machine.arch: expected 'arm64', 'x86' or 'riscv', found 'mips'"),
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
    with pytest.raises(UserError, match="amd-genoa, kunpeng920, snapdragon888, visionfive2, x86-2s"):
        load_profile("pixel9")


def test_missing_profile_file(tmp_path):
    with pytest.raises(UserError, match="no such profile file"):
        load_profile(str(tmp_path / "nope.toml"))


def test_profile_arch_must_match_the_kernel():
    load_profile("kunpeng920").check_arch("arm64")
    with pytest.raises(UserError, match="is an arm64 machine: expected an arm64 kernel, found x86"):
        load_profile("kunpeng920").check_arch("x86")


# --- keys added by issue 12 (the DVM queue, contention, KPTI, ranges) ---

OLD = Path(__file__).parent / "data" / "profile-before-issue-12.toml"


def test_profile_written_before_the_new_keys_still_loads_with_defaults():
    p = load_profile(OLD)
    assert (p.kpti, p.dvm_queue_depth, p.dvm_contention) == (False, 4, 1.0)
    assert p.ranges == {} and p.cpus_measured is None
    assert p.dvm_latency_base_ns == 157.4            # its own figures, untouched


def test_builtin_arm64_profiles_carry_ranges_and_the_measured_cpu_count():
    for name, cpus in (("snapdragon888", 8), ("kunpeng920", 96)):
        p = load_profile(name)
        assert p.cpus_measured == cpus
        lo, hi = p.ranges["dvm_fixed_share"]
        assert 0 < lo < hi < 1
    assert load_profile("x86-2s").cpus_measured is None      # nothing fitted
    assert "x86.ipi_latency_ns" in load_profile("x86-2s").ranges


@pytest.mark.parametrize("table, expect", [
    ('"arm64.dvm_queue_depth" = [0, 4]', "range.arm64.dvm_queue_depth: expected [low, high]"),
    ('"arm64.nope" = [1, 2]', "range.arm64.nope: unknown key"),
    ('"machine.kpti" = [1, 2]', "range.machine.kpti: expected"),
    ('dvm_fixed_share = [0.2, 0.8]', "range.dvm_fixed_share: needs range.cpus_measured"),
    ('"tlb.walk_ns" = [30, 10]', "range.tlb.walk_ns: expected [low, high] with low <= high"),
])
def test_bad_range_entries_are_named(tmp_path, table, expect):
    text = OLD.read_text() + "\n[range]\n" + table + "\n"
    assert expect in error_of(write(tmp_path, text))


def test_new_keys_are_type_checked(tmp_path):
    text = OLD.read_text().replace("init_on_alloc = true", "init_on_alloc = true\nkpti = 1", 1)
    assert "machine.kpti: expected true or false" in error_of(write(tmp_path, text))
    text = OLD.read_text().replace("dsb_ns = 1.0", "dsb_ns = 1.0\ndvm_queue_depth = 0", 1)
    assert "arm64.dvm_queue_depth: expected a positive integer" in error_of(write(tmp_path, text))


# --- issue 11: core facts and per-arch entry symbols ---

def test_builtin_arm64_profiles_list_their_cores():
    sd, kp = load_profile("snapdragon888"), load_profile("kunpeng920")
    assert [c.part for c in sd.cores] == ["cortex-a55"] * 4 + ["cortex-a78"] * 3 + ["cortex-x1"]
    assert (sd.ghz, sd.tlb_entries) == (2.42, 1024)      # taskset -c 4: a Cortex-A78
    assert {c.part for c in kp.cores} == {"tsv110"} and len(kp.cores) == 96
    assert load_profile("x86-2s").cores is None          # core facts are arm64's


@pytest.mark.parametrize("cores, expect", [
    ('["cortex-a99:r0p0"]', "unknown core 'cortex-a99'"),
    ('["cortex-a55 r2p0"]', 'expected "PART:rVpR" or "PART:rVpR x N"'),
    ('["cortex-a55:r2p0 x0"]', "a count of at least 1"),
    ('"cortex-a55"', "machine.cores: expected a list of core types"),
])
def test_bad_cores_name_the_entry(tmp_path, cores, expect):
    text = re.sub(r"^cores = .*$", f"cores = {cores}", SNAPDRAGON, count=1, flags=re.M)
    assert expect in error_of(write(tmp_path, text))


def test_profile_without_cores_keeps_loading(tmp_path):
    """A profile written before cores existed: no core is assumed affected by any erratum."""
    text = "\n".join(ln for ln in SNAPDRAGON.splitlines() if not ln.startswith("cores = "))
    p = load_profile(write(tmp_path, text))
    assert p.cores is None
    from minikernel.boot import boot
    from minikernel.kconfig import load_kernel_config
    m = boot(load_kernel_config("arm64", sets=["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"]),
             profile=p)
    assert m.tlb_flush_path.batched and not m.arch.repeat_tlbi


def test_old_x86_profile_naming_arm64_entry_symbols_keeps_loading(tmp_path):
    """An x86 profile from before the x86 entry symbols: el0_da's figure goes to
    exc_page_fault, el0_svc's to do_syscall_64, and a note says so."""
    head, rest = re.split(r"^\[arm64\]$", SNAPDRAGON, flags=re.M)
    kernel = re.split(r"^\[kernel\]$", rest, flags=re.M)[1]
    text = head.replace('arch = "arm64"', 'arch = "x86"') + \
        "[x86]\nipi_send_ns = 100.0\nipi_latency_ns = 700.0\nipi_entry_ns = 400.0\n" \
        "invlpg_ns = 80.0\nflush_tlb_ns = 200.0\n[kernel]" + kernel
    p = load_profile(write(tmp_path, text))
    assert p.kernel_ns["exc_page_fault"] == p.kernel_ns["el0_da"]
    assert p.kernel_ns["do_syscall_64"] == p.kernel_ns["el0_svc"]
    assert p.kernel_ns["asm_exc_page_fault"] == p.kernel_ns["entry_SYSCALL_64"] == 0.0
    assert len(p.notes) == 1 and "exc_page_fault" in p.notes[0]


def test_x86_profile_must_give_all_x86_entry_symbols_or_none(tmp_path):
    text = Path(find_profile("x86-2s")).read_text().replace("do_syscall_64 = ", "# ")
    text = text.replace('inherit = "snapdragon888"', f'inherit = "{find_profile("snapdragon888")}"')
    assert "kernel_ns.do_syscall_64: missing" in error_of(write(tmp_path, text))


def test_x86_charges_x86_entry_symbols_and_arm64_its_own():
    from minikernel.boot import boot
    from minikernel.kconfig import load_kernel_config
    from minikernel.workload import run_seed_benchmark
    syms = {}
    for arch in ("arm64", "x86"):
        r = run_seed_benchmark(boot(load_kernel_config(arch), cpus=4), 1, warmup=1)
        syms[arch] = {s for s in r.profile if s in ("el0_da", "el0_svc", "asm_exc_page_fault",
                                                    "exc_page_fault", "entry_SYSCALL_64",
                                                    "do_syscall_64")}
    assert syms == {"arm64": {"el0_da", "el0_svc"},
                    "x86": {"asm_exc_page_fault", "exc_page_fault", "entry_SYSCALL_64",
                            "do_syscall_64"}}


def test_cores_shorter_than_cpus_repeat_with_a_note(tmp_path):
    text = re.sub(r"^cores = .*$", 'cores = ["cortex-a55:r2p0 x2", "cortex-a78:r1p1 x2"]',
                  SNAPDRAGON, count=1, flags=re.M)
    p = load_profile(write(tmp_path, text))
    assert any("machine.cores lists 4 CPUs, machine.cpus is 8" in n for n in p.notes)
    from minikernel.hw.cputype import cores_for_cpus
    assert [c.part[-3:] for c in cores_for_cpus(p.cores, 8)] == ["a55", "a55", "a78", "a78"] * 2


# --- [numa] (issue 15) ---

def test_shipped_profiles_state_their_numa_topology():
    from minikernel.hw.numa import NumaTopology

    def topo(name, cpus=None):
        p = load_profile(name)
        return NumaTopology(cpus or p.cpus, p.mem_pages, p.node_cpus, p.node_pages,
                            local_gbps=p.local_copy_gbps, local_latency_ns=p.local_latency_ns,
                            remote_gbps=p.remote_copy_gbps,
                            remote_latency_ns=p.remote_latency_ns)
    kp = topo("kunpeng920")
    assert kp.as_dict() == {"nodes": 4, "cpus": [24] * 4, "pages": [4096] * 4}
    assert kp.cpu_node[23] == 0 and kp.cpu_node[24] == 1 and kp.cpu_node[95] == 3
    assert kp.pfn_to_nid(4095) == 0 and kp.pfn_to_nid(4096) == 1
    assert topo("x86-2s").as_dict()["cpus"] == [12] * 4
    assert topo("snapdragon888").nr_nodes == 1
    # --smp: fewer CPUs are the first ones online; more spread in proportion
    assert set(topo("kunpeng920", 8).cpu_node) == {0}
    assert topo("kunpeng920", 192).as_dict()["cpus"] == [48] * 4
    # copy cost: latency + 4 KiB / bandwidth (assumed figures)
    assert kp.copy_ns(0, 0) == pytest.approx(4096 / 10.0)
    assert kp.copy_ns(0, 1) == pytest.approx(150.0 + 4096 / 6.0)


def test_a_profile_without_numa_is_one_node_and_allocates_as_before(tmp_path):
    from minikernel.kconfig import load_kernel_config
    from minikernel.machine import Machine
    f = tmp_path / "mine.toml"
    f.write_text('inherit = "snapdragon888"\n[machine]\nname = "mine"\n')
    p = load_profile(f)
    assert p.node_cpus is None
    m = Machine(load_kernel_config("arm64"), p)
    assert m.numa.nr_nodes == 1
    assert m.page_alloc.free_list is m.page_alloc.free_lists[0]
    assert m.page_alloc.free_list[-3:] == [3, 2, 1]      # pfn 1 first, LIFO, as always


def test_inheriting_a_numa_profile_with_other_counts_keeps_its_nodes(tmp_path):
    f = tmp_path / "big.toml"
    f.write_text('inherit = "kunpeng920"\n[machine]\nname = "big"\ncpus = 128\n'
                 "mem_pages = 20000\n")
    p = load_profile(f)
    assert p.node_cpus == (32, 32, 32, 32)
    assert p.node_pages is None                            # split evenly at boot


#: Figures of the built-in profiles that need no [range] (the README, "Uncertainty":
#: the TLB size and init_on_alloc are assumed without one; the rest are machine facts).
_NO_RANGE_KEYS = {"tlb.entries", "machine.init_on_alloc", "machine.ghz", "machine.cpus",
                  "machine.mem_pages", "machine.cores", "numa.node_cpus", "numa.node_pages"}


@pytest.mark.parametrize("name", builtin_profiles())
def test_every_assumed_cost_has_a_range_or_says_why_not(name):
    """Each assumed figure the profile's arch uses has a [range] entry, is fitted, or
    its line (in this file or the one it inherits it from) says "no range:" and why."""
    from minikernel import profile as prof_mod
    from minikernel.compat import tomllib
    from minikernel.profile import _profiles_dir

    p = load_profile(name)
    chain, n = [], name
    while n:
        text = (_profiles_dir() / f"{n}.toml").read_text()
        chain.append(text)
        n = tomllib.loads(text).get("inherit")

    def comment(section, key):
        for text in chain:                      # the nearest file that sets it
            cur = None
            for line in text.splitlines():
                if line.startswith("["):
                    cur = line.strip("[] ")
                elif cur == section and line.split("=")[0].strip() == key:
                    return line.partition("#")[2]
        return None

    missing = []
    for section, table in prof_mod._SCHEMA.items():
        if section in ("arm64", "x86", "riscv") and section != p.arch:
            continue
        for key in table:
            full, c = f"{section}.{key}", comment(section, key)
            if c is None or full in _NO_RANGE_KEYS or full in p.ranges:
                continue
            if section == "numa" and not p.node_cpus:
                continue                        # one node: nothing migrates
            if full == "machine.kpti" and p.arch != "arm64":
                continue                        # an arm64 fact
            if full.startswith("arm64.dvm_latency") and "dvm_fixed_share" in p.ranges:
                continue                        # fit x the ranged split
            if "assumption" in c and "fit" not in c and "no range:" not in c:
                missing.append(full)
    assert not missing, f"{name}: add a [range] entry or a 'no range: why' comment: {missing}"
