"""minikernel: a Kconfig-driven model of Linux reclaim and its TLB shootdown.

Machinery with no kernel counterpart lives in this package (Kconfig loading,
boot, the simulated hardware, the CLI).  The kernel-shaped code lives at the
repository root, like the kernel's tree, and is imported as minikernel.arch
and minikernel.mm -- always by those names, never as top-level arch/mm.
"""

import os as _os
from pathlib import Path as _Path

# A source checkout keeps arch/ and mm/ at the repository root, like the kernel.
# When this package is imported straight from the checkout (no install, or a
# non-editable install shadowed by the CWD), let the root-level packages resolve
# as minikernel.arch / minikernel.mm.  An installed wheel has them inside.
_here = _os.path.dirname(_os.path.abspath(__file__))
_root = _os.path.dirname(_here)
if (not _os.path.isdir(_os.path.join(_here, "arch"))
        and _os.path.isfile(_os.path.join(_root, "Kconfig"))
        and _os.path.isfile(_os.path.join(_root, "arch", "__init__.py"))):
    __path__.append(_root)


def srctree() -> _Path:
    """Return the directory that holds the root Kconfig (the kernel's $srctree).

    One rule for every install mode: the parent of the minikernel.arch
    package.  That is the repository root for a checkout or an editable
    install, and site-packages/minikernel for a wheel, which carries the
    whole Kconfig tree as package data.
    """
    import minikernel.arch as arch_pkg

    return _Path(arch_pkg.__file__).resolve().parent.parent
