"""Reading a scenario file: TOML in, a validated Scenario out, or one UserError line.

Model-only.  Every problem names the file, the key and what was expected
(``<path>: <key>: got <found>, expected <what>``); the CLI turns it into
exit status 2.  Which ops exist and what their keys must be comes from the
op registry (``ops.REGISTRY``, ``ops.KEYS``); the arches from
``minikernel.arch.BACKENDS``, the single arch dispatch point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from minikernel.compat import tomllib
from minikernel.errors import UserError
from minikernel.scenario.model import PROBE_POINTS, Scenario, Step, TaskDecl, fmt
from minikernel.scenario.ops import KEYS, REGISTRY

_STEP_KEYS = frozenset({"task", "op", "pause_at", "hit", "during"})
_MACHINE_KEYS = {"arch", "cpus", "profile", "config", "sanitizer"}
_EXPLORE_KEYS = {"step", "pause_at", "max_hits", "max_runs", "max_nested"}


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; UserError on anything malformed."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise UserError(f"{p}: cannot read scenario: {e.strerror}: expected a scenario file "
                        "(TOML)") from None
    except UnicodeDecodeError:
        raise UserError(f"{p}: not a text file: expected a scenario in TOML (UTF-8)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{p}: not valid TOML: {e}") from None
    return parse_scenario(data, str(p))


def parse_scenario(data: dict, path: str = "<scenario>") -> Scenario:
    """Validate a scenario already read from TOML (or built in code)."""
    return _Parser(path).scenario(data)


def scenario_arches() -> tuple[str, ...]:
    """The arches a scenario may name: every backend of minikernel.arch."""
    from minikernel.arch import BACKENDS
    return tuple(sorted(BACKENDS))


def _one_of(names: tuple[str, ...]) -> str:
    quoted = [f'"{n}"' for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


class _Ctx:
    """What key checks may look at: mapping names bound so far, the CPU count."""

    __slots__ = ("regions", "ncpu")

    def __init__(self, regions: set[str], ncpu: int) -> None:
        self.regions = regions
        self.ncpu = ncpu


class _Parser:
    def __init__(self, path: str) -> None:
        self.path = path

    def err(self, key: str, found: Any, expected: str) -> UserError:
        return UserError(f"{self.path}: {key}: got {fmt(found)}, expected {expected}")

    def scenario(self, d: dict) -> Scenario:
        known = {"description", "expect", "machine", "task", "step", "explore"}
        self._no_unknown(d, known, "top level")
        arch, cpus, profile, config, san = self.machine(d.get("machine"))
        ncpu = cpus if cpus is not None else 4096
        tasks = self.tasks(d.get("task"), ncpu)
        names = {t.name for t in tasks}
        ctx = _Ctx(set(), ncpu)
        steps = self.steps(d.get("step", []), "step", names, ctx)
        expect = self.expect(d.get("expect"))
        desc = d.get("description", "")
        if not isinstance(desc, str):
            raise self.err("description", desc, "a string")
        explore = d.get("explore")
        esteps = self.explore(explore, names, ctx) if explore is not None else []
        return Scenario(self.path, arch, cpus, profile, list(config), san, tasks, steps, expect,
                        desc, explore, esteps)

    def machine(self, mach: Any) -> tuple:
        if not isinstance(mach, dict):
            raise self.err("machine", mach, "a [machine] table with arch and cpus")
        self._no_unknown(mach, _MACHINE_KEYS, "machine")
        arch = mach.get("arch")
        arches = scenario_arches()
        if arch not in arches:
            raise self.err("machine.arch", arch, _one_of(arches))
        cpus, profile = self.size(mach.get("cpus"), mach.get("profile"))
        config = mach.get("config", [])
        if not isinstance(config, list) or not all(isinstance(c, str) and "=" in c
                                                   for c in config):
            raise self.err("machine.config", config, 'a list of "SYM=VAL" strings')
        san = mach.get("sanitizer", True)
        if type(san) is not bool:
            raise self.err("machine.sanitizer", san, "true or false")
        return arch, cpus, profile, config, san

    def size(self, cpus: Any, profile: Any) -> tuple[int | None, str | None]:
        if cpus is None and profile is None:
            raise self.err("machine.cpus", None, "a CPU count (2..512) or machine.profile")
        if cpus is not None and (type(cpus) is not int or not 1 <= cpus <= 512):
            raise self.err("machine.cpus", cpus, "an integer 1..512")
        if profile is not None and not isinstance(profile, str):
            raise self.err("machine.profile", profile, "a profile name (string)")
        return cpus, profile

    def explore(self, explore: Any, names: set[str], ctx: _Ctx) -> list[Step]:
        if not isinstance(explore, dict):
            raise self.err("explore", explore, "an [explore] table")
        self._no_unknown(explore, _EXPLORE_KEYS, "explore")
        esteps = self.steps(explore.get("step", []), "explore.step", names, ctx,
                            allow_pause=False)
        if not esteps:
            raise self.err("explore.step", None, "at least one [[explore.step]]")
        pa = explore.get("pause_at", [])
        if not isinstance(pa, list) or any(x not in PROBE_POINTS for x in pa):
            raise self.err("explore.pause_at", pa,
                           f"a list of probe points ({', '.join(PROBE_POINTS)})")
        for k in ("max_hits", "max_runs", "max_nested"):
            v = explore.get(k)
            if v is not None and (type(v) is not int or v < 1):
                raise self.err(f"explore.{k}", v, "an integer >= 1")
        return esteps

    def tasks(self, lst: Any, ncpu: int) -> list[TaskDecl]:
        if not isinstance(lst, list) or not lst:
            raise self.err("task", lst, "at least one [[task]] with name, cpu, process")
        out: list[TaskDecl] = []
        for i, t in enumerate(lst):
            w = f"task[{i}]"
            if not isinstance(t, dict):
                raise self.err(w, t, "a table")
            self._no_unknown(t, {"name", "cpu", "process"}, w)
            name = t.get("name")
            if not isinstance(name, str) or not name:
                raise self.err(f"{w}.name", name, "a non-empty string")
            if any(o.name == name for o in out):
                raise self.err(f"{w}.name", name, "a name not used by another task")
            cpu = t.get("cpu")
            if type(cpu) is not int or not 0 <= cpu < ncpu:
                raise self.err(f"{w}.cpu", cpu, f"a CPU number 0..{ncpu - 1}")
            proc = t.get("process", name)
            if not isinstance(proc, str):
                raise self.err(f"{w}.process", proc, "a process name (string)")
            out.append(TaskDecl(name, cpu, proc))
        return out

    def expect(self, e: Any) -> list[str]:
        from minikernel.sanitizer import KINDS
        if e is None:
            raise self.err("expect", None, '"clean" or a list of violation kinds '
                                           f"({', '.join(KINDS)})")
        if e == "clean":
            return []
        if isinstance(e, str):
            e = [e]
        if not isinstance(e, list) or not e or any(k not in KINDS for k in e):
            raise self.err("expect", e, f'"clean" or a list of violation kinds ({", ".join(KINDS)})')
        return list(dict.fromkeys(e))

    def steps(self, lst: Any, prefix: str, tasks: set[str], ctx: _Ctx,
              allow_pause: bool = True, nested_of: str | None = None) -> list[Step]:
        if not isinstance(lst, list):
            raise self.err(prefix, lst, "an array of tables ([[...]])")
        out = []
        for i, s in enumerate(lst):
            w = f"{prefix}[{i}]"
            st = self.step(s, w, tasks, ctx, nested_of)
            if "pause_at" in s:
                self.pause(s, st, w, tasks, ctx, allow_pause)
            elif "during" in s or "hit" in s:
                raise self.err(f"{w}.during", s.get("during", s.get("hit")),
                               "nothing: 'during'/'hit' need pause_at")
            out.append(st)
        return out

    def step(self, s: Any, w: str, tasks: set[str], ctx: _Ctx, nested_of: str | None) -> Step:
        """One step's task, op and keys (the op's declaration says which keys and their types)."""
        if not isinstance(s, dict):
            raise self.err(w, s, "a table")
        name = s.get("op")
        if name not in REGISTRY:
            raise self.err(f"{w}.op", name, f"one of {', '.join(REGISTRY)}")
        op = REGISTRY[name]
        self._no_unknown(s, _STEP_KEYS | set(op.required) | set(op.optional_keys), w)
        task = s.get("task")
        if task not in tasks:
            raise self.err(f"{w}.task", task, f"a task declared earlier ({', '.join(sorted(tasks))})")
        if nested_of is not None and task == nested_of:
            raise self.err(f"{w}.task", task, "a task other than the paused one")
        args = self.args(s, w, op, ctx)
        if op.spawns:
            if args["child"] in tasks:
                raise self.err(f"{w}.child", args["child"], "a new task name")
            tasks.add(args["child"])
        ctx.regions.update(args[k] for k in op.binds if k in args)
        return Step(task, name, args, w)

    def args(self, s: dict, w: str, op: Any, ctx: _Ctx) -> dict[str, Any]:
        """The step's keys, each checked against its type in KEYS (in the op's declared order)."""
        for k in op.required:
            if k not in s:
                raise self.err(f"{w}.{k}", None, f"a value ('{op.name}' needs {', '.join(op.required)})")
        args = {}
        for k in op.required + op.optional_keys:
            if k in s:
                key = KEYS[k]
                if not key.check(s[k], ctx):
                    raise self.err(f"{w}.{k}", s[k], key.expected(ctx))
                args[k] = s[k]
        return args

    def pause(self, s: dict, st: Step, w: str, tasks: set[str], ctx: _Ctx,
              allow_pause: bool) -> None:
        if not allow_pause:
            raise self.err(f"{w}.pause_at", s["pause_at"],
                           "no pause here (nested steps and explore steps cannot pause)")
        if not REGISTRY[st.op].pausable:
            pausable = sorted(n for n, op in REGISTRY.items() if op.pausable)
            raise self.err(f"{w}.pause_at", s["pause_at"],
                           f"a pausable operation ({', '.join(pausable)}), not {st.op}")
        if s["pause_at"] not in PROBE_POINTS:
            raise self.err(f"{w}.pause_at", s["pause_at"],
                           f"a probe point ({', '.join(PROBE_POINTS)})")
        st.pause_at = s["pause_at"]
        hit = s.get("hit", 1)
        if type(hit) is not int or hit < 1:
            raise self.err(f"{w}.hit", hit, "an integer >= 1")
        st.hit = hit
        st.during = self.steps(s.get("during", []), f"{w}.during", tasks, ctx,
                               allow_pause=False, nested_of=st.task)

    def _no_unknown(self, d: dict, known: set[str] | frozenset[str], where: str) -> None:
        for k in d:
            if k not in known:
                raise UserError(f"{self.path}: {where}: unknown key {k!r}, expected one of "
                                f"{', '.join(sorted(known))}")
