"""Run lint-imports (import-linter) on the package as it is installed.

Model-only tooling.  The import contracts live in pyproject.toml
([tool.importlinter]).  import-linter finds a package's modules by walking
the directory of its ``__init__.py``, but ``mm/`` and ``arch/`` sit at the
repository root and are installed as ``minikernel.mm`` and
``minikernel.arch`` (setuptools ``package-dir``), so walking ``minikernel/``
would miss them.  This script lays the tree out as the wheel does -- a
temporary ``minikernel/`` of symlinks, with each ``package-dir`` entry linked
at its installed place -- and runs lint-imports there with the repository's
contracts:

    python tools/lint_imports.py [--root DIR] [lint-imports options]

``--root`` checks another checkout (the layering test uses a copy with a bad
import added).  The exit status is lint-imports': 0 when every contract is
kept, 1 when one is broken.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]


def stage(root: Path, dest: Path) -> Path:
    """Lay *root*'s package out under *dest* as installed; returns *dest*."""
    mapping = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"]
    top = mapping.get("minikernel", "minikernel")
    pkg = dest / "minikernel"
    pkg.mkdir()
    for entry in sorted((root / top).iterdir()):
        os.symlink(entry, pkg / entry.name)
    for name, src in sorted(mapping.items()):
        parts = name.split(".")
        if parts == ["minikernel"]:
            continue
        target = dest.joinpath(*parts)
        if target.exists() or target.is_symlink():
            raise SystemExit(f"{root / 'pyproject.toml'}: package-dir {name!r} -> {src!r}: "
                             f"{target.relative_to(dest)} already exists in the package")
        os.symlink(root / src, target)
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=REPO, help="checkout to check (default: this one)")
    args, rest = ap.parse_known_args(argv)
    root = args.root.resolve()
    with tempfile.TemporaryDirectory(prefix="minikernel-imports-") as tmp:
        stage(root, Path(tmp))
        env = {**os.environ, "PYTHONPATH": tmp}
        cmd = [sys.executable, "-c",
               "import sys; from importlinter.cli import lint_imports_command; "
               "sys.exit(lint_imports_command())",
               "--no-cache", str(root / "pyproject.toml"), *rest]
        return subprocess.run(cmd, cwd=tmp, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
