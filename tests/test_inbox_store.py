"""The inbox's stores on their own, SQLite and Redis alike: order, scheduling, redelivery, races."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from console.agent.inbox_backend import InboxStore, open_store
from console.agent.inbox_store import SqliteInboxStore
from console.models import BINARY_TYPE, JSON_TYPE, TEXT_TYPE, DeliveryPolicy, MessageStatus
from tests.processes_helpers import BOUND

POLICY = DeliveryPolicy(visibility_timeout=0.4, max_tries=2)


@pytest.fixture
async def store(inbox_store: str, tmp_path: Path) -> AsyncIterator[InboxStore]:
    table: dict[str, Any] = {"store": inbox_store, "agent_name": "agent-1"}
    if inbox_store != "sqlite":
        table["namespace"] = f"store-{tmp_path.name}"
        # The agent's 2 s connect timeout fails fast on purpose; a burst of 300 pushes opens
        # 64 connections at once, which a starved redis-server took longer than that to accept.
        table["redis"] = {"socket_connect_timeout": BOUND}
    opened = open_store(table, tmp_path, POLICY, "the-host")
    yield opened
    await opened.delete_all()
    await opened.close()


async def push(store: InboxStore, destination: str, text: str, **kwargs: Any) -> str:
    return (await store.push("src", destination, text.encode(), TEXT_TYPE, **kwargs)).id


async def ids(messages: Any) -> list[str]:
    return [m.id for m in await messages]


async def wait_released(store: InboxStore, what: str) -> list:
    """Ask the store to release due messages until it does: a bound, not a timing."""
    deadline = time.monotonic() + BOUND
    while not (released := await store.release_due()):
        assert time.monotonic() < deadline, f"never released: {what}"
        await asyncio.sleep(0.02)
    return released


async def test_pulls_come_oldest_first_and_only_to_their_destination(store: InboxStore) -> None:
    pushed = [await push(store, "a", f"m{i}") for i in range(5)]
    other = await push(store, "b", "for b")
    assert await ids(store.pull("a")) == pushed[:1]
    batch = await store.pull("a", 3)
    assert [m.id for m in batch] == pushed[1:4]
    assert all(m.status == MessageStatus.PROCESSING and m.tries == 1 for m in batch)
    assert await ids(store.pull("a", 10)) == pushed[4:]
    assert await store.pull("a") == []
    assert await ids(store.pull("b")) == [other]


async def test_push_keeps_payload_type_topic_and_who_accepted_it(store: InboxStore) -> None:
    blob = bytes(range(256))
    message = await store.push("src", "a", blob, BINARY_TYPE, topic="t.x")
    assert (message.status, message.tries, message.topic) == (MessageStatus.PENDING, 0, "t.x")
    assert message.accepted_by == "agent-1"
    assert message.created_time == message.update_time > 0
    [pulled] = await store.pull("a")
    assert (pulled.payload, pulled.payload_type, pulled.topic) == (blob, BINARY_TYPE, "t.x")


async def test_ack_only_what_is_processing_for_the_caller(store: InboxStore) -> None:
    first, second = await push(store, "a", "1"), await push(store, "a", "2")
    assert await store.ack("a", [first]) == []  # pending, not processing
    await store.pull("a")
    assert await store.ack("b", [first]) == []  # someone else's
    [acked] = await store.ack("a", [first, second, "no-such-id"])
    assert (acked.id, acked.status) == (first, MessageStatus.PROCESSED)
    assert acked.processed_time is not None
    assert await store.ack("a", [first]) == []  # already processed
    assert (await store.get(second)).status == MessageStatus.PENDING  # type: ignore[union-attr]


async def test_scheduled_messages_wait_for_their_time(store: InboxStore) -> None:
    due = time.time() + 0.3
    later = await push(store, "a", "later", scheduled_time=due)
    far = await push(store, "a", "far", scheduled_time=time.time() + 3600)
    assert (await store.get(later)).status == MessageStatus.SCHEDULED  # type: ignore[union-attr]
    assert await store.next_due() == pytest.approx(due)
    assert await store.pull("a") == []
    [released] = await wait_released(store, "the scheduled message")
    assert time.time() >= due, "released before its time"
    assert (released.id, released.status) == (later, MessageStatus.PENDING)
    assert await ids(store.pull("a")) == [later]
    assert (await store.get(far)).status == MessageStatus.SCHEDULED  # type: ignore[union-attr]


async def test_a_scheduled_time_of_zero_is_still_scheduled(store: InboxStore) -> None:
    message = await store.push("src", "a", b"x", TEXT_TYPE, scheduled_time=0.0)
    assert (message.status, message.scheduled_time) == (MessageStatus.SCHEDULED, 0.0)
    assert await ids(store.release_due()) == [message.id]


async def test_unacked_deliveries_come_back_then_go_to_error(store: InboxStore) -> None:
    message_id = await push(store, "a", "flaky")
    [first] = await store.pull("a")
    assert first.processing_time is not None
    assert await store.release_due() == []  # not yet
    [back] = await wait_released(store, "the expired delivery")
    assert time.time() >= first.processing_time + POLICY.visibility_timeout
    assert (back.id, back.status, back.tries, back.error_time) == (
        message_id,
        MessageStatus.PENDING,
        1,
        None,
    )
    assert await store.ack("a", [message_id]) == []  # its delivery expired
    [second] = await store.pull("a")
    assert (second.id, second.tries) == (message_id, 2)
    [failed] = await wait_released(store, "the second expiry")
    assert (failed.status, failed.tries) == (MessageStatus.ERROR, 2)
    assert failed.error_time is not None
    assert await store.pull("a") == []


async def test_a_redelivery_comes_before_newer_messages(store: InboxStore) -> None:
    old = await push(store, "a", "old")
    await store.pull("a")
    await wait_released(store, "the expired delivery")
    new = await push(store, "a", "new")
    assert await ids(store.pull("a", 5)) == [old, new]


async def test_list_update_delete(store: InboxStore) -> None:
    pushed = [await push(store, "a", "1"), await push(store, "b", "2"), await push(store, "a", "3")]
    await store.pull("a")
    assert await ids(store.list()) == pushed[::-1]  # newest first
    assert await ids(store.list(destination="a")) == [pushed[2], pushed[0]]
    assert await ids(store.list(status=MessageStatus.PROCESSING)) == [pushed[0]]
    assert await ids(store.list(limit=1)) == [pushed[2]]
    updated = await store.update_payload(pushed[1], b'{"x": 1}', JSON_TYPE)
    assert updated is not None and updated.content == {"x": 1}
    assert await store.update_payload("nope", b"", TEXT_TYPE) is None
    assert await store.delete(pushed[1]) is True
    assert await store.delete(pushed[1]) is False
    assert await store.get(pushed[1]) is None
    assert await store.delete(pushed[0]) is True  # while it is being processed
    assert await store.ack("a", [pushed[0]]) == []
    assert await store.delete_all() == 1
    assert await store.list() == []
    assert await store.pull("a") == []


async def test_concurrent_pullers_never_get_the_same_message(store: InboxStore) -> None:
    pushed = set(await asyncio.gather(*(push(store, "a", str(i)) for i in range(300))))
    got: list[list[str]] = [[], [], []]

    async def puller(index: int, quantity: int) -> None:
        while batch := await store.pull("a", quantity):
            got[index] += [m.id for m in batch]

    await asyncio.gather(*(puller(i, q) for i, q in enumerate((1, 3, 7))))
    everything = [i for mine in got for i in mine]
    assert sum(bool(mine) for mine in got) >= 2, "one puller got everything: no race happened"
    assert len(everything) == len(set(everything)) == len(pushed)
    assert set(everything) == pushed


# SQLite only: the file


async def test_messages_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "inbox.db"
    first = SqliteInboxStore(path)
    pushed = [(await first.push("src", "a", b"%d" % i, TEXT_TYPE)).id for i in range(3)]
    await first.pull("a")
    await first.close()
    again = SqliteInboxStore(path)
    try:
        assert await ids(again.list()) == pushed[::-1]
        assert (await again.get(pushed[0])).status == MessageStatus.PROCESSING  # type: ignore[union-attr]
    finally:
        await again.close()


async def test_a_file_from_before_accepted_by_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
        " node_source TEXT NOT NULL, node_destination TEXT NOT NULL, status TEXT NOT NULL,"
        " topic TEXT, payload BLOB NOT NULL, payload_type TEXT NOT NULL,"
        " created_time REAL NOT NULL, update_time REAL NOT NULL, scheduled_time REAL,"
        " processing_time REAL, processed_time REAL, error_time REAL,"
        " tries INTEGER NOT NULL DEFAULT 0, visible_at REAL);"
        "INSERT INTO messages (id, node_source, node_destination, status, payload, payload_type,"
        " created_time, update_time)"
        " VALUES ('old', 's', 'a', 'pending', x'00', 'text/plain', 1, 1);"
    )
    old.close()
    store = SqliteInboxStore(path, agent_name="new")
    try:
        assert (await store.get("old")).accepted_by is None  # type: ignore[union-attr]
        assert (await store.push("s", "a", b"x", TEXT_TYPE)).accepted_by == "new"
    finally:
        await store.close()


async def test_concurrent_calls_share_commits(tmp_path: Path) -> None:
    """Group commit: 200 concurrent pushes take far fewer than 200 transactions."""
    store = SqliteInboxStore(tmp_path / "inbox.db")
    commits = 0
    commit: Callable[..., None] = store._commit

    def counting(batch: list) -> None:
        nonlocal commits
        commits += 1
        commit(batch)

    store._commit = counting  # type: ignore[method-assign]
    try:
        pushed = await asyncio.gather(
            *(store.push("s", "a", b"%d" % i, TEXT_TYPE) for i in range(200))
        )
        assert len({m.id for m in pushed}) == 200
        assert len(await store.list(limit=1000)) == 200
        assert commits < 100, f"{commits} commits for 200 concurrent pushes: no grouping"
    finally:
        await store.close()


async def test_two_stores_on_one_file_never_pull_the_same_message(tmp_path: Path) -> None:
    """Two connections, two writer threads (WAL): each message goes to exactly one puller."""
    path = tmp_path / "inbox.db"
    filler = SqliteInboxStore(path, durable=False)
    pushed = {(await filler.push("src", "a", b"%d" % i, TEXT_TYPE)).id for i in range(1000)}
    await filler.close()
    stores = [SqliteInboxStore(path, durable=False), SqliteInboxStore(path, durable=False)]
    got: list[list[str]] = [[], []]

    async def puller(index: int, quantity: int) -> None:
        while batch := await stores[index].pull("a", quantity):
            got[index] += [m.id for m in batch]

    await asyncio.gather(puller(0, 1), puller(1, 3))
    for store in stores:
        await store.close()
    assert got[0] and got[1], "one puller got everything: no race happened"
    assert not set(got[0]) & set(got[1])
    assert len(got[0]) + len(got[1]) == len(pushed)
    assert set(got[0]) | set(got[1]) == pushed
