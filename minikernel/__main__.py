"""`python -m minikernel` and the `minikernel` console script (same program).

See minikernel/cli.py for the commands.
"""

import sys

from minikernel.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
