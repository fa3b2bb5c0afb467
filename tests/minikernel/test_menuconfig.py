"""`minikernel menuconfig` in a real terminal: tmux runs kconfiglib's curses
menuconfig over our tree; send-keys toggles EXPERT, saves and quits.

Skipped only where tmux is absent (.ci/run installs it).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")


class Tmux:
    """One detached tmux session on a private socket (so the test neither
    sees nor disturbs the developer's tmux server)."""

    def __init__(self, tmp_path):
        self.sock = f"minikernel-test-{os.getpid()}-{time.monotonic_ns()}"
        self.session = "mc"

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.sock, *args], check=True,
                              capture_output=True, text=True, timeout=20).stdout

    def start(self, cmd: str, cwd, env: dict[str, str]) -> None:
        envargs = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
        # `sleep` keeps the pane readable after the program exits.
        self.tmux("new-session", "-d", "-s", self.session, "-x", "120", "-y", "30", "-c", str(cwd),
                  *envargs, f"{cmd}; echo EXIT=$?; sleep 30")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-t", self.session, "-p")

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on screen after {timeout}s:\n{screen}")
            time.sleep(0.1)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.session, *keys)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True, timeout=20)


@pytest.fixture
def tmux(tmp_path):
    t = Tmux(tmp_path)
    yield t
    t.kill()


def _start_menuconfig(tmux, tmp_path, cli_env, **env_extra):
    """menuconfig in *tmp_path* under tmux, with only the environment it needs."""
    keep = ("PATH", "PYTHONPATH", "TERM", "HOME", "LANG", "LC_ALL") + tuple(env_extra)
    env = {k: v for k, v in cli_env(TERM="xterm-256color", **env_extra).items() if k in keep}
    tmux.start(f"{shlex.quote(sys.executable)} -m minikernel menuconfig", tmp_path, env)


def test_menuconfig_toggles_expert_and_saves(tmux, tmp_path, run_cli, monkeypatch, cli_env):
    monkeypatch.chdir(tmp_path)
    assert run_cli("defconfig", "arm64").rc == 0
    before = (tmp_path / ".config").read_text()
    assert "# CONFIG_EXPERT is not set" in before

    _start_menuconfig(tmux, tmp_path, cli_env)
    tmux.wait_for("minikernel/arm64 Configuration")
    tmux.wait_for("[ ] Configure standard kernel features (expert users)")
    tmux.keys("Space")
    tmux.wait_for("[*] Configure standard kernel features (expert users)")
    tmux.keys("Q")
    tmux.wait_for("Save configuration?")
    tmux.keys("y")
    screen = tmux.wait_for("EXIT=")
    assert "EXIT=0" in screen
    assert "Configuration saved to '.config'" in screen

    after = (tmp_path / ".config").read_text()
    assert after != before
    assert "CONFIG_EXPERT=y\n" in after
    assert "CONFIG_ARCH_WANT_BATCHED_UNMAP_TLB_FLUSH=y\n" in after
    assert after.startswith("#\n# Automatically generated file; DO NOT EDIT.\n# minikernel/arm64 Configuration\n")
    assert (tmp_path / ".config.old").read_text() == before
    # and the saved configuration boots with batching configured
    assert run_cli("config", "--state", "ARM64_NR_CPUS_FOR_BATCHED_TLB").out == "8\n"


def test_menuconfig_writes_nothing_until_saved(tmux, tmp_path, cli_env):
    # No .config: menuconfig starts from $ARCH's defconfig; quitting without
    # saving must leave the build directory as it was (issue 13: it wrote .config on start).
    _start_menuconfig(tmux, tmp_path, cli_env, ARCH="arm64")
    tmux.wait_for("minikernel/arm64 Configuration")
    assert not (tmp_path / ".config").exists()
    tmux.keys("Q")
    tmux.wait_for("Save configuration?")
    tmux.keys("n")
    assert "EXIT=0" in tmux.wait_for("EXIT=")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_menuconfig_quit_without_saving_keeps_an_existing_config(tmux, tmp_path, run_cli,
                                                                 monkeypatch, cli_env):
    # A .config the user has (hand edits and comments included): a change made in
    # menuconfig and not saved leaves it byte for byte, and writes no .config.old.
    monkeypatch.chdir(tmp_path)
    assert run_cli("defconfig", "arm64").rc == 0
    mine = (tmp_path / ".config").read_text() + "# my note\n"
    (tmp_path / ".config").write_text(mine)
    _start_menuconfig(tmux, tmp_path, cli_env)
    tmux.wait_for("[ ] Configure standard kernel features (expert users)")
    tmux.keys("Space")
    tmux.wait_for("[*] Configure standard kernel features (expert users)")
    tmux.keys("Q")
    tmux.wait_for("Save configuration?")
    tmux.keys("n")
    assert "EXIT=0" in tmux.wait_for("EXIT=")
    assert (tmp_path / ".config").read_text() == mine
    assert sorted(p.name for p in tmp_path.iterdir()) == [".config"]
