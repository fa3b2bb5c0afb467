"""The project stands on its own files: every document it cites is in the repository."""

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _tracked():
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:                     # not a checkout (e.g. an sdist): walk the tree
        return [p.relative_to(REPO).as_posix() for p in REPO.rglob("*")
                if p.is_file() and ".venv" not in p.parts and ".git" not in p.parts]
    return out.stdout.split()


def _texts():
    for name in _tracked():
        if Path(name).suffix in (".py", ".toml", ".md", ".cfg", ".txt", "") and \
                (REPO / name).is_file():
            try:
                yield name, (REPO / name).read_text()
            except UnicodeDecodeError:
                continue


def test_no_file_cites_a_document_outside_the_repository():
    bad = [(name, f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}")
           for name, text in _texts() if name != "tests/test_docs.py"
           for m in re.finditer(r"DESIGN\.md|\.\./shared|shared/notes", text)]
    assert [where for _, where in bad] == []


def test_every_cited_docs_page_exists():
    cited = {(name, m.group(1)) for name, text in _texts()
             for m in re.finditer(r"\b(docs/[\w./-]+\.md)", text)}
    assert cited, "nothing cites docs/ (the pattern is wrong)"
    assert [f"{name}: {doc}" for name, doc in sorted(cited) if not (REPO / doc).is_file()] == []
