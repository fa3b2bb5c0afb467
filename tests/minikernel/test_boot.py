"""minikernel/boot.py: CPU-count validation, the TLB-flush path decision
and the boot log."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from minikernel.arch import FlushPath
from minikernel.boot import boot
from minikernel.errors import UserError
from minikernel.kconfig import load_kernel_config


def cfg(arch, *sets):
    return load_kernel_config(arch, sets=sets)


def tlb_flush_path(c, cpus):
    return boot(c, cpus=cpus).tlb_flush_path


def test_default_cpus_per_arch():
    assert boot(cfg("arm64")).nr_cpus == 96      # Kunpeng 920, as in the cover letter
    assert boot(cfg("x86")).nr_cpus == 48        # the 2015 x86 batching series' server


@pytest.mark.parametrize("cpus", [0, -1, 257])
def test_cpu_count_out_of_range(cpus):
    with pytest.raises(UserError, match=rf"CPU count {cpus} out of range: expected 1\.\.256 \(CONFIG_NR_CPUS=256"):
        boot(cfg("arm64"), cpus=cpus)


def test_cpu_count_follows_nr_cpus():
    assert boot(cfg("arm64", "NR_CPUS=4096"), cpus=4096).nr_cpus == 4096
    assert boot(cfg("x86"), cpus=1).nr_cpus == 1


def test_arm64_not_configured_without_expert():
    path = tlb_flush_path(cfg("arm64"), 96)
    assert path == FlushPath(False, path.reason)
    assert path.reason.startswith("not configured")
    assert "CONFIG_EXPERT=n" in path.reason


@pytest.mark.parametrize("cpus,batched", [(1, False), (8, False), (9, True), (96, True)])
def test_arm64_threshold(cpus, batched):
    path = tlb_flush_path(cfg("arm64", "EXPERT=y"), cpus)
    assert path.batched is batched
    if batched:
        assert path.reason.startswith(f"deferring: {cpus} online CPUs > CONFIG_ARM64_NR_CPUS_FOR_BATCHED_TLB=8")
    else:
        assert path.reason.startswith(f"configured but not deferring: {cpus} online CPUs <= CONFIG_ARM64_NR_CPUS_FOR_BATCHED_TLB=8")


def test_arm64_lowered_threshold_defers_on_8_cpus():
    assert tlb_flush_path(cfg("arm64", "EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=4"), 8).batched


@pytest.mark.parametrize("erratum,core", [("ARM64_ERRATUM_1286807", "cortex-a76:r2p0"),
                                          ("ARM64_ERRATUM_2441007", "cortex-a55:r1p0")])
def test_arm64_erratum_disables_deferral_only_on_affected_cores(erratum, core):
    import dataclasses

    from minikernel.hw.cputype import parse_cores
    from minikernel.profile import default_profile
    kp = default_profile("arm64")
    affected = dataclasses.replace(kp, cores=parse_cores([f"{core} x96"]))
    for variant in ("MODEL_ARM64_BATCHED_TLB_V5=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"):
        c = cfg("arm64", "EXPERT=y", variant)
        assert c.IS_ENABLED(erratum)                     # default y, as upstream
        path = boot(c, profile=affected).tlb_flush_path
        assert not path.batched
        assert path.reason.startswith("disabled by the REPEAT_TLBI erratum workaround")
        assert f"CONFIG_{erratum}=y" in path.reason
        assert boot(c, profile=kp).tlb_flush_path.batched            # TSV110: unaffected
        assert boot(c.with_sets([f"{erratum}=n"]), profile=affected).tlb_flush_path.batched


def test_x86_batched_by_default_and_off_by_model_knob():
    on = tlb_flush_path(cfg("x86"), 48)
    assert on.batched and "mm is active on another CPU" in on.reason
    off = tlb_flush_path(cfg("x86", "EXPERT=y", "X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y"), 48)
    assert not off.batched and "model-only knob" in off.reason


def test_tlb_flush_path_is_frozen():
    path = tlb_flush_path(cfg("x86"), 48)
    with pytest.raises(AttributeError):
        path.batched = False


def test_boot_log_names_path_and_reason():
    c = cfg("arm64", "EXPERT=y")
    with capture_logs() as logs:
        k = boot(c, cpus=8)
    assert [e["event"] for e in logs] == [
        "Booting minikernel/arm64",
        "smp: Brought up 4 nodes, 8 CPUs",          # kunpeng920: 4 NUMA nodes
        "tlb: batched unmap TLB flush disabled",
    ]
    assert logs[-1]["reason"] == k.tlb_flush_path.reason
    assert all(e["arch"] == "arm64" for e in logs)


def test_boot_logs_config_notes_as_warnings(tmp_path):
    p = tmp_path / ".config"
    p.write_text("CONFIG_ARM64=y\nCONFIG_ARM64_NR_CPUS_FOR_BATCHED_TLB=4\n")
    with capture_logs() as logs:
        boot(load_kernel_config(config=p))
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert len(warnings) == 1
    assert "CONFIG_ARM64_NR_CPUS_FOR_BATCHED_TLB=4 did not take" in warnings[0]["note"]
