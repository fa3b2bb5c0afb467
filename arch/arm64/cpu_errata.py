"""arm64 errata whose workaround is ARM64_WORKAROUND_REPEAT_TLBI, detected per core at boot.

Models: arch/arm64/kernel/cpu_errata.c ``arm64_repeat_tlbi_list`` and the
capability ``ARM64_WORKAROUND_REPEAT_TLBI``.  Each erratum's Kconfig option
(default y upstream) only builds its entry into the list; at boot every CPU's
MIDR is matched against the entries that were built in, and the capability
is set if any online CPU matches.  A kernel built with the option on a
machine whose cores are unaffected behaves exactly as one built without it.

Invariants this module owns:
  - An entry counts only if its Kconfig option is on *and* a core matches
    its part and variant/revision range.
  - The ranges are upstream's (inclusive, by (variant, revision)):
      ARM64_ERRATUM_1286807  Cortex-A76 r0p0..r3p0; Kryo 4xx Gold r12p14..r15p14
                             (MIDR variant 0xc..0xf, revision 0xe)
      ARM64_ERRATUM_2441007  Cortex-A55, every revision (171df58028bf, 2022-09,
                             which added the option: "Add Cortex-A55 to the repeat
                             tlbi list"; first released in Linux 6.1)
      ARM64_ERRATUM_2441009  Cortex-A510 r0p0..r1p1 (fixed in r1p2)
      QCOM_FALKOR_ERRATUM_1009  Falkor v1 r0p0; the original Kryo, MIDR part
                             0x2xx (is_kryo_midr)
  - A core whose revision the profile did not give matches a partial range
    (assumed affected, as the conservative reading).
"""

from __future__ import annotations

from dataclasses import dataclass

from minikernel.compat import SLOTS
from minikernel.hw.cputype import Core


@dataclass(frozen=True, **SLOTS)
class RepeatTlbiEntry:
    """One entry of ``arm64_repeat_tlbi_list``: the option that builds it and the cores it matches.

    lo, hi: inclusive (variant, revision) bounds, or None for every revision
    """

    option: str
    part: str
    lo: tuple[int, int] | None
    hi: tuple[int, int] | None

    def matches(self, core: Core) -> bool:
        """Models: is_affected_midr_range() / ERRATA_MIDR_ALL_VERSIONS for one core."""
        if core.part != self.part:
            return False
        if self.lo is None or core.variant is None:
            return True
        return self.lo <= (core.variant, core.revision) <= self.hi


#: arch/arm64/kernel/cpu_errata.c: arm64_repeat_tlbi_list (ranges as upstream).
ARM64_REPEAT_TLBI_LIST: tuple[RepeatTlbiEntry, ...] = (
    RepeatTlbiEntry("QCOM_FALKOR_ERRATUM_1009", "qcom-falkor-v1", (0, 0), (0, 0)),
    RepeatTlbiEntry("QCOM_FALKOR_ERRATUM_1009", "qcom-kryo", None, None),
    RepeatTlbiEntry("ARM64_ERRATUM_1286807", "cortex-a76", (0, 0), (3, 0)),
    RepeatTlbiEntry("ARM64_ERRATUM_1286807", "qcom-kryo4xx-gold", (0xc, 0xe), (0xf, 0xe)),
    RepeatTlbiEntry("ARM64_ERRATUM_2441007", "cortex-a55", None, None),
    RepeatTlbiEntry("ARM64_ERRATUM_2441009", "cortex-a510", (0, 0), (1, 1)),
)

#: Every option that selects ARM64_WORKAROUND_REPEAT_TLBI.
ERRATA_REPEAT_TLBI: tuple[str, ...] = tuple(dict.fromkeys(e.option for e in ARM64_REPEAT_TLBI_LIST))


def repeat_tlbi_affected(cfg, cores: tuple[Core, ...] | None) -> dict[int, str]:
    """Models: the boot-time match of each CPU against arm64_repeat_tlbi_list.

    Returns cpu -> the option whose entry matched it (only CPUs that match an
    entry whose option is on).  *cores* is one Core per online CPU, or None
    when the profile lists none (then nothing matches: the stated assumption).
    """
    if not cores or not cfg.ARM64_WORKAROUND_REPEAT_TLBI:
        return {}
    built = [e for e in ARM64_REPEAT_TLBI_LIST if cfg.IS_ENABLED(e.option)]
    out: dict[int, str] = {}
    for cpu, core in enumerate(cores):
        for e in built:
            if e.matches(core):
                out[cpu] = e.option
                break
    return out


def errata_matching(cores: tuple[Core, ...] | None) -> list[str]:
    """Model-only: the options whose entries match some core of *cores* (whether on or not)."""
    if not cores:
        return []
    return [o for o in ERRATA_REPEAT_TLBI
            if any(e.option == o and e.matches(c) for e in ARM64_REPEAT_TLBI_LIST for c in cores)]
