"""Source-tree rules: the import contracts of pyproject.toml, and every modelled function says what it models.

The import rules (hw imports nothing outside hw, mm no arch backend, the
layer order) are import-linter contracts; here they are run, and shown to
break on the imports they exist to stop.  What an import graph cannot
express -- docstrings -- is checked by walking the sources.
"""

import ast
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _py(dirs):
    for d in dirs:
        yield from sorted((REPO / d).rglob("*.py"))


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    if platform.python_implementation() == "PyPy":
        # import-linter (grimp) cannot be built under PyPy; CPython runs these.
        pytest.importorskip("importlinter", reason="import-linter: not installable under PyPy")
    return subprocess.run([sys.executable, str(REPO / "tools" / "lint_imports.py"),
                           "--root", str(root)], capture_output=True, text=True, timeout=120)


def test_import_contracts_hold():
    """pyproject.toml's import-linter contracts (docs/design.md §2) hold for this tree."""
    r = _lint_imports(REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout and "broken" not in r.stdout.replace("0 broken", "")


# (file, the bad import, the contract that must break)
BAD_IMPORTS = [
    ("mm/rmap.py", "from minikernel.arch import arm64",
     "generic mm never imports an arch backend"),
    ("mm/vmscan.py", "import minikernel.arch.x86.tlbflush",
     "generic mm never imports an arch backend"),
    ("minikernel/hw/tlb.py", "import minikernel.mm.rmap",
     "hardware imports nothing outside minikernel.hw"),
    ("minikernel/hw/cpu.py", "from minikernel.errors import UserError",
     "hardware imports nothing outside minikernel.hw"),
    ("minikernel/hw/mmu.py", "from minikernel import sanitizer",
     "hardware imports nothing outside minikernel.hw"),
    ("arch/x86/tlbflush.py", "from minikernel.mm import rmap",
     "layers: machinery, then mm, then arch, then hardware"),
]


@pytest.mark.parametrize("path,line,contract", BAD_IMPORTS, ids=[b[1] for b in BAD_IMPORTS])
def test_import_contracts_break_on_a_bad_import(tmp_path, path, line, contract):
    """The contracts have teeth: a copy of the tree with one bad import added fails."""
    for name in ("minikernel", "mm", "arch"):
        shutil.copytree(REPO / name, tmp_path / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    target = tmp_path / path
    target.write_text(target.read_text() + f"\n{line}  # the bad import\n")
    r = _lint_imports(tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{contract} BROKEN" in r.stdout, r.stdout


def test_every_public_function_in_mm_and_arch_says_what_it_models():
    missing = []
    for f in _py(["mm", "arch"]):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and \
                    (not node.name.startswith("_") or node.name.startswith("__") and
                     not node.name.endswith("__")):
                doc = ast.get_docstring(node) or ""
                if isinstance(node, ast.FunctionDef) and "Models:" not in doc and \
                        "Model-only" not in doc:
                    missing.append(f"{f.relative_to(REPO)}:{node.lineno} {node.name}")
    assert missing == []
