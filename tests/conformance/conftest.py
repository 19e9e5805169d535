"""Fixtures of the conformance suite: the upstream environments and agents for their clients.

Each test starts the agent with the credentials its old client really sends: the inbox
token for scirocco, htpasswd Basic for pymojo; smartmob and shmooze clients send none.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conformance import envs
from tests.conftest import AgentProcess, start_agent

WITHOUT_CREDENTIALS: tuple[str, ...] = ("--open", "processes", "--open", "modules")
"""The agent flags for clients that send no credentials (smartmob, shmooze): the one place
to name the documented loopback-only "no credentials" option once the agent requires them."""

CLIENTS = Path(__file__).parent / "clients"
CLIENT_TIMEOUT = 120


@pytest.fixture(scope="session")
def scirocco_env() -> Path:
    return envs.env_or_skip(envs.SCIROCCO)


@pytest.fixture(scope="session")
def smartmob_env() -> Path:
    return envs.env_or_skip(envs.SMARTMOB)


@pytest.fixture(scope="session")
def shmooze_env() -> Path:
    return envs.env_or_skip(envs.SHMOOZE)


@pytest.fixture(scope="session")
def pyjojo_env() -> Path:
    return envs.env_or_skip(envs.PYJOJO)


def run_client(env: Path, script: str, *args: str, timeout: float = CLIENT_TIMEOUT) -> Any:
    """Run ``clients/SCRIPT`` with the environment's interpreter; its stdout's JSON.

    Raises AssertionError with the client's stderr when it fails.
    """
    done = subprocess.run(
        [str(env / "bin" / "python"), str(CLIENTS / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout)


@pytest.fixture
def conformance_agent(tmp_path: Path) -> Iterator[Callable[..., AgentProcess]]:
    """Start agents with ``flags``; each is stopped (by its PID) after the test."""
    started: list[AgentProcess] = []

    def start(*flags: str) -> AgentProcess:
        index = len(started)
        agent = start_agent(
            "--data-dir",
            str(tmp_path / f"agent-data-{index}"),
            *flags,
            log=tmp_path / f"agent-{index}.log",
        )
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.stop()
        if agent.process.stdout is not None:
            agent.process.stdout.close()
