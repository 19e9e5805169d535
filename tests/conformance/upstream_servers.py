"""Starting the real upstream servers (pyjojo 0.9, shmooze 1.2.4) on loopback for side-by-sides.

Each runs with its registry environment's interpreter, is waited for until it answers,
and is stopped by its PID (SIGTERM, then SIGKILL) when the test ends.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

READY_TIMEOUT = 30.0


def wait_for(condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    """Poll ``condition`` until it holds; fail at once if ``process`` died, or after the bound."""
    deadline = time.monotonic() + READY_TIMEOUT
    while not condition():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready within {READY_TIMEOUT}s")
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def free_port() -> int:
    """A loopback port free right now (the upstream servers take a number, not a socket)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


@contextlib.contextmanager
def running(argv: list[str], log: Path, ready: Callable[[], bool], **popen) -> Iterator[None]:
    """Run ``argv`` (output to ``log``) while the block runs, once ``ready()`` holds."""
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, **popen)
    try:
        wait_for(ready, argv[0], process)
        yield
    finally:
        stop(process)
