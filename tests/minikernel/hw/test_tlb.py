"""minikernel/hw/tlb.py: the reverse indexes always match the per-CPU TLBs."""

from hypothesis import given
from hypothesis import strategies as st

from minikernel.hw.tlb import TlbArray

ops = st.lists(st.tuples(st.sampled_from(["fill", "inv_key", "inv_local", "inv_asid",
                                          "inv_asid_local", "inv_all", "drop"]),
                         st.integers(0, 2), st.integers(1, 2), st.integers(0, 3),
                         st.integers(1, 4)), max_size=40)


@given(ops)
def test_indexes_match_tlbs(program):
    t = TlbArray(3)
    filled = []
    for op, cpu, asid, vpn, pfn in program:
        key = asid << 36 | vpn
        if op == "fill":
            filled.append(t.fill(cpu, key, pfn, True, False, 0.0))
        elif op == "drop":
            if filled:                  # live or already gone: drop() ignores a dead one
                t.drop(filled[(vpn * 7 + pfn) % len(filled)])
        elif op == "inv_key":
            t.invalidate_key(key)
        elif op == "inv_local":
            t.invalidate_key_local(cpu, key)
        elif op == "inv_asid":
            t.invalidate_asid(asid)
        elif op == "inv_asid_local":
            t.invalidate_asid(asid, cpu)
        else:
            t.invalidate_all_local(cpu)
    live = {e for tlb in t.tlbs for e in tlb.values()}
    # each live entry listed exactly once in each index (they are lists, not sets)
    assert sorted(map(id, (e for lst in t.by_key.values() for e in lst))) == sorted(map(id, live))
    assert sorted(map(id, (e for lst in t.by_pfn.values() for e in lst))) == sorted(map(id, live))
    assert all(e.key == k for k, lst in t.by_key.items() for e in lst)
    assert all(e.pfn == p for p, lst in t.by_pfn.items() for e in lst)
    assert all(t.tlbs[e.cpu][e.key] is e for e in live)


def test_full_tlb_evicts_its_oldest_entry():
    t = TlbArray(1, capacity=2)
    a = t.fill(0, 1, 10, True, False, 0.0)
    t.fill(0, 2, 11, True, False, 0.0)
    t.fill(0, 1, 12, True, False, 0.0)          # refill of key 1: now the newest
    t.fill(0, 3, 13, True, False, 0.0)          # evicts key 2, the oldest
    assert list(t.tlbs[0]) == [1, 3]
    assert t.entries_for_pfn(11) == [] and a not in t.entries_for_pfn(10)
    assert set(t.by_key) == {1, 3}


def test_invalidate_asid_removes_that_asid_only_and_skips_empty_tlbs():
    """invalidate_asid() empties *asid* on every CPU (some TLBs empty), keeps the rest."""
    t = TlbArray(5)
    for cpu in (1, 3):
        for asid in (1, 2):
            for vpn in range(3):
                t.fill(cpu, asid << 36 | vpn, vpn + 1, True, False, 0.0)
    assert t.invalidate_asid(1) == 6
    assert sorted((e.cpu, e.key >> 36) for tlb in t.tlbs for e in tlb.values()) == \
        [(1, 2)] * 3 + [(3, 2)] * 3
    assert t.invalidate_asid(2, 3) == 3 and not t.tlbs[3] and len(t.tlbs[1]) == 3
