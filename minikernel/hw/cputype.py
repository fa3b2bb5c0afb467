"""Core types and revisions: what a CPU's MIDR_EL1 says it is.

Model-only: the hardware fact behind arch/arm64/include/asm/cputype.h.  A
machine profile lists its cores (``[machine] cores``); the arm64 backend
matches them against the errata lists at boot, as the kernel's capability
detection (arch/arm64/kernel/cpu_errata.c) matches each CPU's MIDR against
MIDR ranges.

Spelling in a profile: ``"PART:rVpR"`` for one CPU, ``"PART:rVpR x N"`` for
N CPUs of that kind, in CPU-number order; the revision may be left out
(``"tsv110 x96"``) when no erratum the model knows distinguishes revisions
of that part.  ``rVpR`` is MIDR's variant (the "r") and revision (the "p").

Invariants this module owns:
  - Parsing is strict: an unknown part or a malformed entry is an error that
    names the entry and what was expected (the profile loader turns it into a
    one-line UserError).
  - A core is a value: (part, variant, revision), variant/revision None when
    the profile did not say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from minikernel.compat import SLOTS

#: Parts a profile may name, with the vendor's name for messages.  Only the
#: name matters to the model (the errata lists match on it); MIDR part numbers
#: are not modelled.
KNOWN_PARTS: dict[str, str] = {
    "cortex-a53": "Cortex-A53", "cortex-a55": "Cortex-A55", "cortex-a57": "Cortex-A57",
    "cortex-a72": "Cortex-A72", "cortex-a73": "Cortex-A73", "cortex-a75": "Cortex-A75",
    "cortex-a76": "Cortex-A76", "cortex-a77": "Cortex-A77", "cortex-a78": "Cortex-A78",
    "cortex-x1": "Cortex-X1", "cortex-x2": "Cortex-X2", "cortex-a510": "Cortex-A510",
    "cortex-a710": "Cortex-A710", "cortex-a715": "Cortex-A715",
    "neoverse-n1": "Neoverse-N1", "neoverse-n2": "Neoverse-N2", "neoverse-v1": "Neoverse-V1",
    "neoverse-v2": "Neoverse-V2", "tsv110": "HiSilicon TSV110",
    "qcom-falkor-v1": "Qualcomm Falkor v1", "qcom-kryo": "Qualcomm Kryo (part 0x2xx)",
    "qcom-kryo4xx-gold": "Qualcomm Kryo 4xx Gold",
}

_ENTRY = re.compile(r"^\s*([a-z0-9-]+)(?::r(\d+)p(\d+))?\s*(?:x\s*(\d+))?\s*$")


@dataclass(frozen=True, **SLOTS)
class Core:
    """One CPU's core type: part name and MIDR variant/revision (None: not given)."""

    part: str
    variant: int | None = None
    revision: int | None = None

    def __str__(self) -> str:
        name = KNOWN_PARTS.get(self.part, self.part)
        if self.variant is None:
            return name
        return f"{name} r{self.variant}p{self.revision}"


#: Most CPUs one ``x N`` entry may list (NR_CPUS goes up to 4096 on every arch).
MAX_CORES = 4096


def parse_cores(entries: list) -> tuple[Core, ...]:
    """``["cortex-a55:r2p0 x4", "cortex-x1:r1p0"]`` -> one Core per CPU, in CPU order.

    Raises ValueError with a message naming the bad entry and what was expected.
    """
    out: list[Core] = []
    for e in entries:
        m = _ENTRY.match(e) if isinstance(e, str) else None
        if m is None:
            raise ValueError(f"{e!r}: expected \"PART:rVpR\" or \"PART:rVpR x N\" "
                             "(e.g. \"cortex-a55:r2p0 x4\"; the revision may be left out)")
        part, var, rev, count = m.groups()
        if part not in KNOWN_PARTS:
            raise ValueError(f"{e!r}: unknown core {part!r}: expected one of "
                             f"{', '.join(sorted(KNOWN_PARTS))}")
        n = int(count) if count is not None else 1
        if n < 1:
            raise ValueError(f"{e!r}: expected a count of at least 1 after 'x'")
        if n > MAX_CORES:
            raise ValueError(f"{e!r}: expected a count of at most {MAX_CORES} after 'x' "
                             "(the largest CONFIG_NR_CPUS)")
        core = Core(part, None if var is None else int(var), None if rev is None else int(rev))
        out.extend([core] * n)
    if not out:
        raise ValueError("[]: expected at least one core")
    return tuple(out)


def cores_for_cpus(cores: tuple[Core, ...], nr_cpus: int) -> tuple[Core, ...]:
    """The core of each of *nr_cpus* online CPUs, from a profile's list.

    # MODEL: with --smp the machine may have fewer or more CPUs than the
    # profile lists: fewer take the first ones; more repeat the list in
    # order (a 16-CPU "snapdragon888" is two of the SoC's clusters side by
    # side), so the mix of core types stays the profile's.
    """
    return tuple(cores[i % len(cores)] for i in range(nr_cpus))
