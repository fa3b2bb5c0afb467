"""Machine profiles: how many CPUs, how fast, and what each modelled operation costs.

Model-only.  A profile is the part of the model a user edits to describe a
machine of their own.  Profiles are TOML files; the built-in ones ship in
``minikernel/profiles/`` (package data) and every figure there carries a
comment with its unit and where it came from (a measurement, a published
figure, an assumption, or the fit in tools/fit_profiles.py).

Hardware figures shape the TLB-maintenance costs (DVM latency/throughput
growing with the number of CPUs; IPI costs); kernel figures are the cost of
each modelled kernel function's own work, charged to that function's symbol.
Every figure is in nanoseconds unless its name says otherwise.

Invariants this module owns:
  - A loaded profile is complete: every key below is present with the right
    type, or loading raises UserError naming the file, the key and the
    expected type (the CLI prints it as one line and exits 2).  Unknown keys
    are errors too, so a typo never silently falls back to a default.
  - The default profile of each arch is data (``profiles/defaults.toml``),
    not code.
  - Profiles are immutable values; ``with_cpus`` (``--smp``) makes a new one.

File format (see profiles/snapdragon888.toml for a commented example)::

    inherit = "NAME or relative/path.toml"   # optional: start from that profile
    [machine]  name arch cpus ghz mem_pages init_on_alloc cores [kpti]
    [tlb]      walk_ns entries
    [arm64]    tlbi_issue_ns dsb_ns dvm_latency_base_ns dvm_latency_per_cpu_ns
               dvm_throughput_base_ns dvm_throughput_per_cpu_ns
               [dvm_queue_depth] [dvm_contention]
    [x86]      ipi_send_ns ipi_latency_ns ipi_entry_ns invlpg_ns flush_tlb_ns
               [invlpgb invlpgb_ns tlbsync_ns]
    [riscv]    sfence_vma_ns sfence_vma_all_ns sbi_ecall_ns sbi_mtrap_ns ipi_send_ns
               ipi_latency_ns ipi_entry_ns ipi_for_rfence asid
    [kernel]   scale                          # multiplies every [kernel_ns] figure
    [numa]     optional: node_cpus [node_pages] [local_copy_gbps] [local_latency_ns]
               [remote_copy_gbps] [remote_latency_ns]
    [kernel_ns] <symbol> = ns per call, for every symbol in KERNEL_SYMBOLS
    [range]    optional: plausible ranges of the assumed figures --
               "section.key" = [low, high] (numbers, or [false, true] for a
               bool), cpus_measured = N (the CPU count the DVM figures were
               fitted at), dvm_fixed_share = [low, high] (the part of
               latency(cpus_measured) that does not grow with the CPUs) and
               fit_inputs = [...] (which measurements the fit consumed)

Keys in brackets above are optional, with defaults (added after profiles
were first written, so older files keep loading): kpti = false,
dvm_queue_depth = 4, dvm_contention = 1.0, x86 invlpgb = false (the CPUs
have AMD's INVLPGB/TLBSYNC; then invlpgb_ns and tlbsync_ns are required).

``[numa]`` (optional; a file without it is one node holding every CPU and
page): ``node_cpus`` lists how many CPUs each node has, in CPU order (they
must add up to ``machine.cpus``); ``node_pages`` how many of the
``mem_pages`` frames each node has (default: an even split; if given they
must add up to ``mem_pages``).  The copy figures give what migrating one
4 KiB page costs the copying CPU (``copy_page``): ``latency + 4096 B /
bandwidth``, local (both pages on one node) or remote, in GB/s and ns;
defaults: 10 GB/s and 0 ns locally, 5 GB/s and 100 ns remotely (assumptions).

With ``inherit``, tables merge key by key and the inheriting file wins.  A
profile that names ``arch`` needs only that arch's section; one that does
not needs both [arm64] and [x86] (and runs riscv only if it has [riscv] too).

``[machine] cores`` (optional, arm64) lists the core type and revision of
each CPU in CPU order, e.g. ``["cortex-a55:r2p0 x4", "cortex-a78:r1p1 x3",
"cortex-x1:r1p0"]`` (see minikernel.hw.cputype); the arm64 backend detects
the REPEAT_TLBI errata from it at boot.  Without it the assumption is that
no core is affected by any erratum the model knows (a note says so when an
erratum option is on).

Entry symbols: ``el0_da`` and ``el0_svc`` are arm64's exception and syscall
entries.  x86 charges its own (``asm_exc_page_fault`` + ``exc_page_fault``,
``entry_SYSCALL_64`` + ``do_syscall_64``); a profile usable on x86 may give
them in [kernel_ns], and one that does not (a file written before they
existed) keeps loading: its el0_da / el0_svc figure is charged to
exc_page_fault / do_syscall_64 on x86 and the asm stubs cost 0, with a note.
riscv's are ``handle_exception`` (the common trap entry, both paths) with
``do_page_fault`` / ``do_trap_ecall_u``, mapped the same way when absent.
"""

# File layout:
#
#   Public interface
#     KERNEL_SYMBOLS, MachineProfile, load_profile(), find_profile(),
#     builtin_profiles(), default_profile_name(), default_profile()
#   Private helpers
#     schema tables, _read_toml(), _merge(), _check()

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from minikernel.compat import SLOTS, tomllib
from minikernel.errors import UserError
from minikernel.hw.cpu import KERNEL_SYMBOLS
from minikernel.hw.cputype import Core, parse_cores

#
# Public interface
#

#: KERNEL_SYMBOLS (imported above): every kernel symbol the model charges; a
#: profile's [kernel_ns] table must give each one.  It lives in
#: minikernel.hw.cpu, which gives each symbol its slot in the per-CPU lists.

#: x86's entry symbols, each with the arm64 entry symbol it replaces: what a
#: profile usable on x86 gives in [kernel_ns] (or has mapped from the arm64
#: figure, with a note).  The arch backends charge them (``fault_entry_syms``,
#: ``syscall_entry_syms``); generic code never names an arch's entry symbol.
X86_ENTRY_SYMBOLS: dict[str, str] = {
    "asm_exc_page_fault": "el0_da",     # idtentry asm stub: entry and exit (iret)
    "exc_page_fault": "el0_da",         # the C handler, up to do_user_addr_fault
    "entry_SYSCALL_64": "el0_svc",      # syscall entry/exit asm (sysret)
    "do_syscall_64": "el0_svc",         # the C dispatcher
}
#: Of each pair above, the one the arm64 figure goes to when an old profile
#: gives only the arm64 name (the other then costs 0 ns).
_X86_ENTRY_MAPPED = ("exc_page_fault", "do_syscall_64")
#: riscv's entry symbols, likewise: the trap entry asm (arch/riscv/kernel/entry.S,
#: shared by faults and syscalls) and the C handlers.
RISCV_ENTRY_SYMBOLS: dict[str, str] = {
    "handle_exception": "el0_da",       # trap entry/exit asm (sret); 0 ns when mapped
    "do_page_fault": "el0_da",          # the C fault handler
    "do_trap_ecall_u": "el0_svc",       # the C syscall dispatcher
}
_RISCV_ENTRY_MAPPED = ("do_page_fault", "do_trap_ecall_u")
#: SRCARCH -> (its entry symbols, those an arm64 figure maps to), for the arches
#: that do not charge el0_da / el0_svc themselves.
_ENTRY_SYMBOLS = {"x86": (X86_ENTRY_SYMBOLS, _X86_ENTRY_MAPPED),
                  "riscv": (RISCV_ENTRY_SYMBOLS, _RISCV_ENTRY_MAPPED)}


@dataclass(frozen=True, **SLOTS)
class MachineProfile:
    """A machine the model can run on.

    name:      profile name (``--machine``)
    arch:      "arm64", "x86" or "riscv", or None for a profile usable with
               arm64 and x86 (and riscv if it has a [riscv] table)
    cpus:      number of online CPUs
    ghz:       core clock, for converting ns to cycles in reports
    mem_pages: page frames of simulated RAM
    init_on_alloc: the kernel zeroes every page it allocates (init_on_alloc=1)
    kpti:      arm64 kernel page-table isolation is on: every TLBI is issued
               twice, for the kernel and the user ASID (``__tlbi_user``)
    tlb_walk_ns: a TLB miss's page walk
    tlb_entries: per-CPU TLB capacity (L2 TLB size; oldest entry evicted)
    source:    the file it was loaded from (for messages), or "" if built in code
    cores:     arm64: the core type (minikernel.hw.cputype.Core) of each CPU the
               profile lists, in CPU order, or None when it lists none
    notes:     one-line notes from loading (e.g. an entry symbol mapped for
               x86); boot logs them

    arm64 DVM (broadcast TLBI) figures grow linearly with the CPU count n:
      dvm_latency_ns    = dvm_latency_base_ns + dvm_latency_per_cpu_ns * n
      dvm_throughput_ns = dvm_throughput_base_ns + dvm_throughput_per_cpu_ns * n
    tlbi_issue_ns, dsb_ns: issuing one TLBI; a DSB with nothing outstanding.
    dvm_queue_depth: outstanding DVM operations one requester may have (a TLBI
      stalls its issuer only when all are taken); dvm_contention: added
      latency per extra CPU broadcasting at the same time, as a fraction.
    ranges:    "section.key" -> (low, high) of the assumed figures, plus
      "dvm_fixed_share"; cpus_measured: the CPU count the DVM figures were
      fitted at (None: not fitted).  See :mod:`minikernel.uncertainty`.
    x86 figures: ipi_send_ns (per target), ipi_latency_ns (one way),
      ipi_entry_ns (interrupt entry/exit on the target), invlpg_ns, flush_tlb_ns;
      invlpgb: the CPUs have INVLPGB/TLBSYNC (X86_FEATURE_INVLPGB), with
      invlpgb_ns (issuing one) and tlbsync_ns (a TLBSYNC with some to wait for).
    riscv figures (``riscv_*``): sfence_vma_ns (one fence by address),
      sfence_vma_all_ns (a whole-TLB or whole-ASID fence), sbi_ecall_ns (an
      SBI call into M-mode and back), sbi_mtrap_ns (a target's M-mode
      software-interrupt trap), ipi_send_ns, ipi_latency_ns, ipi_entry_ns
      (S-mode IPI entry, the kernel-IPI path); ipi_for_rfence: the kernel
      sends remote fences by its own IPIs (``riscv_use_ipi_for_rfence()``);
      asid: the harts implement ASIDs (the kernel's ASID allocator is on).
    The other arch's figures are None in a profile that names its arch.
    kernel_ns: symbol -> ns of that kernel function's own work per call
      (already multiplied by the file's [kernel] scale).
    node_cpus, node_pages: [numa] -- CPUs and page frames of each node in
      order (None: one node); local/remote_copy_gbps and _latency_ns: the
      page-copy figures of migration (minikernel.hw.numa).
    """

    name: str
    arch: str | None
    cpus: int
    ghz: float
    mem_pages: int
    init_on_alloc: bool
    tlb_walk_ns: float
    tlb_entries: int
    tlbi_issue_ns: float | None
    dsb_ns: float | None
    dvm_latency_base_ns: float | None
    dvm_latency_per_cpu_ns: float | None
    dvm_throughput_base_ns: float | None
    dvm_throughput_per_cpu_ns: float | None
    ipi_send_ns: float | None
    ipi_latency_ns: float | None
    ipi_entry_ns: float | None
    invlpg_ns: float | None
    flush_tlb_ns: float | None
    kernel_ns: Mapping[str, float]
    source: str = ""
    cores: tuple[Core, ...] | None = None
    notes: tuple[str, ...] = ()
    kpti: bool = False
    dvm_queue_depth: int | None = None
    dvm_contention: float | None = None
    ranges: Mapping[str, tuple] = field(default_factory=lambda: MappingProxyType({}))
    cpus_measured: int | None = None
    kernel_scale: float = 1.0
    node_cpus: tuple[int, ...] | None = None
    node_pages: tuple[int, ...] | None = None
    local_copy_gbps: float = 10.0
    local_latency_ns: float = 0.0
    remote_copy_gbps: float = 5.0
    remote_latency_ns: float = 100.0
    riscv_sfence_vma_ns: float | None = None
    riscv_sfence_vma_all_ns: float | None = None
    riscv_sbi_ecall_ns: float | None = None
    riscv_sbi_mtrap_ns: float | None = None
    riscv_ipi_send_ns: float | None = None
    riscv_ipi_latency_ns: float | None = None
    riscv_ipi_entry_ns: float | None = None
    riscv_ipi_for_rfence: bool | None = None
    riscv_asid: bool | None = None
    invlpgb: bool = False
    invlpgb_ns: float | None = None
    tlbsync_ns: float | None = None

    def with_cpus(self, cpus: int) -> MachineProfile:
        """The same machine with a different number of online CPUs (``--smp``)."""
        return replace(self, cpus=cpus)

    def dvm_latency_ns(self) -> float:
        """Issue-to-complete time of one broadcast TLBI on this many CPUs (ns)."""
        # An arm64 profile has its [arm64] figures (checked at load and by check_arch).
        assert self.dvm_latency_base_ns is not None and self.dvm_latency_per_cpu_ns is not None
        return self.dvm_latency_base_ns + self.dvm_latency_per_cpu_ns * self.cpus

    def dvm_throughput_ns(self) -> float:
        """How long one broadcast TLBI occupies its issuer's DVM slot (ns)."""
        assert (self.dvm_throughput_base_ns is not None
                and self.dvm_throughput_per_cpu_ns is not None)
        return self.dvm_throughput_base_ns + self.dvm_throughput_per_cpu_ns * self.cpus

    def check_arch(self, arch: str) -> None:
        """Raise UserError unless this profile can run an *arch* kernel."""
        if self.arch is not None and self.arch != arch:
            raise UserError(f"{self.source or self.name}: machine '{self.name}' is an "
                            f"{self.arch} machine: expected an {self.arch} kernel, found "
                            f"{arch} (pick another --machine)")
        if self.arch is None and arch == "riscv" and self.riscv_sfence_vma_ns is None:
            raise UserError(f"{self.source or self.name}: machine '{self.name}' has no "
                            "[riscv] table: expected one to run a riscv kernel (or pick "
                            "another --machine)")


def builtin_profiles() -> list[str]:
    """Names of the profiles shipped with minikernel."""
    return sorted(p.name[:-5] for p in _profiles_dir().iterdir()
                  if p.name.endswith(".toml") and p.name != "defaults.toml")


def default_profile_name(arch: str) -> str:
    """The built-in profile used for *arch* when no ``--machine`` is given."""
    path = _profiles_dir() / "defaults.toml"
    table = _read_toml(path).get("default", {})
    name = table.get(arch)
    if not isinstance(name, str):
        raise UserError(f"{path}: default.{arch}: expected a profile name (string), "
                        f"found {name!r}")
    return name


def find_profile(spec: str) -> Path:
    """Resolve ``--machine NAME|FILE.toml`` to a file; UserError if there is none."""
    if spec.endswith(".toml") or "/" in spec or "\\" in spec:
        path = Path(spec)
        if not path.is_file():
            raise UserError(f"{spec}: no such profile file: expected a TOML machine profile "
                            f"or one of {', '.join(builtin_profiles())}")
        return path
    path = _profiles_dir() / f"{spec}.toml"
    if spec == "defaults" or not path.is_file():
        raise UserError(f"--machine {spec}: unknown machine profile: expected one of "
                        f"{', '.join(builtin_profiles())}, or a path to a .toml file")
    return path


def load_profile(spec: str | Path) -> MachineProfile:
    """Load a profile by built-in name or path; UserError if it is malformed or incomplete."""
    path = spec if isinstance(spec, Path) else find_profile(spec)
    # Cached per file and version of it: a relative path names another file in another
    # directory, and a file edited between two loads in one process is read again.
    try:
        st = path.stat()
        stamp: tuple = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = ()
    return _load(str(path), stamp)


def default_profile(arch: str, cpus: int | None = None) -> MachineProfile:
    """The built-in default profile for *arch*, optionally with another CPU count."""
    p = load_profile(default_profile_name(arch))
    return p if cpus is None else p.with_cpus(cpus)


#
# Private helpers
#

# section -> key -> (kind, description for messages).  Kinds: "int+" a
# positive int, "num+" a positive number, "num" a number >= 0, "bool",
# "str", "arch".
_SCHEMA: dict[str, dict[str, tuple[str, str]]] = {
    "machine": {
        "name": ("str", "a string"),
        "arch": ("arch", "'arm64', 'x86' or 'riscv'"),
        "cpus": ("int+", "a positive integer (CPUs)"),
        "ghz": ("num+", "a positive number (GHz)"),
        "mem_pages": ("int+", "a positive integer (4 KiB page frames)"),
        "init_on_alloc": ("bool", "true or false"),
        "kpti": ("bool", "true or false"),
    },
    "tlb": {
        "walk_ns": ("num", "a number >= 0 (ns)"),
        "entries": ("int+", "a positive integer (TLB entries per CPU)"),
    },
    "arm64": {**{k: ("num", "a number >= 0 (ns)") for k in (
        "tlbi_issue_ns", "dsb_ns", "dvm_latency_base_ns", "dvm_latency_per_cpu_ns",
        "dvm_throughput_base_ns", "dvm_throughput_per_cpu_ns")},
        "dvm_queue_depth": ("int+", "a positive integer (outstanding DVM operations)"),
        "dvm_contention": ("num", "a number >= 0 (fraction of the latency per extra "
                                  "broadcasting CPU)")},
    "x86": {k: ("num", "a number >= 0 (ns)") for k in (
        "ipi_send_ns", "ipi_latency_ns", "ipi_entry_ns", "invlpg_ns", "flush_tlb_ns",
        "invlpgb_ns", "tlbsync_ns")},
    "riscv": {**{k: ("num", "a number >= 0 (ns)") for k in (
        "sfence_vma_ns", "sfence_vma_all_ns", "sbi_ecall_ns", "sbi_mtrap_ns", "ipi_send_ns",
        "ipi_latency_ns", "ipi_entry_ns")},
        "ipi_for_rfence": ("bool", "true or false (remote fences by kernel IPIs, not SBI)"),
        "asid": ("bool", "true or false (the harts implement ASIDs)")},
    "kernel": {
        "scale": ("num+", "a positive number (multiplies every [kernel_ns] figure)"),
    },
    "numa": {
        "node_cpus": ("ints+", "a list of positive integers (CPUs of each node, in CPU order)"),
        "node_pages": ("ints+", "a list of positive integers (page frames of each node)"),
        "local_copy_gbps": ("num+", "a positive number (GB/s, copying a page within a node)"),
        "local_latency_ns": ("num", "a number >= 0 (ns, before a copy within a node)"),
        "remote_copy_gbps": ("num+", "a positive number (GB/s, copying a page between nodes)"),
        "remote_latency_ns": ("num", "a number >= 0 (ns, before a copy between nodes)"),
    },
}
_SCHEMA["x86"]["invlpgb"] = ("bool", "true or false (the CPUs have INVLPGB/TLBSYNC)")
_SCHEMA["machine"]["cores"] = ("cores", "a list of core types in CPU order, e.g. "
                                          "[\"cortex-a55:r2p0 x4\", \"cortex-x1:r1p0\"]")
_OPTIONAL = {("machine", "name"), ("machine", "arch"), ("machine", "cores"), ("kernel", "scale"),
             ("machine", "kpti"), ("arm64", "dvm_queue_depth"), ("arm64", "dvm_contention"),
             ("x86", "invlpgb"), ("x86", "invlpgb_ns"), ("x86", "tlbsync_ns"),
             *(("numa", k) for k in ("node_cpus", "node_pages", "local_copy_gbps",
                                     "local_latency_ns", "remote_copy_gbps",
                                     "remote_latency_ns"))}
#: Defaults of the optional keys added after the first profiles were written
#: (the [numa] copy figures: assumptions, see the module docstring).
_DEFAULTS = {"machine.kpti": False, "arm64.dvm_queue_depth": 4, "arm64.dvm_contention": 1.0,
             "numa.local_copy_gbps": 10.0, "numa.local_latency_ns": 0.0,
             "numa.remote_copy_gbps": 5.0, "numa.remote_latency_ns": 100.0}
_ARCH_SECTIONS = ("arm64", "x86", "riscv")
#: What a profile naming no arch must have (riscv's table is optional there).
_ANY_ARCH_SECTIONS = ("arm64", "x86")
#: Symbols charged after profiles were first written, and the symbol whose
#: figure a file without them gets (so files users wrote keep loading).
_LATER_SYMBOLS = {"folio_referenced_one": "page_vma_mapped_walk",
                  "shrink_active_list": "shrink_folio_list",
                  "tlb_finish_mmu": "try_to_unmap_flush", "tlb_flush_mmu": "try_to_unmap_flush",
                  **{s: like for s, like in (
                      ("migrate_pages", "shrink_folio_list"),
                      ("migrate_pages_batch", "shrink_folio_list"),
                      ("migrate_folio_unmap", "shrink_folio_list"),
                      ("migrate_folio_move", "__remove_mapping"),
                      ("unmap_and_move", "shrink_folio_list"),
                      ("try_to_migrate_one", "try_to_unmap_one"),
                      ("remove_migration_pte", "page_vma_mapped_walk"),
                      ("migration_entry_wait", "do_swap_page"),
                      ("do_pages_move", "madvise_cold_or_pageout_pte_range"))}}
#: What a fit may have consumed ([range] fit_inputs): a result equal to one of
#: these at the measured CPU count is calibration, not a prediction.
FIT_INPUTS = ("unbatched_cpu_time", "ptep_clear_flush_share", "symbol_shares",
              "batched_cpu_time")


#: Most page frames a profile may give the simulated machine: every frame is a
#: slot in PhysMem.data, mem_map and a free list (~50 bytes of host memory), so
#: 4 Mi frames (16 GiB simulated) take ~200 MB; the shipped profiles have 16 Ki.
MAX_MEM_PAGES = 1 << 22


@cache
def _profiles_dir() -> Path:
    return Path(str(resources.files("minikernel") / "profiles"))


@lru_cache(maxsize=64)
def _load(path_str: str, stamp: tuple = ()) -> MachineProfile:
    path = Path(path_str)
    data = _resolve(path, ())
    return _check(path, data)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UserError(f"{path}: cannot read machine profile: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text file: expected a machine profile in TOML "
                        "(UTF-8)") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path}: malformed TOML: {e}: expected a machine profile "
                        "(see minikernel/profiles/*.toml)") from None


def _resolve(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    """The file's tables merged over those of the profile it inherits from."""
    real = path.resolve()
    if real in seen:
        chain = " -> ".join(str(p) for p in seen + (real,))
        raise UserError(f"{path}: inherit: profiles inherit from each other in a loop ({chain})")
    data = _read_toml(path)
    parent = data.pop("inherit", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise UserError(f"{path}: inherit: expected a profile name or path (string), "
                        f"found {parent!r}")
    if parent.endswith(".toml") or "/" in parent:
        ppath = (path.parent / parent)
        if not ppath.is_file():
            raise UserError(f"{path}: inherit = {parent!r}: no such profile file {ppath}: "
                            "expected a TOML machine profile (a path relative to the file) or "
                            f"one of {', '.join(builtin_profiles())}")
    else:
        try:
            ppath = find_profile(parent)
        except UserError:
            raise UserError(f"{path}: inherit = {parent!r}: unknown machine profile: expected "
                            f"one of {', '.join(builtin_profiles())}, or a path relative to "
                            "the file") from None
    base = _resolve(ppath, seen + (real,))
    # A child names its own machine; never inherit the parent's name, nor the
    # ranges of the parent's assumptions (they describe the parent's fit).
    base.get("machine", {}).pop("name", None)
    base.pop("range", None)
    # A child that changes the CPU or page count without its own [numa] lists
    # keeps the parent's node count, its CPUs (pages) spread evenly over them.
    numa = base.get("numa")
    if isinstance(numa, dict):
        numa = dict(numa)
        mine = data.get("numa", {}) if isinstance(data.get("numa"), dict) else {}
        machine = data.get("machine", {}) if isinstance(data.get("machine"), dict) else {}
        for key, total in (("node_cpus", machine.get("cpus")),
                           ("node_pages", machine.get("mem_pages"))):
            if key in numa and key not in mine and isinstance(total, int) and total >= 1:
                nodes = len(numa.get("node_cpus", numa[key]))
                if isinstance(numa[key], list) and total != sum(numa[key]):
                    n = min(nodes, total)
                    numa[key] = [total // n + (i < total % n) for i in range(n)]
        if len(numa.get("node_pages", ())) != len(numa.get("node_cpus", ())):
            numa.pop("node_pages", None)    # the node counts parted: split pages evenly
        base["numa"] = numa
    return _merge(base, data)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **v}
        else:
            out[k] = v
    return out


def _bad(path: Path, key: str, expected: str, found: Any) -> UserError:
    return UserError(f"{path}: {key}: expected {expected}, found {found!r}")


def _value(path: Path, key: str, kind: str, expected: str, v: Any) -> Any:
    if kind == "ints+":
        if (not isinstance(v, list) or not v
                or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in v)):
            raise _bad(path, key, expected, v)
        return tuple(v)
    if kind == "cores":
        if not isinstance(v, list):
            raise _bad(path, key, expected, v)
        try:
            return parse_cores(v)
        except ValueError as e:
            raise UserError(f"{path}: {key}: {e}") from None
    if kind == "bool":
        if not isinstance(v, bool):
            raise _bad(path, key, expected, v)
        return v
    if kind in ("str", "arch"):
        if not isinstance(v, str) or not v or (kind == "arch" and v not in _ARCH_SECTIONS):
            raise _bad(path, key, expected, v)
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _bad(path, key, expected, v)
    if kind == "int+":
        if not isinstance(v, int) or v < 1:
            raise _bad(path, key, expected, v)
        return v
    if not math.isfinite(v) or v < 0 or (kind == "num+" and v == 0):
        raise _bad(path, key, expected, v)
    return float(v)


def _check(path: Path, data: dict[str, Any]) -> MachineProfile:
    known = set(_SCHEMA) | {"kernel_ns", "range"}
    for section, table in data.items():
        if section not in known:
            raise UserError(f"{path}: {section}: unknown key: expected one of the tables "
                            f"{', '.join(sorted(known))} (or 'inherit')")
        if not isinstance(table, dict):
            raise _bad(path, section, f"a table [{section}]", table)
    machine = data.get("machine", {})
    arch = machine.get("arch")
    if arch is not None:
        arch = _value(path, "machine.arch", "arch", _SCHEMA["machine"]["arch"][1], arch)
    if arch is not None:
        need_arch: tuple[str, ...] = (arch,)
    else:
        need_arch = _ANY_ARCH_SECTIONS + (("riscv",) if "riscv" in data else ())
    fields: dict[str, Any] = {}
    for section, keys in _SCHEMA.items():
        if section in _ARCH_SECTIONS and section not in need_arch:
            continue        # e.g. an inherited [arm64] in an x86 profile: not used
        table = data.get(section, {})
        for k in table:
            if k not in keys:
                raise UserError(f"{path}: {section}.{k}: unknown key: expected one of "
                                f"{', '.join(keys)}")
        for k, (kind, expected) in keys.items():
            if k not in table:
                if (section, k) in _OPTIONAL:
                    continue
                raise UserError(f"{path}: {section}.{k}: missing: expected {expected}")
            fields[f"{section}.{k}"] = _value(path, f"{section}.{k}", kind, expected, table[k])
    scale = fields.get("kernel.scale", 1.0)
    table = data.get("kernel_ns")
    if table is None:
        raise UserError(f"{path}: kernel_ns: missing: expected a table [kernel_ns] of "
                        "symbol = ns per call")
    for sym in table:
        if (sym not in KERNEL_SYMBOLS and sym not in X86_ENTRY_SYMBOLS
                and sym not in RISCV_ENTRY_SYMBOLS):
            raise UserError(f"{path}: kernel_ns.{sym}: unknown symbol: expected one the model "
                            "charges (see minikernel.profile.KERNEL_SYMBOLS)")
    kernel_ns = {}
    for sym, like in _LATER_SYMBOLS.items():
        if sym not in table and like in table:
            table = {**table, sym: table[like]}     # a file written before sym was charged
    for sym in KERNEL_SYMBOLS:
        if sym not in table:
            raise UserError(f"{path}: kernel_ns.{sym}: missing: expected a number >= 0 "
                            "(ns per call)")
        kernel_ns[sym] = _value(path, f"kernel_ns.{sym}", "num", "a number >= 0 (ns per call)",
                                table[sym]) * scale
    notes: list[str] = []
    for entry_arch, (entry_syms, mapped) in _ENTRY_SYMBOLS.items():
        if entry_arch not in need_arch:
            continue
        given = [s for s in entry_syms if s in table]
        for sym, arm64_sym in entry_syms.items():
            if sym in table:
                kernel_ns[sym] = _value(path, f"kernel_ns.{sym}", "num",
                                        "a number >= 0 (ns per call)", table[sym]) * scale
            elif given:
                raise UserError(f"{path}: kernel_ns.{sym}: missing: expected a number >= 0 "
                                f"(ns per call; give all of {', '.join(entry_syms)} "
                                "or none)")
            else:
                kernel_ns[sym] = kernel_ns[arm64_sym] if sym in mapped else 0.0
        if not given and entry_arch == "x86":
            notes.append(f"{path}: kernel_ns: no x86 entry symbols given: on x86 the el0_da "
                         "figure is charged to exc_page_fault and el0_svc's to do_syscall_64 "
                         "(asm_exc_page_fault, entry_SYSCALL_64: 0 ns)")
        elif not given:
            notes.append(f"{path}: kernel_ns: no riscv entry symbols given: on riscv the "
                         "el0_da figure is charged to do_page_fault and el0_svc's to "
                         "do_trap_ecall_u (handle_exception: 0 ns)")
    # Core facts are arm64's (an x86 profile inheriting an arm64 one ignores them).
    cores = fields.get("machine.cores") if "arm64" in need_arch else None
    if cores is not None and len(cores) != fields["machine.cpus"]:
        notes.append(f"{path}: machine.cores lists {len(cores)} CPUs, machine.cpus is "
                     f"{fields['machine.cpus']}: "
                     + ("the first ones are used" if len(cores) > fields["machine.cpus"]
                        else "the list repeats in order"))
    if fields.get("x86.invlpgb"):
        for k in ("x86.invlpgb_ns", "x86.tlbsync_ns"):
            if k not in fields:
                raise UserError(f"{path}: {k}: missing: expected a number >= 0 (ns; "
                                "needed with x86.invlpgb = true)")
    if fields["machine.mem_pages"] > MAX_MEM_PAGES:
        raise UserError(f"{path}: machine.mem_pages: expected at most {MAX_MEM_PAGES} page "
                        f"frames ({MAX_MEM_PAGES >> 18} GiB of simulated RAM; each frame takes "
                        f"the host ~50 bytes), found {fields['machine.mem_pages']}")
    g = fields.get
    node_cpus = g("numa.node_cpus")
    if node_cpus is not None and sum(node_cpus) != fields["machine.cpus"]:
        raise UserError(f"{path}: numa.node_cpus: expected CPU counts adding up to machine.cpus "
                        f"= {fields['machine.cpus']}, found {list(node_cpus)} "
                        f"(sum {sum(node_cpus)})")
    node_pages = g("numa.node_pages")
    if node_pages is not None:
        if len(node_pages) != len(node_cpus or (0,)):
            raise UserError(f"{path}: numa.node_pages: expected one count per node "
                            f"({len(node_cpus or (0,))}, as numa.node_cpus), found "
                            f"{list(node_pages)}")
        if sum(node_pages) != fields["machine.mem_pages"]:
            raise UserError(f"{path}: numa.node_pages: expected page counts adding up to "
                            f"machine.mem_pages = {fields['machine.mem_pages']}, found "
                            f"{list(node_pages)} (sum {sum(node_pages)})")
    if node_cpus is not None and len(node_cpus) > fields["machine.mem_pages"]:
        raise UserError(f"{path}: numa.node_cpus: {len(node_cpus)} nodes: expected at most "
                        f"machine.mem_pages = {fields['machine.mem_pages']} nodes")
    ranges, cpus_measured = _ranges(path, data.get("range", {}), fields)
    for k, v in _DEFAULTS.items():
        section = k.split(".")[0]
        if k not in fields and (section not in _ARCH_SECTIONS or section in need_arch):
            fields[k] = v
    return MachineProfile(
        name=g("machine.name") or path.stem,
        arch=arch,
        cpus=fields["machine.cpus"],
        ghz=fields["machine.ghz"],
        mem_pages=fields["machine.mem_pages"],
        init_on_alloc=fields["machine.init_on_alloc"],
        tlb_walk_ns=fields["tlb.walk_ns"],
        tlb_entries=fields["tlb.entries"],
        tlbi_issue_ns=g("arm64.tlbi_issue_ns"),
        dsb_ns=g("arm64.dsb_ns"),
        dvm_latency_base_ns=g("arm64.dvm_latency_base_ns"),
        dvm_latency_per_cpu_ns=g("arm64.dvm_latency_per_cpu_ns"),
        dvm_throughput_base_ns=g("arm64.dvm_throughput_base_ns"),
        dvm_throughput_per_cpu_ns=g("arm64.dvm_throughput_per_cpu_ns"),
        ipi_send_ns=g("x86.ipi_send_ns"),
        ipi_latency_ns=g("x86.ipi_latency_ns"),
        ipi_entry_ns=g("x86.ipi_entry_ns"),
        invlpg_ns=g("x86.invlpg_ns"),
        flush_tlb_ns=g("x86.flush_tlb_ns"),
        kernel_ns=MappingProxyType(kernel_ns),
        source=str(path),
        cores=cores,
        notes=tuple(notes),
        kpti=fields["machine.kpti"],
        dvm_queue_depth=g("arm64.dvm_queue_depth"),
        dvm_contention=g("arm64.dvm_contention"),
        ranges=MappingProxyType(ranges),
        cpus_measured=cpus_measured,
        kernel_scale=scale,
        node_cpus=node_cpus,
        node_pages=node_pages,
        local_copy_gbps=fields["numa.local_copy_gbps"],
        local_latency_ns=fields["numa.local_latency_ns"],
        remote_copy_gbps=fields["numa.remote_copy_gbps"],
        remote_latency_ns=fields["numa.remote_latency_ns"],
        riscv_sfence_vma_ns=g("riscv.sfence_vma_ns"),
        riscv_sfence_vma_all_ns=g("riscv.sfence_vma_all_ns"),
        riscv_sbi_ecall_ns=g("riscv.sbi_ecall_ns"),
        riscv_sbi_mtrap_ns=g("riscv.sbi_mtrap_ns"),
        riscv_ipi_send_ns=g("riscv.ipi_send_ns"),
        riscv_ipi_latency_ns=g("riscv.ipi_latency_ns"),
        riscv_ipi_entry_ns=g("riscv.ipi_entry_ns"),
        riscv_ipi_for_rfence=g("riscv.ipi_for_rfence"),
        riscv_asid=g("riscv.asid"),
        invlpgb=bool(g("x86.invlpgb")),
        invlpgb_ns=g("x86.invlpgb_ns"),
        tlbsync_ns=g("x86.tlbsync_ns"),
    )


def _ranges(path: Path, table: dict, fields: dict) -> tuple[dict[str, tuple], int | None]:
    """The [range] table: "section.key" = [low, high] for known keys, and the special keys."""
    out: dict[str, tuple] = {}
    measured = table.get("cpus_measured")
    if measured is not None:
        measured = _value(path, "range.cpus_measured", "int+", "a positive integer (CPUs)",
                          measured)
    inputs = table.get("fit_inputs", [])
    if not isinstance(inputs, list) or not all(x in FIT_INPUTS for x in inputs):
        raise _bad(path, "range.fit_inputs", "a list of " + ", ".join(FIT_INPUTS), inputs)
    out["fit_inputs"] = tuple(inputs)
    for k, v in table.items():
        if k in ("cpus_measured", "fit_inputs"):
            continue
        where = f"range.{k}"
        section, _, key = k.partition(".")
        if k == "dvm_fixed_share":
            kind = "share"
        elif section in _SCHEMA and key in _SCHEMA[section]:
            kind = _SCHEMA[section][key][0]
        else:
            raise UserError(f"{path}: {where}: unknown key: expected \"section.key\" of a "
                            "profile figure, cpus_measured or dvm_fixed_share")
        ok = isinstance(v, list) and len(v) == 2
        if ok and kind == "bool":
            ok = all(isinstance(x, bool) for x in v)
        elif ok:
            ok = all(isinstance(x, (int, float)) and not isinstance(x, bool)
                     and math.isfinite(x) and x >= 0 for x in v) and v[0] <= v[1]
            if ok and kind == "share":
                ok = v[1] <= 1
            if ok and kind == "int+":
                ok = all(isinstance(x, int) and x >= 1 for x in v)
        if not ok or kind in ("str", "arch", "ints+"):
            raise _bad(path, where, "[low, high] with low <= high (numbers >= 0; a share "
                       "<= 1; [false, true] for a bool)", v)
        out[k] = tuple(v)
    if not out["fit_inputs"]:
        del out["fit_inputs"]
    if "dvm_fixed_share" in out and measured is None:
        raise UserError(f"{path}: range.dvm_fixed_share: needs range.cpus_measured: expected "
                        "the CPU count the DVM figures were fitted at")
    return out, measured
