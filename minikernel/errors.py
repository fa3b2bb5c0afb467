"""Exceptions for bad user input.

Invariants:
  - A UserError's str() is ONE line that names the input, what was found and
    what was expected, Kconfiglib-style ("file:line: what: expected ...").
  - The CLI prints str(exc) on stderr and exits 2, never a traceback.  Any
    other exception escaping the CLI is a bug in minikernel, not bad input.
"""


class UserError(Exception):
    """Bad user input (arguments, files, values).  The CLI exits 2 on it."""


class ConfigError(UserError):
    """Bad configuration: unknown symbol, bad value, assignment that did not
    take, malformed or inconsistent .config, unknown arch."""
