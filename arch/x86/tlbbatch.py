"""Per-arch batch state for deferred unmap flushes on x86.

Models: arch/x86/include/asm/tlbbatch.h.  x86 cannot broadcast an
invalidation, so the batch accumulates the CPUs that may hold stale entries
for any mm it covers; the flush interrupts exactly those.
"""

from dataclasses import dataclass

from minikernel.compat import SLOTS


@dataclass(eq=False, **SLOTS)
class ArchTlbflushUnmapBatch:
    """struct arch_tlbflush_unmap_batch (arch/x86/include/asm/tlbbatch.h).

    cpumask: CPUs to flush, as an int bitmask (``struct cpumask``)
    """

    cpumask: int = 0
