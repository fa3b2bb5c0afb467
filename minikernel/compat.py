"""What the oldest supported interpreter lacks, in one place (issue 16).

Model-only.  minikernel runs on CPython >= 3.11 and on PyPy 7.3 (Python 3.9,
the ``pypy3`` that Debian 12 ships).  Python 3.9 lacks two things the code
uses; every module imports them from here instead of spelling them itself:

  - ``tomllib`` (3.11): the ``tomli`` backport, the same parser under its
    old name (installed only where needed: ``tomli; python_version < "3.11"``);
  - ``@dataclass(**SLOTS)`` (3.10): ``@dataclass(..., **SLOTS)`` gives
    slots where the interpreter can, and a plain dataclass on 3.9.  Nothing
    in the model depends on the slots (they only save memory and catch typos
    on CPython; PyPy stores instances compactly without them), and the
    per-page objects (Folio, Cpu, ...) declare ``__slots__`` by hand anyway.

And one thing PyPy needs told: :func:`tune_jit` (called by the command
line and the benchmark) raises its JIT's trace limit.

Everything else the code uses is Python 3.9 (annotations stay strings under
``from __future__ import annotations``; no ``match``, no ``X | Y`` outside
annotations).
"""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:                                   # PyPy 7.3 / Python 3.9-3.10
    import tomli as tomllib

#: ``@dataclass(**SLOTS)``: ``slots=True`` where dataclasses support it (3.10+).
SLOTS: dict[str, bool] = {"slots": True} if sys.version_info >= (3, 10) else {}

#: The longest trace PyPy's JIT compiles, in operations, once :func:`tune_jit` ran
#: (PyPy's own default is 6000; 16384 is the most it accepts).
PYPY_TRACE_LIMIT = 16000


def tune_jit() -> None:
    """On PyPy, raise the JIT's ``trace_limit`` to :data:`PYPY_TRACE_LIMIT`; elsewhere do nothing.

    The benchmark loop's trace inlines a page's whole fault and reclaim path
    (do_swap_page(), shrink_folio_list(), try_to_unmap_one(), the TLBIs), and
    with the TLB sanitizer's hooks it outgrows PyPy's default of 6000
    operations: the JIT gives up on the trace and leaves the longest callee
    out of it, so that part runs as a call.  Measured on this project's seed
    benchmark (arm64, 400 iterations, a fresh process, median of runs 6-10):
    cycles/s with the sanitizer off / on, 334 000 / 261 000 at 8 CPUs and
    299 000 / 226 000 at 256 with the default limit; 373 000 / 322 000 and
    372 000 / 310 000 with 16000.  Output is unchanged (only speed); a PyPy
    that refuses the value keeps its own.
    """
    try:
        import pypyjit  # type: ignore[import-not-found]
    except ImportError:                 # CPython: no JIT
        return
    try:
        pypyjit.set_param(f"trace_limit={PYPY_TRACE_LIMIT}")
    except (SystemError, ValueError, TypeError):
        pass


__all__ = ["tomllib", "SLOTS", "tune_jit", "PYPY_TRACE_LIMIT"]
