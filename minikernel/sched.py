"""Tasks on CPUs: creating processes and threads, fork, migration, context switch.

Model-only scheduler.  Kernel counterparts of the pieces: kernel/fork.c
(``copy_process``), kernel/sched/core.c (``context_switch``); the
arch-specific half of a context switch is ``arch.switch_mm``.

Invariants this module owns:
  - Exactly one task is current on a CPU at a time; a task's operations run
    on its own CPU, which is made to run it first (:func:`run_on`).
  - Switching between tasks of different mms goes through ``switch_mm``
    (to None: idle, which x86 enters lazily), and every switch through the
    arch's ``switch_to`` (arm64: the DSB of ``__switch_to``).

# MODEL: no preemption or time slices: a CPU switches only when a scenario
# or workload runs another task there or moves a task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minikernel.mm.fork import dup_mmap
from minikernel.mm.mm_types import MmStruct, TaskStruct, TlbflushUnmapBatch

if TYPE_CHECKING:
    from minikernel.hw.cpu import Cpu
    from minikernel.machine import Machine


def _new_task(m: Machine, comm: str, mm: MmStruct, cpu: int) -> TaskStruct:
    if not 0 <= cpu < m.nr_cpus:
        raise ValueError(f"CPU {cpu} is not online (0..{m.nr_cpus - 1})")
    t = TaskStruct(m.alloc_pid(), comm, mm, m, TlbflushUnmapBatch(m.arch.new_batch()),
                   m.cpus[cpu])
    mm.mm_users += 1
    m.tasks.append(t)
    return t


def create_process(m: Machine, comm: str, cpu: int = 0) -> TaskStruct:
    """A new single-threaded process with an empty mm, running on *cpu*."""
    t = _new_task(m, comm, MmStruct(m, m.alloc_asid()), cpu)
    run_on(t)
    return t


def clone_thread(parent: TaskStruct, comm: str, cpu: int) -> TaskStruct:
    """Models: copy_process() with CLONE_VM: a thread sharing *parent*'s mm, running on *cpu*."""
    t = _new_task(parent.machine, comm, parent.mm, cpu)
    run_on(t)
    return t


def do_fork(parent: TaskStruct, comm: str, cpu: int) -> TaskStruct:
    """Models: kernel_clone() without CLONE_VM: a child process with a copy-on-write mm."""
    m = parent.machine
    run_on(parent)
    child = _new_task(m, comm, MmStruct(m, m.alloc_asid()), cpu)
    dup_mmap(parent, child.mm)
    run_on(child)
    return child


def context_switch(cpu: Cpu, next: TaskStruct | None) -> None:
    """Models: context_switch(): make *next* current on *cpu* (None: go idle)."""
    prev = cpu.current
    if prev is next:
        return
    prev_mm = prev.mm if prev is not None else None
    next_mm = next.mm if next is not None else None
    cpu.current = next
    m = (next or prev).machine
    if prev_mm is not next_mm:
        m.arch.switch_mm(cpu, prev_mm, next_mm)
    m.arch.switch_to(cpu, prev, next)


def run_on(task: TaskStruct) -> Cpu:
    """Make *task* the current task of its CPU; returns that CPU."""
    cpu = task.cpu
    if cpu.current is not task:
        context_switch(cpu, task)
    return cpu


def migrate_task(task: TaskStruct, cpu: int) -> None:
    """Move *task* to another CPU; the old CPU goes idle if it was running it."""
    m = task.machine
    if not 0 <= cpu < m.nr_cpus:
        raise ValueError(f"CPU {cpu} is not online (0..{m.nr_cpus - 1})")
    old = task.cpu
    if old.current is task:
        context_switch(old, None)
    task.cpu = m.cpus[cpu]
    run_on(task)
