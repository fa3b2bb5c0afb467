"""The op registry: every operation a scenario step may name, declared once.

Model-only.  An :class:`Op` says everything the rest of the package (and
the explorer, the README and the property tests) needs to know about one
operation: its keys and their types (from :data:`KEYS`), what it holds of
its mm's ``mmap_lock`` and which page-table locks it takes, whether it can
be paused, what it touches (for the explorer's partial-order reduction),
how it runs (``run(scenario_run, process, step) -> outcome text``) and its
README description.  The parser, the runner and its lock model, the TOML
writer, the explorer and the README's op table all read :data:`REGISTRY`;
adding an op is one ``_op(...)`` declaration plus its implementation.

Invariants this module owns:
  - Each op and each key type is declared exactly once; ``OPS`` and
    ``PAUSABLE`` are derived from the declarations, never written by hand.
  - Key validation messages ("got X, expected Y") are the file format's
    error messages: they stay as they are.
"""

# File layout:
#
#   Public interface
#     Key, KEYS, Op, REGISTRY, OPS, PAUSABLE, readme_op_table(), readme_probe_table()
#   Implementations (one function per op, in registry order)
#   The declarations

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from minikernel.hw.mmu import PAGE_SHIFT, PAGE_SIZE

#
# Public interface
#


@dataclass(frozen=True)
class Key:
    """A step key's type: a check, what a message says was expected, how the README shows it.

    check(value, ctx) and expected(ctx) get the parser's context: ``regions``
    (mapping names bound so far) and ``ncpu`` (the machine's CPU count).
    """

    check: Callable[[Any, Any], bool]
    expected: Callable[[Any], str]
    doc: str = ""


def _const(text: str) -> Callable[[Any], str]:
    return lambda ctx: text


def _int_in(lo: int, hi: int | None = None) -> Callable[[Any, Any], bool]:
    return lambda v, ctx: type(v) is int and v >= lo and (hi is None or v <= hi)


def _choice(values: tuple[str, ...]) -> Callable[[Any, Any], bool]:
    return lambda v, ctx: v in values


_PROT = ("none", "r", "rw")
_PROT_BITS = {"none": 0x0, "r": 0x1, "rw": 0x3}      # PROT_NONE, PROT_READ, |PROT_WRITE
_ADVICE = ("pageout", "dontneed")
_MPOL = ("default", "preferred", "bind", "interleave", "local")   # MPOL_* by name


def _name(v: Any, ctx: Any) -> bool:
    return isinstance(v, str) and bool(v)


def _nodes(v: Any, ctx: Any) -> bool:
    return isinstance(v, list) and all(type(n) is int and 0 <= n < 64 for n in v)


#: Key name -> its type.  An op's required and optional keys name these.
KEYS: dict[str, Key] = {
    "as": Key(_name, _const("a name (string)")),
    "child": Key(_name, _const("a name (string)")),
    "addr": Key(lambda v, ctx: v in ctx.regions,
                lambda ctx: "the name of a mapping made earlier "
                            f"({', '.join(sorted(ctx.regions)) or 'none yet'})",
                "(a mapping's name)"),
    "pages": Key(_int_in(1, 4096), _const("a page count 1..4096")),
    "page": Key(_int_in(0), _const("a page index >= 0")),
    "value": Key(_int_in(0), _const("a non-negative integer")),
    "cpu": Key(lambda v, ctx: type(v) is int and 0 <= v < ctx.ncpu,
               lambda ctx: f"a CPU number 0..{ctx.ncpu - 1}"),
    "shared": Key(lambda v, ctx: type(v) is bool, _const("true or false")),
    "expect": Key(lambda v, ctx: type(v) is bool, _const("true or false"), "(bool)"),
    "move": Key(lambda v, ctx: type(v) is bool, _const("true or false")),
    "prot": Key(_choice(_PROT), _const('"none", "r" or "rw"'), '(`"rw"`, `"r"` or `"none"`)'),
    "advice": Key(_choice(_ADVICE), _const('"pageout" or "dontneed"'),
                  '(`"pageout"`/`"dontneed"`)'),
    "node": Key(_int_in(0, 63), _const("a node number 0..63")),
    "nodes": Key(_nodes, _const("a list of node numbers 0..63"), "(a list of node numbers)"),
    "from": Key(_nodes, _const("a list of node numbers 0..63"), "(node numbers)"),
    "to": Key(_nodes, _const("a list of node numbers 0..63"), "(node numbers)"),
    "mode": Key(_choice(_MPOL), _const('"default", "preferred", "bind", "interleave" or "local"'),
                '(`"bind"`, `"interleave"`, `"preferred"`, `"local"`, `"default"`)'),
}


@dataclass(frozen=True)
class Op:
    """One scenario operation.

    required / optional: key names (optional: (name, default as the README says it))
    run:        the implementation: run(scenario_run, process, step) -> outcome text
    does:       the README's description
    pausable:   it enters the kernel and can stop at a probe point
    mmap_lock:  what it needs of its mm's mmap_lock to run ("read", "write", None)
    holds:      what it holds at its probe points (default: mmap_lock)
    locking:    how a nested step of this op meets the paused operation's locks:
                "access" (a user access: locks only if it faults), "reclaim"
                (its first batch's folios' PTE tables), "syscall" (mmap_lock, then
                page_tables)
    page_tables: which PTE tables a syscall takes: "none", "range" (its addr's
                pages), "all" (fork, or a walk of the whole mm)
    binds:      keys whose value names a mapping made by this step
    spawns:     its ``child`` key names a new task
    footprint:  what it touches, for the explorer (minikernel.explore.footprint):
                "access", "check", "task" (only its task and CPUs), "spawn",
                "syscall", "everything"
    frees:      it may allocate or free pages (the explorer's shared allocator resource)
    weight:     how often the property tests' random programs draw it (0: never;
                tests/minikernel/test_sanitizer_properties.py builds its keys from KEYS)
    nested:     whether random programs draw it inside a pause too
    """

    name: str
    run: Callable[[Any, Any, Any], str]
    does: str
    required: tuple[str, ...] = ()
    optional: tuple[tuple[str, str], ...] = ()
    pausable: bool = False
    mmap_lock: str | None = None
    holds: str | None = "same"
    locking: str = "syscall"
    page_tables: str = "range"
    binds: tuple[str, ...] = ()
    spawns: bool = False
    footprint: str = "syscall"
    frees: bool = False
    weight: int = 0
    nested: bool = True

    @property
    def optional_keys(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.optional)

    @property
    def held_at_probes(self) -> str | None:
        return self.mmap_lock if self.holds == "same" else self.holds

    def keys_doc(self) -> str:
        """The README's "keys" cell: required keys, then *optional* ones with their defaults."""
        out = [f"`{k}`" + (f" {KEYS[k].doc}" if KEYS[k].doc else "") for k in self.required]
        out += [f"*`{k}`*" + (f" ({d})" if d else "") for k, d in self.optional]
        return ", ".join(out) or "—"


def readme_op_table() -> str:
    """The README's scenario op table, from the registry (tests/minikernel/test_scenario.py
    checks that the README holds exactly this)."""
    rows = ["| op | keys (required, *optional*) | pausable | holds `mmap_lock` | does |",
            "|---|---|---|---|---|"]
    for op in REGISTRY.values():
        held = op.held_at_probes if op.pausable else None
        rows.append(f"| `{op.name}` | {op.keys_doc()} | {'yes' if op.pausable else '—'} | "
                    f"{held or '—'} | {op.does} |")
    return "\n".join(rows)


def readme_probe_table() -> str:
    """The README's probe-point table, from PROBE_POINTS (checked like the op table)."""
    from minikernel.scenario.model import LOCKED_PROBES, PROBE_POINTS
    rows = ["| probe point (`pause_at`) | where | PTE lock held |", "|---|---|---|"]
    for name, where in PROBE_POINTS.items():
        rows.append(f"| `{name}` | {where} | {'yes' if name in LOCKED_PROBES else '—'} |")
    return "\n".join(rows)


#
# Implementations: run(r, p, st) -> outcome text.  r is the ScenarioRun (its
# regions, procs, machine and address helpers), p the step's Process.
#

def _mmap(r, p, st) -> str:
    from minikernel.user import MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED
    a = st.args
    flags = MAP_ANONYMOUS | (MAP_SHARED if a.get("shared") else MAP_PRIVATE)
    pages = a.get("pages", 1)
    addr = p.mmap(pages * PAGE_SIZE, _PROT_BITS[a.get("prot", "rw")], flags)
    r.regions[a["as"]] = (addr, pages)
    return f"{a['as']} = {addr:#x}"


def _munmap(r, p, st) -> str:
    addr, pages = r.range_of(st)
    p.munmap(addr, pages * PAGE_SIZE)
    return "ok"


def _mprotect(r, p, st) -> str:
    addr, pages = r.range_of(st)
    p.mprotect(addr, pages * PAGE_SIZE, _PROT_BITS[st.args["prot"]])
    return "ok"


def _madvise(r, p, st) -> str:
    from minikernel.user import MADV_DONTNEED, MADV_PAGEOUT
    addr, pages = r.range_of(st)
    adv = MADV_PAGEOUT if st.args["advice"] == "pageout" else MADV_DONTNEED
    n = p.madvise(addr, pages * PAGE_SIZE, adv)
    return f"{n} reclaimed" if adv == MADV_PAGEOUT else "ok"


def _mremap(r, p, st) -> str:
    a = st.args
    addr, pages = r.range_of(st)
    new = p.mremap(addr, pages * PAGE_SIZE)
    r.regions[a.get("as", a["addr"])] = (new, pages)
    return f"{a.get('as', a['addr'])} = {new:#x}"


def _read(r, p, st) -> str:
    return f"{p.read(r.addr_of(st)):#x}"


def _write(r, p, st) -> str:
    r.nwrites += 1
    v = st.args.get("value", 0x5EED0000 + r.nwrites)
    p.write(r.addr_of(st), v)
    return f"wrote {v:#x}"


def _fork(r, p, st) -> str:
    return r.spawn(st, p.fork)


def _clone(r, p, st) -> str:
    return r.spawn(st, p.clone_thread)


def _move(r, p, st) -> str:
    p.move_to(st.args["cpu"])
    return f"now on CPU{st.args['cpu']}"


def _reclaim(r, p, st) -> str:
    from minikernel import sched
    sched.run_on(p.task)
    return f"{p.reclaim(st.args.get('pages', 32))} reclaimed"


def _dsb(r, p, st) -> str:
    from minikernel import sched
    from minikernel.errors import UserError
    dvm = getattr(r.m.arch, "dvm", None)   # arm64's interconnect only
    if dvm is None:
        raise UserError(f"{r.sc.path}: {st.where}.op: 'dsb' needs an arm64 "
                        f"machine (DSB ISH), this one is {r.sc.arch}")
    cpu = sched.run_on(p.task)
    dvm.dsb_ish(cpu)
    return f"DSB ISH on CPU{cpu.id}"


def _cached(r, p, st) -> str:
    a = st.args
    addr = r.addr_of(st)
    cpu = p.task.cpu
    got = r.m.tlbs.lookup(cpu.id, p.task.mm.asid, addr >> PAGE_SHIFT) is not None
    if got != a["expect"]:
        r.failures.append(
            f"{st.where}: CPU{cpu.id} {'holds' if got else 'does not hold'} a TLB "
            f"entry for {a['addr']} ({addr:#x}); expected "
            f"{'one' if a['expect'] else 'none'}")
    return "cached" if got else "not cached"


def _move_pages(r, p, st) -> str:
    addr, pages = r.range_of(st)
    addrs = [addr + i * PAGE_SIZE for i in range(pages)]
    status = p.move_pages(addrs, [st.args["node"]] * pages)
    return "status " + " ".join(str(s) for s in status)


def _mbind(r, p, st) -> str:
    from minikernel.mm.mempolicy import MPOL_MODES
    from minikernel.user import MPOL_MF_MOVE
    a = st.args
    addr, pages = r.range_of(st)
    left = p.mbind(addr, pages * PAGE_SIZE, MPOL_MODES[a["mode"]], a.get("nodes", []),
                   MPOL_MF_MOVE if a.get("move", True) else 0)
    return f"{left} not moved"


def _migrate_pages(r, p, st) -> str:
    return f"{p.migrate_pages(st.args['from'], st.args['to'])} not moved"


#
# The declarations
#

_RANGE = (("pages", "all of it"),)
REGISTRY: dict[str, Op] = {op.name: op for op in (
    Op("mmap", _mmap, "anonymous mapping, named `as` for later steps",
       ("as",), (("pages", "1"), ("shared", "false"), ("prot", '`"rw"`')),
       pausable=True, mmap_lock="write", page_tables="none", binds=("as",)),
    Op("munmap", _munmap, "the syscall on the mapping (all of it, or its first `pages`)",
       ("addr",), _RANGE, pausable=True, mmap_lock="write", frees=True, weight=1),
    Op("mprotect", _mprotect, "the syscall", ("addr", "prot"), _RANGE,
       pausable=True, mmap_lock="write", weight=1),
    Op("madvise", _madvise, "the syscall: `MADV_PAGEOUT` (reclaims) or `MADV_DONTNEED`",
       ("addr", "advice"), _RANGE, pausable=True, mmap_lock="read", frees=True, weight=2),
    Op("mremap", _mremap, "moves the whole mapping and rebinds the name (or names the new "
       "place `as`)", ("addr",), (("pages", "all of it"), ("as", "")),
       pausable=True, mmap_lock="write", binds=("as",), weight=1),
    Op("read", _read, "one user load through the task's CPU's TLB; SIGSEGV is an outcome, "
       "not an error", ("addr",), (("page", "0"),), locking="access", footprint="access",
       weight=2),
    Op("write", _write, "one user store (*`value`*: default a fixed function of the step's "
       "position) through the task's CPU's TLB", ("addr",), (("page", "0"), ("value", "")),
       locking="access", footprint="access", weight=3),
    Op("fork", _fork, "a child process on `cpu`, a new task usable by later steps",
       ("child", "cpu"), pausable=True, mmap_lock="write", page_tables="all", spawns=True,
       footprint="spawn", weight=1, nested=False),
    Op("clone", _clone, "a thread on `cpu`, a new task usable by later steps",
       ("child", "cpu"), pausable=True, page_tables="none", spawns=True, footprint="spawn"),
    Op("move", _move, "migrate the task to `cpu`", ("cpu",), page_tables="none",
       footprint="task", weight=1, nested=False),
    Op("reclaim", _reclaim, "direct reclaim (`try_to_free_pages`) from the LRU, oldest first",
       (), (("pages", "32"),), pausable=True, locking="reclaim", footprint="everything",
       weight=1, nested=False),
    Op("dsb", _dsb, "arm64 only: `DSB ISH` on the task's CPU (litmus)", page_tables="none",
       footprint="everything"),
    Op("cached", _cached, "check whether the task's CPU holds a TLB entry for it (litmus; a "
       "mismatch fails the scenario)", ("addr", "expect"), (("page", "0"),),
       page_tables="none", footprint="check"),
    # Migration (CONFIG_MIGRATION; "ENOSYS" without it).  mm/migrate.c:
    # do_pages_move() takes mmap_read_lock only around each page's lookup and
    # isolation (add_page_for_migration) and migrates with no mmap_lock held;
    # mm/mempolicy.c: do_mbind() holds mmap_write_lock across queue_pages_range,
    # mbind_range and migrate_pages; do_migrate_pages() mmap_read_lock across
    # its whole loop.
    Op("move_pages", _move_pages, "move_pages(2) of the mapping's pages (all, or the first "
       "`pages`) to `node`; the outcome is the status array", ("addr", "node"), _RANGE,
       pausable=True, mmap_lock="read", holds=None, frees=True, weight=1),
    Op("mbind", _mbind, "mbind(2): the range's policy; with *`move`* (MPOL_MF_MOVE) its "
       "pages move where the policy says", ("addr", "mode"),
       (("nodes", "none"), ("pages", "all of it"), ("move", "true")),
       pausable=True, mmap_lock="write", frees=True, weight=1),
    Op("migrate_pages", _migrate_pages, "migrate_pages(2) of the task's process: pages on "
       "the `from` nodes move to the `to` nodes", ("from", "to"),
       pausable=True, mmap_lock="read", page_tables="all", frees=True, weight=1),
)}

# op -> (required keys, optional keys): the shape older callers read.
OPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    n: (op.required, op.optional_keys) for n, op in REGISTRY.items()}
#: Operations that enter the kernel and so can be paused.
PAUSABLE = frozenset(n for n, op in REGISTRY.items() if op.pausable)
