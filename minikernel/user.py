"""User space: what a simulated program can do, each call entering the kernel as a syscall would.

Model-only.  A :class:`Process` handle wraps a task; its methods run on the
task's CPU (switching to it first) and call the kernel-named functions in
``mm/``.  Loads and stores go through the CPU's TLB.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import TYPE_CHECKING

from minikernel import sched
from minikernel.hw.cpu import (
    S_main,
    symbol_id,
)
from minikernel.hw.mmu import PAGE_SIZE
from minikernel.mm.madvise import MADV_DONTNEED, MADV_PAGEOUT, do_madvise
from minikernel.mm.memory import access_user
from minikernel.mm.mempolicy import (
    MPOL_BIND,
    MPOL_DEFAULT,
    MPOL_INTERLEAVE,
    MPOL_LOCAL,
    MPOL_MF_MOVE,
    MPOL_MF_MOVE_ALL,
    MPOL_MF_STRICT,
    MPOL_PREFERRED,
    do_mbind,
    do_set_mempolicy,
    kernel_migrate_pages,
)
from minikernel.mm.migrate import do_pages_move, do_pages_stat
from minikernel.mm.mm_types import TaskStruct
from minikernel.mm.mmap import (
    MAP_ANONYMOUS,
    MAP_PRIVATE,
    MAP_SHARED,
    PROT_READ,
    PROT_WRITE,
    do_mmap,
    do_munmap,
)
from minikernel.mm.mprotect import do_mprotect_pkey
from minikernel.mm.mremap import do_mremap
from minikernel.mm.vmscan import try_to_free_pages

if TYPE_CHECKING:
    from minikernel.machine import Machine

__all__ = ["Process", "MAP_ANONYMOUS", "MAP_PRIVATE", "MAP_SHARED", "PROT_READ", "PROT_WRITE",
           "MADV_DONTNEED", "MADV_PAGEOUT", "PAGE_SIZE", "MPOL_DEFAULT", "MPOL_PREFERRED",
           "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_LOCAL", "MPOL_MF_STRICT", "MPOL_MF_MOVE",
           "MPOL_MF_MOVE_ALL", "migratepages"]


def _nodemask(nodes: int | Sequence[int]) -> int:
    """A node mask from an int mask or a list of node numbers."""
    if isinstance(nodes, int):
        return nodes
    mask = 0
    for n in nodes:
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"node {n!r}: expected a node number >= 0")
        mask |= 1 << n
    return mask


class Process:
    """A user-space handle on one task.

    task: the TaskStruct it drives
    """

    __slots__ = ("task",)

    def __init__(self, task: TaskStruct) -> None:
        self.task = task

    @classmethod
    def spawn(cls, machine: Machine, comm: str = "a.out", cpu: int = 0) -> Process:
        """A new process on *cpu*."""
        return cls(sched.create_process(machine, comm, cpu))

    # Introspection

    @property
    def mm(self):
        return self.task.mm

    @property
    def cpu(self) -> int:
        return self.task.cpu.id

    # Syscalls

    def _enter(self, name: str, start: int = 0, length: int = 0, call: str | None = None):
        cpu = sched.run_on(self.task)
        cpu.sym = symbol_id(name)
        m = self.task.machine
        for sym in m.arch.syscall_entry_syms:  # arm64 el0_svc; x86 entry_SYSCALL_64, do_syscall_64
            cpu.charge(sym, m.kernel_ns[sym])
        enter = m.observers.syscall_enter
        if enter is not None:
            enter(self.task, call or name, start, length)
        return cpu

    def _leave(self, cpu) -> None:
        cpu.sym = S_main
        ret = self.task.machine.observers.syscall_return
        if ret is not None:
            ret(self.task)

    def mmap(self, length: int, prot: int = PROT_READ | PROT_WRITE,
             flags: int = MAP_PRIVATE | MAP_ANONYMOUS) -> int:
        cpu = self._enter("do_mmap")
        try:
            return do_mmap(self.task, length, prot, flags)
        finally:
            self._leave(cpu)

    def munmap(self, addr: int, length: int) -> None:
        cpu = self._enter("do_munmap", addr, length)
        try:
            do_munmap(self.task, addr, length)
        finally:
            san = self.task.machine.sanitizer
            if san is not None:
                san.dropped(self.task, addr, length, zero=False)
            self._leave(cpu)

    def mprotect(self, addr: int, length: int, prot: int) -> None:
        cpu = self._enter("do_mprotect_pkey", addr, length)
        try:
            do_mprotect_pkey(self.task, addr, length, prot)
        finally:
            self._leave(cpu)

    def madvise(self, addr: int, length: int, advice: int) -> int:
        cpu = self._enter("do_madvise_dontneed" if advice == MADV_DONTNEED else "do_madvise",
                          addr, length)
        try:
            return do_madvise(self.task, addr, length, advice)
        finally:
            san = self.task.machine.sanitizer
            if san is not None and advice == MADV_DONTNEED:
                san.dropped(self.task, addr, length, zero=True)
            self._leave(cpu)

    def mremap(self, addr: int, length: int) -> int:
        """Move the mapping [addr, addr+length) (exactly one VMA); returns its new address."""
        cpu = self._enter("do_mremap", addr, length)
        new = None
        try:
            new = do_mremap(self.task, addr, length)
            return new
        finally:
            san = self.task.machine.sanitizer
            if san is not None and new is not None:
                san.mremapped(self.task, addr, length, new)
            self._leave(cpu)

    def reclaim(self, nr_pages: int) -> int:
        """Direct reclaim of *nr_pages* from the LRU, as memory pressure would trigger."""
        cpu = self._enter("try_to_free_pages")
        try:
            return try_to_free_pages(self.task, nr_pages)
        finally:
            self._leave(cpu)

    def fork(self, cpu: int, comm: str | None = None) -> Process:
        c = self._enter("kernel_clone", call="fork")
        child = None
        try:
            child = sched.do_fork(self.task, comm or self.task.comm, cpu)
            return Process(child)
        finally:
            san = self.task.machine.sanitizer
            if san is not None and child is not None:
                san.forked(self.task, child)
            self._leave(c)

    def clone_thread(self, cpu: int, comm: str | None = None) -> Process:
        c = self._enter("kernel_clone")
        try:
            return Process(sched.clone_thread(self.task, comm or self.task.comm, cpu))
        finally:
            self._leave(c)

    def move_to(self, cpu: int) -> None:
        sched.migrate_task(self.task, cpu)

    # NUMA (CONFIG_MIGRATION syscalls; ENOSYS without it)

    def _need_migration(self, call: str) -> None:
        if not self.task.machine.migration:
            raise OSError(errno.ENOSYS, f"{call}: CONFIG_MIGRATION is not set")

    def set_mempolicy(self, mode: int, nodes: int | Sequence[int] = 0) -> None:
        """set_mempolicy(2): the task's policy for its future allocations."""
        cpu = self._enter("do_set_mempolicy", call="set_mempolicy")
        try:
            do_set_mempolicy(self.task, mode, _nodemask(nodes))
        finally:
            self._leave(cpu)

    def mbind(self, addr: int, length: int, mode: int, nodes: int | Sequence[int] = 0,
              flags: int = 0) -> int:
        """mbind(2): set the policy of a range; MPOL_MF_MOVE(_ALL) also moves its pages.

        Returns the number of pages that could not be moved.  Raises
        ValueError for what the kernel answers -EINVAL/-EFAULT.
        """
        if flags & (MPOL_MF_MOVE | MPOL_MF_MOVE_ALL):
            self._need_migration("mbind(MPOL_MF_MOVE)")
        cpu = self._enter("do_mbind", addr, length, call="mbind")
        try:
            return do_mbind(self.task, addr, length, mode, _nodemask(nodes), flags)
        finally:
            self._leave(cpu)

    def move_pages(self, addrs: Sequence[int], nodes: Sequence[int] | None = None,
                   pid: Process | None = None) -> list[int]:
        """move_pages(2): move each page to its node (None: only report where each page is).

        Returns the status array: a node number, or -ENOENT / -EFAULT.
        *pid*: another process whose pages move (default: this one).
        """
        self._need_migration("move_pages")
        target = (pid or self).task
        if nodes is not None:
            if len(nodes) != len(addrs):
                raise ValueError(f"move_pages: {len(addrs)} pages but {len(nodes)} nodes")
            nr = self.task.machine.numa.nr_nodes
            bad = [n for n in nodes if not isinstance(n, int) or not 0 <= n < nr]
            if bad:
                raise ValueError(f"move_pages: node {bad[0]!r}: expected 0..{nr - 1} "
                                 "(-ENODEV upstream)")
        cpu = self._enter("do_pages_move" if nodes is not None else "do_pages_stat",
                          call="move_pages")
        try:
            if nodes is None:
                return do_pages_stat(self.task, target, list(addrs))
            return do_pages_move(self.task, target, list(addrs), list(nodes))
        finally:
            self._leave(cpu)

    def migrate_pages(self, old_nodes: int | Sequence[int], new_nodes: int | Sequence[int],
                      pid: Process | None = None) -> int:
        """migrate_pages(2): move a process's pages on *old_nodes* to *new_nodes*.

        Returns the number of pages not moved.
        """
        self._need_migration("migrate_pages")
        cpu = self._enter("kernel_migrate_pages", call="migrate_pages")
        try:
            return kernel_migrate_pages(self.task, (pid or self).task, _nodemask(old_nodes),
                                        _nodemask(new_nodes))
        finally:
            self._leave(cpu)

    # Loads and stores

    def read(self, addr: int) -> int:
        task = self.task
        # sched.run_on(task), inlined (once per load of the benchmark loop)
        cpu = task.cpu
        if cpu.current is not task:
            sched.context_switch(cpu, task)
        cpu.sym = S_main
        v = access_user(task, addr, False)
        san = task.machine.sanitizer
        if san is not None:
            san.user_read(task, addr, v)
        return v

    def write(self, addr: int, value: int) -> None:
        """Store *value* (a 64-bit word: 0 <= value < 2**64) into the page at *addr*."""
        if not 0 <= value < 1 << 64:
            raise ValueError(f"value {value!r} does not fit a 64-bit word")
        cpu = sched.run_on(self.task)
        cpu.sym = S_main
        access_user(self.task, addr, True, value)
        san = self.task.machine.sanitizer
        if san is not None:
            san.user_wrote(self.task, addr, value)


def migratepages(proc: Process, from_nodes: int | Sequence[int],
                 to_nodes: int | Sequence[int], by: Process | None = None) -> int:
    """The numactl package's ``migratepages PID FROM TO``: migrate_pages(2) on *proc*.

    *by*: the process that makes the call (default: *proc* itself).
    Returns the number of pages not moved.
    """
    return (by or proc).migrate_pages(from_nodes, to_nodes, pid=proc)
