"""The page allocator: hands out page frames and poisons the ones freed.

Models: mm/page_alloc.c (``__alloc_pages``, ``free_unref_folios``) with page
poisoning on (CONFIG_PAGE_POISONING): a freed page's contents are
overwritten, so a CPU that still reads it through a stale TLB entry reads
poison, and one that writes it corrupts whoever gets the page next.  Pages
come from a node: the preferred one first, then (unless the caller binds
it to its nodes, __GFP_THISNODE or MPOL_BIND) the others in node order, as
the zonelist fallback does.

Invariants this module owns:
  - A pfn is either free (on its node's free list) or owned by exactly one folio.
  - Freed pages are reused last-in first-out, so a use-after-free meets the
    page's next owner quickly -- the way per-CPU free lists behave.
  - A one-node machine hands out exactly the frames, in exactly the order,
    it did before nodes existed (``free_list`` is node 0's list).

# MODEL: one zone per node, no watermarks; running out of frames is an error,
# not reclaim.  The fallback order is node order, not distance order.  So an
# allocation inside reclaim never recurses into reclaim (b385d21f27d8 removed
# init_tlb_ubc() for that nesting), and there is no memcg: current->tlb_ubc
# is reset only by the flush, which every modelled path keeps by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from minikernel.hw.cpu import (
    S___alloc_pages,
    S_clear_page,
)
from minikernel.hw.memory import PAGE_POISON
from minikernel.mm.mm_types import (
    AnonVma,
    Folio,
    PG_freed,
    PG_gathered,
    PG_isolated,
    PG_lru,
    PG_swapcache,
)

if TYPE_CHECKING:
    from minikernel.hw.cpu import Cpu
    from minikernel.machine import Machine


class OutOfMemory(RuntimeError):
    """The simulated RAM is exhausted (raise the profile's ``mem_pages``)."""


class PageAllocator:
    """Free page frames of one machine.

    free_lists: node -> its free pfns, reused LIFO; ``free_list`` is node 0's
    mem_map:   pfn -> the Folio currently owning it, None when free (``pfn_folio()``)
    on_free:   the machine's ``folio_free`` hook (minikernel/observe.py; None:
               unobserved), called with each freed folio *before* its
               contents are poisoned
    """

    __slots__ = ("machine", "free_lists", "free_list", "mem_map", "on_free", "_nid", "_node_size")

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        numa = machine.numa
        self._nid = numa.pfn_to_nid
        # Nodes of one size (one node, or the usual even split): pfn_to_nid(pfn)
        # is pfn // size, which free_folio() divides inline; 0 when they differ.
        pages = numa.node_pages
        self._node_size = pages[0] if pages[0] and all(p == pages[0] for p in pages) else 0
        # pfn 0 is never handed out, so a zero pfn is always a bug.
        self.free_lists = []
        for nid in range(numa.nr_nodes):
            start = numa.node_start[nid]
            end = start + numa.node_pages[nid]
            self.free_lists.append(list(range(end - 1, max(start, 1) - 1, -1)))
        self.free_list = self.free_lists[0]
        self.mem_map: list[Folio | None] = [None] * machine.mem.nr_pages
        self.on_free: Callable[[Any, Folio], None] | None = machine.observers.folio_free

    def nr_free(self) -> int:
        """Model-only: free page frames on every node."""
        return sum(len(f) for f in self.free_lists)

    def __alloc_pages(self, cpu: Cpu, nid: int = 0, nodemask: int = 0) -> Folio:
        """Models: __alloc_pages() for one order-0 page: a new, unmapped folio.

        From node *nid*, else (nodemask 0) any node in node order; with a
        *nodemask* only from the nodes in it (MPOL_BIND, __GFP_THISNODE).
        """
        m = self.machine
        ns = m.kns[S___alloc_pages]           # cpu.charge(), inlined
        cpu.now += ns
        cpu.ns[S___alloc_pages] += ns
        lists = self.free_lists
        free = lists[nid]
        if not free:
            free = next((f for n, f in enumerate(lists)
                         if f and (not nodemask or nodemask >> n & 1)), free)
            if not free:
                where = (f"nodes {_nodes(nodemask)}" if nodemask else
                         f"{m.mem.nr_pages} pages")
                raise OutOfMemory(f"simulated RAM exhausted ({where})")
        m.vmstat.pgalloc += 1
        pfn = free.pop()
        folio = Folio(pfn)
        self.mem_map[pfn] = folio
        return folio

    def folio_alloc(self, cpu: Cpu, zero: bool = True, nid: int = 0, nodemask: int = 0) -> Folio:
        """Models: folio_alloc() (+ clear_page when the caller wants a zeroed page).

        *nid*/*nodemask*: where (see __alloc_pages); callers with a VMA get
        them from its memory policy (minikernel.mm.mempolicy.policy_node).
        """
        folio = self.__alloc_pages(cpu, nid, nodemask)
        # MODEL: init_on_alloc=1 (CONFIG_INIT_ON_ALLOC_DEFAULT_ON, a boot
        # setting of the machine profile) zeroes every allocation, which is
        # where clear_page comes from on a swap-in; the contents are then
        # overwritten by the caller, so only the cost is modelled.
        m = self.machine
        if zero or m.profile.init_on_alloc:
            ns = m.kns[S_clear_page]          # cpu.charge(), inlined
            cpu.now += ns
            cpu.ns[S_clear_page] += ns
            m.mem.data[folio.pfn] = 0
        return folio

    def free_folio(self, cpu: Cpu, folio: Folio) -> None:
        """Models: free_unref_folios() for one folio: poison and return the frame.

        Caller's contract: no PTE maps the folio and every TLB flush owed for
        its old mappings has completed (the sanitizer checks the latter).
        """
        flags = folio.flags
        if flags & PG_freed:
            raise AssertionError(f"double free of pfn {folio.pfn}")
        on_free = self.on_free
        if on_free is not None:
            on_free(cpu, folio)
            flags = folio.flags
        folio.flags = flags | PG_freed
        m = self.machine
        pfn = folio.pfn
        m.mem.data[pfn] = PAGE_POISON
        m.vmstat.pgfree += 1
        self.mem_map[pfn] = None
        size = self._node_size
        # pfn_to_nid(pfn), inlined where the nodes are one size (node_start[n] == n * size)
        self.free_lists[pfn // size if size else self._nid(pfn)].append(pfn)


def _nodes(mask: int) -> str:
    return ",".join(str(n) for n in range(mask.bit_length()) if mask >> n & 1)


def folio_put(m: Machine, cpu: Cpu, folio: Folio) -> bool:
    """Models: folio_put() reaching zero: free the folio once nothing holds it.

    Holders are PTEs (mapcount), the swap cache, a shmem page cache slot,
    reclaim's isolation and an mmu_gather (``gathered``); a folio held by none of them leaves its LRU list and
    is freed.  Returns True if it was freed.

    # MODEL: the "references" are derived from those flags instead of a refcount.
    """
    # folio_test_*() as bit tests on the packed flags (a per-page path)
    if folio.mapcount or folio.flags & (PG_freed | PG_swapcache | PG_isolated | PG_gathered):
        return False
    mapping = folio.mapping
    if (mapping is not None and not isinstance(mapping, AnonVma)
            and mapping.i_pages.get(folio.index) is folio):
        return False
    if folio.flags & PG_lru:
        m.lru.del_folio(folio)
    m.page_alloc.free_folio(cpu, folio)
    return True
