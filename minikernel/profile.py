"""Machine profiles: how many CPUs, how fast, and what each modelled operation costs.

Model-only.  A profile is the part of the model a user edits to describe a
machine of their own.  Hardware figures shape the TLB-maintenance costs
(DVM latency/throughput growing with the number of CPUs, IPI costs); kernel
figures are the cost of each modelled kernel function's own work, charged to
that function's symbol.

Every figure is in nanoseconds unless its name says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

# Kernel work charged per call to the symbol of the same name (ns).  Rough
# defaults; profiles override them.  See the profile files for sources/fits.
DEFAULT_KERNEL_NS: Mapping[str, float] = MappingProxyType({
    # fault path
    "el0_da": 60.0,                 # exception entry/exit for a user data abort
    "handle_mm_fault": 80.0,
    "do_anonymous_page": 60.0,
    "do_wp_page": 80.0,
    "filemap_map_pages": 380.0,     # fault-around over the shmem mapping
    "shmem_fault": 150.0,
    "shmem_swapin_folio": 100.0,
    "do_swap_page": 150.0,
    "swap_cache_lookup": 40.0,
    "__alloc_pages": 150.0,
    "clear_page": 90.0,
    "memset64": 200.0,              # zram refills a same-filled page
    "zram_bvec_read": 60.0,
    "__zram_bvec_write": 350.0,     # zram scans the page (page_same_filled)
    "_raw_spin_lock": 50.0,
    "_raw_spin_unlock_irq": 300.0,  # lru_lock/xa_lock hold time lands at irq-enable
    "_raw_spin_unlock_irqrestore": 120.0,
    "folio_add_lru": 60.0,
    # reclaim path
    "madvise_cold_or_pageout_pte_range": 60.0,
    "folio_isolate_lru": 50.0,
    "shrink_folio_list": 150.0,
    "folio_referenced": 60.0,
    "add_to_swap": 100.0,
    "rmap_walk": 60.0,
    "try_to_unmap_one": 100.0,
    "page_vma_mapped_walk": 80.0,
    "ptep_clear_flush": 15.0,
    "ptep_get_and_clear": 10.0,
    "set_tlb_ubc_flush_pending": 10.0,
    "try_to_unmap_flush": 10.0,
    "try_to_unmap_flush_dirty": 5.0,
    "shmem_writeout": 100.0,
    "swap_writepage": 80.0,
    "__remove_mapping": 80.0,
    "free_unref_folios": 60.0,
    "reclaim_pages": 50.0,
    # syscalls
    "el0_svc": 100.0,               # syscall entry/exit
    "zap_pte_range": 40.0,          # per PTE
    "change_pte_range": 30.0,       # per PTE
    "flush_tlb_batched_pending": 10.0,
    # user space
    "main": 5.0,                    # one user load/store, excluding TLB misses
})


@dataclass(frozen=True, slots=True)
class MachineProfile:
    """A machine the model can run on.

    name:    profile name (``--machine``)
    arch:    "arm64" or "x86"
    cpus:    number of online CPUs
    ghz:     core clock, for converting ns to cycles in reports
    mem_pages: page frames of simulated RAM

    arm64 DVM (broadcast TLBI) figures grow linearly with the CPU count n:
      dvm_latency_ns    = dvm_latency_base_ns + dvm_latency_per_cpu_ns * n
      dvm_throughput_ns = dvm_throughput_base_ns + dvm_throughput_per_cpu_ns * n
    x86 figures: ipi_send_ns (per target), ipi_latency_ns (one way),
      ipi_entry_ns (interrupt entry/exit on the target), invlpg_ns, flush_tlb_ns.
    tlb_walk_ns: a TLB miss's page walk.
    tlb_entries: per-CPU TLB capacity (L2 TLB size; oldest entry evicted).
    kernel_ns: symbol -> ns of that kernel function's own work per call.
    """

    name: str
    arch: str
    cpus: int
    ghz: float = 2.0
    mem_pages: int = 16384
    tlb_walk_ns: float = 20.0
    tlb_entries: int = 1536
    tlbi_issue_ns: float = 4.0
    dsb_ns: float = 2.0
    dvm_latency_base_ns: float = 230.0
    dvm_latency_per_cpu_ns: float = 6.5
    dvm_throughput_base_ns: float = 0.0
    dvm_throughput_per_cpu_ns: float = 1.3
    ipi_send_ns: float = 150.0
    ipi_latency_ns: float = 700.0
    ipi_entry_ns: float = 400.0
    invlpg_ns: float = 60.0
    flush_tlb_ns: float = 200.0
    kernel_ns: Mapping[str, float] = field(default_factory=lambda: DEFAULT_KERNEL_NS)

    def with_cpus(self, cpus: int) -> "MachineProfile":
        """The same machine with a different number of online CPUs (``--smp``)."""
        return replace(self, cpus=cpus)

    def dvm_latency_ns(self) -> float:
        return self.dvm_latency_base_ns + self.dvm_latency_per_cpu_ns * self.cpus

    def dvm_throughput_ns(self) -> float:
        return self.dvm_throughput_base_ns + self.dvm_throughput_per_cpu_ns * self.cpus


def default_profile(arch: str, cpus: int | None = None) -> MachineProfile:
    """The built-in profile for *arch*, optionally with another CPU count."""
    if arch == "arm64":
        p = MachineProfile(name="kunpeng920", arch="arm64", cpus=96, ghz=2.6)
    else:
        p = MachineProfile(name="x86-2s", arch="x86", cpus=48, ghz=2.5)
    return p if cpus is None else p.with_cpus(cpus)
