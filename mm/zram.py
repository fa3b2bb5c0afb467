"""zram: the compressed-RAM block device the benchmark swaps to.

Models: drivers/block/zram/zram_drv.c (``__zram_bvec_write``,
``zram_bvec_read``), kept in mm/ next to the swap code that is its only
user here.  Contents really are stored and read back, so swap round trips
can lose data only if the kernel model loses it.

# MODEL: every page is "same-filled" (a page's contents are one value, see
# minikernel.hw.memory), which is also true of the seed benchmark's memset
# buffer; upstream zram then stores just the fill pattern and refills the page
# with memset64() on read -- which is why memset64 appears in the published
# profile.  No compression is modelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minikernel.hw.cpu import (
    S___zram_bvec_write,
    S_memset64,
    S_zram_bvec_read,
    S_zram_slot_lock,
)

if TYPE_CHECKING:
    from minikernel.hw.cpu import Cpu
    from minikernel.machine import Machine


class Zram:
    """One zram device.

    table: slot index -> the page contents stored there
    """

    __slots__ = ("machine", "table")

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.table: dict[int, int] = {}

    def __zram_bvec_write(self, cpu: Cpu, index: int, pfn: int) -> None:
        """Models: __zram_bvec_write() (zram_write_page() in 6.x): store one page.

        The cost is the scan that finds the page same-filled.
        """
        m = self.machine
        k = m.kns
        prof = cpu.ns
        ns = k[S_zram_slot_lock]              # cpu.charge(), inlined
        cpu.now += ns
        prof[S_zram_slot_lock] += ns
        ns = k[S___zram_bvec_write]           # cpu.charge(), inlined
        cpu.now += ns
        prof[S___zram_bvec_write] += ns
        self.table[index] = m.mem.data[pfn]

    def zram_bvec_read(self, cpu: Cpu, index: int, pfn: int) -> None:
        """Models: zram_bvec_read() -> zram_read_page(): refill the page with memset64()."""
        m = self.machine
        k = m.kns
        prof = cpu.ns
        ns = k[S_zram_bvec_read]                    # cpu.charge(), inlined
        cpu.now += ns
        prof[S_zram_bvec_read] += ns
        ns = k[S_zram_slot_lock]                    # cpu.charge(), inlined
        cpu.now += ns
        prof[S_zram_slot_lock] += ns
        ns = k[S_memset64]                          # cpu.charge(), inlined
        cpu.now += ns
        prof[S_memset64] += ns
        m.mem.data[pfn] = self.table[index]

    def zram_slot_free_notify(self, index: int) -> None:
        """Models: zram_slot_free_notify(): the swap slot is free, drop what it held."""
        self.table.pop(index, None)

    # Public names that survive Python's name mangling of the kernel's "__" prefix.
    zram_bvec_write = __zram_bvec_write
