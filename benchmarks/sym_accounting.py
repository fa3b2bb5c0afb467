"""Micro-benchmark (issue 14 item 4): what exception-safe symbol accounting costs.

Model-only tooling.  Every modelled function that is its own symbol in the
profile sets ``cpu.sym`` on entry and restores the caller's symbol on exit,
so charges without an explicit symbol (an inlined TLBI's issue, a walker
fill) land where perf would put them.  Restoring by hand is not
exception-safe: a fault that raises FolioLocked or SegmentationFault would
leave the CPU charging the wrong symbol.  This measures, per accounted call
on the interpreter it runs on, what each exception-safe way costs against
the hand-written save/restore:

  manual        saved = cpu.sym; cpu.sym = S; body; cpu.sym = saved
  try/finally   the same with the restore in ``finally``
  with-class    ``with SymSection(cpu, S):`` (a __slots__ class, __enter__/__exit__)
  contextlib    ``with sym_section(cpu, S):`` (a @contextmanager generator)
  decorator     ``@accounted(S)`` around the function (one more call level)

The body is a typical hot-path one: two charges.  Figures are ns per call,
best of --repeat runs of --calls calls (the host is shared: the best run is
the least disturbed one).  No test asserts on them.

Usage:
  python benchmarks/sym_accounting.py [--calls N] [--repeat N] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import platform
import sys
import time
from collections import defaultdict


class Cpu:
    """The attributes of minikernel.hw.cpu.Cpu the accounting touches."""

    __slots__ = ("sym", "now", "profile")

    def __init__(self) -> None:
        self.sym = "main"
        self.now = 0.0
        self.profile: defaultdict[str, float] = defaultdict(float)

    def charge(self, sym: str, ns: float) -> None:
        self.now += ns
        self.profile[sym] += ns


class Task:
    __slots__ = ("cpu",)

    def __init__(self, cpu: Cpu) -> None:
        self.cpu = cpu


class SymSection:
    """``with SymSection(cpu, sym):`` -- set cpu.sym, restore it however the block ends."""

    __slots__ = ("cpu", "sym", "saved")

    def __init__(self, cpu: Cpu, sym: str) -> None:
        self.cpu = cpu
        self.sym = sym

    def __enter__(self) -> Cpu:
        cpu = self.cpu
        self.saved = cpu.sym
        cpu.sym = self.sym
        return cpu

    def __exit__(self, *exc) -> None:
        self.cpu.sym = self.saved


@contextlib.contextmanager
def sym_section(cpu: Cpu, sym: str):
    saved = cpu.sym
    cpu.sym = sym
    try:
        yield cpu
    finally:
        cpu.sym = saved


def accounted(sym: str):
    """Decorator: run the function (first argument: the task) with cpu.sym = *sym*."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(current, *args):
            cpu = current.cpu
            saved = cpu.sym
            cpu.sym = sym
            try:
                return fn(current, *args)
            finally:
                cpu.sym = saved
        return wrapper
    return deco


def f_manual(current: Task, ns: float) -> int:
    cpu = current.cpu
    saved = cpu.sym
    cpu.sym = "try_to_unmap_one"
    cpu.charge("try_to_unmap_one", ns)
    cpu.charge("page_vma_mapped_walk", ns)
    cpu.sym = saved
    return 1


def f_try(current: Task, ns: float) -> int:
    cpu = current.cpu
    saved = cpu.sym
    cpu.sym = "try_to_unmap_one"
    try:
        cpu.charge("try_to_unmap_one", ns)
        cpu.charge("page_vma_mapped_walk", ns)
        return 1
    finally:
        cpu.sym = saved


def f_with_class(current: Task, ns: float) -> int:
    with SymSection(current.cpu, "try_to_unmap_one") as cpu:
        cpu.charge("try_to_unmap_one", ns)
        cpu.charge("page_vma_mapped_walk", ns)
        return 1


def f_contextlib(current: Task, ns: float) -> int:
    with sym_section(current.cpu, "try_to_unmap_one") as cpu:
        cpu.charge("try_to_unmap_one", ns)
        cpu.charge("page_vma_mapped_walk", ns)
        return 1


@accounted("try_to_unmap_one")
def f_decorator(current: Task, ns: float) -> int:
    cpu = current.cpu
    cpu.charge("try_to_unmap_one", ns)
    cpu.charge("page_vma_mapped_walk", ns)
    return 1


VARIANTS = {"manual": f_manual, "try/finally": f_try, "with-class": f_with_class,
            "contextlib": f_contextlib, "decorator": f_decorator}


def _loop(fn, task: Task, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn(task, 1.0)
    return time.perf_counter() - t0


def measure(calls: int, repeat: int) -> dict[str, float]:
    """ns per call of each variant, best of *repeat* (interleaved, so load hits all alike)."""
    task = Task(Cpu())
    best = {name: float("inf") for name in VARIANTS}
    for _ in range(repeat):
        for name, fn in VARIANTS.items():
            dt = _loop(fn, task, calls)
            best[name] = min(best[name], dt / calls * 1e9)
    assert task.cpu.sym == "main"
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", metavar="FILE")
    a = ap.parse_args(argv)
    res = measure(a.calls, a.repeat)
    impl = platform.python_implementation()
    print(f"{impl} {platform.python_version()}: ns per accounted call "
          f"(two charges inside), best of {a.repeat} x {a.calls}")
    base = res["manual"]
    for name, ns in res.items():
        print(f"  {name:<12} {ns:7.1f} ns   {ns - base:+6.1f} ns vs manual")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"implementation": impl.lower(), "python": platform.python_version(),
                       "calls": a.calls, "repeat": a.repeat, "ns_per_call": res}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
