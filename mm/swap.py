"""Swap: slot allocation, swap counts, the swap cache, and page IO to zram.

Models: mm/swapfile.c (``folio_alloc_swap``, ``swap_duplicate``,
``swap_free``, ``__swap_count``), mm/swap_state.c (``add_to_swap``,
``swap_cache_get_folio``, ``delete_from_swap_cache``) and mm/page_io.c
(``swap_writepage``, ``swap_read_folio``).

Invariants this module owns:
  - ``swap_map[off]`` counts the swap PTEs and shmem page-cache slots that
    name slot *off*; the swap cache holds at most one folio per slot.
  - A slot is released (and zram told) exactly when its count is zero and
    no folio caches it.
  - IO is synchronous (zram is SWP_SYNCHRONOUS_IO): swap_writepage() returns
    with the data stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minikernel.hw.cpu import (
    S_add_to_swap,
    S_swap_cache_lookup,
    S_swap_read_folio,
    S_swap_writepage,
)
from minikernel.mm.mm_types import Folio, PG_dirty, PG_swapcache
from minikernel.mm.zram import Zram

if TYPE_CHECKING:
    from minikernel.hw.cpu import Cpu
    from minikernel.machine import Machine


class SwapInfo:
    """struct swap_info_struct of the one swap device (a zram disk).

    swap_map:   slot -> reference count
    swap_cache: slot -> folio (the swap cache's xarray)
    zram:       the backing device
    enabled:    CONFIG_SWAP (and the device exists)
    """

    __slots__ = ("machine", "swap_map", "swap_cache", "zram", "free_slots", "next_slot",
                 "enabled")

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.swap_map: dict[int, int] = {}
        self.swap_cache: dict[int, Folio] = {}
        self.zram = Zram(machine)
        self.free_slots: list[int] = []
        self.next_slot = 1          # slot 0 holds the swap header upstream
        self.enabled = bool(machine.cfg.SWAP) and bool(machine.cfg.ZRAM)

    # mm/swapfile.c

    def folio_alloc_swap(self) -> int | None:
        """Models: folio_alloc_swap(): a free slot, or None without a swap device."""
        if not self.enabled:
            return None
        if self.free_slots:
            off = self.free_slots.pop()
        else:
            off = self.next_slot
            self.next_slot += 1
        self.swap_map[off] = 0
        return off

    def swap_duplicate(self, off: int) -> None:
        """Models: swap_duplicate(): one more PTE (or shmem slot) names *off*."""
        self.swap_map[off] += 1

    def swap_free(self, off: int) -> None:
        """Models: swap_free(): one reference to *off* is gone."""
        swap_map = self.swap_map
        count = swap_map[off] - 1
        swap_map[off] = count
        # self._maybe_release(off), inlined: swap_map.get(off) is the count just stored
        if count == 0 and off not in self.swap_cache:
            del swap_map[off]
            self.zram.zram_slot_free_notify(off)
            self.free_slots.append(off)

    def __swap_count(self, off: int) -> int:
        """Models: __swap_count(): references to *off* (not counting the swap cache)."""
        return self.swap_map[off]

    swap_count = __swap_count

    # mm/swap_state.c

    def add_to_swap(self, cpu: Cpu, folio: Folio) -> bool:
        """Models: add_to_swap(): give an anonymous folio a slot and put it in the swap cache.

        The folio is marked dirty: the slot holds nothing yet.
        """
        ns = self.machine.kns[S_add_to_swap]  # cpu.charge(), inlined
        cpu.now += ns
        cpu.ns[S_add_to_swap] += ns
        off = self.folio_alloc_swap()
        if off is None:
            return False
        self.swap_cache[off] = folio
        folio.flags |= PG_swapcache | PG_dirty  # folio_set_swapcache(), folio_mark_dirty()
        folio.swap = off
        return True

    def swap_cache_get_folio(self, cpu: Cpu, off: int) -> Folio | None:
        """Models: swap_cache_get_folio()."""
        ns = self.machine.kns[S_swap_cache_lookup]  # cpu.charge(), inlined
        cpu.now += ns
        cpu.ns[S_swap_cache_lookup] += ns
        return self.swap_cache.get(off)

    def add_to_swap_cache(self, folio: Folio, off: int) -> None:
        """Models: add_to_swap_cache(): *folio* now caches slot *off*."""
        self.swap_cache[off] = folio
        folio.flags |= PG_swapcache         # folio_set_swapcache()
        folio.swap = off

    def delete_from_swap_cache(self, folio: Folio) -> None:
        """Models: delete_from_swap_cache() / __delete_from_swap_cache()."""
        off = folio.swap
        del self.swap_cache[off]
        folio.flags &= ~PG_swapcache        # folio_clear_swapcache()
        folio.swap = 0
        self._maybe_release(off)

    # mm/page_io.c

    def swap_writepage(self, cpu: Cpu, folio: Folio) -> None:
        """Models: swap_writepage(): write the folio to its slot; synchronous on zram."""
        m = self.machine
        ns = m.kns[S_swap_writepage]          # cpu.charge(), inlined
        cpu.now += ns
        cpu.ns[S_swap_writepage] += ns
        self.zram.zram_bvec_write(cpu, folio.swap, folio.pfn)
        folio.flags &= ~PG_dirty            # the slot holds the data now
        m.vmstat.pswpout += 1

    def swap_read_folio(self, cpu: Cpu, folio: Folio, off: int) -> None:
        """Models: swap_read_folio(): fill *folio* from slot *off*."""
        m = self.machine
        ns = m.kns[S_swap_read_folio]         # cpu.charge(), inlined
        cpu.now += ns
        cpu.ns[S_swap_read_folio] += ns
        self.zram.zram_bvec_read(cpu, off, folio.pfn)
        m.vmstat.pswpin += 1

    # Private helpers

    def _maybe_release(self, off: int) -> None:
        if self.swap_map.get(off) == 0 and off not in self.swap_cache:
            del self.swap_map[off]
            self.zram.zram_slot_free_notify(off)
            self.free_slots.append(off)
