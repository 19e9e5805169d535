"""What the inbox answered survives kill -9 while 8 clients push, pull and ack at once,
over the command channel and over HTTP.

Concurrent calls share one transaction and one fsync (group commit): an answer
must still wait for the commit that holds its change, whichever batch it fell in.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from console.adapters import AgentClient
from console.adapters.errors import BackendError
from console.models import MessageStatus
from tests.conftest import write_inbox_table

CLIENTS = 8
ACKS_BEFORE_KILL = 120
"""Answered acks before the kill: enough that many batches were committed."""
BOUND = 60.0


async def cycle_until_gone(
    client: AgentClient, pushed: dict[str, str], acked: set[str], node: str
) -> None:
    """push → pull → ack as ``node`` until the agent is gone; what was answered is recorded
    (``pushed``: id → node) the moment its answer arrives."""
    inbox = client.inbox
    inbox.node_id = node
    n = 0
    try:
        while True:
            n += 1
            message = await inbox.push(node, {"node": node, "n": n})
            pushed[message.id] = node
            pulled = await inbox.pull()
            assert pulled is not None and pulled.id == message.id
            done = await inbox.ack(pulled.id)
            assert done.status == MessageStatus.PROCESSED
            acked.add(done.id)
    except BackendError:  # Unavailable and the like: the agent was killed
        return


@pytest.mark.parametrize("transport", ["channel", "http"])
async def test_answered_pushes_and_acks_survive_kill_9_under_8_clients(
    agent_factory, inbox_store: str, tmp_path: Path, transport: str
) -> None:
    config = str(write_inbox_table(tmp_path / "agent.toml", inbox_store))
    data_dir = tmp_path / "kept"
    agent = agent_factory("--data-dir", str(data_dir), "--config", config)
    pushed: dict[str, str] = {}
    acked: set[str] = set()
    clients = [AgentClient(agent.endpoint()) for _ in range(CLIENTS)]
    for client in clients:
        client.inbox.transport = "auto" if transport == "channel" else "http"
    try:
        runs = [
            asyncio.create_task(cycle_until_gone(c, pushed, acked, f"dur-{k}"))
            for k, c in enumerate(clients)
        ]
        deadline = time.monotonic() + BOUND
        while len(acked) < ACKS_BEFORE_KILL and not any(r.done() for r in runs):
            assert time.monotonic() < deadline, f"only {len(acked)} acks in {BOUND} s"
            await asyncio.sleep(0.01)
        assert [c.inbox.uses_channel for c in clients] == [transport == "channel"] * CLIENTS
        # In the middle of the clients' calls: some are in a batch not yet committed.
        agent.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(asyncio.gather(*runs), BOUND)
    finally:
        for client in clients:
            await client.aclose()
    assert agent.process.wait(10) == -signal.SIGKILL
    assert len(acked) >= ACKS_BEFORE_KILL
    assert len({node for node in pushed.values()}) == CLIENTS, "not every client got answers"

    again = agent_factory("--data-dir", str(data_dir), "--config", config)
    async with AgentClient(again.endpoint()) as checker:
        checker.inbox.node_id = "checker"
        kept = {m.id: m for m in await checker.inbox.list(limit=10_000)}
    lost = set(pushed) - set(kept)
    assert not lost, f"{len(lost)} of {len(pushed)} answered pushes lost"
    unacked = {i for i in acked if kept[i].status != MessageStatus.PROCESSED}
    assert not unacked, f"{len(unacked)} of {len(acked)} answered acks lost"
    for message_id, node in pushed.items():
        assert kept[message_id].node_destination == node
