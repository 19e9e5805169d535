"""A throw-away redis-server on 127.0.0.1, in a directory of its own: for benchmarks and tests.

Configured as the inbox's README recommends for acknowledged messages:
append-only file, ``appendfsync always`` (every write fsynced before its reply).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

READY_TIMEOUT = 30.0


def redis_server_path() -> str | None:
    """The redis-server executable, or None when it is not installed."""
    return shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RedisServer:
    """One redis-server child; ``restart`` keeps its port and its data directory."""

    directory: Path
    port: int
    fsync: str = "always"
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        executable = redis_server_path()
        if executable is None:
            raise RuntimeError("redis-server is not installed")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                executable,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--dir", str(self.directory),
                "--appendonly", "yes",
                "--appendfsync", self.fsync,
                "--save", "",
                "--protected-mode", "yes",
                "--logfile", str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                log = (self.directory / "redis.log").read_text()[-2000:]
                raise RuntimeError(f"redis-server exited: {log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} never answered PING")
            time.sleep(0.02)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop it (SIGKILL: as a crash would, nothing flushed beyond what fsync did)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(30)
        self.process = None

    def restart(self, sig: int = signal.SIGKILL) -> None:
        self.stop(sig)
        self.start()


def start_redis(directory: Path, fsync: str = "always") -> RedisServer:
    """A redis-server on a free loopback port, answering PING, data in ``directory``."""
    return RedisServer(directory, free_port(), fsync).start()
