"""minikernel/parallel.py: kernels in parallel host processes give the sequential results.

Byte-identity of whole reports is tests/tools/test_reference.py (--jobs 1 and 2);
this file checks that a parallel run really ran elsewhere, and --jobs's bad input.
"""

from __future__ import annotations

import multiprocessing

import pytest

from minikernel.errors import UserError
from minikernel.parallel import check_jobs, default_jobs, run_benchmarks, usable_cores

needs_fork = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                                reason="no fork on this host: parallel runs fall back to sequential")


@needs_fork
def test_parallel_run_is_the_sequential_run_and_runs_in_the_workers(make_machine):
    def machines():
        return [make_machine("arm64", "EXPERT=y", cpus=16, trace=True),
                make_machine("x86", cpus=8, trace=True)]

    seq_machines, par_machines = machines(), machines()
    seq = run_benchmarks(seq_machines, 2, jobs=1, threads=2, warmup=1)
    par = run_benchmarks(par_machines, 2, jobs=2, threads=2, warmup=1)
    assert par == seq
    # The trace came back and is the same, line for line ...
    for s, p in zip(seq_machines, par_machines):
        assert p.trace and p.trace == s.trace
    # ... but the parent's machines never ran: the work happened in the workers.
    assert all(c.now > 0 for c in seq_machines[0].cpus[:2])
    assert all(c.now == 0 for m in par_machines for c in m.cpus)
    assert not par_machines[0].tasks and seq_machines[0].tasks


def test_one_job_runs_here(make_machine):
    m = make_machine("arm64", "EXPERT=y", cpus=8)
    (r,) = run_benchmarks([m], 1, jobs=4, warmup=1)
    assert r.pages_reclaimed > 0 and any(c.now > 0 for c in m.cpus)


def test_default_jobs_is_sequential_on_one_core(monkeypatch):
    import minikernel.parallel as par

    monkeypatch.setattr(par, "usable_cores", lambda: 1)
    assert par.default_jobs() == 1
    monkeypatch.setattr(par, "usable_cores", lambda: 2)
    assert par.default_jobs() == 2 and par.default_jobs(1) == 1
    assert 1 <= default_jobs() <= 2 and usable_cores() >= 1


@pytest.mark.parametrize("bad", [0, -1, True])
def test_check_jobs_rejects(bad):
    with pytest.raises(UserError, match="--jobs"):
        check_jobs(bad)


BAD_JOBS = {
    "jobs zero": (["--defconfig", "arm64", "--jobs", "0"],
                  "--jobs 0: expected a positive number of worker processes"),
    "jobs negative": (["--defconfig", "x86", "--jobs", "-2"], "--jobs -2: expected a positive"),
    "jobs not int": (["--defconfig", "x86", "--jobs", "x"], "argument --jobs: invalid int value: 'x'"),
    "jobs with a command": (["--jobs", "2", "defconfig", "arm64"],
                            "--jobs cannot be combined with the defconfig command"),
    "sweep jobs zero": (["sweep", "--arch", "x86", "--cpus", "4", "--jobs", "0"],
                        "--jobs 0: expected a positive number"),
    "explore jobs zero": (["explore", "scenarios/explore-2017-mprotect.toml", "--jobs", "0"],
                          "--jobs 0: expected a positive number"),
}


@pytest.mark.parametrize("case", list(BAD_JOBS), ids=list(BAD_JOBS))
def test_bad_jobs_exits_2_with_one_line(run_cli_proc, case):
    from pathlib import Path

    argv, expected = BAD_JOBS[case]
    r = run_cli_proc(*argv, cwd=Path(__file__).resolve().parents[2])
    assert r.rc == 2, r.err
    assert "Traceback" not in r.err
    assert r.err.count("\n") == 1 and r.err.endswith("\n"), r.err
    assert expected in r.err
    assert r.out == ""


def _sleep(context, item):
    import time
    time.sleep(30)
    return item


@needs_fork
def test_ctrl_c_stops_the_workers_and_reaches_the_caller():
    """fork_map must not sit in a blocking wait that Ctrl-C cannot interrupt."""
    import signal
    import time

    from minikernel.parallel import fork_map

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            fork_map(_sleep, [1, 2], jobs=2)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert time.monotonic() - t0 < 10
    assert multiprocessing.active_children() == []
