"""Kconfig layer: parse the tree, load .config files, resolve a KernelConfig.

Models: scripts/kconfig/ (conf --defconfig / --olddefconfig /
--savedefconfig, scripts/config, merge_config.sh's "value requested ... not
in final .config" check), implemented on kconfiglib 14.1.0.

Invariants this module owns:
  - No module-level mutable state.  kconfiglib reads $srctree, $SRCARCH and
    $KCONFIG_WARN_UNDEF from the process environment; parse_tree() sets them
    only for the duration of one parse and restores them, so configs of
    different arches can coexist in one process (parse serially, not from
    several threads).
  - Every assignment that does not take is reported, never silently dropped:
    kconfiglib ignores a value whose dependencies are unmet.  A --set that
    does not take is a ConfigError naming the unmet dependency chain; a
    .config/defconfig line that does not take becomes a note (the kernel's
    olddefconfig would drop it silently).
  - Unknown symbols, values of the wrong type, out-of-range values, tristate
    'm' (no modules in this model) and malformed .config lines are
    ConfigErrors with file:line where there is a file.
  - A KernelConfig is immutable and plain data: hot paths read symbols as
    attributes (cfg.EXPERT -> bool), never through kconfiglib.
"""

# File layout:
#
#   Public interface
#     ARCHES, srcarch_of(), defconfig_path(), config_path()
#     KernelConfig
#     load_kernel_config()
#     parse_tree(), load_config_file(), apply_sets(), apply_assignments(),
#     write_config(), write_min_config(), symbol_state()
#   Private helpers
#     .config scanning, symbol lookup and value checks, the "did not take"
#     explanation (dependency-chain walk)

from __future__ import annotations

import difflib
import os
import re
import shutil
import threading
from collections.abc import Iterable, Sequence
from dataclasses import FrozenInstanceError, dataclass
from pathlib import Path
from types import MappingProxyType

import kconfiglib
from kconfiglib import AND, BOOL, HEX, INT, NOT, OR, STRING, TRISTATE, expr_str, expr_value

from minikernel import srctree
from minikernel.compat import SLOTS
from minikernel.errors import ConfigError

#
# Public interface
#

#: Accepted spellings of ARCH (as for "make ARCH=...") -> SRCARCH.
ARCHES: MappingProxyType[str, str] = MappingProxyType(
    {"arm64": "arm64", "aarch64": "arm64", "x86": "x86", "x86_64": "x86",
     "riscv": "riscv", "riscv64": "riscv"}
)
#: SRCARCH -> the def_bool symbol that identifies a saved .config's arch.
ARCH_SYMBOLS: MappingProxyType[str, str] = MappingProxyType(
    {"arm64": "ARM64", "x86": "X86", "riscv": "RISCV"})


def srcarch_of(arch: str) -> str:
    """Map an ARCH spelling ("arm64", "x86", "x86_64", ...) to SRCARCH."""
    try:
        return ARCHES[arch]
    except KeyError:
        raise ConfigError(
            f"unknown arch '{arch}': expected one of {', '.join(sorted(set(ARCHES.values())))}"
        ) from None


def defconfig_path(arch: str) -> Path:
    """arch/SRCARCH/configs/defconfig inside the installed Kconfig tree."""
    return srctree() / "arch" / srcarch_of(arch) / "configs" / "defconfig"


def config_path() -> Path:
    """The build directory's .config: $KCONFIG_CONFIG, else ./.config."""
    return Path(os.environ.get("KCONFIG_CONFIG") or ".config")


#: Model-only symbols renamed so that nobody mistakes them for upstream ones:
#: old name -> new name.  A .config, a --set or a scenario file that still
#: uses an old name loads as if it used the new one, with a one-line note.
RENAMED_SYMBOLS: dict[str, str] = {
    "ARM64_BATCHED_TLB_V5": "MODEL_ARM64_BATCHED_TLB_V5",
    "ARM64_BATCHED_TLB_6_6": "MODEL_ARM64_BATCHED_TLB_6_6",
    "ARM64_BATCHED_TLB_FLUSH_MM": "MODEL_ARM64_BATCHED_TLB_FLUSH_MM",
}


#: Symbols that exist only on one arch, as upstream (name -> SRCARCH).  Older
#: minikernel trees had them on every arch, so a .config, --set or scenario
#: file for another arch that still names one loads with the line ignored and
#: a one-line note, instead of failing as an unknown symbol.
ARCH_ONLY_SYMBOLS: dict[str, str] = {
    "DEBUG_TLBFLUSH": "x86",    # arch/x86/Kconfig.debug upstream; arm64 has none
}


def _foreign_note(where: str, name: str) -> str:
    arch = ARCH_ONLY_SYMBOLS[name]
    return (f"{where}note: CONFIG_{name} is an {arch}-only option (as upstream); "
            "ignored on this arch")


def _is_foreign(kconf: kconfiglib.Kconfig, name: str) -> bool:
    if name not in ARCH_ONLY_SYMBOLS:
        return False
    sym = kconf.syms.get(name)
    return sym is None or not sym.nodes


def renamed_symbol(name: str) -> str:
    """The current name of a Kconfig symbol (without CONFIG_) that may use an old name."""
    return RENAMED_SYMBOLS.get(name, name)


def _renamed_note(where: str, old: str) -> str:
    return (f"{where}note: CONFIG_{old} is now called CONFIG_{RENAMED_SYMBOLS[old]} "
            "(a model-only symbol); read as the new name")


class KernelConfig:
    """The resolved configuration of one kernel; immutable.

    Models the kernel's include/config/auto.conf as seen by C code: one value
    per symbol, fixed at build (here: boot) time.  Created only by
    load_kernel_config() and with_sets().

    Symbol values are plain attributes named after the symbol, without
    CONFIG_ (cfg.EXPERT, cfg.ARM64_NR_CPUS_FOR_BATCHED_TLB):
      bool symbols     -> bool
      int/hex symbols  -> int, or None when the symbol has no value (e.g.
                          an int whose dependencies are unmet)
      string symbols   -> str, or None when it has no value
    An unknown name raises ConfigError("unknown Kconfig symbol CONFIG_FOO")
    -- never a silent False, unlike the C IS_ENABLED().

    arch, srcarch:
      "arm64" or "x86".

    values:
      dict of every symbol that has a value, name without CONFIG_ -> value as
      written in .config ("y", "n", "8"; strings unquoted).  A fresh copy.

    notes:
      list of human-readable messages about assignments in the loaded
      .config/defconfig that did not take (and why).

    source, sets:
      The .config path this was loaded from (None: the arch defconfig) and
      the SYM=VAL assignments applied on top, in order; with_sets() replays
      them.
    """

    _RESERVED = frozenset(
        {"arch", "srcarch", "source", "sets", "values", "notes", "IS_ENABLED", "with_sets",
         "sym_default"}
    )

    def __init__(self, *, srcarch: str, source: Path | None, sets: tuple[str, ...],
                 symbols: dict[str, object], values: dict[str, str],
                 types: dict[str, int], notes: tuple[str, ...]) -> None:
        d = self.__dict__
        clash = self._RESERVED.intersection(symbols)
        if clash:
            raise ConfigError(f"Kconfig symbol name(s) {sorted(clash)} clash with KernelConfig attributes")
        # Symbols go straight into the instance dict so that cfg.SYM is a
        # plain attribute read (no __getattr__ on the hot path).
        d.update(symbols)
        d["arch"] = srcarch
        d["srcarch"] = srcarch
        d["source"] = source
        d["sets"] = sets
        d["_values"] = MappingProxyType(values)
        d["_types"] = MappingProxyType(types)
        d["_notes"] = notes

    # Only reached when normal lookup fails, i.e. for unknown names.
    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        raise ConfigError(_unknown_symbol_msg(name, self._types))

    def __setattr__(self, name: str, value) -> None:
        raise FrozenInstanceError(f"KernelConfig is immutable (tried to set {name})")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"KernelConfig is immutable (tried to delete {name})")

    def __reduce__(self):
        # Pickle/copy support (e.g. for worker processes): rebuild from data.
        d = self.__dict__
        return (KernelConfig._restore, (
            self.srcarch, self.source, self.sets, {k: d[k] for k in self._types},
            dict(self._values), dict(self._types), self._notes))

    @classmethod
    def _restore(cls, srcarch, source, sets, symbols, values, types, notes) -> KernelConfig:
        return cls(srcarch=srcarch, source=source, sets=sets, symbols=symbols,
                   values=values, types=types, notes=notes)

    def __repr__(self) -> str:
        src = "defconfig" if self.source is None else str(self.source)
        return f"KernelConfig(arch={self.arch!r}, source={src!r}, sets={list(self.sets)!r})"

    @property
    def values(self) -> dict[str, str]:
        return dict(self._values)

    @property
    def notes(self) -> list[str]:
        return list(self._notes)

    def IS_ENABLED(self, name: str) -> bool:
        """Cold-path check of a bool symbol, "CONFIG_FOO" or "FOO".

        Unlike the C macro, an unknown symbol raises ConfigError, and so does
        a symbol that is not a bool.
        """
        sym = _strip_config(name)
        typ = self._types.get(sym)
        if typ is None:
            raise ConfigError(_unknown_symbol_msg(sym, self._types))
        if typ not in (BOOL, TRISTATE):
            raise ConfigError(
                f"IS_ENABLED(CONFIG_{sym}): CONFIG_{sym} is {kconfiglib.TYPE_TO_STR[typ]}, expected a bool symbol"
            )
        return self.__dict__[sym]

    def sym_default(self, name: str):
        """Cold path: the default the Kconfig tree gives symbol *name* ("CONFIG_FOO" or "FOO").

        The first ``default`` of the symbol as written in the tree whose own
        ``if`` holds in this configuration, typed like the attribute (int for
        an int symbol, bool for a bool), or None when none applies.  The
        symbol's ``depends on`` is not applied: this is the value it takes
        once its dependencies hold (e.g. ARM64_NR_CPUS_FOR_BATCHED_TLB on a
        kernel with EXPERT=n, where it has no value).
        """
        sym = _strip_config(name)
        typ = self._types.get(sym)
        if typ is None:
            raise ConfigError(_unknown_symbol_msg(sym, self._types))
        ksym = parse_tree(self.srcarch).syms[sym]
        for value, cond in ksym.orig_defaults:
            if self._tri(cond):
                if typ in (BOOL, TRISTATE):
                    return self._tri(value) == 2
                text = self._str(value)
                if typ is INT:
                    return int(text, 10)
                if typ is HEX:
                    return int(text, 16)
                return text
        return None

    def _str(self, sym) -> str:
        """A Kconfig expression operand's value in this configuration, as .config writes it."""
        typ = self._types.get(sym.name)
        if sym.is_constant or typ is None:
            return sym.name                # a literal ("8", "y"): its own name, as kconfiglib
        return self._values.get(sym.name, "n" if typ in (BOOL, TRISTATE) else "")

    def _tri(self, expr) -> int:
        """A Kconfig condition evaluated in this configuration: 0 (n) or 2 (y) (no modules)."""
        if not isinstance(expr, tuple):
            return {"y": 2, "m": 1}.get(self._str(expr), 0)
        op = expr[0]
        if op is AND:
            return min(self._tri(expr[1]), self._tri(expr[2]))
        if op is OR:
            return max(self._tri(expr[1]), self._tri(expr[2]))
        if op is NOT:
            return 2 - self._tri(expr[1])
        if op in (kconfiglib.EQUAL, kconfiglib.UNEQUAL):
            same = self._str(expr[1]) == self._str(expr[2])
            return 2 if same is (op is kconfiglib.EQUAL) else 0
        raise ConfigError(f"sym_default: condition {expr_str(expr)!r}: expected &&, ||, !, = or !=")

    def with_sets(self, sets: Iterable[str]) -> KernelConfig:
        """A new KernelConfig: the same source re-evaluated with extra SYM=VAL
        assignments appended (e.g. the "flipped" kernel of an A/B run)."""
        return load_kernel_config(self.srcarch, config=self.source, sets=(*self.sets, *sets))


def load_kernel_config(arch: str | None = None, *, config: str | os.PathLike | None = None,
                       sets: Sequence[str] = ()) -> KernelConfig:
    """Evaluate the Kconfig tree and return the immutable KernelConfig.

    config=None loads arch/ARCH/configs/defconfig (arch required).  A path
    loads a saved .config (or any defconfig-style fragment); its arch comes
    from CONFIG_ARM64=y / CONFIG_X86=y, and must agree with arch if both are
    given.  Then `sets` ("SYM=VAL", CONFIG_ prefix optional) apply in order;
    each must take, or ConfigError names why not.
    """
    if config is None:
        if arch is None:
            raise ConfigError("no arch given: expected an arch (arm64, x86) or a .config file")
        srcarch = srcarch_of(arch)
        path = defconfig_path(srcarch)
        source: Path | None = None
    else:
        path = Path(config)
        source = path
        resolved = _resolve_arch(arch, path, _scan_config(path))
        assert resolved is not None           # required=True: it raised otherwise
        srcarch = resolved
    kconf = parse_tree(srcarch)
    notes = load_config_file(kconf, path)
    apply_sets(kconf, sets, notes=notes)
    return _snapshot(kconf, srcarch, source, tuple(sets), tuple(notes))


# kconfiglib reads $srctree and $SRCARCH from the process-global environment
# while parsing, so parses in one process (e.g. sweep points on a threaded Dask
# worker) must not overlap.  The one piece of module-level state, by necessity.
_ENV_LOCK = threading.Lock()


def parse_tree(srcarch: str) -> kconfiglib.Kconfig:
    """Parse the Kconfig tree for one SRCARCH, with undefined-symbol warnings
    on; any warning while parsing is a ConfigError (a bug in the tree).
    Thread-safe: the environment kconfiglib reads is set under a lock."""
    srcarch = srcarch_of(srcarch)
    root = srctree()
    env = {"srctree": str(root), "SRCARCH": srcarch, "KCONFIG_WARN_UNDEF": "y"}
    with _ENV_LOCK:
        return _parse_tree_locked(root, env)


def _parse_tree_locked(root: Path, env: dict[str, str]) -> kconfiglib.Kconfig:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        kconf = kconfiglib.Kconfig(str(root / "Kconfig"), warn_to_stderr=False)
    except kconfiglib.KconfigError as e:
        raise ConfigError(_one_line(str(e))) from None
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if kconf.warnings:
        raise ConfigError(_one_line(kconf.warnings[0]))
    kconf.warn_assign_undef = True
    kconf.config_header = (
        f"#\n# Automatically generated file; DO NOT EDIT.\n# {kconf.mainmenu_text}\n#\n"
    )
    return kconf


def load_config_file(kconf: kconfiglib.Kconfig, path: str | os.PathLike) -> list[str]:
    """Load a .config or defconfig into kconf, replacing all user values.

    Raises ConfigError (with file:line) for a malformed line, 'm', an unknown
    symbol, a value of the wrong type or out of range.  Returns notes for
    assignments that did not take because of unmet dependencies.
    """
    path = Path(path)
    lines = _scan_config(path)
    renamed = [a for a in lines if a.name in RENAMED_SYMBOLS]
    foreign = [a for a in lines if _is_foreign(kconf, a.name)]
    if renamed or foreign:
        return _load_renamed(kconf, path, lines, renamed, foreign)
    checked = []
    for a in lines:
        sym = _lookup(kconf, a.name, f"{path}:{a.lineno}: ")
        if a.unset and sym.orig_type not in (BOOL, TRISTATE):
            continue  # "# CONFIG_NR_CPUS is not set": ignored, as by the C tools
        _check_value(sym, a.value, f"{path}:{a.lineno}: CONFIG_{a.name}={a.value}: ")
        checked.append(a)
    del kconf.warnings[:]
    kconf.load_config(str(path))
    notes = []
    for w in kconf.warnings:
        if "set more than once" in w:
            notes.append(w.replace(": warning: ", ": note: ", 1))
        else:
            raise ConfigError(_one_line(w))
    del kconf.warnings[:]
    last = {a.name: a for a in checked}  # the last assignment of a symbol wins
    for a in last.values():
        sym = kconf.syms[a.name]
        if _took(sym, a.value):
            continue
        reason, out_of_range = _explain(sym, a.value)
        where = f"{path}:{a.lineno}: CONFIG_{a.name}={a.value}"
        if out_of_range:
            raise ConfigError(f"{where}: {reason}")
        notes.append(f"{where} did not take (value is {_shown(sym)}): {reason}")
    del kconf.warnings[:]  # range warnings from evaluation are covered above
    return notes


def _load_renamed(kconf: kconfiglib.Kconfig, path: Path, lines: list[_Assignment],
                  renamed: list[_Assignment], foreign: list[_Assignment] = ()) -> list[str]:
    """load_config_file() for a file that uses old symbol names or another
    arch's symbols: load a copy with the names translated and those lines
    dropped (the user's file is never rewritten here), and say which lines
    were read under a new name or ignored.  Notes keep the user's path."""
    import tempfile

    text = path.read_text(encoding="utf-8")
    for old, new in RENAMED_SYMBOLS.items():
        text = re.sub(rf"\bCONFIG_{old}\b", f"CONFIG_{new}", text)
    drop = {a.name for a in foreign}
    if drop:
        # Comment the lines out rather than delete them, so line numbers stay the user's.
        text = "\n".join(
            "#" if any(re.match(rf"\s*(# )?CONFIG_{n}\b", ln) for n in drop) else ln
            for ln in text.split("\n"))
    with tempfile.TemporaryDirectory(prefix="minikernel-config-") as tmp:
        copy = Path(tmp) / path.name
        copy.write_text(text, encoding="utf-8")
        notes = load_config_file(kconf, copy)
    notes = [n.replace(str(copy), str(path)) for n in notes]
    return ([_renamed_note(f"{path}:{a.lineno}: ", a.name) for a in renamed]
            + [_foreign_note(f"{path}:{a.lineno}: ", a.name) for a in foreign] + notes)


def apply_sets(kconf: kconfiglib.Kconfig, sets: Iterable[str], origin: str = "--set",
               notes: list[str] | None = None) -> None:
    """Apply "SYM=VAL" assignments in order; every one must take.

    An old name of a renamed symbol (RENAMED_SYMBOLS) is read as the new one,
    and a note saying so is appended to *notes* when given.
    """
    pairs = []
    for item in sets:
        if "=" not in item:
            raise ConfigError(f"{origin} {item}: expected SYM=VAL (e.g. EXPERT=y)")
        name, _, value = item.partition("=")
        name = _strip_config(name.strip())
        if _is_foreign(kconf, name):
            if notes is not None:
                notes.append(_foreign_note(f"{origin} {item}: ", name))
            continue
        if name in RENAMED_SYMBOLS:
            if notes is not None:
                notes.append(_renamed_note(f"{origin} {item}: ", name))
            name = RENAMED_SYMBOLS[name]
        pairs.append((name, value.strip()))
    apply_assignments(kconf, pairs, origin, notes)


#: Options that exist only on one variant of a choice: name -> the choice member.
#: Older trees had them on every variant, so an assignment that does not take
#: only because another variant is chosen is a note, not an error.
VARIANT_ONLY_SYMBOLS: dict[str, str] = {
    "ARM64_NR_CPUS_FOR_BATCHED_TLB": "MODEL_ARM64_BATCHED_TLB_V5",
}


def _variant_only_miss(kconf: kconfiglib.Kconfig, name: str) -> str | None:
    """The member *name* needs if its assignment failed only for want of it, else None."""
    member = VARIANT_ONLY_SYMBOLS.get(name)
    if member is None or kconf.syms[member].tri_value:
        return None
    choice = kconf.syms[member].choice
    if choice is None or not choice.tri_value:
        return None                     # the choice itself is hidden: a real unmet dependency
    return member


def apply_assignments(kconf: kconfiglib.Kconfig, pairs: Iterable[tuple[str, str]],
                      origin: str = "--set", notes: list[str] | None = None) -> None:
    """Set (SYM, VAL) pairs in order, then check that each one took.

    Checking after all of them are set lets a later assignment satisfy an
    earlier one's dependency (--set ARM64_NR_CPUS_FOR_BATCHED_TLB=4 --set
    EXPERT=y), as when the values come from one .config.
    """
    done: dict[str, tuple[kconfiglib.Symbol, str]] = {}
    for name, value in pairs:
        name = _strip_config(name)
        what = f"{origin} {name}={value}: "
        if not name:
            raise ConfigError(f"{origin} ={value}: expected SYM=VAL (e.g. EXPERT=y)")
        sym = _lookup(kconf, name, what)
        if sym.orig_type is STRING and len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        _check_value(sym, value, what)
        # A False return means the form is invalid for the type.  A warning
        # alone (e.g. "has no prompt") is judged by the _took() check below.
        if not sym.set_value(value):
            raise ConfigError(f"{what}{_expected(sym)}")
        done.pop(name, None)            # keep dict order = order of the last assignment
        done[name] = (sym, value)
    # A later "=y" to another member of the same choice supersedes an earlier
    # member's (the last assignment wins, as in a .config).
    last_y = {}
    for name, (sym, value) in done.items():
        if sym.choice is not None and value == "y":
            last_y[sym.choice] = name
    for name, (sym, value) in done.items():
        if sym.choice is not None and value == "y" and last_y[sym.choice] != name:
            continue
        if not _took(sym, value):
            member = _variant_only_miss(kconf, name)
            if member is not None:
                if notes is not None:
                    notes.append(f"{origin} {name}={value}: note: CONFIG_{name} exists only "
                                 f"with CONFIG_{member}=y (another variant is chosen); ignored")
                continue
            reason, _ = _explain(sym, value)
            raise ConfigError(
                f"{origin} {name}={value}: assignment did not take "
                f"(CONFIG_{name} is {_shown(sym)}): {reason}"
            )
    del kconf.warnings[:]


def note_kind(note: str) -> str:
    """The log event for a config note (boot and the config verbs log them)."""
    if " is now called " in note:
        return "kconfig: symbol renamed"
    if "set more than once" in note:
        return "kconfig: override: symbol set more than once, the last value wins"
    if "-only option" in note:
        return "kconfig: symbol ignored"
    return "kconfig: assignment did not take"


def write_config(kconf: kconfiglib.Kconfig, path: str | os.PathLike) -> str:
    """Write a full .config with the kernel's header; the previous file is
    kept as <path>.old, as the kernel does.  Returns kconfiglib's message.

    Unlike kconfiglib (which renames whatever <path> is and ignores a failed
    backup), nothing the user wrote is lost: a directory at <path>, a missing
    parent or a backup that cannot be made is a ConfigError and nothing is
    written.
    """
    path = Path(path)
    what = _target(path, "KCONFIG_CONFIG" if os.environ.get("KCONFIG_CONFIG") else "")
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        kconf.write_config(str(tmp), save_old=False)
        new = tmp.read_bytes()
        if path.exists():
            if path.read_bytes() == new:
                return f"No change to configuration in '{path}'"
            shutil.copyfile(path, f"{path}.old")
        with open(path, "wb") as f:         # through a symlink, as kconfiglib does
            f.write(new)
    except OSError as e:
        raise ConfigError(f"{what}: cannot write ({e.strerror or e}; nothing the file held was "
                          "changed): expected a writable build directory") from None
    finally:
        tmp.unlink(missing_ok=True)
    return f"Configuration saved to '{path}'"


def write_min_config(kconf: kconfiglib.Kconfig, path: str | os.PathLike) -> str:
    """Write a minimal defconfig (what `make savedefconfig` writes): only
    values that differ from their defaults, no header.  An existing file with
    other contents is kept as <path>.old (the kernel's savedefconfig overwrites
    it); one that cannot be kept is a ConfigError and nothing is written."""
    path = Path(path)
    what = _target(path, "--out")
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        msg = kconf.write_min_config(str(tmp), header="").replace(str(tmp), str(path))
        new = tmp.read_bytes()
        if path.exists():
            if path.read_bytes() == new:
                return msg
            shutil.copyfile(path, f"{path}.old")
        with open(path, "wb") as f:
            f.write(new)
        return msg
    except OSError as e:
        raise ConfigError(f"{what}: cannot write ({e.strerror or e}; nothing the file held was "
                          "changed): expected a writable file path") from None
    finally:
        tmp.unlink(missing_ok=True)


def _target(path: Path, option: str) -> str:
    """Check that *path* can be a file we write; returns how to name it in errors."""
    what = f"{option} {path}" if option == "--out" else \
        (f"KCONFIG_CONFIG={path}" if option else str(path))
    if path.is_dir():
        raise ConfigError(f"{what}: is a directory: expected a file path")
    parent = path.parent
    if not parent.is_dir():
        raise ConfigError(f"{what}: no such directory {str(parent)!r}: expected a file in an "
                          "existing directory")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"{what}: directory {str(parent)!r} is not writable (a .config.old "
                          "could not be kept): expected a writable build directory")
    return what


def symbol_state(kconf: kconfiglib.Kconfig, name: str) -> str:
    """scripts/config --state: "y"/"n", the value, or "undef" when the
    symbol has no value or is unknown (as scripts/config prints)."""
    sym = kconf.syms.get(_strip_config(name))
    if sym is None or not sym.nodes:
        return "undef"
    if sym.orig_type in (BOOL, TRISTATE):
        return kconfiglib.TRI_TO_STR[sym.tri_value]
    return sym.str_value if sym.config_string else "undef"


def infer_arch(path: str | os.PathLike) -> str | None:
    """SRCARCH of a saved .config from its arch line (CONFIG_ARM64=y,
    CONFIG_X86=y or CONFIG_RISCV=y), or None.  Validates the whole file's syntax on the way."""
    return _resolve_arch(None, Path(path), _scan_config(Path(path)), required=False)


#
# Private helpers
#

@dataclass(frozen=True, **SLOTS)
class _Assignment:
    lineno: int
    name: str
    value: str
    unset: bool = False  # from a "# CONFIG_FOO is not set" line


_SET_RE = re.compile(r"CONFIG_([A-Za-z0-9_]+)=(.*)")
_UNSET_RE = re.compile(r"# CONFIG_([A-Za-z0-9_]+) is not set")


def _scan_config(path: Path) -> list[_Assignment]:
    """Syntax check of a .config-format file; returns its assignments.

    kconfiglib only warns about (and skips) malformed lines; here they are
    errors, as is tristate 'm'.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file: expected a .config or defconfig file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory: expected a .config or defconfig file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None
    out = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        m = _SET_RE.fullmatch(line)
        if m:
            if m.group(2) == "m":
                raise ConfigError(
                    f"{path}:{lineno}: CONFIG_{m.group(1)}=m: tristate 'm' is not supported "
                    "(minikernel has no modules): expected y or n"
                )
            out.append(_Assignment(lineno, m.group(1), m.group(2)))
            continue
        m = _UNSET_RE.fullmatch(line)
        if m:
            out.append(_Assignment(lineno, m.group(1), "n", unset=True))
            continue
        if line and not line.lstrip().startswith("#"):
            raise ConfigError(
                f"{path}:{lineno}: malformed line '{_clip(line)}': expected CONFIG_NAME=VALUE, "
                "'# CONFIG_NAME is not set', a comment or a blank line"
            )
    return out


def _resolve_arch(arch: str | None, path: Path, lines: list[_Assignment],
                  required: bool = True) -> str | None:
    found = {
        srcarch: a.lineno
        for a in lines
        for srcarch, sym in ARCH_SYMBOLS.items()
        if a.name == sym and a.value == "y"
    }
    if len(found) > 1:
        both = " and ".join(f"CONFIG_{ARCH_SYMBOLS[a]}=y" for a in sorted(found, key=found.get))
        raise ConfigError(f"{path}: both {both}: expected exactly one arch symbol")
    inferred = next(iter(found), None)
    if arch is not None:
        srcarch = srcarch_of(arch)
        if inferred is not None and inferred != srcarch:
            raise ConfigError(
                f"{path}:{found[inferred]}: CONFIG_{ARCH_SYMBOLS[inferred]}=y is an {inferred} "
                f"configuration, but arch {arch} was requested"
            )
        return srcarch
    if inferred is None and required:
        lines_ = " or ".join(f"CONFIG_{sym}=y" for sym in ARCH_SYMBOLS.values())
        arches = "|".join(ARCH_SYMBOLS)
        raise ConfigError(
            f"{path}: cannot tell the arch: expected a {lines_} line or an explicit arch "
            f"(on the command line: --arch {arches}, or ARCH={arches} in the environment)"
        )
    return inferred


def _strip_config(name: str) -> str:
    return name[len("CONFIG_"):] if name.startswith("CONFIG_") else name


def _defined(kconf: kconfiglib.Kconfig) -> dict[str, kconfiglib.Symbol]:
    return {s.name: s for s in kconf.unique_defined_syms}


def _unknown_symbol_msg(name: str, known: Iterable[str]) -> str:
    known = list(known)
    close = difflib.get_close_matches(name.upper(), known, n=3, cutoff=0.6)
    if name.upper() in known and name.upper() not in close:
        close.insert(0, name.upper())
    hint = (" (did you mean " + " or ".join(f"CONFIG_{c}" for c in close) + "?)") if close else ""
    return f"unknown Kconfig symbol CONFIG_{name}{hint}"


def _lookup(kconf: kconfiglib.Kconfig, name: str, where: str) -> kconfiglib.Symbol:
    sym = kconf.syms.get(name)
    if sym is None or not sym.nodes:
        raise ConfigError(where + _unknown_symbol_msg(name, _defined(kconf)))
    return sym


def _expected(sym: kconfiglib.Symbol) -> str:
    typ = sym.orig_type
    what = {
        BOOL: "y or n",
        TRISTATE: "y or n",
        INT: "a decimal integer",
        HEX: "a hexadecimal integer such as 0x1f",
        STRING: "a string",
    }.get(typ, "a value")
    return f"invalid value for CONFIG_{sym.name} ({kconfiglib.TYPE_TO_STR[typ]}): expected {what}"


def _check_value(sym: kconfiglib.Symbol, value: str, where: str) -> None:
    """Type check of one assignment (range is checked once dependencies are
    known, in _explain())."""
    typ = sym.orig_type
    if typ in (BOOL, TRISTATE):
        if value == "m":
            raise ConfigError(
                f"{where}tristate 'm' is not supported (minikernel has no modules): expected y or n"
            )
        ok = value in ("y", "n")
    elif typ is INT:
        ok = re.fullmatch(r"-?[0-9]+", value) is not None
    elif typ is HEX:
        ok = re.fullmatch(r"(0[xX])?[0-9a-fA-F]+", value) is not None
    elif typ is STRING:
        ok = True
    else:
        ok = False
    if not ok:
        raise ConfigError(f"{where}{_expected(sym)}")


def _took(sym: kconfiglib.Symbol, value: str) -> bool:
    if sym.orig_type in (BOOL, TRISTATE):
        return kconfiglib.TRI_TO_STR[sym.tri_value] == value
    if sym.orig_type is STRING and len(value) >= 2 and value[0] == value[-1] == '"':
        value = kconfiglib.unescape(value[1:-1])
    return sym.str_value == value and bool(sym.config_string)


def _shown(sym: kconfiglib.Symbol) -> str:
    if sym.orig_type in (BOOL, TRISTATE):
        return kconfiglib.TRI_TO_STR[sym.tri_value]
    return sym.str_value if sym.config_string else "unset"


def _has_prompt(sym: kconfiglib.Symbol) -> bool:
    return any(node.prompt for node in sym.nodes)


def _active_range(sym: kconfiglib.Symbol) -> tuple[int, int] | None:
    base = 16 if sym.orig_type is HEX else 10
    for low, high, cond in sym.ranges:
        if expr_value(cond):
            return int(low.str_value, base), int(high.str_value, base)
    return None


def _explain(sym: kconfiglib.Symbol, value: str) -> tuple[str, bool]:
    """Why an assignment of `value` to `sym` did not take.

    Returns (reason, is_range_error).  The reason walks the unmet
    dependency chain down to the symbols a user can change, e.g.
    "depends on ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH [=n] ← EXPERT [=n]".
    """
    hints: list[str] = []
    if sym.orig_type in (INT, HEX) and sym.visibility:
        rng = _active_range(sym)
        if rng is not None:
            n = int(value, 16 if sym.orig_type is HEX else 10)
            if not rng[0] <= n <= rng[1]:
                return f"{value} is outside the range of CONFIG_{sym.name}: expected {rng[0]}..{rng[1]}", True
    want_on = value != "n"
    if want_on:
        if _has_prompt(sym):
            if not expr_value(sym.direct_dep):
                reason = "depends on " + _false_chain(sym.direct_dep, hints, set())
            else:
                reason = f"not assignable (visible as {kconfiglib.TRI_TO_STR[sym.visibility]})"
        elif sym.rev_dep is not sym.kconfig.n:
            reason = (f"has no prompt, so only a select sets it (selected if "
                      f"{expr_str(sym.rev_dep)}, which is n): "
                      + _false_chain(sym.rev_dep, hints, set()))
        else:
            reason = "has no prompt and nothing selects it; its value comes from its default"
    else:
        if expr_value(sym.rev_dep):
            reason = "selected by " + _true_chain(sym.rev_dep)
        elif not _has_prompt(sym):
            reason = "has no prompt; its value comes from its default"
        else:
            reason = "not assignable"
    if hints:
        reason += "; set " + " and ".join(dict.fromkeys(hints)) + " first"
    return reason, False


def _sym_str(sym: kconfiglib.Symbol) -> str:
    if sym.is_constant:
        return sym.name
    return f"{sym.name} [={_shown(sym)}]"


def _false_chain(expr, hints: list[str], seen: set) -> str:
    """Explain why `expr` evaluates to n, recursing into symbols that are n
    only because of their own dependencies or selects."""
    if expr.__class__ is tuple:
        op = expr[0]
        if op is AND:
            parts = [_false_chain(e, hints, seen) for e in expr[1:] if not expr_value(e)]
            return " and ".join(parts)
        if op is OR:
            # Alternatives: any one branch would do, so their hints are too.
            branch_hints: list[list[str]] = [[], []]
            # (an OR node has exactly two operands: no zip(strict=), Python 3.9 lacks it)
            parts = [_false_chain(e, h, seen) for e, h in zip(expr[1:], branch_hints)]
            if all(branch_hints):
                hints.append(" or ".join(" and ".join(h) for h in branch_hints))
            return "(" + " or ".join(parts) + ")"
        if op is NOT:
            inner = expr[1]
            if inner.__class__ is not tuple and _has_prompt(inner) and inner.visibility:
                hints.append(f"{inner.name}=n")
            return "!" + _true_chain(inner)
        return f"{expr_str(expr)} [=n]"
    sym = expr
    if isinstance(sym, kconfiglib.Choice):
        # A choice member depends on its choice, which has no name.
        text = f"choice \"{sym.nodes[0].prompt[0]}\" [=n]"
        if sym in seen or expr_value(sym.direct_dep):
            return text
        seen.add(sym)
        return f"{text} ← {_false_chain(sym.direct_dep, hints, seen)}"
    text = _sym_str(sym)
    if sym.is_constant or sym in seen:
        return text
    seen.add(sym)
    if _has_prompt(sym):
        if not expr_value(sym.direct_dep):
            return f"{text} ← {_false_chain(sym.direct_dep, hints, seen)}"
        hints.append(f"{sym.name}=y")  # a user-settable root cause
        return text
    if sym.rev_dep is not sym.kconfig.n and not expr_value(sym.rev_dep):
        return f"{text} ← {_false_chain(sym.rev_dep, hints, seen)}"
    return text


def _true_chain(expr) -> str:
    """Explain why `expr` evaluates to y (e.g. which select forces a symbol)."""
    if expr.__class__ is tuple:
        op = expr[0]
        if op is AND:
            return " && ".join(_true_chain(e) for e in expr[1:])
        if op is OR:
            return " or ".join(_true_chain(e) for e in expr[1:] if expr_value(e))
        if op is NOT:
            return "!" + _sym_or_expr(expr[1])
        return f"{expr_str(expr)} [=y]"
    return _sym_str(expr)


def _sym_or_expr(expr) -> str:
    return _sym_str(expr) if expr.__class__ is not tuple else f"({expr_str(expr)})"


def _snapshot(kconf: kconfiglib.Kconfig, srcarch: str, source: Path | None,
              sets: tuple[str, ...], notes: tuple[str, ...]) -> KernelConfig:
    symbols: dict[str, object] = {}
    values: dict[str, str] = {}
    types: dict[str, int] = {}
    for sym in kconf.unique_defined_syms:
        typ = sym.orig_type
        types[sym.name] = typ
        if typ in (BOOL, TRISTATE):
            tri = sym.tri_value
            symbols[sym.name] = tri == 2
            values[sym.name] = kconfiglib.TRI_TO_STR[tri]
            continue
        s = sym.str_value
        if typ in (INT, HEX) and s == "" or typ is STRING and not sym.config_string:
            symbols[sym.name] = None
            continue
        values[sym.name] = s
        if typ is INT:
            symbols[sym.name] = int(s, 10)
        elif typ is HEX:
            symbols[sym.name] = int(s, 16)
        else:
            symbols[sym.name] = s
    return KernelConfig(srcarch=srcarch, source=source, sets=sets, symbols=symbols,
                        values=values, types=types, notes=notes)


def _one_line(msg: str) -> str:
    return " ".join(part.strip() for part in msg.strip().splitlines() if part.strip())


def _clip(s: str, n: int = 60) -> str:
    return s if len(s) <= n else s[: n - 3] + "..."
