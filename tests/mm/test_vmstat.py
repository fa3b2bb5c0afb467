"""mm/vmstat.py: the counters."""

from minikernel.mm.vmstat import TLB_COUNTERS, VmStat


def test_every_counter_is_declared_for_type_checkers():
    assert list(VmStat.__annotations__) == list(VmStat.COUNTERS)


def test_counters_start_at_zero_and_report_by_name():
    vs = VmStat()
    vs.pswpout += 2
    d = vs.as_dict(debug_tlbflush=False)
    assert d["pswpout"] == 2 and "nr_tlb_remote_flush" not in d
    assert set(vs.as_dict()) == set(VmStat.COUNTERS)


def test_library_view_lists_nr_tlb_only_where_the_kernel_has_them(make_machine):
    """m.vmstat.as_dict() agrees with /proc/vmstat and --json: the nr_tlb_* counters
    exist only with CONFIG_DEBUG_TLBFLUSH, an x86 option (arm64 has neither)."""
    arm = make_machine("arm64", "EXPERT=y", cpus=4).vmstat.as_dict()
    assert not set(TLB_COUNTERS) & set(arm) and "pswpout" in arm
    x86 = make_machine("x86", "DEBUG_TLBFLUSH=y", cpus=4).vmstat.as_dict()
    assert set(TLB_COUNTERS) <= set(x86)
    off = make_machine("x86", "DEBUG_TLBFLUSH=n", cpus=4).vmstat.as_dict()
    assert not set(TLB_COUNTERS) & set(off)
    # an explicit argument still wins (the model counts them on every arch)
    assert set(TLB_COUNTERS) <= set(make_machine("arm64", cpus=4).vmstat.as_dict(True))
