"""Packaging: the wheel holds exactly minikernel -- every package under the
repo-root arch/ and mm/, the whole Kconfig tree and the defconfigs -- and a
NON-editable install runs from an unrelated directory.

One wheel is built per session, offline (--no-build-isolation with the
setuptools of the test extra), from a copy of the checkout so nothing is
written into the repository.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert p.returncode == 0, f"{cmd}\n{p.stdout}\n{p.stderr}"
    return p


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    if not (REPO / "pyproject.toml").exists():
        pytest.skip("needs the source checkout")
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
        ".hypothesis", ".config", ".config.old"))
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base / "dist"), str(src)]
    if importlib.util.find_spec("setuptools") is not None:
        cmd.insert(4, "--no-build-isolation")  # offline; else pip fetches setuptools
    _run(cmd)
    (whl,) = (base / "dist").glob("minikernel-*.whl")
    return whl


def _kernel_tree_packages() -> set[str]:
    """Every directory with an __init__.py under arch/ and mm/, as the
    package name it must install under."""
    out = set()
    for top in ("arch", "mm"):
        for init in (REPO / top).rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            rel = init.parent.relative_to(REPO)
            out.add("minikernel." + ".".join(rel.parts))
    return out


def _kconfig_files() -> set[str]:
    """Every Kconfig file and defconfig of the tree, as wheel paths."""
    out = {"minikernel/Kconfig"}
    for top in ("init", "arch", "mm", "lib"):
        for p in (REPO / top).rglob("*"):
            if p.is_file() and (p.name.startswith("Kconfig") or p.parent.name == "configs"):
                out.add("minikernel/" + p.relative_to(REPO).as_posix())
    return out


def test_wheel_contains_every_kernel_package_and_the_kconfig_tree(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {n[: -len("/__init__.py")].replace("/", ".") for n in names if n.endswith("/__init__.py")}
    assert _kernel_tree_packages() <= packages
    assert {"minikernel", "minikernel.arch", "minikernel.arch.arm64", "minikernel.arch.x86",
            "minikernel.mm", "minikernel.hw"} <= packages
    assert _kconfig_files() <= names
    assert {"minikernel/arch/arm64/configs/defconfig", "minikernel/arch/x86/configs/defconfig",
            "minikernel/init/Kconfig", "minikernel/lib/Kconfig.debug"} <= names
    # The machine profiles (--machine NAME) ship as package data.
    profiles = {f"minikernel/profiles/{p.name}" for p in (REPO / "minikernel" / "profiles").glob("*.toml")}
    assert "minikernel/profiles/defaults.toml" in profiles and profiles <= names
    # The published measurements the fit and the tests read ship too.
    assert "minikernel/data/published.toml" in names
    # Every .py of the checkout's packages ships too.
    for top in ("minikernel", "arch", "mm"):
        for py in (REPO / top).rglob("*.py"):
            rel = py.relative_to(REPO).as_posix()
            assert (rel if top == "minikernel" else "minikernel/" + rel) in names


def test_wheel_installs_nothing_but_minikernel(wheel):
    tops = {n.split("/")[0] for n in zipfile.ZipFile(wheel).namelist()}
    assert tops == {"minikernel", wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info"}


def test_non_editable_install_runs_from_unrelated_directory(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    vpy = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(vpy), "install", "-q", "--no-deps",
          "--no-index", str(wheel)])
    # Dependencies come from this interpreter's environment (no network).
    # A .pth line adds the directory to sys.path without running the .pth
    # files in it, so an editable minikernel there is not visible.
    site = Path(_run([str(vpy), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).stdout.strip())
    import kconfiglib
    import structlog

    deps = {Path(kconfiglib.__file__).parent, Path(structlog.__file__).parent.parent}
    (site / "_minikernel_test_deps.pth").write_text("".join(f"{d}\n" for d in deps))

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KCONFIG_CONFIG", "ARCH")}
    where = _run([str(vpy), "-c", "import minikernel; print(minikernel.__file__); print(minikernel.srctree())"],
                 cwd=elsewhere, env=env).stdout.split()
    assert all(Path(w).is_relative_to(venv) for w in where), where
    assert _run([str(vpy), "-c", "import importlib.util as u; print(u.find_spec('mm'))"],
                cwd=elsewhere, env=env).stdout.strip() == "None"

    p = _run([str(venv / "bin" / "minikernel"), "--defconfig", "arm64", "--json"], cwd=elsewhere, env=env)
    report = json.loads(p.stdout)
    assert report["arch"] == "arm64"
    assert report["config"]["ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH"] == "n"
    assert report["tlb_flush_path"]["batched"] is False
    assert "Booting minikernel/arm64" in p.stderr
    p = _run([str(vpy), "-m", "minikernel", "--defconfig", "x86", "--json"], cwd=elsewhere, env=env)
    assert json.loads(p.stdout)["tlb_flush_path"]["batched"] is True


def test_srctree_of_this_install_has_the_tree():
    from minikernel import srctree

    root = srctree()
    for rel in ("Kconfig", "init/Kconfig", "mm/Kconfig", "lib/Kconfig.debug",
                "arch/arm64/Kconfig", "arch/x86/Kconfig"):
        assert (root / rel).is_file(), rel
