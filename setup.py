"""Package discovery for minikernel's kernel-shaped tree.

arch/ and mm/ sit at the repository root, like the kernel's, but install as
minikernel.arch and minikernel.mm; init/ and lib/ hold only Kconfig files
and install as data-only packages minikernel.init and minikernel.lib.
[tool.setuptools.packages.find] cannot add the "minikernel." prefix, so the
package list is computed here: every directory under arch/ and mm/ that has
an __init__.py is shipped, and a new subpackage can never be forgotten.
The package-dir mapping and the package data live in pyproject.toml.
"""

from setuptools import find_packages, setup

KERNEL_TREE = ["arch", "arch.*", "mm", "mm.*"]
DATA_ONLY = ["minikernel.init", "minikernel.lib"]

setup(
    packages=find_packages(include=["minikernel", "minikernel.*"])
    + ["minikernel." + p for p in find_packages(include=KERNEL_TREE)]
    + DATA_ONLY,
)
