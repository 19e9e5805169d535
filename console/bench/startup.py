"""Time to first paint of ``opsconsole demo``, beside a bare Textual app, in the same run.

Each app runs as a real process on a pseudo-terminal of 80x24, as an operator
would start it; first paint is the moment the pane titles reach the terminal.
Rounds alternate between the two apps so that load on a shared machine falls
on both alike, and the figure that matters is the ratio of the medians.

Both apps load their Python modules from bytecode, as an installed package does
(pip compiles a wheel's; an editable install writes its cache on the first run):
the bytecode goes to a cache of the run's own, written by the unmeasured first
start of each, whatever PYTHONDONTWRITEBYTECODE says. Without it the console
would compile its own modules at every start (some 30 ms) while Textual's, the
baseline's, came compiled from site-packages.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from fcntl import ioctl

MARKER = b"Scripts"
"""Both apps show this pane title in their first frame."""

FIRST_PAINT_LIMIT = 60.0


def time_to_first_paint(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning ``argv`` on an 80x24 pty until MARKER is on the screen."""
    controller, terminal = pty.openpty()
    ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, stdin=terminal, stdout=terminal, stderr=terminal, env=env, start_new_session=True
    )
    os.close(terminal)
    seen = b""
    try:
        while MARKER not in seen:
            if time.perf_counter() - started > FIRST_PAINT_LIMIT:
                raise RuntimeError(f"{argv}: nothing painted in {FIRST_PAINT_LIMIT:.0f}s")
            ready, _, _ = select.select([controller], [], [], 0.5)
            if ready:
                seen += _read(controller)
        return time.perf_counter() - started
    finally:
        _quit(process, controller)


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:
        return b""


def _quit(process: subprocess.Popen[bytes], controller: int) -> None:
    """Ctrl+Q as an operator would; the console then stops its agent."""
    try:
        os.write(controller, b"\x11")
        deadline = time.monotonic() + 15
        while process.poll() is None and time.monotonic() < deadline:
            if select.select([controller], [], [], 0.1)[0]:
                _read(controller)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)
    finally:
        os.close(controller)


def main(rounds: int = 5) -> int:
    with tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            "TERM": "xterm-256color",
            "COLUMNS": "80",
            "LINES": "24",
            # A home of its own: the demo's data and config do not touch the operator's.
            "XDG_DATA_HOME": os.path.join(home, "data"),
            "XDG_CONFIG_HOME": os.path.join(home, "config"),
            "PYTHONPYCACHEPREFIX": os.path.join(home, "bytecode"),
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        sides = {
            "bare Textual app (5 panes)": [sys.executable, "-m", "console.bench.bare_app"],
            "opsconsole demo": [sys.executable, "-m", "console", "demo"],
        }
        times: dict[str, list[float]] = {name: [] for name in sides}
        # One unmeasured start of each warms the OS file cache and writes the bytecode of
        # both alike.
        for argv in sides.values():
            time_to_first_paint(argv, env)
        for _ in range(rounds):
            for name, argv in sides.items():
                times[name].append(time_to_first_paint(argv, env))
    print(f"time to first paint, 80x24 pty, {rounds} rounds each (alternating), both from bytecode")
    for name, samples in times.items():
        print(
            f"  {name:<28} median {statistics.median(samples) * 1000:7.1f} ms"
            f"   min {min(samples) * 1000:7.1f} ms   max {max(samples) * 1000:7.1f} ms"
        )
    bare, demo = (statistics.median(samples) for samples in times.values())
    print(f"  ratio (demo / bare, medians)  {demo / bare:.2f}x   (aim: at most 1.50x)")
    return 0
