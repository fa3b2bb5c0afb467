"""The published measurements (``minikernel/data/published.toml``), read in one place.

Model-only.  The fit (:mod:`minikernel.fit`), ``tools/fit_profiles.py`` and
the calibration/validation tests take every published number from here, so
the project holds one copy of each, next to its source.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from minikernel.compat import tomllib


@lru_cache(maxsize=1)
def published() -> dict[str, Any]:
    """The parsed published-data file (a fresh dict per process; do not mutate)."""
    path = Path(str(resources.files("minikernel") / "data" / "published.toml"))
    return tomllib.loads(path.read_text(encoding="utf-8"))


def cpu_s(machine: str, run: str) -> float:
    """user + sys seconds of *machine*'s *run* ("unbatched" or "batched")."""
    t = published()[machine][run]["time"]
    return t["user_s"] + t["sys_s"]


def wall_s(machine: str, run: str) -> float:
    """Wall-clock seconds (real / elapsed) of *machine*'s *run*."""
    t = published()[machine][run]["time"]
    return t.get("real_s", t.get("elapsed_s"))


def shares(machine: str) -> dict[str, float]:
    """symbol -> published % of the unbatched run's cycles."""
    return dict(published()[machine]["unbatched"]["perf"]["symbols"])


def source(key: str) -> str:
    """The citation of a [sources] key."""
    return published()["sources"][key]
