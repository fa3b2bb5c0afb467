"""minikernel/observe.py and minikernel/hw/observe.py: observers subscribe, boot attaches, nothing is patched.

Issue 14.3.  These fail if the sanitizer goes back to swapping a CPU's
class or assigning hooks on built objects, if an unobserved machine pays
for observation, or if an observer changes what the model does.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from minikernel.hw.cpu import Cpu, ObservedCpu
from minikernel.hw.observe import EventHooks, HwEvents
from minikernel.kconfig import load_kernel_config
from minikernel.machine import Machine
from minikernel.observe import Observers
from minikernel.profile import default_profile
from minikernel.user import MADV_PAGEOUT, MAP_ANONYMOUS, MAP_SHARED, Process
from minikernel.workload import run_seed_benchmark

ROOT = Path(__file__).resolve().parents[2]
SAN = "DEBUG_TLB_SANITIZER=y"


def _machine(arch, *sets, cpus=4, observe=()):
    return Machine(load_kernel_config(arch, sets=sets), default_profile(arch, cpus),
                   observe=observe)


@pytest.mark.parametrize("arch", ["arm64", "x86", "riscv"])
def test_unobserved_machine_has_no_hooks_and_plain_cpus(arch):
    m = _machine(arch)
    assert m.sanitizer is None and m.observers.attached
    assert all(type(c) is Cpu for c in m.cpus)
    assert all(c.on_fill is None for c in m.cpus)
    assert m.page_alloc.on_free is None
    for e in Observers.EVENTS:
        assert getattr(m.observers, e) is None
    for e in HwEvents.EVENTS:
        assert getattr(m.observers.hw, e) is None
    dvm = getattr(m.arch, "dvm", None)
    assert dvm is None or dvm.on_complete is None


@pytest.mark.parametrize("arch", ["arm64", "x86", "riscv"])
def test_the_sanitizer_is_a_subscriber_built_in_not_patched_on(arch):
    m = _machine(arch, "EXPERT=y", SAN)
    san = m.sanitizer
    assert type(san).__name__ == "TlbSanitizer"
    # the checking CPU was chosen when the CPUs were built: still that class, and
    # the hooks every object holds are the ones attach() resolved
    assert all(type(c) is ObservedCpu for c in m.cpus)
    assert all(c.on_stale_hit == san.stale_hit and c.on_fill == san._on_fill for c in m.cpus)
    assert m.page_alloc.on_free == san.on_free == m.observers.folio_free
    assert m.observers.pte_cleared == san.pte_cleared
    dvm = getattr(m.arch, "dvm", None)
    assert dvm is None or dvm.on_complete == san._on_tlbi_complete
    # a second sanitizer after boot cannot attach itself: the emitters hold their hooks
    from minikernel.sanitizer import TlbSanitizer
    with pytest.raises(RuntimeError, match="after attach"):
        TlbSanitizer(m)
    assert all(type(c) is ObservedCpu for c in m.cpus)


def test_no_code_swaps_a_class_or_assigns_a_hook_from_outside():
    """Neither production code nor a test: tests subscribe through ``observe=`` too."""
    pattern = re.compile(r"(?<!self)\.(__class__|on_free|on_complete|on_fill|on_stale_hit)\s*=[^=]")
    found = []
    for top in ("minikernel", "mm", "arch", "tests"):
        for path in sorted((ROOT / top).rglob("*.py")):
            for no, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert found == []


def test_several_subscribers_are_called_in_order_and_late_ones_refused():
    calls = []
    hooks = HwEvents()
    hooks.subscribe("tlb_fill", lambda e: calls.append(("a", e)))
    hooks.subscribe("tlb_fill", lambda e: calls.append(("b", e)))
    only = []
    hooks.subscribe("tlbi_complete", lambda *a: only.append(a))
    hooks.attach()
    hooks.tlb_fill("entry")
    assert calls == [("a", "entry"), ("b", "entry")]
    assert hooks.tlbi_complete is hooks.subscribers("tlbi_complete")[0]   # one: no fan-out
    assert hooks.stale_hit is None
    with pytest.raises(RuntimeError):
        hooks.subscribe("stale_hit", print)
    with pytest.raises(ValueError, match="unknown event 'nope'"):
        EventHooks().subscribe("nope", print)


def _counting(counts):
    def subscribe(obs):
        for e in Observers.EVENTS:
            obs.subscribe(e, lambda *a, e=e: counts.__setitem__(e, counts.get(e, 0) + 1))
        for e in ("tlb_fill", "tlbi_complete"):
            obs.hw.subscribe(e, lambda *a, e=e: counts.__setitem__(e, counts.get(e, 0) + 1))
    return subscribe


@pytest.mark.parametrize("sets", [("EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=2"), (SAN,)])
def test_an_observer_sees_every_event_and_changes_nothing(sets):
    counts: dict[str, int] = {}
    plain = run_seed_benchmark(_machine("arm64", *sets), 2, warmup=1)
    observed_m = _machine("arm64", *sets, observe=[_counting(counts)])
    observed = run_seed_benchmark(observed_m, 2, warmup=1)
    assert (observed.elapsed_ns, observed.cycles, observed.vmstat) == \
        (plain.elapsed_ns, plain.cycles, plain.vmstat)
    assert set(counts) == {"tlb_fill", "tlbi_complete", "folio_free", "pte_cleared",
                           "syscall_enter", "syscall_return"}
    assert counts["syscall_enter"] == counts["syscall_return"]
    assert counts["pte_cleared"] >= plain.pages_reclaimed > 0
    if SAN in sets:                        # two subscribers (sanitizer, counter): a fan-out
        assert observed_m.sanitizer is not None and not observed_m.sanitizer.violations
        assert observed_m.page_alloc.on_free is observed_m.observers.folio_free
        assert observed_m.observers.folio_free != observed_m.sanitizer.on_free


def test_stale_hit_reaches_every_subscriber_through_the_observed_cpu():
    """A use of an entry the sanitizer marked stale (a skipped flush) is a stale_hit event."""
    hits = []
    m = _machine("arm64", SAN, cpus=4,
                 observe=[lambda obs: obs.hw.subscribe("stale_hit", lambda *a: hits.append(a))])
    p = Process.spawn(m, "main", cpu=0)
    buf = p.mmap(4096, flags=MAP_SHARED | MAP_ANONYMOUS)
    p.write(buf, 1)
    t = p.clone_thread(cpu=1, comm="t1")
    assert t.read(buf) == 1
    m.arch.flush_tlb_page = lambda cpu, vma, uaddr: None    # test-only broken flushes
    m.arch.flush_tlb_range = lambda cpu, vma, start, end: None
    p.madvise(buf, 4096, MADV_PAGEOUT)
    assert hits == []
    t.read(buf)                                 # through CPU1's entry for the freed page
    assert [(cpu.id, write) for cpu, _, write in hits] == [(1, False)]
    assert "use-after-free-tlb" in m.sanitizer.kinds


def test_probing_sets_and_restores_the_probe_even_when_the_step_raises():
    m = _machine("arm64")
    obs = m.observers
    assert obs.probes is m.probes
    outer, inner = (lambda current, **ctx: None), (lambda current, **ctx: None)
    with obs.probing("try_to_unmap_one:cleared", outer):
        assert m.probes == {"try_to_unmap_one:cleared": outer}
        with pytest.raises(KeyError), obs.probing("try_to_unmap_one:cleared", inner):
            assert m.probes["try_to_unmap_one:cleared"] is inner
            raise KeyError("the step failed")
        assert m.probes["try_to_unmap_one:cleared"] is outer
    assert m.probes == {}
