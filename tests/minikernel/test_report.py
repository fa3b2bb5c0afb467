"""minikernel/report.py and the main job it drives: the A/B run, perf tables,
vmstat, trace, and the CLI options that select them."""

from __future__ import annotations

import json
import re

import pytest

from minikernel.errors import UserError
from minikernel.kconfig import load_kernel_config
from minikernel.profile import load_profile
from minikernel.report import flip_deferral, parse_workload

RUN_FIELDS = {"label", "batched", "elapsed_s", "cycles", "pages_reclaimed", "profile", "vmstat",
              "other_cpus", "other_cpus_cycles", "arch", "flush_path", "sync_flushes", "batches"}


# --- the flip ---------------------------------------------------------------------

def _cores(*cores):
    import dataclasses

    from minikernel.hw.cputype import parse_cores
    from minikernel.profile import default_profile
    return dataclasses.replace(default_profile("arm64"), cores=parse_cores(list(cores)))


@pytest.mark.parametrize("sets, cpus, cores, flip", [
    ((), 96, None, ("EXPERT=y",)),
    ((), 8, None, ("EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=7")),
    (("EXPERT=y",), 8, None, ("ARM64_NR_CPUS_FOR_BATCHED_TLB=7",)),
    (("EXPERT=y",), 96, None, ("ARM64_NR_CPUS_FOR_BATCHED_TLB=96",)),
    # errata default y: only one that matches a core of the machine is turned off
    (("EXPERT=y",), 96, ("cortex-a76:r1p0",), ("ARM64_ERRATUM_1286807=n",)),
    (("EXPERT=y",), 4, ("cortex-a55:r1p0",),
     ("ARM64_NR_CPUS_FOR_BATCHED_TLB=3", "ARM64_ERRATUM_2441007=n")),
    # the merged series has no threshold: the model-only never-defer knob
    (("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"), 96, None, ("MODEL_ARM64_TLBBATCH_NEVER_DEFER=y",)),
    (("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"), 8, None,
     ("MODEL_ARM64_TLBBATCH_NEVER_DEFER=y",)),
    (("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y", "MODEL_ARM64_TLBBATCH_NEVER_DEFER=y"), 4, None,
     ("MODEL_ARM64_TLBBATCH_NEVER_DEFER=n",)),
])
def test_arm64_flip_changes_only_what_is_needed(sets, cpus, cores, flip, make_machine):
    cfg = load_kernel_config("arm64", sets=sets)
    prof = None if cores is None else _cores(*cores)
    f = flip_deferral(cfg, cpus, prof)
    assert f.sets == flip
    a = make_machine("arm64", *sets, cpus=cpus, profile=prof)
    b = make_machine("arm64", *sets, *f.sets, cpus=cpus, profile=prof)
    assert a.tlb_flush_path.batched is not b.tlb_flush_path.batched


@pytest.mark.parametrize("sets, core", [(("EXPERT=y",), "cortex-a76:r1p0"),
                                        (("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"),
                                         "cortex-a55:r2p0")])
def test_flip_that_would_drop_an_erratum_workaround_is_refused(sets, core, make_machine):
    # B would drop the REPEAT_TLBI workaround too: its cost would be credited to batching.
    from minikernel.report import refuse_erratum_flip

    prof = _cores(f"{core} x96")
    f = flip_deferral(load_kernel_config("arm64", sets=sets), 96, prof)
    with pytest.raises(UserError, match="REPEAT_TLBI erratum workaround.*--set ARM64_ERRATUM_"):
        refuse_erratum_flip(make_machine("arm64", *sets, cpus=96, profile=prof), f.sets)


@pytest.mark.parametrize("variant", ["MODEL_ARM64_BATCHED_TLB_6_6", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM"])
def test_main_job_flips_the_threshold_less_variants(run_cli, variant):
    r = run_cli("--defconfig", "arm64", "--set", "EXPERT=y", "--set", f"{variant}=y",
                "--iterations", "2", "--json")
    assert r.rc == 0, r.err
    a, b = json.loads(r.out)["runs"]
    assert a["batched"] and not b["batched"]
    assert b["sync_flushes"] > 0 and a["elapsed_s"] < b["elapsed_s"]


def test_a_flip_that_changes_nothing_is_an_error(make_machine):
    from minikernel.report import Flip, check_flip

    a = make_machine("arm64", "EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y", cpus=16)
    b = make_machine("arm64", "EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y",
                     "ARM64_NR_CPUS_FOR_BATCHED_TLB=16", cpus=16)   # 6.6 ignores the threshold
    with pytest.raises(UserError, match="does not change the deferral decision"):
        check_flip(a, b, Flip(("ARM64_NR_CPUS_FOR_BATCHED_TLB=16",), ""))


def test_erratum_main_job_exits_2_with_the_reason(run_cli):
    r = run_cli("--defconfig", "arm64", "--machine", "snapdragon888", "--set", "EXPERT=y",
                "--set", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y")   # A55s: erratum 2441007
    assert r.rc == 2 and r.out == ""
    assert "REPEAT_TLBI" in r.err and r.err.count("\n") == 1


def test_x86_flip_uses_the_model_only_knob():
    cfg = load_kernel_config("x86")
    f = flip_deferral(cfg, 48)
    assert f.sets == ("EXPERT=y", "X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y")
    assert "model-only" in f.why and "no upstream counterpart" in f.why
    back = flip_deferral(cfg.with_sets(f.sets), 48)
    assert back.sets == ("X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=n",)


@pytest.mark.parametrize("spec, parsed", [
    ("seed", ("seed", 1, 1)), ("procs", ("procs", 4, 1)), ("threads:2", ("threads", 1, 2)),
])
def test_parse_workload(spec, parsed):
    assert parse_workload(spec) == parsed


@pytest.mark.parametrize("spec", ["foo", "seed:2", "threads:0", "procs:x"])
def test_parse_workload_rejects(spec):
    with pytest.raises(UserError, match="--workload"):
        parse_workload(spec)


# --- the main job through the CLI ----------------------------------------------------

def test_json_runs_configured_then_flipped(run_cli):
    r = run_cli("--defconfig", "arm64", "--set", "EXPERT=y", "--iterations", "2", "--json")
    assert r.rc == 0
    report = json.loads(r.out)
    a, b = report["runs"]
    assert RUN_FIELDS <= set(a) and RUN_FIELDS <= set(b)
    assert a["label"].startswith("A") and b["label"].startswith("B")
    assert (a["batched"], b["batched"]) == (True, False)
    assert report["ab"]["flip"]["sets"] == ["ARM64_NR_CPUS_FOR_BATCHED_TLB=96"]
    assert a["pages_reclaimed"] == b["pages_reclaimed"] == 512
    assert b["elapsed_s"] > a["elapsed_s"] > 0
    assert sum(a["profile"].values()) == pytest.approx(100, abs=0.01)
    assert "ptep_clear_flush" in b["profile"] and "ptep_clear_flush" not in a["profile"]
    assert a["vmstat"]["pswpout"] == 512
    assert a["arch"]["dsb_ish"] < b["arch"]["dsb_ish"]


def test_text_report_has_boot_decision_ab_table_and_two_perf_tables(run_cli):
    # the published Snapdragon kernel predates the A55 erratum 2441007 (171df58028bf)
    r = run_cli("--defconfig", "arm64", "--machine", "snapdragon888", "--iterations", "2",
                "--set", "ARM64_ERRATUM_2441007=n")
    assert r.rc == 0
    out = r.out
    assert out.startswith("minikernel/arm64 on 8 CPUs\nKernel baseline: Linux 6.1, series variant v5\n"
                          "TLB flush path: not batched")
    assert "B = A + --set EXPERT=y --set ARM64_NR_CPUS_FOR_BATCHED_TLB=7" in out
    assert re.search(r"elapsed \(simulated ms\)\s+[\d.]+\s+[\d.]+\s+-\d+\.\d%", out)
    assert out.count("# Overhead  Command  Shared Object      Symbol") == 2
    assert re.search(r"^\s+5\.\d\d%  a\.out    \[kernel\.kallsyms\]  \[k\] ptep_clear_flush$",
                     out, re.M)
    assert "pswpout" not in out


def test_smp_overrides_the_profile(run_cli):
    r = run_cli("--defconfig", "arm64", "--machine", "snapdragon888", "--smp", "16",
                "--set", "ARM64_ERRATUM_2441007=n", "--iterations", "1", "--json")
    report = json.loads(r.out)
    assert report["machine"] == {"cpus": 16, "profile": "snapdragon888", "ghz": 2.42}
    assert report["runs"][1]["cpus"] == 16


def test_machine_from_a_file(run_cli, tmp_path):
    p = tmp_path / "big.toml"
    p.write_text('inherit = "kunpeng920"\n[machine]\ncpus = 128  # count\n')
    report = json.loads(run_cli("--defconfig", "arm64", "--machine", str(p),
                                "--iterations", "1", "--json").out)
    assert report["machine"]["profile"] == "big" and report["machine"]["cpus"] == 128


def test_x86_seed_never_defers_and_says_so(run_cli):
    r = run_cli("--defconfig", "x86", "--iterations", "1", "--json")
    report = json.loads(r.out)
    assert [run["batched"] for run in report["runs"]] == [False, False]
    assert "never defers" in report["ab"]["notes"][0]
    assert all(run["arch"].get("ipis_sent", 0) == 0 for run in report["runs"])


def test_x86_threads_defers_and_reports_handlers_separately(run_cli):
    r = run_cli("--defconfig", "x86", "--workload", "threads:4", "--iterations", "2", "--json")
    a, b = json.loads(r.out)["runs"]
    assert (a["batched"], b["batched"]) == (True, False)
    assert b["arch"]["ipis_sent"] >= 20 * a["arch"]["ipis_sent"] > 0
    assert "flush_tlb_func" in b["other_cpus"] and "flush_tlb_func" not in b["profile"]
    assert b["other_cpus_cycles"] > a["other_cpus_cycles"] > 0


def test_procs_workload_reclaims_shared_pages(run_cli):
    r = run_cli("--defconfig", "arm64", "--set", "EXPERT=y", "--workload", "procs:2",
                "--iterations", "1", "--json")
    a, b = json.loads(r.out)["runs"]
    assert a["pages_reclaimed"] == b["pages_reclaimed"] == 256
    assert b["sync_flushes"] == 512 and a["batched"]


def test_vmstat_shows_kernel_counters_and_nr_tlb_only_with_debug_tlbflush(run_cli):
    out = run_cli("--defconfig", "x86", "--workload", "threads:2", "--iterations", "1",
                  "--vmstat").out
    assert re.search(r"^pswpout 256$", out, re.M)
    assert re.search(r"^nr_tlb_remote_flush \d+$", out, re.M)
    assert re.search(r"^tlb_sync_flush 256    # model-only$", out, re.M)
    out = run_cli("--defconfig", "x86", "--set", "DEBUG_TLBFLUSH=n", "--workload", "threads:2",
                  "--iterations", "1", "--vmstat").out
    assert "pswpout 256" in out and "nr_tlb_" not in out


def test_trace_writes_ftrace_shaped_lines(run_cli, tmp_path):
    path = tmp_path / "trace.txt"
    r = run_cli("--defconfig", "x86", "--workload", "threads:2", "--iterations", "1",
                "--trace", str(path))
    assert r.rc == 0
    text = path.read_text()
    assert text.startswith("# tracer: nop\n")
    assert text.count("#           TASK-PID     CPU#     TIMESTAMP  FUNCTION") == 2
    assert re.search(r"^\s+a\.out-\d+ +\[000\]\s+[\d.]+: mm_vmscan_write_folio: pfn=0x[0-9a-f]+ "
                     r"flags=RECLAIM_WB_FILE\|RECLAIM_WB_SYNC$", text, re.M)
    assert re.search(r": tlb_flush: pages:-1 reason:remote ipi send$", text, re.M)


def test_tracing_off_keeps_no_buffer(make_machine):
    assert make_machine("arm64").trace is None


BAD_PROFILE = {
    "malformed": ("[machine\n", "malformed TOML"),
    "missing key": ('inherit = "kunpeng920"\n[tlb]\n', None),
    "wrong type": ('inherit = "kunpeng920"\n[machine]\ncpus = "many"\n',
                   "machine.cpus: expected a positive integer (CPUs), found 'many'"),
}


@pytest.mark.parametrize("case", list(BAD_PROFILE))
def test_bad_profile_exits_2_with_one_line(run_cli_proc, tmp_path, case):
    text, expected = BAD_PROFILE[case]
    if expected is None:          # a complete file minus one key
        from minikernel.profile import find_profile
        full = find_profile("snapdragon888").read_text()
        text = "\n".join(ln for ln in full.splitlines() if not ln.startswith("walk_ns"))
        expected = "tlb.walk_ns: missing: expected a number >= 0 (ns)"
    (tmp_path / "bad.toml").write_text(text)
    r = run_cli_proc("--defconfig", "arm64", "--machine", "bad.toml")
    assert r.rc == 2 and r.out == ""
    assert "Traceback" not in r.err
    assert r.err.count("\n") == 1, r.err
    assert "bad.toml" in r.err and expected in r.err


@pytest.mark.parametrize("argv, expected", [
    (["--defconfig", "arm64", "--machine", "pixel9"], "unknown machine profile"),
    (["--defconfig", "x86", "--machine", "snapdragon888"], "is an arm64 machine"),
    (["--defconfig", "arm64", "--iterations", "0"], "--iterations 0"),
    (["--defconfig", "arm64", "--workload", "threads:999"], "needs 999 CPUs"),
    (["--defconfig", "arm64", "--workload", "bogus"], "unknown workload"),
    (["--defconfig", "arm64", "--trace", "/nonexistent/dir/t.txt", "--iterations", "1"],
     "no such directory"),
])
def test_bad_main_job_options_exit_2(run_cli, argv, expected):
    r = run_cli(*argv)
    assert r.rc == 2 and r.out == ""
    assert expected in r.err.splitlines()[-1]


def test_json_runs_carry_the_arch_tlb_counters_in_vmstat(run_cli):
    import json
    r = run_cli("--defconfig", "arm64", "--set", "EXPERT=y", "--iterations", "1", "--json")
    a, b = json.loads(r.out)["runs"]
    # A defers: per-page TLBIs, one DSB per batch; B waits in a DSB per page
    assert a["vmstat"]["tlbi_issued"] >= a["pages_reclaimed"]
    assert a["vmstat"]["dsb_ish_waited"] < b["vmstat"]["dsb_ish_waited"]
    assert b["vmstat"]["dsb_ish_waited"] >= b["pages_reclaimed"]


def test_snapdragon888_on_6_6_never_defers_and_the_report_says_why_in_one_line(run_cli):
    """Four Cortex-A55s, erratum 2441007 on (default y; every A55 since 171df58028bf)."""
    r = run_cli("--defconfig", "arm64", "--machine", "snapdragon888", "--set", "EXPERT=y",
                "--set", "MODEL_ARM64_BATCHED_TLB_6_6=y", "--iterations", "1")
    # the A/B is refused (dropping the workaround would credit batching with its cost), in one line
    assert r.rc == 2 and r.out == ""
    assert r.err.startswith("CONFIG_ARM64_ERRATUM_2441007=y: the REPEAT_TLBI erratum workaround")
    from minikernel.boot import boot
    from minikernel.kconfig import load_kernel_config
    from minikernel.profile import load_profile
    path = boot(load_kernel_config("arm64", sets=["EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"]),
                profile=load_profile("snapdragon888")).tlb_flush_path
    assert path.reason.startswith("disabled by the REPEAT_TLBI erratum workaround: CPUs 0-3 are "
                                  "Cortex-A55 r2p0 (CONFIG_ARM64_ERRATUM_2441007=y")


def test_smp_far_from_the_profiles_cpu_count_says_it_extrapolates(run_cli):
    r = run_cli("--defconfig", "arm64", "--smp", "4", "--iterations", "1", "--json")
    notes = json.loads(r.out)["ab"]["notes"]
    assert any("measured or fitted at 96 CPUs" in n for n in notes)
    r = run_cli("--defconfig", "arm64", "--smp", "64", "--iterations", "1", "--json")
    assert not any("extrapolate" in n for n in json.loads(r.out)["ab"]["notes"])


def test_progress_with_eta_only_on_a_tty(run_cli, monkeypatch):
    import sys

    r = run_cli("--defconfig", "arm64", "--smp", "4", "--iterations", "3")
    assert "ETA" not in r.err                       # stderr is not a terminal here
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    r = run_cli("--defconfig", "arm64", "--smp", "4", "--iterations", "3")
    assert "A configured: 3/3 iterations, ETA" in r.err and "B flipped: 3/3" in r.err
    r = run_cli("--defconfig", "arm64", "--smp", "4", "--iterations", "3", "--json")
    assert "ETA" not in r.err


def test_ctrl_c_stops_with_one_line_and_the_iterations_done(tmp_path, cli_env):
    import signal
    import subprocess
    import sys
    import time

    p = subprocess.Popen([sys.executable, "-m", "minikernel", "--defconfig", "arm64",
                          # 100 000: never done in 2.5 s, even under PyPy (1 000 were, at
                          # ~1.2 ms an iteration, and the interrupt then landed in B)
                          "--set", "EXPERT=y", "--iterations", "100000", "--force", "--jobs", "1",
                          "--log-level", "error"], cwd=tmp_path, env=cli_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130 and out == ""
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert re.search(r"interrupted: A: configured: \d+ of 100000 measured iterations done", err)


def _trace_sections(text):
    return [sec for sec in re.split(r"^# [AB]: .*$", text, flags=re.M)[1:]]


def test_trace_has_one_global_clock_per_run(run_cli, tmp_path):
    # x86 threads: IPI handlers run on CPUs whose own clocks lag the initiator's
    path = tmp_path / "trace.txt"
    assert run_cli("--defconfig", "x86", "--smp", "8", "--workload", "threads:4",
                   "--iterations", "1", "--trace", str(path)).rc == 0
    sections = _trace_sections(path.read_text())
    assert len(sections) == 2
    for sec in sections:
        ts = [float(t) for t in re.findall(r"^\s+\S+ +\[\d{3}\]\s+([\d.]+):", sec, re.M)]
        assert len(ts) > 100 and ts == sorted(ts)
        assert len(set(re.findall(r"^\s+\S+ +\[(\d{3})\]", sec, re.M))) > 1   # several CPUs


def test_trace_marks_the_warm_up_and_arm64_tlbi_dsb_as_model_only(run_cli, tmp_path):
    path = tmp_path / "trace.txt"
    r = run_cli("--defconfig", "arm64", "--set", "EXPERT=y", "--smp", "16",
                "--iterations", "2", "--trace", str(path), "--json")
    assert r.rc == 0
    run_a, run_b = json.loads(r.out)["runs"]
    text = path.read_text()
    assert "# model-only events (no upstream tracepoint): model_arm64_tlbi, model_arm64_dsb_ish" \
        in text
    a, b = _trace_sections(text)
    warm, measured = a.split("# measured iterations 1..2")
    assert "# warm-up iteration (not measured)" in warm
    assert re.search(r": model_arm64_tlbi: op=VALE1IS asid=\d+ va=0x[0-9a-f]+ complete_at=", a)
    # the measured part of the trace is exactly what the run's counters measured
    assert measured.count(": model_arm64_tlbi: ") == run_a["arch"]["tlbi_issued"]
    assert measured.count(": model_arm64_dsb_ish: ") == run_a["arch"]["dsb_ish"]
    assert run_a["deferred_ptes"] > 0 and re.search(r"dsb_ish: completed=(\d\d+)$", measured, re.M)
    # B flushes every page synchronously: a DSB completing one TLBI per flushed page
    # (two with KPTI: the user ASID's too)
    per = 2 if load_profile(run_b["machine"]).kpti else 1
    b_measured = b.split("# measured iterations 1..2")[1]
    assert len(re.findall(rf": model_arm64_dsb_ish: completed={per}$", b_measured, re.M)) >= \
        run_b["sync_flushes"] > 0


# --- issue 13: the flip for every variant, refused when it flips nothing ---------------

def test_main_job_whose_flip_changes_nothing_exits_2_and_prints_no_table(run_cli, monkeypatch):
    # A flip the kernels do not differ in (here: a no-op assignment) is refused before
    # anything runs: one line, nothing on stdout -- never a table of +0.0 % rows.
    import minikernel.report as rep

    monkeypatch.setattr(rep, "flip_deferral",
                        lambda cfg, cpus, profile=None: rep.Flip(("EXPERT=y",), "a no-op"))
    r = run_cli("--defconfig", "arm64", "--set", "EXPERT=y", "--iterations", "1")
    assert r.rc == 2 and r.out == ""
    assert r.err.count("\n") == 1 and "does not change the deferral decision" in r.err


def test_sweep_point_whose_kernels_decide_alike_is_an_error_before_anything_runs(
        run_cli, monkeypatch, tmp_path):
    import minikernel.arch
    import minikernel.report as rep
    import minikernel.sweep as sw

    same = lambda cfg, cpus, on, profile=None: []        # noqa: E731  both kernels = the cfg
    monkeypatch.setattr(minikernel.arch, "deferral_sets", same)
    monkeypatch.setattr(rep, "deferral_sets", same)
    ran = []
    monkeypatch.setattr(sw, "run_point", lambda p: ran.append(p))
    r = run_cli("sweep", "--arch", "arm64", "--cpus", "4,96", "--set", "EXPERT=y",
                "--set", "MODEL_ARM64_BATCHED_TLB_6_6=y", "--iterations", "1", "--jobs", "1",
                "--no-plot", "--out", str(tmp_path / "o"))
    assert r.rc == 2 and r.out == "" and r.err.count("\n") == 1
    assert "do not differ in the deferral decision" in r.err
    assert ran == [] and not (tmp_path / "o").exists()


@pytest.mark.parametrize("sets", [
    ("EXPERT=y", "ARM64_BATCHED_TLB_6_6=y"),            # the issue's spelling (old name)
    ("EXPERT=y", "ARM64_BATCHED_TLB_FLUSH_MM=y"),
])
def test_the_issues_sweep_of_a_threshold_less_variant_defers_against_a_kernel_that_does_not(
        run_cli, sets, tmp_path):
    argv = [a for s in sets for a in ("--set", s)]
    r = run_cli("sweep", "--arch", "arm64", "--cpus", "4,96", *argv, "--iterations", "1",
                "--jobs", "1", "--no-plot", "--no-ranges", "--json", "--out", str(tmp_path))
    assert r.rc == 0, r.err
    rows = json.loads(r.out)["points"]
    assert [p["cpus"] for p in rows] == [4, 96]
    assert all(p["speedup"] > 1.0 and p["sync_flushes_unbatched"] > 0 for p in rows)


# --- issue 13 item 2: an erratum option is not credited to batching ---------------------

def test_the_issues_erratum_case_reports_batchings_effect_alone(run_cli):
    # kunpeng920's TSV110s have no REPEAT_TLBI erratum: 1286807=y is no workaround in
    # force there, so B must not drop it and the saving is the one without the option.
    def ab(*sets):
        argv = [a for s in sets for a in ("--set", s)]
        r = run_cli("--defconfig", "arm64", *argv, "--iterations", "1", "--json")
        assert r.rc == 0, r.err
        return json.loads(r.out)["ab"]

    with_option = ab("EXPERT=y", "ARM64_ERRATUM_1286807=y")
    without = ab("EXPERT=y", "ARM64_ERRATUM_1286807=n")
    assert not any("ERRATUM" in s for s in with_option["flip"]["sets"])
    assert with_option["saving"]["pct"] == without["saving"]["pct"]


def test_an_erratum_in_force_is_refused_by_main_job_and_sweep(run_cli, tmp_path):
    # Cortex-A76 r2p0 cores: 1286807 matches, the workaround is in force, B would drop it.
    prof = tmp_path / "a76.toml"
    prof.write_text('inherit = "kunpeng920"\n[machine]\nname = "a76box"\ncpus = 8\n'
                    'cores = ["cortex-a76:r2p0 x8"]\n')
    for argv in (("--defconfig", "arm64", "--machine", str(prof), "--set", "EXPERT=y"),
                 ("sweep", "--arch", "arm64", "--machine", str(prof), "--cpus", "8",
                  "--set", "EXPERT=y", "--no-plot", "--out", str(tmp_path / "o"))):
        r = run_cli(*argv, "--iterations", "1")
        assert r.rc == 2 and r.out == "" and r.err.count("\n") == 1, r.err
        assert "CONFIG_ARM64_ERRATUM_1286807=y: the REPEAT_TLBI erratum workaround" in r.err


# --- issue 13 item 7: progress on a real terminal only -----------------------------------

def _stderr_on_a_terminal(argv, cwd, env, timeout=120):
    """Run *argv* with stderr on a pseudo-terminal; returns (rc, stdout, stderr text)."""
    import os
    import select
    import subprocess
    import time

    master, slave = os.openpty()
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=slave,
                         stdin=subprocess.DEVNULL)
    os.close(slave)
    err, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:                 # EIO: the child closed the terminal
                break
            if not chunk:
                break
            err += chunk
        elif p.poll() is not None:
            break
    os.close(master)
    out = p.stdout.read()
    p.stdout.close()
    return p.wait(timeout=30), out.decode(), err.decode()


@pytest.mark.parametrize("verb", ["main", "sweep"])
def test_progress_with_eta_on_a_real_terminal_and_never_on_a_pipe_or_with_json(
        verb, tmp_path, cli_env):
    import subprocess
    import sys

    argv = ([sys.executable, "-m", "minikernel", "--defconfig", "arm64", "--smp", "4",
             "--iterations", "3"] if verb == "main" else
            [sys.executable, "-m", "minikernel", "sweep", "--arch", "arm64", "--cpus", "4,8",
             "--iterations", "1", "--no-ranges", "--jobs", "1", "--no-plot", "--out", "o"])
    shown = (r"A configured: 3/3 iterations, ETA \d+ s \(both runs\).*B flipped: 3/3" if
             verb == "main" else r"2/2 points, ETA \d+ s")
    rc, out, err = _stderr_on_a_terminal(argv, tmp_path, cli_env())
    assert rc == 0 and re.search(shown, err, flags=re.S), err
    p = subprocess.run(argv, cwd=tmp_path, env=cli_env(), capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=120)
    assert p.returncode == 0 and "ETA" not in p.stderr and "ETA" not in p.stdout
    rc, out, err = _stderr_on_a_terminal([*argv, "--json"], tmp_path, cli_env())
    assert rc == 0 and "ETA" not in err and "ETA" not in out
    json.loads(out)                                  # stdout is still exactly one object


def test_the_eta_covers_both_runs_and_the_line_is_throttled(capsys):
    from minikernel.cli import _IterationProgress

    now = [0.0]
    bar = _IterationProgress(clock=lambda: now[0])
    for done in range(1, 11):                        # run A: 1 s per iteration
        now[0] += 1.0
        bar("A: configured", done, 10)
    err = capsys.readouterr().err
    # after A's first iteration: 19 left at 1 s each -- B's ten included
    assert "A configured: 1/10 iterations, ETA 19 s (both runs)" in err
    assert "A configured: 10/10 iterations, ETA 10 s (both runs)" in err
    now[0] += 0.01
    bar("B: flipped", 1, 10)
    now[0] += 0.01
    bar("B: flipped", 2, 10)                         # 0.01 s after the last line: not written
    err = capsys.readouterr().err
    assert "B flipped: 1/10" in err and "B flipped: 2/10" not in err


@pytest.mark.parametrize("verb", ["main", "sweep"])
def test_ctrl_c_in_the_range_re_runs_is_a_clean_stop(verb, run_cli, monkeypatch, tmp_path):
    # Ctrl-C while the saving's range re-runs (one iteration each) run: the loop turns
    # it into BenchmarkInterrupted, which must still end as one line and exit 130 (it
    # was a traceback, exit 1) -- the main job saying A and B had finished, the sweep
    # writing the points that had.
    import csv

    import minikernel.uncertainty as unc
    from minikernel.workload import BenchmarkInterrupted

    real, calls = unc.saving_range, []

    def interrupted_second(*a, **kw):
        calls.append(a)
        if len(calls) == (1 if verb == "main" else 2):
            raise BenchmarkInterrupted(0, 1)
        return real(*a, **kw)

    monkeypatch.setattr(unc, "saving_range", interrupted_second)
    if verb == "main":
        r = run_cli("--defconfig", "arm64", "--smp", "4", "--iterations", "2",
                    "--log-level", "error")
        assert r.rc == 130 and r.out == "" and r.err.count("\n") == 1, r.err
        assert "interrupted: A and B finished (all 2 measured iterations each)" in r.err
    else:
        r = run_cli("sweep", "--arch", "arm64", "--cpus", "4,8", "--iterations", "1",
                    "--jobs", "1", "--no-plot", "--out", str(tmp_path / "o"))
        assert r.rc == 130 and r.err.count("\n") == 1, r.err
        assert "interrupted: 1 of 2 points done; wrote" in r.err
        assert [row["cpus"] for row in csv.DictReader(open(tmp_path / "o" / "sweep.csv"))] \
            == ["4"]


#: every kernel the main job can be asked about: arch, --set assignments, machine
AB_VARIANTS = [
    ("arm64", (), None),                                              # EXPERT=n
    ("arm64", ("EXPERT=y",), None),                                   # v5, deferring at 16
    ("arm64", ("EXPERT=y", "ARM64_NR_CPUS_FOR_BATCHED_TLB=16"), None),  # v5, not deferring
    ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y"), None),
    ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_FLUSH_MM=y"), None),
    ("arm64", ("EXPERT=y", "MODEL_ARM64_BATCHED_TLB_6_6=y", "MODEL_ARM64_TLBBATCH_NEVER_DEFER=y"),
     None),
    ("arm64", ("EXPERT=y", "ARM64_ERRATUM_2441007=n", "MODEL_ARM64_BATCHED_TLB_6_6=y"),
     "snapdragon888"),
    ("x86", (), None),
    ("x86", ("MODEL_X86_KERNEL_6_6=y",), None),
    ("x86", ("MODEL_X86_KERNEL_6_16=y",), None),
    ("x86", ("MODEL_X86_KERNEL_6_16=y",), "amd-genoa"),               # INVLPGB
    ("x86", ("EXPERT=y", "X86_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y"), None),
    ("riscv", (), None),
    ("riscv", ("EXPERT=y", "RISCV_MODEL_NO_BATCHED_UNMAP_TLB_FLUSH=y"), None),
    ("riscv", ("MODEL_RISCV_KERNEL_6_6=y",), None),
]


@pytest.mark.parametrize("arch, sets, machine", AB_VARIANTS,
                         ids=[" ".join((a, *s, m or "")).strip() for a, s, m in AB_VARIANTS])
def test_every_variants_ab_runs_one_kernel_that_defers_and_one_that_does_not(
        run_cli, arch, sets, machine):
    argv = [a for s in sets for a in ("--set", s)] + (["--machine", machine] if machine else [])
    cpus = "8" if machine == "snapdragon888" else "4" if arch == "riscv" else "16"
    r = run_cli("--defconfig", arch, *argv, "--smp", cpus, "--workload", "threads:4",
                "--iterations", "1", "--json")
    assert r.rc == 0, r.err
    a, b = json.loads(r.out)["runs"]
    assert a["flush_path"]["batched"] is not b["flush_path"]["batched"]
    assert a["batched"] is not b["batched"]                 # deferred at run time, too
    on, off = (a, b) if a["batched"] else (b, a)
    assert on["deferred_ptes"] > 0 and off["deferred_ptes"] == 0
    assert off["sync_flushes"] > on["sync_flushes"]


def test_the_readmes_flip_table_names_the_assignments_the_flip_makes():
    """README, "The flip changes only what is needed": every assignment of its "B adds"
    column is one flip_deferral() makes for some kernel of AB_VARIANTS (N: the CPU
    count), and every one it makes there is in the table ("or back": the knob's =n)."""
    from pathlib import Path

    from minikernel.profile import default_profile

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("The flip changes only what is needed:", 1)[1].split("\n\n", 2)[1]
    column = [row.split(" | ")[1] for row in table.splitlines()[2:]]
    shown = {a for cell in column for span in re.findall(r"`([^`]+)`", cell)
             for a in span.split() if "=" in a}
    made = set()
    for arch, sets, machine in AB_VARIANTS:
        prof = load_profile(machine) if machine else default_profile(arch)
        for cpus in (4, 16):
            for a in flip_deferral(load_kernel_config(arch, sets=sets), cpus,
                                   prof.with_cpus(cpus)).sets:
                sym, _, val = a.partition("=")
                if val.isdigit():
                    val = {cpus: "N", cpus - 1: "N-1"}[int(val)]
                made.add(f"{sym}={val}" if f"{sym}={val}" in shown or val != "n"
                         else f"{sym}=y")           # the table's "or back"
    erratum = {a for a in shown if "ERRATUM" in a}  # refused, never a B (the table says so)
    assert made == shown - erratum
