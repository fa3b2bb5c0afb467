"""Boot: turn a KernelConfig and a machine profile into a running Machine.

Model-only: this stands in for start_kernel() and smp_init(); it wires the
configuration to a simulated machine and reports, once, which TLB-flush path
reclaim will take and why (the arch backend decides: see
``ArchTlbOps.tlb_flush_path``).

Invariants:
  - 1 <= cpus <= CONFIG_NR_CPUS, else UserError.
  - Boot logs a short kernel-like log through structlog (stderr when run from
    the CLI), including every config note and the TLB-flush path and why.
"""

from __future__ import annotations

from minikernel.errors import UserError
from minikernel.kconfig import KernelConfig, note_kind
from minikernel.machine import Machine
from minikernel.profile import MachineProfile, default_profile


def boot(cfg: KernelConfig, *, cpus: int | None = None,
         profile: MachineProfile | None = None, trace: bool = False) -> Machine:
    """Boot a kernel from *cfg* on *profile* (default: the arch's), with *cpus* online if given."""
    if profile is None:
        profile = default_profile(cfg.arch)
    if cpus is None:
        cpus = profile.cpus
    nr_cpus = cfg.NR_CPUS
    if isinstance(cpus, bool) or not isinstance(cpus, int) or not 1 <= cpus <= nr_cpus:
        raise UserError(
            f"CPU count {cpus!r} out of range: expected 1..{nr_cpus} "
            f"(CONFIG_NR_CPUS={nr_cpus}; raise it with --set NR_CPUS=N)"
        )
    if cpus != profile.cpus:
        profile = profile.with_cpus(cpus)
    machine = Machine(cfg, profile, trace=trace)
    log = machine.log
    path = machine.tlb_flush_path
    source = "defconfig" if cfg.source is None else str(cfg.source)
    log.info(f"Booting minikernel/{cfg.arch}", config=source, sets=list(cfg.sets),
             machine=profile.name, kernel=machine.baseline.name)
    for note in cfg.notes:
        log.warning(note_kind(note), note=note)
    for note in profile.notes:
        log.warning("profile: note", note=note)
    nodes = machine.numa.nr_nodes
    log.info(f"smp: Brought up {nodes} node{'s' if nodes > 1 else ''}, {cpus} CPUs",
             nr_cpus=nr_cpus)
    log.info(
        "tlb: batched unmap TLB flush " + ("enabled" if path.batched else "disabled"),
        reason=path.reason,
    )
    return machine
