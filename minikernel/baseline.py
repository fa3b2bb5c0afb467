"""Kernel baselines: which Linux release a booted machine runs.

Model-only.  Every behaviour the model replays belongs to a named kernel
release.  The arm64 variant choice (``MODEL_ARM64_BATCHED_TLB_*``), the x86
baseline choice (``MODEL_X86_KERNEL_*``) and the riscv one
(``MODEL_RISCV_KERNEL_*``) each name one; boot resolves the
choice once into a :class:`KernelBaseline`, ``machine.baseline``, and the
generic mm and arch code read its attributes.

Invariants this module owns:
  - One baseline per Machine, chosen at boot from Kconfig and never changed.
  - Behaviour that changed between releases is a plain attribute here,
    resolved once from the version (each with the commit that changed it);
    code on the per-page path reads the attribute and never compares
    versions itself.
  - The releases are the ones the variants name: Linux 6.1 (the v5 series'
    base, 6.1-rc), Linux 6.6 (the series as merged), Linux 6.8 (riscv's
    first batched release, 54d7431af73e; riscv only) and Linux 6.16 (the
    first release with 4b634918384c).  The published measurements the
    profiles are fitted to ran 2022 kernels: the 6.1 baseline.

Adding a behaviour that changed in release X.Y: add a field below with a
comment naming the commit, and set it in :func:`_behaviour` from the version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minikernel.compat import SLOTS

#: The releases a baseline may name, oldest first.
RELEASES: tuple[tuple[int, int], ...] = ((6, 1), (6, 6), (6, 8), (6, 16))

#: SRCARCH -> the Kconfig choice that names the baseline: (member, arm64
#: series variant or None, release), checked in order.  The last row is the
#: default, which also holds when the choice is hidden (arm64 with EXPERT=n).
BASELINE_CHOICES: dict[str, tuple[tuple[str, str | None, tuple[int, int]], ...]] = {
    "arm64": (
        ("MODEL_ARM64_BATCHED_TLB_6_6", "6.6", (6, 6)),
        ("MODEL_ARM64_BATCHED_TLB_FLUSH_MM", "flush_mm", (6, 16)),
        ("MODEL_ARM64_BATCHED_TLB_V5", "v5", (6, 1)),
    ),
    "x86": (
        ("MODEL_X86_KERNEL_6_6", None, (6, 6)),
        ("MODEL_X86_KERNEL_6_16", None, (6, 16)),
        ("MODEL_X86_KERNEL_6_1", None, (6, 1)),
    ),
    # riscv batches reclaim's flushes from 6.8 (54d7431af73e); 6.6 is the
    # last release before, the same generic mm as 6.8 for the modelled paths.
    "riscv": (
        ("MODEL_RISCV_KERNEL_6_6", None, (6, 6)),
        ("MODEL_RISCV_KERNEL_6_8", None, (6, 8)),
    ),
}


@dataclass(frozen=True, **SLOTS)
class KernelBaseline:
    """Model-only: the kernel release a machine runs, and what that means for the paths modelled.

    version:  (major, minor), e.g. (6, 6)
    name:     "Linux 6.6"
    variant:  arm64 only: the batched-TLB series variant the choice names
              ("v5", "6.6" or "flush_mm"); None on other arches
    symbol:   the Kconfig choice member that selected it (None: the default
              with the choice hidden)
    """

    version: tuple[int, int]
    name: str
    variant: str | None
    symbol: str | None
    # --- generic mm behaviour (mm/), resolved once from the version ---
    # MADV_PAGEOUT clears young PTEs into an mmu_gather (flushed at
    # tlb_finish_mmu after reclaim_pages) and reclaim checks references
    # (ignore_references=false); both removed in 6.9 by 2864f3d0f583.
    pageout_clears_young: bool = True
    # shrink_folio_list frees through a folio_batch of this many folios, with
    # try_to_unmap_flush() before each free_unref_folios(): 15 in 6.9
    # ("mm: free folios in a batch in shrink_folio_list()"), PAGEVEC_SIZE 31
    # from 6.10 ("mm: increase folio batch size").  0: up to 6.8, one
    # try_to_unmap_flush() per shrink_folio_list() call, then one
    # free_unref_page_list() of the whole list.
    reclaim_free_batch: int = 0
    # zap_pte_range delays the rmap removal of dirty file/shmem PTEs until the
    # TLB is flushed, force-flushing under the page-table lock: 5df397dec7c4 (6.2).
    zap_delay_rmap: bool = False
    # -- arch behaviour (arch/arm64, arch/x86), resolved from the version --
    #: arm64 arch_tlbbatch_should_defer(): which CPUs' REPEAT_TLBI capability
    #: counts.  "this_cpu": v5 of the series (6.1-rc base) tested
    #: this_cpu_has_cap(), i.e. the reclaiming CPU's own core; "system": the
    #: series as merged for 6.6 (43b3dfdd0455) tests cpus_have_const_cap(),
    #: set if any CPU is affected (after Anshuman Khandual's review of v5).
    arm64_repeat_tlbi_scope: str = "system"
    #: arm64 __flush_tlb_range(): the name of the per-page TLBI limit, 512
    #: (PTRS_PER_PTE).  MAX_TLBI_OPS up to 6.6; renamed MAX_DVM_OPS by
    #: ec1c3b9ff160 ("arm64: tlbflush: Rename MAX_TLBI_OPS", Linux 6.7); same
    #: value, same ">=".
    arm64_max_tlbi_ops_name: str = "MAX_TLBI_OPS"
    #: x86 mm_cpumask: False: a CPU's bit is cleared when it switches to
    #: another mm (lazy CPUs, in idle or a kthread, keep theirs).  True since
    #: 209954cbc7d0 ("x86/mm/tlb: Update mm_cpumask lazily", Linux 6.14): never
    #: cleared at a switch, only by a flush IPI reaching a CPU that runs
    #: another mm (flush_tlb_func), so the mask is a superset.
    x86_mm_cpumask_lazy: bool = False
    #: mm/migrate.c: folios migrate_pages() hands to one migrate_pages_batch(),
    #: which unmaps them all with try_to_migrate(TTU_BATCH_FLUSH), flushes once
    #: and then moves them: NR_MAX_BATCHED_MIGRATION = HPAGE_PMD_NR = 512 since
    #: 7e12beb8ca2a ("migrate_pages: batch flushing TLB", Linux 6.3).  0: up to
    #: 6.2, unmap_and_move() one folio at a time, each PTE flushed as it is
    #: cleared (try_to_migrate(folio, 0) -> ptep_clear_flush).
    migrate_batch: int = 512
    #: riscv local_flush_tlb_range_asid(): a range of more than this many
    #: pages is fenced as the whole ASID.  64 (``tlb_flush_all_threshold``)
    #: since Alexandre Ghiti's "riscv: Improve tlb_flush()" series, in 6.8
    #: under 54d7431af73e; 6.6 fences the whole ASID for anything above one
    #: page (1).
    riscv_tlb_flush_all_threshold: int = 64
    #: riscv tlb_flush() of an mmu_gather: False: flush_tlb_mm() whatever the
    #: gather holds (up to 6.6).  True: the gathered range, since
    #: c5e9b2c2ae82 ("riscv: Improve tlb_flush()", Linux 6.8), and still
    #: flush_tlb_mm() when page tables were freed, since 97cf301fa42e
    #: ("riscv: Flush the tlb when a page directory is freed", Linux 6.8).
    riscv_tlb_flush_by_range: bool = True

    def as_dict(self) -> dict[str, Any]:
        """Model-only: the baseline for reports (--json ``kernel`` object)."""
        return {"name": self.name, "version": "{}.{}".format(*self.version),
                "variant": self.variant, "symbol": self.symbol}


def baseline_for(cfg: Any) -> KernelBaseline:
    """Model-only: resolve the baseline kernel from a KernelConfig (once, at boot)."""
    try:
        rows = BASELINE_CHOICES[cfg.arch]
    except KeyError:
        raise NotImplementedError(
            f"no kernel baseline for SRCARCH {cfg.arch!r} "
            f"(known: {', '.join(sorted(BASELINE_CHOICES))})") from None
    for sym, variant, version in rows:
        if getattr(cfg, sym):
            return _make(version, variant, sym)
    _, variant, version = rows[-1]
    return _make(version, variant, None)


def _make(version: tuple[int, int], variant: str | None, symbol: str | None) -> KernelBaseline:
    assert version in RELEASES, version
    return KernelBaseline(version=version, name="Linux {}.{}".format(*version), variant=variant,
                          symbol=symbol, **_behaviour(version))


def _behaviour(version: tuple[int, int]) -> dict[str, Any]:
    """The behaviour attributes of a release (see the field comments for the commits).

    Behaviour every baseline shares is not an attribute: mprotect goes through
    an mmu_gather since 6.0 (4a18419f71cd) and mm->tlb_flush_batched holds
    pending/flushed generations since 5.17 ("mm/rmap: fix potential batched
    TLB flush race"); the oldest baseline is 6.1.
    """
    return {
        "pageout_clears_young": version < (6, 9),
        "reclaim_free_batch": 0 if version < (6, 9) else (15 if version < (6, 10) else 31),
        "zap_delay_rmap": version >= (6, 2),
        "arm64_repeat_tlbi_scope": "this_cpu" if version < (6, 6) else "system",
        "arm64_max_tlbi_ops_name": "MAX_TLBI_OPS" if version < (6, 7) else "MAX_DVM_OPS",
        "x86_mm_cpumask_lazy": version >= (6, 14),
        "migrate_batch": 512 if version >= (6, 3) else 0,
        "riscv_tlb_flush_all_threshold": 64 if version >= (6, 8) else 1,
        "riscv_tlb_flush_by_range": version >= (6, 8),
    }
