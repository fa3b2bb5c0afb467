"""Writing a scenario back as TOML (the explorer's findings, for replay).

Model-only.  ``load_scenario(to_toml(sc))`` gives back the same scenario:
keys in the op's declared order (the parser keeps that order in
``Step.args``), values in the file format's spelling.
"""

from __future__ import annotations

import json
from typing import Any

from minikernel.scenario.model import Scenario, Step


def to_toml(sc: Scenario, *, header: str = "") -> str:
    """A scenario as a TOML file ``load_scenario`` reads back to the same scenario."""
    out = []
    for line in header.splitlines():
        out.append(f"# {line}".rstrip())
    if sc.description:
        out.append(f"description = {_toml(sc.description)}")
    out.append(f"expect = {_toml(sc.expect) if sc.expect else _toml('clean')}")
    out.append("")
    out.append("[machine]")
    out.append(f"arch = {_toml(sc.arch)}")
    if sc.profile:
        out.append(f"profile = {_toml(sc.profile)}")
    if sc.cpus is not None:
        out.append(f"cpus = {sc.cpus}")
    out.append(f"config = {_toml(sc.config)}")
    if not sc.sanitizer:
        out.append("sanitizer = false")
    for t in sc.tasks:
        out += ["", "[[task]]", f"name = {_toml(t.name)}", f"cpu = {t.cpu}",
                f"process = {_toml(t.process)}"]
    for st in sc.steps:
        out += ["", "[[step]]"] + _step_lines(st)
        for d in st.during:
            out += ["", "  [[step.during]]"] + ["  " + x for x in _step_lines(d)]
    return "\n".join(out) + "\n"


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v:#x}" if v > 0xFFFF else str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    raise TypeError(v)


def _key(k: str) -> str:
    """A bare TOML key, or a quoted one when TOML would not read it bare."""
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def _step_lines(st: Step) -> list[str]:
    out = [f"task = {_toml(st.task)}", f"op = {_toml(st.op)}"]
    out += [f"{_key(k)} = {_toml(v)}" for k, v in st.args.items()]
    if st.pause_at:
        out.append(f"pause_at = {_toml(st.pause_at)}")
        if st.hit != 1:
            out.append(f"hit = {st.hit}")
    return out
