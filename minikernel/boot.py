"""Boot: turn a KernelConfig and a machine size into a running Kernel.

Model-only: this stands in for start_kernel() and smp_init(); it wires the
configuration to a machine and decides, once, which TLB-flush path reclaim
will take.

Invariants:
  - 1 <= cpus <= CONFIG_NR_CPUS, else UserError.
  - The batched-flush decision lives in ONE place, tlb_flush_path(), with one
    small function per SRCARCH behind a single dispatch dict (STYLE.md rule
    9).  The arch backends will take these over; keep them small.
  - Boot logs a short kernel-like log through structlog (stderr when run from
    the CLI), including every config note and the TLB-flush path and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from minikernel.errors import UserError
from minikernel.kconfig import KernelConfig

#: CPUs brought up when the caller gives none -- placeholder machines until
#: machine profiles exist: arm64 = Kunpeng 920 as in the cover letter (96
#: CPUs), x86 = the 48-CPU server of the 2015 x86 batching series.
DEFAULT_CPUS = {"arm64": 96, "x86": 48}


@dataclass(frozen=True, slots=True)
class TlbFlushPath:
    """Which TLB-flush path reclaim takes on this kernel, and why.

    batched:
      True when reclaim can defer flushes into a batch
      (should_defer_flush() may say yes); False when every unmapped page
      is flushed synchronously by ptep_clear_flush().
    reason:
      One human-readable sentence naming the config symbols or machine
      facts that decided it.
    """

    batched: bool
    reason: str


@dataclass(frozen=True, slots=True, eq=False)
class Kernel:
    """A booted kernel (placeholder until the simulated machine exists).

    cfg:
      The immutable KernelConfig.
    cpus:
      Online CPUs (num_online_cpus()).
    tlb_flush_path:
      The TlbFlushPath chosen at boot.
    log:
      structlog logger bound with arch=; derive per-CPU loggers from it.
    """

    cfg: KernelConfig
    cpus: int
    tlb_flush_path: TlbFlushPath
    log: object


def boot(cfg: KernelConfig, *, cpus: int | None = None) -> Kernel:
    """Boot a kernel from `cfg` on `cpus` CPUs (default: DEFAULT_CPUS[arch])."""
    if cpus is None:
        cpus = DEFAULT_CPUS[cfg.srcarch]
    nr_cpus = cfg.NR_CPUS
    if isinstance(cpus, bool) or not isinstance(cpus, int) or not 1 <= cpus <= nr_cpus:
        raise UserError(
            f"CPU count {cpus!r} out of range: expected 1..{nr_cpus} "
            f"(CONFIG_NR_CPUS={nr_cpus}; raise it with --set NR_CPUS=N)"
        )
    log = structlog.get_logger("minikernel").bind(arch=cfg.arch)
    path = tlb_flush_path(cfg, cpus)
    source = "defconfig" if cfg.source is None else str(cfg.source)
    log.info(f"Booting minikernel/{cfg.arch}", config=source, sets=list(cfg.sets))
    for note in cfg.notes:
        log.warning("kconfig: assignment did not take", note=note)
    log.info(f"smp: Brought up 1 node, {cpus} CPUs", nr_cpus=nr_cpus)
    log.info(
        "tlb: batched unmap TLB flush " + ("enabled" if path.batched else "disabled"),
        reason=path.reason,
    )
    return Kernel(cfg=cfg, cpus=cpus, tlb_flush_path=path, log=log)


def tlb_flush_path(cfg: KernelConfig, cpus: int) -> TlbFlushPath:
    """Decide once, at boot, whether reclaim may batch its TLB flushes.

    Model-only: folds the configuration half of mm/rmap.c:
    should_defer_flush() (CONFIG_ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH) and the
    boot-constant half of the arch's arch_tlbbatch_should_defer() into one
    answer for the report.  Unknown SRCARCH raises NotImplementedError.
    """
    try:
        decide = _TLB_FLUSH_PATH[cfg.srcarch]
    except KeyError:
        raise NotImplementedError(
            f"unsupported SRCARCH {cfg.srcarch!r} (known: {', '.join(sorted(_TLB_FLUSH_PATH))})"
        ) from None
    return decide(cfg, cpus)


def _arm64_tlb_flush_path(cfg: KernelConfig, cpus: int) -> TlbFlushPath:
    """Models: arch/arm64/include/asm/tlbflush.h: arch_tlbbatch_should_defer()
    (v5 of the batched-TLB series): the erratum check, then the threshold."""
    if not cfg.ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH:
        return TlbFlushPath(False, (
            "not configured: CONFIG_ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH=n because "
            f"CONFIG_EXPERT={'y' if cfg.EXPERT else 'n'} (arm64 selects it only if EXPERT); "
            "every unmapped page is flushed synchronously (TLBI + DSB)"))
    if cfg.ARM64_WORKAROUND_REPEAT_TLBI:
        return TlbFlushPath(False, (
            "disabled by the REPEAT_TLBI erratum workaround "
            "(CONFIG_ARM64_WORKAROUND_REPEAT_TLBI=y): the affected cores need every TLBI "
            "repeated and completed, so flushes cannot be deferred"))
    if not cfg.ARM64_BATCHED_TLB_V5:
        return TlbFlushPath(True, (
            "deferring: the Linux 6.6-shaped variant has no CPU threshold; TLBIs are "
            "issued without waiting and one DSB ISH completes each batch"))
    threshold = cfg.ARM64_NR_CPUS_FOR_BATCHED_TLB
    if cpus <= threshold:
        return TlbFlushPath(False, (
            f"configured but not deferring: {cpus} online CPUs <= "
            f"CONFIG_ARM64_NR_CPUS_FOR_BATCHED_TLB={threshold}"))
    return TlbFlushPath(True, (
        f"deferring: {cpus} online CPUs > CONFIG_ARM64_NR_CPUS_FOR_BATCHED_TLB={threshold}; "
        "TLBIs are issued without waiting and one DSB ISH completes each batch"))


def _x86_tlb_flush_path(cfg: KernelConfig, cpus: int) -> TlbFlushPath:
    """Models: arch/x86/include/asm/tlbflush.h: arch_tlbbatch_should_defer():
    x86 always has batching; whether a flush defers depends on the mm."""
    if not cfg.ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH:
        return TlbFlushPath(False, (
            "off by the model-only knob CONFIG_X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y "
            "(no upstream counterpart; real x86 always batches): every unmapped page "
            "is flushed synchronously"))
    return TlbFlushPath(True, (
        "configured: X86 selects ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH unconditionally; "
        "reclaim defers a flush only while the mm is active on another CPU, then sends "
        "one IPI round per batch"))


_TLB_FLUSH_PATH: dict[str, Callable[[KernelConfig, int], TlbFlushPath]] = {
    "arm64": _arm64_tlb_flush_path,
    "x86": _x86_tlb_flush_path,
}
