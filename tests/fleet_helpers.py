"""Fleets of real agents for the tests: N ``opsconsole agent`` processes, each with processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from console.adapters.connect import ExistingAgent
from console.adapters.fleet import Fleet, FleetCounts
from tests.conftest import AgentProcess
from tests.processes_helpers import BOUND, write_app, write_config

INBOX_TOKEN = "fleet-test-inbox-token"
"""The inbox token every test agent accepts, so the fleet counts alerts waiting."""


def fleet_app(folder: Path) -> Path:
    """A Procfile app: ``web`` says one line then sleeps, ``worker`` sleeps quietly; ``crash``
    exits at once (fatal after a few fast restarts, which pushes an alert)."""
    return write_app(
        folder,
        {"web": "echo web up; exec sleep 3600", "worker": "exec sleep 3600", "crash": "exit 3"},
    )


def start_fleet_agents(
    agent_factory: Callable[..., AgentProcess], count: int, folder: Path, *args: str
) -> list[AgentProcess]:
    """``count`` agents with fast restart policies, each accepting INBOX_TOKEN (and ``args``)."""
    config = write_config(folder / "fleet-agent.toml")
    return [
        agent_factory("--config", str(config), "--inbox-token", INBOX_TOKEN, *args)
        for _ in range(count)
    ]


def wait_running(agent: AgentProcess, slugs: list[str], bound: float = BOUND) -> None:
    """Until every one of ``slugs`` runs on ``agent`` (its listing, polled)."""
    deadline = time.monotonic() + bound
    with httpx.Client(base_url=agent.url, headers=agent.headers, timeout=30) as http:
        while True:
            listing = http.get("/list-processes").json()["processes"]
            states = {p["slug"]: p["state"] for p in listing}
            if all(states.get(slug) == "running" for slug in slugs):
                return
            assert time.monotonic() < deadline, f"not all running: {states}"
            time.sleep(0.05)


def add_processes(
    agent: AgentProcess, app: Path, count: int, process_type: str = "web", app_name: str = "shop"
) -> list[str]:
    """Create ``count`` processes of ``process_type`` (nodes ``TYPE.0``...) on ``agent``;
    their slugs."""
    slugs = []
    with httpx.Client(base_url=agent.url, headers=agent.headers, timeout=30) as http:
        for index in range(count):
            body = {
                "app": app_name,
                "node": f"{process_type}.{index}",
                "process_type": process_type,
                "source_url": str(app),
            }
            answer = http.post("/create-process", json=body)
            assert answer.status_code < 300, answer.text
            slugs.append(answer.json()["slug"])
    return slugs


def connectors(agents: dict[str, AgentProcess]) -> dict[str, ExistingAgent]:
    """One connector per named agent, with its credentials and the inbox token."""
    return {
        name: ExistingAgent(agent.endpoint(token=INBOX_TOKEN)) for name, agent in agents.items()
    }


async def until(what: Callable[[], bool], bound: float = BOUND, why: str = "") -> None:
    """Wait (a generous bound, not a timing) until ``what()`` holds."""
    deadline = time.monotonic() + bound
    while not what():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {why}")
        await asyncio.sleep(0.02)


async def counts_reach(
    fleet: Fleet, accept: Callable[[FleetCounts], bool], bound: float = BOUND
) -> FleetCounts:
    """The fleet's summary, read from its ``watch_counts`` stream until ``accept`` holds."""
    seen: list[FleetCounts] = []

    async def read() -> FleetCounts:
        async for counts in fleet.watch_counts():
            seen.append(counts)
            if accept(counts):
                return counts
        raise AssertionError("the counts stream ended")

    try:
        return await asyncio.wait_for(read(), bound)
    except TimeoutError:
        raise AssertionError(f"counts never got there; last {seen[-1:]}") from None
