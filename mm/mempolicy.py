"""NUMA memory policies: where a page is allocated, and the syscalls that move pages.

Models: mm/mempolicy.c (Linux 6.x): ``policy_node``/``policy_nodemask``
with ``interleave_nid``, ``vma_alloc_folio``, ``do_mbind`` (mbind(2) with
MPOL_MF_MOVE), ``do_set_mempolicy`` and ``kernel_migrate_pages`` ->
``do_migrate_pages`` (migrate_pages(2)); the page lists they build are
migrated by mm/migrate.py's ``migrate_pages``.

Invariants this module owns:
  - A machine with one node never consults a policy: every allocation is
    node 0's, as before nodes existed.
  - Policies: MPOL_DEFAULT/MPOL_LOCAL allocate on the allocating CPU's node
    (falling back to the others), MPOL_PREFERRED on its node (falling
    back), MPOL_BIND only on its nodes (the nearest = lowest-numbered one
    allowed, unless the local node is allowed), MPOL_INTERLEAVE on the
    nodes in turn by page offset in the VMA.  A VMA's policy (mbind) wins
    over the task's (set_mempolicy).
  - Moving pages isolates each folio from the LRU before migrate_pages()
    sees it, and puts back whatever it did not migrate (putback_movable_pages).

# MODEL: node masks are ints (bit n = node n); no cpusets, no
# MPOL_F_STATIC_NODES/RELATIVE_NODES, no weighted interleave; MPOL_MF_MOVE
# moves folios mapped once only, MPOL_MF_MOVE_ALL any (no capability check).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from minikernel.compat import SLOTS
from minikernel.hw.mmu import PAGE_SHIFT, PAGE_SIZE, pte_pfn, pte_present

if TYPE_CHECKING:
    from minikernel.mm.mm_types import Folio, TaskStruct, VmAreaStruct

# include/uapi/linux/mempolicy.h
MPOL_DEFAULT = 0
MPOL_PREFERRED = 1
MPOL_BIND = 2
MPOL_INTERLEAVE = 3
MPOL_LOCAL = 4
MPOL_MODES = {"default": MPOL_DEFAULT, "preferred": MPOL_PREFERRED, "bind": MPOL_BIND,
              "interleave": MPOL_INTERLEAVE, "local": MPOL_LOCAL}
MPOL_MF_STRICT = 1 << 0
MPOL_MF_MOVE = 1 << 1
MPOL_MF_MOVE_ALL = 1 << 2


@dataclass(frozen=True, **SLOTS)
class Mempolicy:
    """struct mempolicy (include/linux/mempolicy.h).

    mode:  MPOL_*
    nodes: the node mask (bit n = node n); 0 for MPOL_DEFAULT / MPOL_LOCAL
    """

    mode: int
    nodes: int = 0


def check_policy(machine, mode: int, nodes: int) -> None:
    """Models: mpol_new()'s checks: raises ValueError (-EINVAL) for a mode/nodes it rejects."""
    if mode not in MPOL_MODES.values():
        raise ValueError(f"mode {mode}: expected one of MPOL_DEFAULT..MPOL_LOCAL (0..4)")
    valid = (1 << machine.numa.nr_nodes) - 1
    if nodes & ~valid:
        raise ValueError(f"nodemask {nodes:#x}: names a node the machine does not have "
                         f"(nodes 0..{machine.numa.nr_nodes - 1})")
    if mode in (MPOL_DEFAULT, MPOL_LOCAL):
        if nodes:
            raise ValueError(f"mode {mode}: takes no nodes, found nodemask {nodes:#x}")
    elif not nodes:
        raise ValueError(f"mode {mode}: needs a non-empty nodemask")


def interleave_nid(pol: Mempolicy, vma: VmAreaStruct | None, addr: int) -> int:
    """Models: interleave_nid(): the (offset mod weight)-th node of the mask, by page offset."""
    nodes = [n for n in range(pol.nodes.bit_length()) if pol.nodes >> n & 1]
    off = vma.vm_pgoff + ((addr - vma.vm_start) >> PAGE_SHIFT) if vma is not None else 0
    return nodes[off % len(nodes)]


def policy_node(current: TaskStruct, vma: VmAreaStruct | None, addr: int) -> tuple[int, int]:
    """Models: policy_node() + policy_nodemask(): (preferred node, nodemask or 0 for any)."""
    numa = current.machine.numa
    local = numa.cpu_node[current.cpu.id]
    pol = (vma.vm_policy if vma is not None else None) or current.mempolicy
    if pol is None or pol.mode in (MPOL_DEFAULT, MPOL_LOCAL):
        return local, 0
    if pol.mode == MPOL_PREFERRED:
        return (pol.nodes & -pol.nodes).bit_length() - 1, 0
    if pol.mode == MPOL_INTERLEAVE:
        return interleave_nid(pol, vma, addr), 0
    # MPOL_BIND: the local node if allowed, else the first allowed one.
    if pol.nodes >> local & 1:
        return local, pol.nodes
    return (pol.nodes & -pol.nodes).bit_length() - 1, pol.nodes


def vma_alloc_folio(current: TaskStruct, vma: VmAreaStruct | None, addr: int,
                    zero: bool) -> Folio:
    """Models: vma_alloc_folio(): allocate a page for *addr* of *vma* where its policy says.

    *vma* None: a page for the task itself (shmem's page cache: the task's
    policy; # MODEL: no shared policy of the shmem object).
    """
    m = current.machine
    if m.numa.nr_nodes == 1:
        return m.page_alloc.folio_alloc(current.cpu, zero)
    nid, mask = policy_node(current, vma, addr)
    return m.page_alloc.folio_alloc(current.cpu, zero, nid, mask)


def do_set_mempolicy(current: TaskStruct, mode: int, nodes: int) -> None:
    """Models: do_set_mempolicy(): the task's policy for future allocations."""
    check_policy(current.machine, mode, nodes)
    current.mempolicy = None if mode == MPOL_DEFAULT else Mempolicy(mode, nodes)


def _folio_at(current: TaskStruct, vma: VmAreaStruct, addr: int) -> Folio | None:
    pte = vma.vm_mm.pgd.get(addr >> PAGE_SHIFT, 0)
    if not pte_present(pte):
        return None
    return current.machine.page_alloc.mem_map[pte_pfn(pte)]


def _target_nid(pol: Mempolicy | None, current: TaskStruct, vma: VmAreaStruct,
                addr: int) -> int | None:
    """Where a folio mapped at *addr* belongs under *pol*, or None if it may stay anywhere."""
    if pol is None or pol.mode in (MPOL_DEFAULT, MPOL_LOCAL, MPOL_PREFERRED):
        return None
    if pol.mode == MPOL_INTERLEAVE:
        return interleave_nid(pol, vma, addr)
    return (pol.nodes & -pol.nodes).bit_length() - 1


def do_mbind(current: TaskStruct, start: int, length: int, mode: int, nodes: int,
             flags: int) -> int:
    """Models: do_mbind(): set the policy of [start, start+length) and, with MPOL_MF_MOVE, move pages.

    The range must be mapped (-EFAULT otherwise, ValueError here).  With
    MPOL_MF_MOVE(_ALL), queue_pages_range() isolates every folio mapped in
    the range that is on a node the policy does not allow (mapped only once
    unless MOVE_ALL) and migrate_pages() moves it to the policy's node
    (MPOL_BIND: the first node of the mask; interleave: by offset).  Returns
    the number of folios not migrated (0 on success; the kernel returns
    -EIO for those with MPOL_MF_STRICT).
    """
    from minikernel.mm.migrate import MIGRATE_SYNC, MR_MEMPOLICY_MBIND, migrate_pages_to_nodes
    from minikernel.mm.mmap import vmas_in_range
    m = current.machine
    check_policy(m, mode, nodes)
    if flags & ~(MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL):
        raise ValueError(f"flags {flags:#x}: expected MPOL_MF_STRICT|MPOL_MF_MOVE|"
                         "MPOL_MF_MOVE_ALL")
    end = start + ((length + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
    vmas = vmas_in_range(current.mm, start, end)
    covered = sum(min(v.vm_end, end) - max(v.vm_start, start) for v in vmas)
    if start & (PAGE_SIZE - 1) or covered != end - start:
        raise ValueError(f"mbind({start:#x}, {length:#x}): the range is not mapped (-EFAULT)")
    pol = None if mode == MPOL_DEFAULT else Mempolicy(mode, nodes)
    for vma in vmas:
        vma.vm_policy = pol                  # MODEL: no VMA split at the range's edges
    if not flags & (MPOL_MF_MOVE | MPOL_MF_MOVE_ALL) or pol is None:
        return 0
    numa = m.numa
    moves: list[tuple[Folio, int]] = []
    seen: set[int] = set()
    for vma in vmas:
        for addr in range(max(vma.vm_start, start), min(vma.vm_end, end), PAGE_SIZE):
            folio = _folio_at(current, vma, addr)
            if folio is None or folio.pfn in seen:
                continue
            nid = _target_nid(pol, current, vma, addr)
            if nid is None or pol.nodes >> numa.pfn_to_nid(folio.pfn) & 1 and (
                    pol.mode != MPOL_INTERLEAVE or numa.pfn_to_nid(folio.pfn) == nid):
                continue
            if folio.mapcount > 1 and not flags & MPOL_MF_MOVE_ALL:
                continue
            seen.add(folio.pfn)
            moves.append((folio, nid))
    return migrate_pages_to_nodes(current, moves, MIGRATE_SYNC, MR_MEMPOLICY_MBIND)


def kernel_migrate_pages(current: TaskStruct, target: TaskStruct, old_nodes: int,
                         new_nodes: int) -> int:
    """Models: kernel_migrate_pages() -> do_migrate_pages(): move *target*'s pages between node sets.

    Pairs the nodes of *old_nodes* with those of *new_nodes* in order (the
    n-th source node's pages go to the n-th destination, the last one
    repeating: a simplification of do_migrate_pages()'s remapping) and
    moves every folio of *target*'s mm on a source node.  Returns the number
    not migrated.  Folios mapped more than once move too (MPOL_MF_MOVE_ALL,
    as for a privileged caller).
    """
    from minikernel.mm.migrate import MIGRATE_SYNC, MR_SYSCALL, migrate_pages_to_nodes
    m = current.machine
    for mask, what in ((old_nodes, "old_nodes"), (new_nodes, "new_nodes")):
        if not mask:
            raise ValueError(f"{what}: needs a non-empty nodemask")
        check_policy(m, MPOL_BIND, mask)
    src = [n for n in range(old_nodes.bit_length()) if old_nodes >> n & 1]
    dst = [n for n in range(new_nodes.bit_length()) if new_nodes >> n & 1]
    to = {s: dst[min(i, len(dst) - 1)] for i, s in enumerate(src)}
    numa = m.numa
    moves: list[tuple[Folio, int]] = []
    seen: set[int] = set()
    for vma in target.mm.mmap:
        for addr in range(vma.vm_start, vma.vm_end, PAGE_SIZE):
            folio = _folio_at(current, vma, addr)
            if folio is None or folio.pfn in seen:
                continue
            nid = to.get(numa.pfn_to_nid(folio.pfn))
            if nid is None or nid == numa.pfn_to_nid(folio.pfn):
                continue
            seen.add(folio.pfn)
            moves.append((folio, nid))
    return migrate_pages_to_nodes(current, moves, MIGRATE_SYNC, MR_SYSCALL)
