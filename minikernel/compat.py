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

__all__ = ["tomllib", "SLOTS"]
