"""minikernel: a Kconfig-driven model of Linux reclaim and its TLB shootdown."""

import os as _os

# A source checkout keeps arch/ and mm/ at the repository root, like the kernel.
# When this package is imported straight from the checkout (no install, or a
# non-editable install shadowed by the CWD), let the root-level packages resolve
# as minikernel.arch / minikernel.mm.  An installed wheel has them inside.
_here = _os.path.dirname(_os.path.abspath(__file__))
_root = _os.path.dirname(_here)
if (not _os.path.isdir(_os.path.join(_here, "arch"))
        and _os.path.isfile(_os.path.join(_root, "arch", "__init__.py"))):
    __path__.append(_root)
