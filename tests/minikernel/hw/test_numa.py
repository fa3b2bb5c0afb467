"""minikernel/hw/numa.py: which node a page frame belongs to."""

import pytest

from minikernel.hw.numa import NumaTopology


@pytest.mark.parametrize("node_pages", [None, (100, 100, 100, 100), (1, 250, 49, 100),
                                        (200, 200)])
def test_pfn_to_nid_names_the_node_whose_frames_hold_the_pfn(node_pages):
    """Equal nodes divide, unequal ones bisect: both give the node holding each frame."""
    nodes = len(node_pages) if node_pages else 4
    numa = NumaTopology(8, 400, [8 // nodes] * nodes, node_pages, local_gbps=10.0,
                        local_latency_ns=0.0, remote_gbps=5.0, remote_latency_ns=100.0)
    want = [n for n, pages in enumerate(numa.node_pages) for _ in range(pages)]
    assert [numa.pfn_to_nid(pfn) for pfn in range(400)] == want
