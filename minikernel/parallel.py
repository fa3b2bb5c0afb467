"""Run independent simulated kernels in parallel host processes (issue 16).

Model-only.  The main job's two kernels (A: configured, B: flipped) and the
sweep's two kernels per point share nothing: each is a Machine of its own,
deterministic, reading no clock and no unseeded randomness.  So they can run
in separate host processes and the results are the same bytes as a
sequential run in one process (``tests/tools/test_reference.py`` proves it
for ``--jobs 1`` and ``--jobs 2``).

Invariants this module owns:
  - Results come back in the order the machines were given, whatever the
    job count.
  - ``jobs == 1``, one machine, or a host without ``fork`` runs everything
    here, in order: the sequential run is the reference.
  - Workers ignore SIGINT; Ctrl-C reaches the parent, which terminates them
    and re-raises KeyboardInterrupt (the CLI turns it into exit 130).
  - The parent's Machines are not advanced by a parallel run: only what a
    report reads after the run is carried back -- the RunResult, and the
    trace buffer, which is filled in place as if the run had been here.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterable, Sequence
from typing import Any, Callable

from minikernel.errors import UserError
from minikernel.workload import RunResult, run_seed_benchmark

#
# Public interface
#


def usable_cores() -> int:
    """Host cores this process may run on (its CPU affinity where the OS says)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_jobs(tasks: int = 2) -> int:
    """Default worker count: one per usable core, at most *tasks*; 1 (sequential) on one core."""
    return max(1, min(usable_cores(), tasks))


#: Most worker processes --jobs may ask for: an explorer run forks up to one per
#: interleaving, so --jobs 100000 would fork thousands of copies of the process.
MAX_JOBS = 1024


def check_jobs(jobs: int | None, option: str = "--jobs") -> None:
    """Bad input: a job count below 1 is a UserError naming the option."""
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise UserError(f"{option} {jobs}: expected a positive number of worker processes")
    if jobs is not None and jobs > MAX_JOBS:
        raise UserError(f"{option} {jobs}: expected at most {MAX_JOBS} worker processes (each "
                        f"is a forked copy of this one; this host has {usable_cores()} usable "
                        "cores)")


def run_benchmarks(machines: Sequence[Any], iterations: int, *, jobs: int | None = None,
                   **kw: Any) -> list[RunResult]:
    """``run_seed_benchmark(m, iterations, **kw)`` for every freshly booted machine in *machines*.

    With *jobs* > 1 (default: :func:`default_jobs`) and more than one machine,
    each runs in a forked worker process -- the Machine is inherited by the
    fork, not pickled -- and its RunResult and trace lines come back.
    """
    check_jobs(jobs)
    jobs = default_jobs(len(machines)) if jobs is None else jobs
    outcomes = fork_map(_run_benchmark, range(len(machines)), jobs=jobs,
                        context=(list(machines), iterations, kw))
    results = []
    for m, (result, trace) in zip(machines, outcomes):
        if m.trace is not None and trace is not m.trace:
            m.trace[:] = trace
        results.append(result)
    return results


def fork_map(fn: Callable[[Any, Any], Any], items: Iterable[Any], *, jobs: int,
             context: Any = None, chunksize: int = 1) -> list[Any]:
    """``[fn(context, item) for item in items]``, spread over *jobs* forked workers.

    *fn* must be a module-level function; *context* (anything, e.g. Machines
    or an explorer) reaches the workers through the fork, unpickled; the items
    and results are pickled.  Results are in item order.  With ``jobs <= 1``,
    fewer than two items, or no ``fork`` on this host, it runs here.
    """
    items = list(items)
    jobs = min(jobs, len(items))
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [fn(context, item) for item in items]
    global _PENDING
    _PENDING = (fn, context)
    try:
        pool = multiprocessing.get_context("fork").Pool(jobs, initializer=_ignore_sigint)
        try:
            results = pool.map_async(_call, items, chunksize=chunksize).get()
        except BaseException:
            pool.terminate()
            raise
        else:
            pool.close()
        finally:
            pool.join()
    finally:
        _PENDING = None
    return results


#
# Private helpers
#

#: (fn, context) of the fork_map in progress; read by the forked workers.
#: (Not annotated: PyPy 7.3 rejects ``global`` of an annotated module name.)
_PENDING = None


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _call(item: Any) -> Any:
    fn, context = _PENDING
    return fn(context, item)


def _run_benchmark(context: Any, i: int) -> tuple[RunResult, list[str] | None]:
    machines, iterations, kw = context
    m = machines[i]
    return run_seed_benchmark(m, iterations, **kw), m.trace
