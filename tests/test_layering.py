"""Source-tree rules: mm/ never imports an arch backend; every modelled function says what it models."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _py(dirs):
    for d in dirs:
        yield from sorted((REPO / d).rglob("*.py"))


def test_mm_never_imports_an_arch_backend():
    bad = []
    for f in _py(["mm"]):
        for node in ast.walk(ast.parse(f.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            bad += [f"{f.relative_to(REPO)}: {n}" for n in names
                    if n.startswith(("minikernel.arch.", "arch", "mm."))]
    assert bad == []


def test_hardware_knows_nothing_of_the_kernel():
    bad = []
    for f in _py(["minikernel/hw"]):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and \
                    node.module.startswith(("minikernel.mm", "minikernel.arch")):
                bad.append(f"{f.relative_to(REPO)}: {node.module}")
    assert bad == []


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
