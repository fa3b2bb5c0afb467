"""mm/vmstat.py: the counters."""

from minikernel.mm.vmstat import VmStat


def test_every_counter_is_declared_for_type_checkers():
    assert list(VmStat.__annotations__) == list(VmStat.__slots__)


def test_counters_start_at_zero_and_report_by_name():
    vs = VmStat()
    vs.pswpout += 2
    d = vs.as_dict(debug_tlbflush=False)
    assert d["pswpout"] == 2 and "nr_tlb_remote_flush" not in d
    assert set(vs.as_dict()) == set(VmStat.__slots__)
