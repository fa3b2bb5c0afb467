"""minikernel/hw/cpu.py: the access path and time accounting."""

from minikernel.hw.cpu import FAULT, Cpu, S_ptep_clear_flush
from minikernel.hw.memory import PhysMem
from minikernel.hw.mmu import mk_pte, pte_dirty, pte_young
from minikernel.hw.tlb import TlbArray


def _cpu():
    tlbs = TlbArray(1)
    mem = PhysMem(16)
    cpu = Cpu(0, tlbs, mem, walk_ns=20.0)
    cpu.switch_pgd({}, 1)
    return cpu, tlbs, mem


def test_miss_walks_fills_and_sets_accessed_and_dirty():
    cpu, tlbs, mem = _cpu()
    cpu.pgd[5] = mk_pte(3, writable=True)
    mem.data[3] = 42
    assert cpu.access(5, False) == 42
    assert pte_young(cpu.pgd[5]) and not pte_dirty(cpu.pgd[5])
    assert cpu.access(5, True, 7) == 7 and mem.data[3] == 7
    assert pte_dirty(cpu.pgd[5])
    assert cpu.profile == {"cpu_idle": 20.0}          # one walk; the hit and the re-walk are free


def test_hit_uses_the_cached_translation_after_the_pte_changed():
    cpu, tlbs, mem = _cpu()
    cpu.pgd[5] = mk_pte(3, writable=True)
    mem.data[3], mem.data[4] = 1, 2
    cpu.access(5, True, 1)
    cpu.pgd[5] = mk_pte(4, writable=True)             # remapped, not flushed
    assert cpu.access(5, False) == 1                  # still the old page


def test_missing_or_read_only_pte_faults():
    cpu, tlbs, mem = _cpu()
    assert cpu.access(5, False) is FAULT
    cpu.pgd[6] = mk_pte(3, writable=False)
    assert cpu.access(6, False) == mem.data[3]
    assert cpu.access(6, True, 1) is FAULT
    assert tlbs.lookup(0, 1, 6) is None               # the faulting entry was dropped


def test_stall_is_charged_and_annotated():
    cpu, _, _ = _cpu()
    cpu.sym = S_ptep_clear_flush
    assert cpu.wait_until("ptep_clear_flush", "dsb ish", 100.0) == 100.0
    assert cpu.wait_until("ptep_clear_flush", "dsb ish", 50.0) == 0.0
    assert cpu.stalls == {("ptep_clear_flush", "dsb ish"): 100.0}
    assert cpu.now == 100.0


def test_store_through_a_clean_entry_rewalks_and_traps_if_the_pte_is_gone():
    cpu, tlbs, mem = _cpu()
    cpu.pgd[5] = mk_pte(3, writable=True)
    mem.data[3] = 1
    assert cpu.access(5, False) == 1                  # writable, clean entry
    del cpu.pgd[5]                                    # cleared, not flushed
    assert cpu.access(5, True, 2) is FAULT            # must re-walk: no PTE, a fault
    assert mem.data[3] == 1                           # the old page is untouched
    assert tlbs.lookup(0, 1, 5) is None               # the faulting CPU dropped its entry


def test_store_through_a_clean_entry_traps_if_the_pte_now_maps_another_page():
    cpu, tlbs, mem = _cpu()
    cpu.pgd[5] = mk_pte(3, writable=True)
    mem.data[3], mem.data[4] = 1, 1
    cpu.access(5, False)
    cpu.pgd[5] = mk_pte(4, writable=True)             # remapped, not flushed
    assert cpu.access(5, True, 2) is FAULT
    assert mem.data[3] == 1 and mem.data[4] == 1


def test_store_through_a_clean_entry_sets_the_dirty_bit_in_the_pte():
    cpu, tlbs, mem = _cpu()
    cpu.pgd[5] = mk_pte(3, writable=True)
    cpu.access(5, False)
    assert not pte_dirty(cpu.pgd[5])
    assert cpu.access(5, True, 2) == 2 and mem.data[3] == 2
    assert pte_dirty(cpu.pgd[5]) and tlbs.lookup(0, 1, 5).dirty


def test_profile_is_a_read_only_view_in_first_charge_order():
    """cpu.profile reads cpu.ns: symbols in the order first charged (0 ns charges too),
    unknown names a KeyError, and a write raises instead of losing the charge."""
    import pytest

    from minikernel.hw.cpu import SYMBOL_IDS, S_do_fault, S_main, symbol_id

    cpu, _, _ = _cpu()
    assert S_main > S_do_fault                       # slot order is not charge order
    cpu.charge("main", 3.0)
    cpu.ns[S_do_fault] += 0.0
    cpu.ns[S_main] += 1.5
    i = symbol_id("a_test_symbol")                   # registered after the CPU was built
    assert SYMBOL_IDS["a_test_symbol"] == i
    cpu.charge("a_test_symbol", 2.0)
    assert list(cpu.profile.items()) == [("main", 4.5), ("do_fault", 0.0),
                                         ("a_test_symbol", 2.0)]
    assert cpu.now == 5.0
    assert cpu.profile["xas_load"] == 0.0 and "xas_load" not in cpu.profile
    assert "do_fault" in cpu.profile and len(cpu.profile) == 3
    with pytest.raises(KeyError):
        cpu.profile["no_such_symbol"]
    with pytest.raises(TypeError):
        cpu.profile["main"] += 1.0                   # type: ignore[index]
    assert cpu.profile["main"] == 4.5


def test_a_miss_on_a_full_tlb_evicts_its_oldest_entry_from_every_index():
    tlbs = TlbArray(2, capacity=2)
    mem = PhysMem(16)
    cpu, other = Cpu(0, tlbs, mem, walk_ns=1.0), Cpu(1, tlbs, mem, walk_ns=1.0)
    pgd = {vpn: mk_pte(vpn, writable=False) for vpn in (1, 2, 3)}
    cpu.switch_pgd(pgd, 1)
    other.switch_pgd(pgd, 1)
    other.access(1, False)                      # the other CPU's entry for page 1 stays
    for vpn in (1, 2, 3):
        cpu.access(vpn, False)
    key = 1 << 36
    assert list(cpu.tlb) == [key | 2, key | 3]
    assert [e.cpu for e in tlbs.by_key[key | 1]] == [1]
    assert [e.cpu for e in tlbs.by_pfn[1]] == [1]
    assert [(e.cpu, e.pfn) for e in tlbs.by_pfn[3]] == [(0, 3)]
