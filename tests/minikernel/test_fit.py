"""minikernel fit: parsers, bad input, and a profile built from the cover letter's own lines."""

from __future__ import annotations

import json

import pytest

from minikernel.cli import main
from minikernel.errors import UserError
from minikernel.fit import parse_annotate, parse_perf_report, parse_time
from minikernel.published import published


def test_perf_report_with_and_without_children_and_other_commands(cover_letter):
    want = dict(published()["snapdragon888"]["unbatched"]["perf"]["symbols"])
    for children in (False, True):
        got, comm = parse_perf_report("perf.txt", cover_letter.perf(children))
        assert comm == "a.out"
        assert got.pop("__memset_generic") == 0.40      # a user-space DSO of a.out
        assert got == want                               # perf's own line not added


def test_time_formats():
    assert parse_time("t", "0.21user 14.34system 0:14.69elapsed 99%CPU\n") == \
        pytest.approx((14.55, 14.69))
    assert parse_time("t", "~ # time ./a.out\nreal\t0m13.460s\nuser\t0m0.248s\n"
                           "sys\t0m12.039s\n") == pytest.approx((12.287, 13.46))
    assert parse_time("t", "real 13.46\nuser 0.25\nsys 12.04\n") == pytest.approx((12.29, 13.46))


def test_annotate_dsb_share():
    text = ("Percent |  Source code & Disassembly of vmlinux\n"
            "         :  static inline void ptep_clear_flush()\n"
            "    2.00 :   ffff8000:   dsb   ishst\n"
            "    3.00 :   ffff8004:   tlbi  vale1is, x0\n"
            "   95.00 :   ffff8008:   dsb   ish\n")
    assert parse_annotate("a", text) == pytest.approx(95.0)


@pytest.mark.parametrize("text, where", [
    ("# Overhead  Command\n  5.36%  a.out\n", "perf.txt:2"),
    ("garbage line here\n", "perf.txt:1"),
])
def test_unreadable_perf_line_names_file_and_line(text, where):
    with pytest.raises(UserError, match=where):
        parse_perf_report("perf.txt", text)


def test_unreadable_time_line_names_file_and_line():
    with pytest.raises(UserError, match="t.txt:2"):
        parse_time("t.txt", "real 0m1.0s\nwhat is this\n")


def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "perf.txt"
    bad.write_text("  5.36% a.out\n")
    t = tmp_path / "time.txt"
    t.write_text("0.21user 14.34system 0:14.69elapsed\n")
    assert main(["fit", "--perf", str(bad), "--time", str(t), "--cpus", "8", "--ghz", "2.4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}:1" in err
    assert main(["fit", "--perf", str(bad)]) == 2
    assert "--time" in capsys.readouterr().err


def test_cover_letter_lines_give_a_profile_that_predicts_the_batched_run(tmp_path, capsys,
                                                                        cover_letter):
    """5.36 % ptep_clear_flush, the published top symbols, 14.69 s: the profile's A/B
    predicts the Snapdragon's batched CPU time (13.67 s) within 1.5 points (the
    tolerance of test_validation.py, same reason)."""
    perf = tmp_path / "perf.txt"
    perf.write_text(cover_letter.perf(children=True))
    t = tmp_path / "time.txt"
    t.write_text(cover_letter.time())
    out = tmp_path / "mine.toml"
    out.write_text("# a file the user had\n")
    assert main(["fit", "--perf", str(perf), "--time", str(t), "--cpus", "8", "--ghz", "2.42",
                 "--cores", "cortex-a78", "--name", "mine", "--out", str(out)]) == 0
    assert (tmp_path / "mine.toml.old").read_text() == "# a file the user had\n"
    text = out.read_text()
    sym = dict(published()["snapdragon888"]["unbatched"]["perf"]["symbols"])
    assert f"fit: measured {sym['ptep_clear_flush']} % over" not in text    # from [arm64]
    assert f"fit: measured {sym['_raw_spin_unlock_irq']} % over 512 calls/iteration" in text
    for line in text.split("[range]")[0].splitlines():     # ranges are not figures
        if "=" in line and not line.startswith(("#", "[", "name", "arch")):
            assert "#" in line, f"figure without provenance: {line}"
    capsys.readouterr()
    assert main(["--defconfig", "arm64", "--set", "EXPERT=y", "--set",
                 "ARM64_NR_CPUS_FOR_BATCHED_TLB=4", "--machine", str(out), "--iterations", "1",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    saving = report["ab"]["saving"]["pct"]
    b = published()["snapdragon888"]
    want = (1 - (b["batched"]["time"]["user_s"] + b["batched"]["time"]["sys_s"])
            / (b["unbatched"]["time"]["user_s"] + b["unbatched"]["time"]["sys_s"])) * 100
    assert saving == pytest.approx(want, abs=1.5)
    # ... and the README's "predicted" table shows this run's figure.
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    row = [ln for ln in readme.splitlines() if ln.startswith("| `minikernel fit` |")]
    assert len(row) == 1 and row[0].split("|")[4].strip() == f"{saving:.2f} %"


def test_perf_report_with_a_samples_column():
    text = ("# Overhead       Samples  Command  Shared Object      Symbol\n"
            "    21.07%         12660  a.out    [kernel.kallsyms]  [k] _raw_spin_unlock_irq\n"
            "     5.36%          3220  a.out    [kernel.kallsyms]  [k] ptep_clear_flush\n")
    got, _ = parse_perf_report("p", text)
    assert got == {"_raw_spin_unlock_irq": 21.07, "ptep_clear_flush": 5.36}
    # The same lines under a header without the column do not silently misparse.
    with pytest.raises(UserError, match="p:2"):
        parse_perf_report("p", text.replace("      Samples", ""))


def test_fit_to_stdout_is_a_loadable_profile(tmp_path, capsys):
    """`minikernel fit ... > mine.toml`: the report lines are TOML comments."""
    from minikernel.profile import load_profile
    assert main(["fit", "--published", "snapdragon888", "--unbatched-only"]) == 0
    path = tmp_path / "sd.toml"
    path.write_text(capsys.readouterr().out)
    p = load_profile(path)
    shipped = load_profile("snapdragon888")
    assert p.dvm_latency_ns() == pytest.approx(shipped.dvm_latency_ns(), rel=1e-3)
    assert main(["fit", "--published", "nosuch"]) == 2
    assert "--published nosuch" in capsys.readouterr().err


# --- KPTI: a second TLBI per page where the profile's cores need it (issue 12, item 1) ---

@pytest.mark.parametrize("cores, kpti, want", [
    (("cortex-a78",), None, True),                # ARMv8.2, no E0PD: KASLR forces KPTI
    (("tsv110 x96",), None, True),
    (("cortex-a55:r2p0 x4", "cortex-x1:r1p0"), None, True),
    (("cortex-a710 x8",), None, False),           # ARMv9.0 has E0PD: no KPTI for KASLR
    (("cortex-a55 x4", "cortex-a710 x4"), None, True),    # one boot CPU without E0PD is
                                                          # enough (a CPU-local capability)
    ((), None, False),                            # cores unknown: assume none
    (("cortex-a78",), False, False),              # dmesg said so (--kpti no)
    (("cortex-a710",), True, True),
])
def test_fit_decides_kpti_from_the_cores(cores, kpti, want):
    from minikernel.fit import Measurements, _kpti
    got, why = _kpti(Measurements(name="m", cpus=8, ghz=2.0, cores=cores, kpti=kpti))
    assert got is want
    assert ("given" in why) is (kpti is not None)


def test_kpti_issues_a_second_tlbi_per_page_and_costs_its_issue(make_machine):
    """The same machine with and without KPTI, seed benchmark unbatched: twice the TLBIs,
    and the second TLBI's issue and port slot are charged (the old model ignored it)."""
    from dataclasses import replace

    from minikernel.fit import PUBLISHED_KERNEL, UNBATCHED
    from minikernel.profile import load_profile
    from minikernel.workload import run_seed_benchmark
    sd = load_profile("snapdragon888")
    runs = {}
    for kpti in (False, True):
        m = make_machine("arm64", *PUBLISHED_KERNEL, *UNBATCHED, cpus=8,
                         profile=replace(sd, kpti=kpti))
        assert m.arch.kpti is kpti
        runs[kpti] = run_seed_benchmark(m, 1, warmup=1)
    off, on = runs[False], runs[True]
    assert on.arch["tlbi_issued"] == 2 * off.arch["tlbi_issued"]
    assert on.arch["dsb_ish_waited"] == off.arch["dsb_ish_waited"]
    extra = on.profile["ptep_clear_flush"] - off.profile["ptep_clear_flush"]
    assert extra >= 256 * sd.tlbi_issue_ns
