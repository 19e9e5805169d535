"""End to end, as a new user: ``opsconsole demo`` in a real terminal (tmux) at 80x24."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.tmux

if shutil.which("tmux") is None:
    if os.environ.get("CI"):
        raise RuntimeError("tmux is required in CI: tests/system-packages.sh installs it")
    pytest.skip(
        "tmux is not installed (tests/system-packages.sh installs it)", allow_module_level=True
    )


KEY_GAP = 0.05
"""A fast typist's pause between keys (two enters sent in one write reach the app as one)."""


class Terminal:
    """A tmux session on its own server socket, read and typed into like a person would."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False
        ).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "console")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "console", *keys)
        time.sleep(KEY_GAP)

    def text(self, text: str) -> None:
        self.tmux("send-keys", "-t", "console", "-l", text)
        time.sleep(KEY_GAP)

    def wait_for(self, needle: str, bound: float = 30.0) -> str:
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            screen = self.screen()
            if needle in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} never appeared; the screen was:\n{self.screen()}")

    def alive(self) -> bool:
        return "console" in self.tmux("list-sessions", "-F", "#{session_name}")


def processes_mentioning(marker: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline:
            found.append(f"{entry.name}: {cmdline}")
    return found


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    socket = f"opsconsole-test-{os.getpid()}-{tmp_path.name}"
    term = Terminal(socket)
    env = {
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "TERM": "xterm-256color",
    }
    term.tmux(
        "new-session",
        "-d",
        "-s",
        "console",
        "-x",
        "80",
        "-y",
        "24",
        *(arg for key, value in env.items() for arg in ("-e", f"{key}={value}")),
        "opsconsole demo",
    )
    yield term
    term.tmux("kill-server")


def test_new_user_runs_a_script_by_keyboard_and_quits_clean(
    terminal: Terminal, tmp_path: Path
) -> None:
    screen = terminal.wait_for("deploy_release")
    assert "connected" in screen and "1 Scripts" in screen
    assert processes_mentioning(str(tmp_path / "data")), "no demo agent was started"

    terminal.keys("/")
    terminal.text("echo")
    terminal.wait_for("1/6")  # the filter has narrowed the catalog
    terminal.keys("Enter")  # leaves the filter for the table
    terminal.keys("Enter")  # opens the script under the cursor
    terminal.wait_for("the text to print")
    terminal.text("hi there; rm -rf /")
    terminal.keys("C-j")
    screen = terminal.wait_for("length: 18")
    assert "hi there; rm -rf /" in screen
    assert "exit 0" in screen

    terminal.keys("C-q")
    deadline = time.monotonic() + 20
    while terminal.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not terminal.alive(), "the console did not quit on ctrl+q"
    deadline = time.monotonic() + 10
    while processes_mentioning(str(tmp_path / "data")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_mentioning(str(tmp_path / "data")) == [], "processes left behind"


def test_new_user_over_a_bursty_link_filters_pauses_acks_and_sees_the_agent_die(
    terminal: Terminal, tmp_path: Path
) -> None:
    terminal.wait_for("deploy_release")
    # Each line below is one write, as a slow SSH link delivers what was typed.
    terminal.tmux("send-keys", "-t", "console", "2")
    terminal.wait_for("shop.web.0")
    terminal.tmux("send-keys", "-t", "console", "/web", "Enter", "Enter")
    screen = terminal.wait_for("following")
    assert "shop.web.0" in screen and "running" in screen
    # Paused, the log holds what keeps coming and says how much.
    terminal.tmux("send-keys", "-t", "console", "f")
    terminal.wait_for("new · G follows")
    terminal.tmux("send-keys", "-t", "console", "G", "Escape", "Escape")
    terminal.wait_for("3 processes")
    # Pull and ack three messages quickly: every ack waits for its pull.
    terminal.tmux("send-keys", "-t", "console", "4")
    terminal.wait_for("5 messages for")  # the pane (its tab's count shows on every pane)
    assert "4 Inbox (4)" in terminal.screen()
    terminal.tmux("send-keys", "-t", "console", "papapa")
    terminal.wait_for("4 Inbox (1)")
    # The agent dies: the header says so at once.
    agents = [p for p in processes_mentioning(str(tmp_path / "data")) if " agent " in p]
    assert agents, processes_mentioning(str(tmp_path / "data"))
    killed = time.monotonic()
    os.kill(int(agents[0].split(":")[0]), 9)
    terminal.wait_for("offline", bound=10)
    assert time.monotonic() - killed < 3.0  # 2 s, and the poll of the screen
