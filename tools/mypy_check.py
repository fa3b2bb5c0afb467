"""Run mypy on the package as it is installed (see tools/lint_imports.py for why).

Model-only tooling.  mypy names modules after their directories, so
``mm/rmap.py`` would be a top-level ``mm.rmap``; the package the code
imports is ``minikernel.mm.rmap``.  This script lays the tree out as the
wheel does (symlinks in a temporary directory), runs ``mypy -p minikernel``
there with the repository's [tool.mypy] configuration, and prints each
message with the file's path in the repository:

    python tools/mypy_check.py [mypy options]

The exit status is mypy's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import tomllib

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lint_imports import REPO, stage


def main(argv: list[str] | None = None) -> int:
    mapping = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"]
    # installed path prefix -> repository path prefix, longest first
    prefixes = sorted(((name.replace(".", "/") + "/", src.rstrip("/") + "/")
                       for name, src in mapping.items()), key=lambda p: -len(p[0]))
    with tempfile.TemporaryDirectory(prefix="minikernel-mypy-") as tmp:
        stage(REPO, Path(tmp))
        env = {**os.environ, "MYPYPATH": tmp}
        cache = REPO / ".mypy_cache"
        cmd = [sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"),
               "--cache-dir", str(cache), "-p", "minikernel", *(argv or sys.argv[1:])]
        p = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
    for line in (p.stdout + p.stderr).splitlines():
        for inst, src in prefixes:
            if line.startswith(inst):
                line = src + line[len(inst):]
                break
        print(line)
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
