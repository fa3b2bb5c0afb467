"""`python -m minikernel` and the `minikernel` console script (same program).

See minikernel/cli.py for the commands.
"""

import sys

try:
    from minikernel.cli import main
except KeyboardInterrupt:
    # Ctrl-C while the program is still importing (seconds under PyPy or on a
    # loaded host): the same one line and status as an interrupted run.
    sys.stderr.write("interrupted\n")
    sys.exit(130)

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
