"""Processes that daemonize: reported and watched, never restarted into a leak, always stopped."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import AgentProcess
from tests.processes_helpers import BOUND, create_body, wait_status, write_app, write_config

# `setsid` in a background job: a new session, out of the process group's reach, as a
# daemon's double fork leaves it. One keeps the output pipe and writes to it, one does not.
QUIET_DAEMON = "setsid sleep 300 </dev/null >/dev/null 2>&1 & echo forked"
CHATTY_DAEMON = "setsid sh -c 'while :; do echo tick; sleep 0.2; done' & echo forked; sleep 0.3"


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


def parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def daemonized(agent: AgentProcess, tmp_path: Path, node: str, command: str) -> list[int]:
    """Create a process running ``command``; the pids it reports left running."""
    app = write_app(tmp_path / node, {"web": command})
    body = create_body("d", node, str(app))
    reply = httpx.post(f"{agent.url}/create-process", json=body, headers=agent.headers, timeout=10)
    assert reply.status_code == 201
    status = wait_status(agent, f"d.{node}", lambda s: s["state"] == "daemonized")
    assert status["restarts"] == 0 and status["pid"] is None
    assert "not restarted" in status["message"]
    pids = [int(p) for p in re.findall(r"\d+", status["message"].split("pid", 1)[1])]
    # The agent is their subreaper: the daemon is its child now, not init's.
    assert agent.process.pid in {parent_of(pid) for pid in pids if alive(pid)}
    return pids


@pytest.fixture
def agent(agent_factory, tmp_path: Path) -> AgentProcess:
    return agent_factory("--config", str(write_config(tmp_path / "config.toml")))


def test_a_daemon_is_reported_not_restarted_and_ends_with_delete(
    agent: AgentProcess, tmp_path: Path
) -> None:
    pids = daemonized(agent, tmp_path, "quiet", QUIET_DAEMON)
    # Another process gets going meanwhile: longer than the restart delay (0.05 s) takes.
    daemonized(agent, tmp_path, "other", QUIET_DAEMON)
    status = httpx.get(f"{agent.url}/process-status/d.quiet", headers=agent.headers).json()
    assert status["state"] == "daemonized" and status["restarts"] == 0
    assert status["next_seq"] == 1, "one 'forked' line: it was started once"

    reply = httpx.post(f"{agent.url}/delete-process/d.quiet", headers=agent.headers, timeout=30)
    assert reply.status_code == 200
    assert not any(alive(pid) for pid in pids), "delete stopped the daemon"


def test_a_daemon_that_keeps_the_pipe_logs_on_and_stop_ends_it(
    agent: AgentProcess, tmp_path: Path
) -> None:
    pids = daemonized(agent, tmp_path, "chatty", CHATTY_DAEMON)
    seq = wait_status(agent, "d.chatty", lambda s: s["next_seq"] >= 4)["next_seq"]
    assert seq >= 4, "the daemon's output still reaches the log"
    reply = httpx.post(f"{agent.url}/stop-process/d.chatty", headers=agent.headers, timeout=30)
    assert reply.json()["state"] == "stopped"
    assert not any(alive(pid) for pid in pids)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_no_daemon_outlives_the_agent(
    agent: AgentProcess, tmp_path: Path, how: signal.Signals
) -> None:
    pids = daemonized(agent, tmp_path, "exit", QUIET_DAEMON)
    agent.stop(how)
    wait_until(lambda: not any(alive(pid) for pid in pids), f"daemons {pids} outlived the agent")
    # Whoever adopted them reaped them: nothing of ours is left, not even a zombie of init's.
    assert not any(os.path.exists(f"/proc/{pid}") and alive(pid) for pid in pids)
