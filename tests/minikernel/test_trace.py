"""`--trace FILE` (minikernel/report.py: write_trace; minikernel/trace.py; Machine.trace_event).

Issue 13.9.  The file is ftrace's text format (``# tracer: nop``, no irq-info
column): each run's section opens with the entry count, ``#P:`` and the two
column-header lines, and every event line is ``comm-pid [cpu] secs.usecs: event:
payload`` in the columns the kernel's trace_print_context() prints, one global clock per run, the
arm64 TLBI / DSB ISH events under model-only names listed in the header, and
the set-up and warm-up lines apart from the measured ones.  These fail if a
line leaves the format, the clock goes backwards, an event has a name that is
neither an upstream tracepoint nor a listed model_* one, or KPTI's user-ASID
TLBI is shown as something else.
"""

from __future__ import annotations

import json
import re

import pytest

from minikernel.trace import MODEL_EVENTS

#: The upstream tracepoints the model emits (include/trace/events/tlb.h, vmscan.h).
UPSTREAM = {"tlb_flush", "mm_vmscan_write_folio", "mm_vmscan_direct_reclaim_begin",
            "mm_vmscan_direct_reclaim_end"}
#: trace_print_context() with irq-info off: "%16s-%-7d [%03d] %5lu.%06lu: " -- comm
#: right-aligned in 16 columns, the pid left-aligned in 7, so that the CPU and the
#: timestamp stand under the column header's CPU# and TIMESTAMP.
LINE = re.compile(r"^(?P<comm>[ ]*\S{1,15})-(?P<pid>\d+) *(?<=^.{24}) \[(?P<cpu>\d{3})\] "
                  r"(?P<secs>[ \d]{5})\.(?P<usecs>\d{6}): (?P<event>[a-z0-9_]+): (?P<payload>\S.*)$")
HEADER = ["#           TASK-PID     CPU#     TIMESTAMP  FUNCTION",
          "#              | |         |         |         |"]


def _trace(run_cli, tmp_path, *argv):
    path = tmp_path / "trace.txt"
    r = run_cli(*argv, "--iterations", "2", "--trace", str(path), "--json")
    assert r.rc == 0, r.err
    return path.read_text(), json.loads(r.out)


def _runs(text):
    """Per run (A, B): its lines after the column header, its #P and entry count."""
    runs = []
    for part in re.split(r"^# [AB]: .*\n", text, flags=re.M)[1:]:
        info, blank, *head = part.splitlines()[:4]
        m = re.fullmatch(r"# entries-in-buffer/entries-written: (\d+)/\1   #P:(\d+)", info)
        assert m and blank == "#" and head == HEADER, part[:300]
        body = part.splitlines()[4:]
        assert int(m.group(1)) == sum(not ln.startswith("#") for ln in body)
        runs.append((body, int(m.group(2))))
    return runs


@pytest.mark.parametrize("argv", [
    ("--defconfig", "arm64", "--machine", "snapdragon888", "--set", "EXPERT=y",
     "--set", "ARM64_NR_CPUS_FOR_BATCHED_TLB=4"),
    ("--defconfig", "x86", "--smp", "8", "--workload", "threads:4"),
])
def test_every_line_is_ftrace_text_on_one_clock_with_known_event_names(run_cli, tmp_path, argv):
    text, out = _trace(run_cli, tmp_path, *argv)
    assert text.startswith("# tracer: nop\n#\n")
    listed = re.search(r"^# model-only events \(no upstream tracepoint\): (.*)$", text, re.M)
    assert listed and listed.group(1).split(", ") == list(MODEL_EVENTS)
    runs = _runs(text)
    assert len(runs) == 2
    for run, (lines, nr_cpus) in zip(out["runs"], runs):
        assert nr_cpus == run["cpus"]
        stamps, cpus, events = [], set(), set()
        for line in lines:
            if line.startswith("#"):
                continue
            m = LINE.match(line)
            assert m, f"not an ftrace text line: {line!r}"
            assert line.index("[") == HEADER[0].index("CPU#")
            assert line.index(":") == HEADER[0].index("TIMESTAMP") + len("TIMESTAMP")
            stamps.append(int(m.group("secs")) * 10**6 + int(m.group("usecs")))
            cpus.add(int(m.group("cpu")))
            events.add(m.group("event"))
        assert len(stamps) > 100
        assert stamps == sorted(stamps)              # one global clock, never backwards
        assert max(cpus) < run["cpus"]
        model = events - UPSTREAM
        assert model <= set(MODEL_EVENTS), f"unlisted, not upstream: {model - set(MODEL_EVENTS)}"
        assert all(e.startswith("model_") for e in model)
        if argv[1] == "arm64":
            assert model == set(MODEL_EVENTS)
        else:
            assert "tlb_flush" in events and len(cpus) > 1 and not model


def test_kpti_user_tlbi_repeats_the_kernel_op_it_follows(run_cli, tmp_path):
    """snapdragon888 runs with KPTI: every TLBI is followed by __tlbi_user()'s for the
    user ASID -- the same op, ASID and VA, marked kpti=user (it was printed as an
    ASIDE1IS of the raw TLB key)."""
    text, out = _trace(run_cli, tmp_path, "--defconfig", "arm64", "--machine", "snapdragon888",
                       "--set", "EXPERT=y", "--set", "ARM64_ERRATUM_2441007=n",
                       "--set", "ARM64_NR_CPUS_FOR_BATCHED_TLB=4")
    for lines, _ in _runs(text):
        tlbis = [re.sub(r" complete_at=\S+$", "", ln.split(": model_arm64_tlbi: ", 1)[1])
                 for ln in lines if ": model_arm64_tlbi: " in ln]
        kernel = [t for t in tlbis if not t.endswith(" kpti=user")]
        user = [t[:-len(" kpti=user")] for t in tlbis if t.endswith(" kpti=user")]
        assert len(kernel) > 100 and user == kernel   # erratum off: kernel, user, kernel, ...
        assert tlbis[1::2] == [t + " kpti=user" for t in kernel]
        for t in tlbis:
            m = re.fullmatch(r"op=(VALE1IS asid=(\d+) va=0x[0-9a-f]+|ASIDE1IS asid=(\d+))"
                             r"( kpti=user)?", t)
            assert m, t
            assert int(m.group(2) or m.group(3)) < 1 << 16       # an ASID, not a TLB key
    assert any("ASIDE1IS" in t for t in text.splitlines())


def test_set_up_and_warm_up_are_apart_from_the_measured_iterations(run_cli, tmp_path):
    text, out = _trace(run_cli, tmp_path, "--defconfig", "arm64", "--set", "EXPERT=y",
                       "--smp", "16")
    assert "# lines before '# warm-up iteration' are the benchmark's set-up" in text
    for run, (lines, _) in zip(out["runs"], _runs(text)):
        warm = lines.index("# warm-up iteration (not measured)")
        measured = lines.index("# measured iterations 1..2")
        assert 0 < warm < measured
        setup, body = lines[:warm], lines[measured + 1:]
        # set-up maps and touches the buffer: nothing is reclaimed or flushed page by page
        assert not any("mm_vmscan" in ln or "VALE1IS" in ln for ln in setup)
        assert "mm_vmscan" in "".join(lines[warm:measured])
        assert sum(": model_arm64_tlbi: " in ln for ln in body) == run["arch"]["tlbi_issued"]
        assert sum(": model_arm64_dsb_ish: " in ln for ln in body) == run["arch"]["dsb_ish"]
        assert sum(": mm_vmscan_write_folio: " in ln for ln in body) == run["pages_reclaimed"]
