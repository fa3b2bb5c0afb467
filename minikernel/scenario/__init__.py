"""Scenario files: a machine, tasks and an ordered list of steps, some paused mid-kernel.

Model-only.  A scenario (TOML; the format is documented in README.md) names
a machine (arch, CPUs or profile, Kconfig assignments over the arch
defconfig), tasks (name, CPU, process -- tasks of one process are threads
sharing its mm), and steps: one task doing one operation.  A step may be
*paused*: its operation (a reclaim, a migration or a syscall) stops at a
named probe point -- e.g. right after try_to_unmap_one() cleared a PTE and
deferred its flush -- while a nested list of steps runs on other CPUs, then
resumes.  The file states what the TLB sanitizer must find:
``expect = "clean"`` or a list of violation kinds.

The package, by concern:

    model   PROBE_POINTS, LOCKED_PROBES, Step, TaskDecl, Scenario, ScenarioResult, Infeasible
    ops     the op registry: each op declared once (keys and their types,
            mmap_lock need, page-table locks, pausable, footprint for the
            explorer, implementation, README text); OPS and PAUSABLE derive from it
    parse   load_scenario(), parse_scenario(): TOML -> Scenario, or one UserError line
    locks   the lock model: would a nested step sleep on a lock the paused op holds?
    run     run_scenario(), ScenarioRun, machine_config(), override_config()
    write   to_toml(): a Scenario back as a file (the explorer's findings)

Invariants this package owns:
  - Loading never runs anything; every problem with the file is a UserError
    naming the file, the key and what was expected (exit 2 in the CLI).
  - A run is deterministic: a fresh Machine per run, steps in file order,
    values written default to a fixed function of the step's position.
  - Nested steps never run on the paused task's CPU (that CPU is inside the
    paused operation; the model has no preemption).
  - Locks the paused operation holds are honoured (``locks``): a nested step
    that would sleep -- on the mmap_lock of the same mm, on the page-table
    lock of the PTE table a locked probe is in (split per table), or in a
    fault on a folio reclaim or migration holds locked -- is retried after
    the paused operation returns, which is when the kernel's sleeper would wake.
  - Expectations hold when no check step failed and the set of violation
    kinds found equals the set expected.
"""

from __future__ import annotations

from minikernel.scenario.model import (
    LOCKED_PROBES,
    PROBE_POINTS,
    Infeasible,
    Scenario,
    ScenarioResult,
    Step,
    TaskDecl,
)
from minikernel.scenario.ops import KEYS, OPS, PAUSABLE, REGISTRY, Key, Op
from minikernel.scenario.parse import load_scenario, parse_scenario, scenario_arches
from minikernel.scenario.run import ScenarioRun, machine_config, override_config, run_scenario
from minikernel.scenario.write import to_toml

__all__ = ["KEYS", "LOCKED_PROBES", "OPS", "PAUSABLE", "PROBE_POINTS", "REGISTRY", "Infeasible",
           "Key", "Op", "Scenario", "ScenarioResult", "ScenarioRun", "Step", "TaskDecl",
           "load_scenario", "machine_config", "override_config", "parse_scenario",
           "run_scenario", "scenario_arches", "to_toml"]
