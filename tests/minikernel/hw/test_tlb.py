"""minikernel/hw/tlb.py: the reverse indexes always match the per-CPU TLBs."""

from hypothesis import given, strategies as st

from minikernel.hw.tlb import TlbArray

ops = st.lists(st.tuples(st.sampled_from(["fill", "inv_key", "inv_local", "inv_asid",
                                          "inv_asid_local", "inv_all"]),
                         st.integers(0, 2), st.integers(1, 2), st.integers(0, 3),
                         st.integers(1, 4)), max_size=40)


@given(ops)
def test_indexes_match_tlbs(program):
    t = TlbArray(3)
    for op, cpu, asid, vpn, pfn in program:
        key = asid << 36 | vpn
        if op == "fill":
            t.fill(cpu, key, pfn, True, False, 0.0)
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
    assert {e for lst in t.by_key.values() for e in lst} == live
    assert {e for s in t.by_pfn.values() for e in s} == live
    assert all(t.tlbs[e.cpu][e.key] is e for e in live)
