"""Physical memory: page frames that hold contents.

Model-only: RAM.  Each page frame holds one integer standing for its whole
contents, so a lost write, a read of freed memory or a leak between
processes is a wrong *value*, not just a counter.

# MODEL: a page's contents are one 64-bit value (think "the page is filled with
# this pattern", which is also what the seed benchmark's memset produces);
# sub-page writes are not modelled.
"""

from __future__ import annotations

from array import array

# What freed pages are filled with (the kernel's page poisoning uses 0xaa bytes).
PAGE_POISON = 0xAAAAAAAAAAAAAAAA


class PhysMem:
    """All page frames of one machine.

    data:     contents of each page frame, indexed by pfn (unsigned 64-bit)
    nr_pages: number of page frames
    """

    __slots__ = ("data", "nr_pages")

    def __init__(self, nr_pages: int) -> None:
        self.nr_pages = nr_pages
        self.data = array("Q", [PAGE_POISON]) * nr_pages
