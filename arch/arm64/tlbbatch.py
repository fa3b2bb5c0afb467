"""Per-arch batch state for deferred unmap flushes on arm64.

Models: arch/arm64/include/asm/tlbbatch.h (Linux 6.6; v5 of the series added
it).  The struct is empty: arm64 broadcasts TLBIs in hardware, so the batch
need not remember which CPUs to interrupt -- only the reclaiming CPU's
outstanding TLBIs matter, and those live in the CPU itself until its DSB.
"""

from dataclasses import dataclass

from minikernel.compat import SLOTS


@dataclass(eq=False, **SLOTS)
class ArchTlbflushUnmapBatch:
    """struct arch_tlbflush_unmap_batch (arch/arm64/include/asm/tlbbatch.h): empty on arm64."""
