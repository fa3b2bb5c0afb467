"""Per-arch batch state for deferred unmap flushes on riscv.

Models: arch/riscv/include/asm/tlbbatch.h (Linux 6.8, 54d7431af73e).  Like
x86's: riscv cannot broadcast an invalidation, so the batch accumulates the
harts that may hold stale entries for any mm it covers; the batch flush
fences exactly those, with one remote fence.
"""

from dataclasses import dataclass

from minikernel.compat import SLOTS


@dataclass(eq=False, **SLOTS)
class ArchTlbflushUnmapBatch:
    """struct arch_tlbflush_unmap_batch (arch/riscv/include/asm/tlbbatch.h).

    cpumask: harts to fence, as an int bitmask (``struct cpumask``)
    """

    cpumask: int = 0
