"""NUMA topology: which node each CPU and each page frame belongs to, and what a copy costs.

Models: the firmware-described topology the kernel reads at boot
(``cpu_to_node()``, ``page_to_nid()``/``folio_nid()``, the node spans of
``pg_data_t``) and, model-only, what copying one page between two nodes
costs the CPU that copies it (``copy_page`` under ``move_to_new_folio``).

Invariants this module owns:
  - Nodes own contiguous pfn ranges in node order; node 0 starts at pfn 0,
    so a one-node machine has the page frames it always had.
  - Every CPU is on exactly one node.  A profile lists its nodes' CPU counts
    in CPU order.  A machine booted with fewer CPUs (``--smp``) has the first
    ones online, as with ``maxcpus=``; one booted with more spreads them over
    the same nodes in blocks of the same proportions.  A node may have no
    CPU online (a memory-only node, as Linux allows); it keeps its memory.
  - The copy cost is ``latency + PAGE_SIZE / bandwidth`` with the local
    figures when both pages are on one node, the remote ones otherwise.

# MODEL: one distance class between nodes (no SLIT table: every remote node
# is as far as every other); the copy is the only cost that depends on nodes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from minikernel.hw.mmu import PAGE_SIZE


class NumaTopology:
    """The nodes of one machine.

    nr_nodes:    number of nodes (``nr_online_nodes``)
    cpu_node:    cpu -> node (``cpu_to_node()``)
    node_start:  node -> first pfn; ``node_pages`` node -> page frames
    local_copy_ns, remote_copy_ns: copying one page within a node / between two
    """

    __slots__ = ("nr_nodes", "cpu_node", "node_start", "node_pages", "local_copy_ns",
                 "remote_copy_ns", "_node_size")

    def __init__(self, nr_cpus: int, mem_pages: int, node_cpus: Sequence[int] | None,
                 node_pages: Sequence[int] | None, *, local_gbps: float, local_latency_ns: float,
                 remote_gbps: float, remote_latency_ns: float) -> None:
        cpus = list(node_cpus) if node_cpus else [nr_cpus]
        n = len(cpus)
        self.nr_nodes = n
        if sum(cpus) >= nr_cpus:
            # --smp N below the profile's count: CPUs 0..N-1 online, as with
            # maxcpus=N (so a small machine has all its CPUs on node 0).
            self.cpu_node = [node for node, c in enumerate(cpus) for _ in range(c)][:nr_cpus]
        else:
            # --smp above it: the same nodes, CPUs spread in blocks of the profile's
            # proportions (the model's extrapolation: no such machine exists).
            total = sum(cpus)
            bounds = []
            acc = 0
            for c in cpus:
                acc += c
                bounds.append(acc * nr_cpus / total)
            self.cpu_node = [min(n - 1, bisect_right(bounds, i)) for i in range(nr_cpus)]
        pages = list(node_pages) if node_pages else [mem_pages // n + (i < mem_pages % n)
                                                     for i in range(n)]
        self.node_pages = pages
        starts = []
        acc = 0
        for p in pages:
            starts.append(acc)
            acc += p
        self.node_start = starts
        # Nodes of one size (the usual even split): node_start[n] == n * size, so
        # pfn_to_nid() divides; 0 when they differ (it bisects node_start).
        self._node_size = pages[0] if pages[0] and all(p == pages[0] for p in pages) else 0
        self.local_copy_ns = local_latency_ns + PAGE_SIZE / local_gbps
        self.remote_copy_ns = remote_latency_ns + PAGE_SIZE / remote_gbps

    def pfn_to_nid(self, pfn: int) -> int:
        """Models: page_to_nid() / folio_nid(): the node a page frame belongs to."""
        if self.nr_nodes == 1:
            return 0
        size = self._node_size
        if size:
            return pfn // size
        return bisect_right(self.node_start, pfn) - 1

    def node_cpus(self, node: int) -> list[int]:
        """Models: cpumask_of_node(): the CPUs of *node*."""
        return [c for c, nd in enumerate(self.cpu_node) if nd == node]

    def copy_ns(self, src_nid: int, dst_nid: int) -> float:
        """Model-only: what copying one page from *src_nid* to *dst_nid* costs the copying CPU."""
        return self.local_copy_ns if src_nid == dst_nid else self.remote_copy_ns

    def as_dict(self) -> dict:
        """Model-only: the topology for reports."""
        return {"nodes": self.nr_nodes,
                "cpus": [len(self.node_cpus(n)) for n in range(self.nr_nodes)],
                "pages": list(self.node_pages)}
