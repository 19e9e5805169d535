"""Output memory is bounded in bytes: a flood of 1 MB lines to a reader that never reads."""

from __future__ import annotations

import base64
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from console.output.budget import DEFAULT_BUDGET
from tests.conftest import AgentProcess
from tests.processes_helpers import BOUND, create_body, wait_status

MiB = 1 << 20
SLACK = 8 * MiB
"""Beyond the budgets: socket buffers, a read chunk in flight, the allocator's own keeping."""
FLOOD = (
    "import sys\nline = b'x' * (1 << 20) + b'\\n'\nwhile True:\n    sys.stdout.buffer.write(line)\n"
)


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@contextmanager
def stalled_reader(agent: AgentProcess, path: str) -> Iterator[socket.socket]:
    """A WebSocket client that opens the stream and then never reads a byte."""
    host, port = agent.url.rsplit("//", 1)[1].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    headers = "".join(f"{name}: {value}\r\n" for name, value in agent.headers.items())
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"{headers}\r\n".encode()
    )
    try:
        yield sock
    finally:
        sock.close()


@pytest.fixture
def agent(agent_factory) -> AgentProcess:
    return agent_factory()


def test_a_flood_to_a_stalled_reader_stays_within_budget_and_is_given_back(
    agent: AgentProcess, tmp_path: Path
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "flood.py").write_text(FLOOD)
    (app / "Procfile").write_text("flood: exec python3 flood.py\n")
    pid = agent.process.pid
    idle = rss(pid)
    budget = DEFAULT_BUDGET.ring_bytes + DEFAULT_BUDGET.reader_bytes + SLACK
    body = create_body("mem", "flood.0", str(app), "flood")
    reply = httpx.post(f"{agent.url}/create-process", json=body, headers=agent.headers, timeout=10)
    assert reply.status_code == 201
    pieces = (200 * MiB) // DEFAULT_BUDGET.max_line_bytes  # 200 lines of 1 MB, cut in pieces
    peak = idle
    with stalled_reader(agent, "/attach-console/mem.flood.0?format=json&since=0"):

        def flooded(status: dict[str, object]) -> bool:
            nonlocal peak
            peak = max(peak, rss(pid))
            return int(status["next_seq"]) >= pieces  # type: ignore[call-overload]

        wait_status(agent, "mem.flood.0", flooded, bound=BOUND * 4)
        print(f"\nidle {idle / MiB:.1f} MiB, peak {peak / MiB:.1f} MiB during 200 MB")
        assert peak - idle <= budget, f"grew {(peak - idle) / MiB:.1f} MiB"
        reply = httpx.post(
            f"{agent.url}/delete-process/mem.flood.0", headers=agent.headers, timeout=30
        )
        assert reply.status_code == 200
    deadline = time.monotonic() + BOUND
    while rss(pid) - idle > 2 * MiB:
        assert time.monotonic() < deadline, f"kept {(rss(pid) - idle) / MiB:.1f} MiB after delete"
        time.sleep(0.1)
    print(f"after delete {rss(pid) / MiB:.1f} MiB")
