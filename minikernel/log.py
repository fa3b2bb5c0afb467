"""structlog set-up for the command line.

Invariants:
  - Library modules never configure structlog; they only call
    structlog.get_logger() (lazy proxies pick the configuration up when first
    used).  configure_logging() is called once, from the CLI entry point.
  - Logs go to stderr; stdout carries only results (the --json object or
    the text report), so `minikernel --json | jq` always works.
  - No timestamps: boot logs are deterministic, like the rest of the model,
    so they can be golden-tested.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog

LOG_FORMATS = ("console", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")


def configure_logging(fmt: str = "console", level: str = "info",
                      stream: TextIO | None = None) -> None:
    """Configure structlog for the CLI: console renderer (colours only on a
    TTY) or one JSON object per line, filtered at `level`, on stderr."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format {fmt!r}: expected one of {', '.join(LOG_FORMATS)}")
    stream = sys.stderr if stream is None else stream
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
        processors: list[Any] = [
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.format_exc_info,
            renderer,
        ]
    else:
        colors = bool(getattr(stream, "isatty", lambda: False)())
        processors = [
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.dev.ConsoleRenderer(colors=colors),
        ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        # MODEL: caching stays off so that main() can be called repeatedly in
        # one process (tests) with different formats; hot code binds its own
        # concrete logger once (STYLE.md rule 34), so the proxy cost is moot.
        cache_logger_on_first_use=False,
    )
