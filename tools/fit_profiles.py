"""Fit the built-in arm64 machine profiles to the published results (issue 5).

Model-only tooling, not part of the package.  Prints the figures that went
into minikernel/profiles/snapdragon888.toml and kunpeng920.toml, and checks
them against the published numbers by running the model:

    python tools/fit_profiles.py [--iterations N]

How the fit works (all from the model's own output, nothing hard-coded):
  1. Count calls.  Run the seed benchmark unbatched with every kernel figure
     = 1 ns and every hardware figure = 0: the per-symbol profile is then the
     number of calls per iteration.
  2. Snapdragon 888.  Each published top symbol gets its published share of
     the published 1.469 ms/iteration, divided by its call count.  The
     remaining share is spread over the other symbols by the weights in
     OTHER_WEIGHTS (assumption: no published figure; each stays below the
     8th published symbol, clear_page at 1.63 %).  The DVM latency is what
     makes ptep_clear_flush reach PTEP_TARGET; the throughput is set to
     ~3 % of that latency (DESIGN.md section 5).
  3. Kunpeng 920.  No published profile, so it keeps the Snapdragon's
     per-symbol proportions, multiplied by one factor [kernel] scale; scale,
     the DVM latency and the DVM throughput are solved from three published
     numbers: 1.346 ms/iteration, ptep_clear_flush = 16.99 %, and 12.5 %
     less elapsed with batching.
  4. How latency/throughput split between a fixed part and a per-CPU part is
     not published (each machine was measured at one CPU count): the
     profiles assume half the latency is fixed and half grows with the
     CPUs, and all of the throughput cost grows with the CPUs (it is the
     snoop fan-out).  That assumption is what --smp extrapolates with.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from minikernel.kconfig import load_kernel_config
from minikernel.machine import Machine
from minikernel.profile import KERNEL_SYMBOLS, load_profile
from minikernel.workload import run_seed_benchmark

PAGES = 256
SD_MS = 1.469             # published: 14.69 s / 10 000 iterations
KP_MS = 1.346             # published: 13.460 s / 10 000 iterations
PTEP_TARGET_SD = 5.66     # % (published 5.36; upper half of the +-0.5 band, see README)
PTEP_TARGET_KP = 17.2     # % (published 16.99)
SAVING_TARGET_KP = 12.5   # % less elapsed with batching (published)

PUBLISHED_SD = {          # % of the a.out task's cycles, v5 commit message
    "_raw_spin_unlock_irq": 21.07,
    "_raw_spin_unlock_irqrestore": 8.23,
    "filemap_map_pages": 6.67,
    "__zram_bvec_write": 6.16,
    "_raw_spin_lock": 3.71,
    "memset64": 3.49,
    "clear_page": 1.63,
}

# Relative weights of the unpublished symbols (assumption): a graded tail,
# kept close enough together that none outranks clear_page, the 8th
# published symbol.
OTHER_WEIGHTS = {
    "el0_da": 1.360, "__alloc_pages": 1.355, "shrink_folio_list": 1.351, "free_unref_folios": 1.346,
    "_raw_spin_unlock": 1.342, "__remove_mapping": 1.337, "zram_slot_lock": 1.333,
    "handle_mm_fault": 1.328, "shmem_writeout": 1.323, "try_to_unmap_one": 1.319,
    "page_vma_mapped_walk": 1.314, "folio_isolate_lru": 1.310, "shmem_swapin_folio": 1.305,
    "folio_add_lru": 1.301, "madvise_cold_or_pageout_pte_range": 1.296, "swap_writepage": 1.291,
    "shmem_add_to_page_cache": 1.282, "xas_load": 1.273, "_raw_spin_lock_irqsave": 1.264,
    "rmap_walk": 1.255, "shmem_fault": 1.246, "swap_read_folio": 1.241, "zram_bvec_read": 1.237,
    "shmem_get_folio_gfp": 1.227, "do_fault": 1.223, "pageout": 1.214, "finish_fault": 1.209,
    "swap_cache_lookup": 1.200,
}

# What each [kernel_ns] figure stands for (written into the profile).
NOTES = {
    "el0_da": "exception entry/exit of a user data abort",
    "handle_mm_fault": "fault dispatch (handle_pte_fault)",
    "do_fault": "do_fault/do_read_fault",
    "finish_fault": "installs the PTE",
    "_raw_spin_unlock": "page-table lock release",
    "shmem_get_folio_gfp": "shmem page-cache lookup and swap-in dispatch",
    "xas_load": "the page-cache xarray lookup",
    "shmem_add_to_page_cache": "swapped-in folio replaces the swap entry",
    "do_anonymous_page": "not on the seed benchmark's path: set like shmem_fault",
    "do_wp_page": "not on the seed benchmark's path: set like shmem_fault",
    "filemap_map_pages": "fault-around: walks 16 page-cache slots, finds them swapped out",
    "shmem_fault": "shmem ->fault",
    "shmem_swapin_folio": "shmem swap-in bookkeeping",
    "do_swap_page": "not on the seed benchmark's path: set like shmem_swapin_folio",
    "swap_cache_lookup": "swap cache xarray lookup",
    "swap_read_folio": "swap IO submission to zram",
    "__alloc_pages": "order-0 allocation from the per-CPU lists",
    "clear_page": "zeroing a 4 KiB page (init_on_alloc)",
    "memset64": "zram refills a same-filled page on read",
    "zram_bvec_read": "zram read path",
    "zram_slot_lock": "zram's per-slot bit spinlock, read and write",
    "__zram_bvec_write": "zram write: scans the page, finds it same-filled",
    "_raw_spin_lock": "lru_lock / xa_lock / page-table lock acquire",
    "_raw_spin_unlock_irq": "hold time under spin_lock_irq: perf's sample lands at the irq-enable",
    "_raw_spin_lock_irqsave": "lru_lock acquire of the LRU-add drain",
    "_raw_spin_unlock_irqrestore": "hold time under spin_lock_irqsave, as for _raw_spin_unlock_irq",
    "folio_add_lru": "LRU-add batching",
    "madvise_cold_or_pageout_pte_range": "per present PTE of the MADV_PAGEOUT walk",
    "folio_isolate_lru": "LRU isolation",
    "shrink_folio_list": "per folio of the reclaim list",
    "folio_referenced": "once per folio reclaim checks (MADV_PAGEOUT up to 6.8, direct reclaim): set like rmap_walk",
    "folio_referenced_one": "per mapping folio_referenced visits: set like page_vma_mapped_walk",
    "shrink_active_list": "per folio deactivated by direct reclaim: set like shrink_folio_list",
    "tlb_finish_mmu": "gather teardown, excluding the flush; assumption (set like try_to_unmap_flush)",
    "tlb_flush_mmu": "per gather flush, excluding the TLBIs/DSB or IPIs; assumption (set like try_to_unmap_flush)",
    "pageout": "writeback dispatch",
    "add_to_swap": "not on the shmem path: set like shmem_writeout",
    "rmap_walk": "rmap_walk_file over i_mmap",
    "try_to_unmap_one": "own work, excluding the flush",
    "page_vma_mapped_walk": "finding the PTE",
    "ptep_clear_flush": "own PTE work only; the TLBI/DSB cost comes from [arm64]; assumption",
    "ptep_get_and_clear": "same PTE work as ptep_clear_flush, no flush; assumption",
    "set_tlb_ubc_flush_pending": "batch bookkeeping; assumption",
    "try_to_unmap_flush": "per batch, excluding the DSB; assumption",
    "try_to_unmap_flush_dirty": "a flag test per folio; assumption",
    "shmem_writeout": "move to swap cache",
    "swap_writepage": "swap IO submission to zram",
    "__remove_mapping": "swap cache removal",
    "free_unref_folios": "per 32 folios freed (charged pro rata since the free cadence follows the baseline)",
    "reclaim_pages": "once per PTE table of a MADV_PAGEOUT; assumption",
    "el0_svc": "syscall entry/exit; assumption",
    "zap_pte_range": "per PTE; not on the seed path: set like the madvise walk",
    "change_pte_range": "per PTE; not on the seed path: set like the madvise walk",
    "flush_tlb_batched_pending": "the pending/flushed check; assumption",
    "main": "one user load in a.out, excluding the TLB walk; assumption",
}

# Small fixed figures (assumptions, ns): the non-waiting part of a flush.
PTEP_OWN_NS = 6.0         # ptep_clear_flush's / ptep_get_and_clear's own PTE work
SET_PENDING_NS = 4.0      # set_tlb_ubc_flush_pending bookkeeping
TRY_FLUSH_NS = 5.0        # try_to_unmap_flush bookkeeping
FLUSH_PENDING_NS = 3.0    # flush_tlb_batched_pending's check
FLUSH_DIRTY_NS = 3.0      # try_to_unmap_flush_dirty's check
SYSCALL_NS = 300.0        # el0_svc entry/exit, once per madvise
RECLAIM_PAGES_NS = 300.0  # reclaim_pages setup, once per madvise
TLBI_ISSUE_NS = 2.0
DSB_NS = 1.0
WALK_NS = 25.0            # a TLB miss walk with the tables in cache
MAIN_NS = 2.0             # one user load, a.out [.] main
SD_T_RATIO = 0.03         # throughput / latency at 8 CPUs (DESIGN.md section 5: 3-4 %)


def run(profile, sets, iterations):
    m = Machine(load_kernel_config("arm64", sets=sets), profile)
    return run_seed_benchmark(m, iterations, warmup=1)


def counts(base, iterations):
    ones = {s: 1.0 for s in KERNEL_SYMBOLS}
    p = replace(base, kernel_ns=MappingProxyType(ones), tlb_walk_ns=0.0, tlbi_issue_ns=0.0,
                dsb_ns=0.0, dvm_latency_base_ns=0.0, dvm_latency_per_cpu_ns=0.0,
                dvm_throughput_base_ns=0.0, dvm_throughput_per_cpu_ns=0.0)
    r = run(p, ["EXPERT=y"], iterations)
    return {k: v / iterations for k, v in r.profile.items()}


def split(latency, throughput, cpus):
    """Half the latency fixed, half per CPU; throughput all per CPU (assumption)."""
    return dict(dvm_latency_base_ns=latency / 2, dvm_latency_per_cpu_ns=latency / 2 / cpus,
                dvm_throughput_base_ns=0.0, dvm_throughput_per_cpu_ns=throughput / cpus)


def fit_snapdragon(base, iterations):
    calls = counts(base, iterations)
    t_iter = SD_MS * 1e6
    k = {s: 0.0 for s in KERNEL_SYMBOLS}
    for s, share in PUBLISHED_SD.items():
        k[s] = share / 100 * t_iter / calls[s]
    k.update(ptep_clear_flush=PTEP_OWN_NS, ptep_get_and_clear=PTEP_OWN_NS,
             set_tlb_ubc_flush_pending=SET_PENDING_NS, try_to_unmap_flush=TRY_FLUSH_NS,
             flush_tlb_batched_pending=FLUSH_PENDING_NS, main=MAIN_NS,
             try_to_unmap_flush_dirty=FLUSH_DIRTY_NS, el0_svc=SYSCALL_NS,
             reclaim_pages=RECLAIM_PAGES_NS)
    # ptep_clear_flush per page = own + DSB ISHST + issue + T + (L - T) + DSB ISH
    flush = PTEP_TARGET_SD / 100 * t_iter / PAGES
    latency = flush - PTEP_OWN_NS - TLBI_ISSUE_NS - 2 * DSB_NS
    fixed = (sum(PUBLISHED_SD.values()) + PTEP_TARGET_SD) / 100 * t_iter
    fixed += calls["main"] * (MAIN_NS + 2 * WALK_NS) + sum(
        calls[s] * k[s] for s in ("flush_tlb_batched_pending", "try_to_unmap_flush_dirty",
                                  "el0_svc", "reclaim_pages"))
    rest = t_iter - fixed
    wsum = sum(OTHER_WEIGHTS[s] * 1.0 for s in OTHER_WEIGHTS if calls.get(s))
    for s, w in OTHER_WEIGHTS.items():
        if calls.get(s):
            k[s] = w / wsum * rest / calls[s]
    # Symbols the seed benchmark never calls keep the scale of their neighbours.
    k.update(do_anonymous_page=k["shmem_fault"], do_wp_page=k["shmem_fault"],
             do_swap_page=k["shmem_swapin_folio"], folio_referenced=k["rmap_walk"],
             add_to_swap=k["shmem_writeout"], zap_pte_range=k["madvise_cold_or_pageout_pte_range"],
             change_pte_range=k["madvise_cold_or_pageout_pte_range"],
             folio_referenced_one=k["page_vma_mapped_walk"],
             shrink_active_list=k["shrink_folio_list"],
             tlb_finish_mmu=TRY_FLUSH_NS, tlb_flush_mmu=TRY_FLUSH_NS)
    dvm = split(latency, SD_T_RATIO * latency, base.cpus)
    return k, dvm, latency


def fit_kunpeng(sd_kernel, sd_latency, cpus):
    """Solve scale, L, T analytically from the Snapdragon figures (then verified by a run)."""
    t_iter = KP_MS * 1e6
    flush = PTEP_TARGET_KP / 100 * t_iter / PAGES
    latency = flush - PTEP_OWN_NS - TLBI_ISSUE_NS - 2 * DSB_NS
    sd_flush = PTEP_TARGET_SD / 100 * SD_MS * 1e6
    walks = PAGES * 2 * WALK_NS
    scale = (t_iter - PAGES * flush - walks) / (SD_MS * 1e6 - sd_flush - walks)
    # unbatched per page: L + own + issue + 2 dsb ; batched: own + set + issue + dsb + T
    # per iteration batched adds 8 batch DSBs and one flush_tlb_mm: ~9 (L + small)
    saving = SAVING_TARGET_KP / 100 * t_iter
    per_page = latency + 2 * DSB_NS - SET_PENDING_NS - DSB_NS
    throughput = (PAGES * per_page - 9 * (latency + TRY_FLUSH_NS) - saving) / PAGES
    return scale, split(latency, throughput, cpus), latency, throughput


def refine_kunpeng(kp, k, scale, klat, kthr, iterations):
    """Refine scale, latency and throughput from runs of the model.

    The analytic solution ignores second-order terms (and the Kunpeng
    profile's own init_on_alloc); a few fixed-point steps put the model's
    output on the published numbers.
    """
    t_iter = KP_MS * 1e6
    kdvm = split(klat, kthr, kp.cpus)
    for _ in range(4):
        kprof = replace(kp, kernel_ns=MappingProxyType({s: v * scale for s, v in k.items()}),
                        **kdvm)
        ru = run(kprof, [], iterations)
        rb = run(kprof, ["EXPERT=y"], iterations)
        e = ru.elapsed_ns / iterations
        f = ru.profile["ptep_clear_flush"] / iterations
        walks = ru.profile["main"] / iterations
        got = (1 - rb.elapsed_ns / ru.elapsed_ns) * 100
        klat += (PTEP_TARGET_KP / 100 * t_iter - f) / PAGES
        scale *= (t_iter * (1 - PTEP_TARGET_KP / 100) - walks) / (e - f - walks)
        kthr += (got - SAVING_TARGET_KP) / 100 * e / PAGES
        kdvm = split(klat, kthr, kp.cpus)
    return scale, kdvm, klat, kthr


def fit(iterations):
    """Every fitted figure: {"snapdragon888": (kernel_ns, arm64 figures, L(8)),
    "kunpeng920": (scale, arm64 figures, L(96), T(96))}."""
    sd, kp = load_profile("snapdragon888"), load_profile("kunpeng920")
    k, dvm, lat = fit_snapdragon(sd, iterations)
    scale, _, klat, kthr = fit_kunpeng(k, lat, kp.cpus)
    scale, kdvm, klat, kthr = refine_kunpeng(kp, k, scale, klat, kthr, iterations)
    return {"snapdragon888": (k, dvm, lat), "kunpeng920": (scale, kdvm, klat, kthr)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--write", action="store_true",
                    help="rewrite the [kernel_ns] table of profiles/snapdragon888.toml")
    a = ap.parse_args()
    sd = load_profile("snapdragon888")
    k, dvm, lat = fit_snapdragon(sd, a.iterations)
    calls = counts(sd, a.iterations)
    lines = []
    for s in KERNEL_SYMBOLS:
        c = calls.get(s, 0)
        if s in PUBLISHED_SD:
            src = f"; fit: published {PUBLISHED_SD[s]} % over {c:g} calls/iteration"
        elif s in OTHER_WEIGHTS and c:
            src = f"; fit: weight {OTHER_WEIGHTS[s]} over {c:g} calls/iteration"
        else:
            src = ""
        lines.append(f"{s} = {k[s]:.1f}".ljust(44) + f"# {NOTES[s]}{src}")
    if a.write:
        path = Path(sd.source)
        text = path.read_text()
        head, sep, _ = text.partition("[kernel_ns]\n")
        comments = []
        for line in _.splitlines():
            if not line.startswith("#"):
                break
            comments.append(line)
        path.write_text(head + sep + "\n".join(comments + lines) + "\n")
    else:
        print("# snapdragon888 [kernel_ns]")
        print("\n".join(lines))
    print("# snapdragon888 [arm64]", {x: round(v, 3) for x, v in dvm.items()}, "L(8) =", lat)
    kp = load_profile("kunpeng920")
    scale, kdvm, klat, kthr = fit_kunpeng(k, lat, kp.cpus)
    print(f"# kunpeng920 [kernel] scale = {scale:.4f}; L(96) = {klat:.1f}, T(96) = {kthr:.1f}",
          {x: round(v, 3) for x, v in kdvm.items()})
    scale, kdvm, klat, kthr = refine_kunpeng(kp, k, scale, klat, kthr, a.iterations)
    print(f"# kunpeng920 refined: scale = {scale:.4f}, L(96) = {klat:.1f}, T(96) = {kthr:.1f}",
          {x: round(v, 3) for x, v in kdvm.items()})
    # Verify with the fitted figures.
    for name, prof, sets in (
            ("snapdragon888", replace(sd, kernel_ns=MappingProxyType(k), **dvm),
             (["EXPERT=y"], ["EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=4"])),
            ("kunpeng920", replace(kp, kernel_ns=MappingProxyType(
                {s: v * scale for s, v in k.items()}), **kdvm), ([], ["EXPERT=y"]))):
        ru = run(prof, sets[0], a.iterations)
        rb = run(prof, sets[1], a.iterations)
        tot = sum(ru.profile.values())
        pc = ru.profile["ptep_clear_flush"] / tot * 100
        dsb = ru.stalls[("ptep_clear_flush", "dsb ish")] / ru.profile["ptep_clear_flush"] * 100
        print(f"{name}: unbatched {ru.elapsed_ns / a.iterations / 1e6:.4f} ms/it, "
              f"ptep_clear_flush {pc:.2f} % ({dsb:.1f} % DSB), batched "
              f"{(1 - rb.elapsed_ns / ru.elapsed_ns) * 100:.2f} % less elapsed")


if __name__ == "__main__":
    main()
