"""The inbox adapter (SciroccoInbox) against a real agent spawned as the console spawns it,
on both stores (SQLite, and a real redis-server)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from console.adapters import AgentClient, AuthError, Endpoint
from console.adapters.connect import SpawnedAgent
from console.adapters.errors import NotFound, Unavailable
from console.bench.redis_server import redis_server_path
from console.models import BINARY_TYPE, JSON_TYPE, TEXT_TYPE, AgentEvent, MessageStatus
from tests.conftest import write_inbox_table
from tests.processes_helpers import BOUND


@pytest.fixture
async def client(tmp_path: Path, inbox_store: str) -> AsyncIterator[AgentClient]:
    """A client on a spawned agent: the spawner found the agent token in its data dir."""
    config = write_inbox_table(tmp_path / "agent.toml", inbox_store, agent_name="agent-1")
    spawned = SpawnedAgent(
        ["--data-dir", str(tmp_path / "data"), "--node-id", "ops", "--config", str(config)],
        log_file=tmp_path / "agent.log",
    )
    try:
        client = await spawned.connect()
        await client.info()
        yield client
    finally:
        await spawned.close()


def other_node(client: AgentClient, node_id: str, token: str | None = "same") -> AgentClient:
    """Another client on the same agent, through a plain Endpoint, acting as ``node_id``,
    holding ``token`` as its agent token (the same one by default)."""
    if token == "same":
        token = client.endpoint.agent_token
    other = AgentClient(Endpoint(client.endpoint.url, agent_token=token))
    other.inbox.node_id = node_id
    return other


async def test_push_pull_ack_of_each_payload_kind(client: AgentClient) -> None:
    inbox = client.inbox
    assert client.endpoint.agent_token and inbox.node_id == "ops"  # from the agent's info()
    blob = bytes(range(256)) + b"\x00\xff"
    pushed = [
        await inbox.push("ops", {"deploy": [1, 2]}, topic="deploy"),
        await inbox.push("ops", "plain ✓ text"),
        await inbox.push("ops", blob),
    ]
    assert [m.payload_type for m in pushed] == [JSON_TYPE, TEXT_TYPE, BINARY_TYPE]
    assert all(m.status == MessageStatus.PENDING and m.tries == 0 for m in pushed)
    assert (pushed[0].node_source, pushed[0].node_destination) == ("ops", "ops")
    assert pushed[0].topic == "deploy"
    assert pushed[0].accepted_by == "agent-1"
    assert pushed[0].created_time == pytest.approx(time.time(), abs=60)
    assert [m.content for m in pushed] == [{"deploy": [1, 2]}, "plain ✓ text", blob]

    first = await inbox.pull()
    assert first is not None
    assert (first.id, first.status, first.tries) == (pushed[0].id, MessageStatus.PROCESSING, 1)
    assert first.content == {"deploy": [1, 2]}
    rest = await inbox.pull_many(10)
    assert [m.id for m in rest] == [pushed[1].id, pushed[2].id]
    assert [m.content for m in rest] == ["plain ✓ text", blob]  # bytes back from base64
    assert all(m.status == MessageStatus.PROCESSING and m.tries == 1 for m in rest)
    assert await inbox.pull() is None
    assert await inbox.pull_many(10) == []

    for message in pushed:
        acked = await inbox.ack(message.id)
        assert (acked.status, acked.processed_time is not None) == (MessageStatus.PROCESSED, True)
    with pytest.raises(NotFound):
        await inbox.ack(pushed[0].id)


async def test_a_node_pulls_only_its_own_messages(client: AgentClient) -> None:
    async with other_node(client, "web1") as web1:
        sent = await client.inbox.push("web1", {"for": "web1"})
        assert await client.inbox.pull() is None
        got = await web1.inbox.pull()
        assert got is not None and (got.id, got.node_source) == (sent.id, "ops")
        with pytest.raises(NotFound):
            await client.inbox.ack(sent.id)  # not processing for ops
        assert (await web1.inbox.ack(sent.id)).status == MessageStatus.PROCESSED


async def test_list_get_update_delete(client: AgentClient) -> None:
    inbox = client.inbox
    a = await inbox.push("ops", {"n": 1})
    b = await inbox.push("web1", "two")
    c = await inbox.push("ops", b"\x01\x02", scheduled_time=time.time() + 3600)
    assert c.status == MessageStatus.SCHEDULED
    assert c.scheduled_time == pytest.approx(time.time() + 3600, abs=60)
    await inbox.pull()

    assert [m.id for m in await inbox.list()] == [c.id, b.id, a.id]
    assert [m.id for m in await inbox.list(destination="ops")] == [c.id, a.id]
    assert [m.id for m in await inbox.list(status=MessageStatus.PROCESSING)] == [a.id]
    assert [m.id for m in await inbox.list(status=MessageStatus.SCHEDULED)] == [c.id]
    assert [m.id for m in await inbox.list(limit=1)] == [c.id]
    listed = {m.id: m for m in await inbox.list()}
    assert [listed[m.id].content for m in (a, b, c)] == [{"n": 1}, "two", b"\x01\x02"]

    got = await inbox.get(b.id)
    assert (got.content, got.status, got.node_destination) == ("two", MessageStatus.PENDING, "web1")
    # As scirocco, an update changes the payload and keeps the type: text stays text.
    updated = await inbox.update(b.id, {"now": "json"})
    assert (updated.content, updated.payload_type) == ('{"now": "json"}', TEXT_TYPE)
    assert (await inbox.get(b.id)).content == '{"now": "json"}'
    assert (await inbox.update(c.id, b"\x03")).content == b"\x03"  # bytes through base64
    with pytest.raises(NotFound):
        await inbox.update("no-such-id", "x")

    await inbox.delete(b.id)
    for call in (inbox.get, inbox.delete):
        with pytest.raises(NotFound):
            await call(b.id)
    assert await inbox.delete_all() == 2
    assert await inbox.list() == []


async def test_without_the_right_token_the_inbox_is_refused(client: AgentClient) -> None:
    for token in (None, "not-the-token"):
        async with other_node(client, "ops", token) as stranger:
            calls: list[Callable[[], object]] = [
                lambda: stranger.inbox.push("ops", "x"),
                stranger.inbox.pull,
                lambda: stranger.inbox.pull_many(3),
                lambda: stranger.inbox.ack("some-id"),
                stranger.inbox.list,
                lambda: stranger.inbox.get("some-id"),
                lambda: stranger.inbox.update("some-id", "x"),
                lambda: stranger.inbox.delete("some-id"),
                stranger.inbox.delete_all,
            ]
            for call in calls:
                with pytest.raises(AuthError):
                    await call()  # type: ignore[misc]
    assert await client.inbox.list() == []


async def next_message_event(
    events: AsyncIterator[AgentEvent], message_id: str, topic: str = "message"
) -> dict:
    """The next event about ``message_id``, within a generous bound."""

    async def find() -> dict:
        async for event in events:
            if event.topic == topic and event.data.get("id") == message_id:
                return event.data
        raise AssertionError("the events stream ended")

    return await asyncio.wait_for(find(), BOUND)


async def test_the_events_stream_tells_of_new_and_changed_messages(client: AgentClient) -> None:
    inbox = client.inbox
    events = client.events(("message",))
    try:
        hello = await asyncio.wait_for(anext(events), BOUND)
        assert hello.topic == "hello"
        message = await inbox.push("ops", {"n": 1}, topic="t")
        new = await next_message_event(events, message.id)
        assert (new["status"], new["topic"], new["size"]) == ("pending", "t", len(b'{"n": 1}'))
        assert "payload" not in new
        await inbox.pull()
        assert (await next_message_event(events, message.id))["status"] == "processing"
        await inbox.ack(message.id)
        assert (await next_message_event(events, message.id))["status"] == "processed"
        await inbox.update(message.id, "edited")
        edited = await next_message_event(events, message.id)
        assert (edited["payload_type"], edited["size"]) == (JSON_TYPE, len('"edited"'))
        await inbox.delete(message.id)
        assert await next_message_event(events, message.id, "message.deleted") == {"id": message.id}

        # A scheduled message: the agent's clock releases it, and says so, with no pull.
        due = time.time() + 1.0
        later = await inbox.push("ops", "later", scheduled_time=due)
        assert (await next_message_event(events, later.id))["status"] == "scheduled"
        released = await next_message_event(events, later.id)
        assert released["status"] == "pending"
        assert time.time() >= due
        assert (await inbox.get(later.id)).status == MessageStatus.PENDING
        pulled = await inbox.pull()
        assert pulled is not None and pulled.id == later.id
    finally:
        await events.aclose()
    # The agent's handler of a closed events socket only notices when it next sends
    # (app.py, event_stream): one more event ends it now, not at the 5 s shutdown timeout.
    await inbox.delete_all()


async def test_the_inbox_benchmark_checks_every_cycle(capsys: pytest.CaptureFixture[str]) -> None:
    from console.bench.inbox import run

    assert await run(cycles=10, rounds=1, agents=2, batch_messages=20) == 0
    printed = capsys.readouterr().out
    assert "FAULTY" not in printed
    assert "opsconsole, SQLite store" in printed
    if redis_server_path() is not None:
        assert "Redis Streams, appendfsync always (peer)" in printed
        assert "opsconsole, Redis store, 2 agents" in printed


async def test_batch_ack_through_the_adapter(client: AgentClient) -> None:
    inbox = client.inbox
    assert "inbox.batch_ack" in (await client.info()).features
    pushed = [(await inbox.push("ops", {"n": n})).id for n in range(3)]
    pulled = await inbox.pull_many(2)
    assert [m.id for m in pulled] == pushed[:2]
    assert await inbox.ack_many([*pushed, "nope"]) == pushed[:2]
    assert [(await inbox.get(i)).status for i in pushed] == [
        MessageStatus.PROCESSED,
        MessageStatus.PROCESSED,
        MessageStatus.PENDING,
    ]


async def test_an_agent_gone_is_unavailable_on_every_call(tmp_path: Path) -> None:
    """The inbox's own HTTP client (inbox_http): a killed agent is Unavailable, naming it, on
    a pooled connection and on a new one alike; closing after that raises nothing."""
    spawned = SpawnedAgent(["--data-dir", str(tmp_path / "data"), "--node-id", "ops"])
    try:
        client = await spawned.connect()
        client.inbox.node_id = "ops"
        await client.inbox.push("ops", "before")  # a pooled keep-alive connection now
        assert spawned.process is not None
        spawned.process.kill()
        await asyncio.wait_for(spawned.process.wait(), BOUND)
        where = client.endpoint.base_url
        for call in (lambda: client.inbox.push("ops", "after"), client.inbox.pull):
            with pytest.raises(Unavailable, match=where):
                await call()  # type: ignore[operator]
    finally:
        await spawned.close()
