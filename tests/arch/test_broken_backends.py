"""Issue 17's "fail for a deliberately broken one": the contract checks and the
sanitizer property check both catch a backend that breaks its promise.

Each breakage is a subclass of the backend class the machine would get, with
one verb overriding the shipped one to skip a step (the shipped classes are
never touched); minikernel.arch.backend_override hands it to every Machine
built while the test runs, however built (make_machine, a scenario run).  The
checks look at machine state only: what is still reachable in the TLBs
(tests/arch/test_contract.py), what the TLB sanitizer reports.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, find, settings

import minikernel.arch
from minikernel.arch import BACKENDS

_HERE = Path(__file__).resolve().parent


def _load(path: Path, name: str):
    # Test modules cannot import each other under --import-mode=importlib.
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


contract = _load(_HERE / "test_contract.py", "_contract_checks")


# --- the breakages -------------------------------------------------------------

def forgets_the_flush(base):
    """arch_tlbbatch_flush completes nothing: arm64 forgets the DSB, x86 the IPIs and
    the local flush, riscv the remote fence."""
    class ForgetsTheFlush(base):
        def arch_tlbbatch_flush(self, cpu, batch):
            pass
    return ForgetsTheFlush


def forgets_add_pending(base):
    """arch_tlbbatch_add_pending notes nothing: arm64 issues no TLBI, x86/riscv add no
    CPU to the batch's cpumask (and x86 bumps no tlb_gen)."""
    class ForgetsAddPending(base):
        def arch_tlbbatch_add_pending(self, cpu, batch, mm, uaddr):
            pass
    return ForgetsAddPending


def forgets_one_cpu(base):
    """arch_tlbbatch_flush leaves the highest other CPU out of the batch's cpumask."""
    class ForgetsOneCpu(base):
        def arch_tlbbatch_flush(self, cpu, batch):
            others = batch.cpumask & ~(1 << cpu.id)
            if others:
                batch.cpumask &= ~(1 << (others.bit_length() - 1))
            super().arch_tlbbatch_flush(cpu, batch)
    return ForgetsOneCpu


def forgets_the_tlbsync(base):
    """x86 INVLPGB: arch_tlbbatch_flush sends the IPIs but no TLBSYNC for the INVLPGBs
    add_pending broadcast (as if ``unmapped_pages`` were never set)."""
    class ForgetsTheTlbsync(base):
        def arch_tlbbatch_flush(self, cpu, batch):
            batch.unmapped_pages = False
            super().arch_tlbbatch_flush(cpu, batch)
    return ForgetsTheTlbsync


def skips_batched_pending(base):
    """arch_flush_tlb_batched_pending does nothing (worse than Linux 6.6's arm64 DSB)."""
    class SkipsBatchedPending(base):
        def arch_flush_tlb_batched_pending(self, cpu, mm):
            pass
    return SkipsBatchedPending


#: Correct backends the breakages are applied to (test_contract.BACKEND_CASES).
CORRECT = ["arm64", "arm64-flush-mm", "x86", "x86-6.16", "x86-invlpgb", "x86-invlpgb-global",
           "riscv"]
#: (breakage, the case it is applied to, the contract check that must catch it)
BREAKAGES = (
    [(forgets_the_flush, c, "batch") for c in CORRECT]
    + [(forgets_add_pending, c, "batch") for c in CORRECT]
    # arm64's batch has no cpumask (the TLBIs are broadcast), nor has a global
    # ASID's once its transition is over (INVLPGB).
    + [(forgets_one_cpu, c, "batch") for c in CORRECT
       if not c.startswith("arm64") and c != "x86-invlpgb-global"]
    # In ASID transition the IPIs of the batch's cpumask reach every CPU (each a
    # straggler), so only the finished transition depends on the TLBSYNC.
    + [(forgets_the_tlbsync, "x86-invlpgb-global", "batch")]
    + [(skips_batched_pending, c, "batched_pending") for c in CORRECT]
)
_IDS = [f"{b.__name__}-{c}" for b, c, _ in BREAKAGES]


@pytest.fixture
def break_backend(monkeypatch):
    """break_backend(breakage): every Machine built from now on gets the broken subclass."""
    def install(breakage):
        monkeypatch.setattr(minikernel.arch, "backend_override",
                            lambda machine, ops: breakage(type(ops))(machine))
    return install


def test_every_arch_has_a_broken_case():
    arches = {contract.BACKEND_CASES[c][0] for c in CORRECT}
    assert arches == set(BACKENDS)
    assert "x86-invlpgb" in CORRECT


@pytest.mark.stale_entries
@pytest.mark.parametrize("breakage,case,check", BREAKAGES, ids=_IDS)
def test_the_contract_check_catches_it(make_machine, break_backend, breakage, case, check):
    break_backend(breakage)
    m, prelude = contract._machine(make_machine, case)
    assert type(m.arch).__name__ == breakage(object).__name__    # the seam took effect
    violations = (contract.batch_contract_violations if check == "batch"
                  else contract.batched_pending_contract_violations)
    assert violations(m, prelude=prelude) != []


def test_the_contract_checks_pass_without_the_breakage(make_machine):
    """The other side: the same checks on the shipped classes find nothing."""
    for case in CORRECT:
        m, prelude = contract._machine(make_machine, case)
        assert contract.batch_contract_violations(m, prelude=prelude) == [], case
        m, prelude = contract._machine(make_machine, case)
        assert contract.batched_pending_contract_violations(m, prelude=prelude) == [], case


# --- the sanitizer property check ---------------------------------------------

#: The property test's variant for each contract case (its VARIANTS/INVLPGB_VARIANTS).
#: Its INVLPGB programs put the mm in transition first: the breakages of the
#: finished transition are run on those.
PROPERTY_VARIANT = {"arm64": "arm64-v5", "arm64-flush-mm": "arm64-flush-mm", "x86": "x86",
                    "x86-6.16": "x86-6.16", "x86-invlpgb": "x86-invlpgb",
                    "x86-invlpgb-global": "x86-invlpgb", "riscv": "riscv"}
PROPERTY_CASES = sorted({(b, PROPERTY_VARIANT[c]) for b, c, _ in BREAKAGES},
                        key=lambda bv: (bv[0].__name__, bv[1]))


@pytest.fixture(scope="module")
def properties():
    return _load(_HERE.parent / "minikernel" / "test_sanitizer_properties.py",
                 "_sanitizer_properties")


@pytest.mark.parametrize("breakage,variant", PROPERTY_CASES,
                         ids=[f"{b.__name__}-{v}" for b, v in PROPERTY_CASES])
def test_the_sanitizer_property_check_catches_it(properties, break_backend, breakage, variant):
    """The property test's own generator, on the broken backend: it finds a violation.

    (On the shipped classes the same generator finds none: that is
    tests/minikernel/test_sanitizer_properties.py itself.)
    """
    if variant not in {**properties.VARIANTS, **properties.RISCV_VARIANTS,
                       **properties.INVLPGB_VARIANTS}:
        pytest.fail(f"{variant}: no longer a variant of the property test")
    break_backend(breakage)
    gen = (properties.invlpgb_programs((variant,)) if variant == "x86-invlpgb"
           else properties.programs((variant,)))
    prog = find(gen, lambda p: properties._violations(p) != [],
                settings=settings(max_examples=2_000, deadline=None, derandomize=True,
                                  database=None, phases=[Phase.generate],   # no shrinking
                                  suppress_health_check=list(HealthCheck)))
    assert properties._violations(prog) != []
