"""The inbox's SQLite store on its own: order, scheduling, redelivery, concurrent pullers."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from console.agent.inbox_store import InboxStore
from console.models import BINARY_TYPE, JSON_TYPE, TEXT_TYPE, DeliveryPolicy, MessageStatus


@pytest.fixture
def store(tmp_path: Path):
    store = InboxStore(tmp_path / "inbox.db", DeliveryPolicy(visibility_timeout=10, max_tries=2))
    yield store
    store.close()


def push(store: InboxStore, destination: str, text: str, **kwargs) -> str:
    return store.push("src", destination, text.encode(), TEXT_TYPE, **kwargs).id


def test_pulls_come_oldest_first_and_only_to_their_destination(store: InboxStore) -> None:
    ids = [push(store, "a", f"m{i}") for i in range(5)]
    other = push(store, "b", "for b")
    assert [m.id for m in store.pull("a")] == ids[:1]
    batch = store.pull("a", 3)
    assert [m.id for m in batch] == ids[1:4]
    assert all(m.status == MessageStatus.PROCESSING and m.tries == 1 for m in batch)
    assert [m.id for m in store.pull("a", 10)] == ids[4:]
    assert store.pull("a") == []
    assert [m.id for m in store.pull("b")] == [other]


def test_push_keeps_payload_type_and_topic(store: InboxStore) -> None:
    blob = bytes(range(256))
    message = store.push("src", "a", blob, BINARY_TYPE, topic="t.x")
    assert (message.status, message.tries, message.topic) == (MessageStatus.PENDING, 0, "t.x")
    assert message.created_time == message.update_time > 0
    [pulled] = store.pull("a")
    assert (pulled.payload, pulled.payload_type, pulled.topic) == (blob, BINARY_TYPE, "t.x")


def test_ack_only_what_is_processing_for_the_caller(store: InboxStore) -> None:
    first, second = push(store, "a", "1"), push(store, "a", "2")
    assert store.ack("a", first) is None  # pending, not processing
    store.pull("a")
    assert store.ack("b", first) is None  # someone else's
    acked = store.ack("a", first)
    assert acked is not None and acked.status == MessageStatus.PROCESSED
    assert acked.processed_time is not None
    assert store.ack("a", first) is None  # already processed
    assert store.ack("a", "no-such-id") is None
    assert store.get(second).status == MessageStatus.PENDING  # type: ignore[union-attr]


def test_scheduled_messages_wait_for_their_time(store: InboxStore) -> None:
    now = time.time()
    later = push(store, "a", "later", scheduled_time=now + 100)
    assert store.get(later).status == MessageStatus.SCHEDULED  # type: ignore[union-attr]
    assert store.next_due() == pytest.approx(now + 100)
    assert store.release_due(now + 50) == []
    assert store.pull("a") == []
    [released] = store.release_due(now + 100)
    assert (released.id, released.status) == (later, MessageStatus.PENDING)
    assert store.next_due() is None
    assert [m.id for m in store.pull("a")] == [later]


def test_a_scheduled_time_of_zero_is_still_scheduled(store: InboxStore) -> None:
    message = store.push("src", "a", b"x", TEXT_TYPE, scheduled_time=0.0)
    assert (message.status, message.scheduled_time) == (MessageStatus.SCHEDULED, 0.0)
    assert [m.id for m in store.release_due()] == [message.id]


def test_unacked_deliveries_come_back_then_go_to_error(store: InboxStore) -> None:
    message_id = push(store, "a", "flaky")
    [first] = store.pull("a")
    pulled_at = first.processing_time
    assert pulled_at is not None
    assert store.next_due() == pytest.approx(pulled_at + 10)
    assert store.release_due(pulled_at + 5) == []
    [back] = store.release_due(pulled_at + 10)
    assert (back.id, back.status, back.tries, back.error_time) == (
        message_id,
        MessageStatus.PENDING,
        1,
        None,
    )
    [second] = store.pull("a")
    assert second.tries == 2
    [failed] = store.release_due(second.processing_time + 10)  # type: ignore[operator]
    assert (failed.status, failed.tries) == (MessageStatus.ERROR, 2)
    assert failed.error_time is not None
    assert store.pull("a") == []
    assert store.next_due() is None


def test_next_due_is_the_earliest_of_scheduled_and_expiring(store: InboxStore) -> None:
    assert store.next_due() is None
    now = time.time()
    push(store, "a", "now")
    push(store, "a", "in an hour", scheduled_time=now + 3600)
    [pulled] = store.pull("a")
    assert store.next_due() == pytest.approx(pulled.processing_time + 10)  # type: ignore[operator]
    store.ack("a", pulled.id)
    assert store.next_due() == pytest.approx(now + 3600)


def test_list_update_delete(store: InboxStore) -> None:
    ids = [push(store, "a", "1"), push(store, "b", "2"), push(store, "a", "3")]
    store.pull("a")
    assert [m.id for m in store.list()] == ids[::-1]  # newest first
    assert [m.id for m in store.list(destination="a")] == [ids[2], ids[0]]
    assert [m.id for m in store.list(status=MessageStatus.PROCESSING)] == [ids[0]]
    assert [m.id for m in store.list(limit=1)] == [ids[2]]
    updated = store.update_payload(ids[1], b'{"x": 1}', JSON_TYPE)
    assert updated is not None and updated.content == {"x": 1}
    assert store.update_payload("nope", b"", TEXT_TYPE) is None
    assert store.delete(ids[1]) is True
    assert store.delete(ids[1]) is False
    assert store.get(ids[1]) is None
    assert store.delete_all() == 2
    assert store.list() == []


def test_messages_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "inbox.db"
    first = InboxStore(path)
    ids = [first.push("src", "a", b"%d" % i, TEXT_TYPE).id for i in range(3)]
    first.pull("a")
    first.close()
    again = InboxStore(path)
    try:
        assert [m.id for m in again.list()] == ids[::-1]
        assert again.get(ids[0]).status == MessageStatus.PROCESSING  # type: ignore[union-attr]
    finally:
        again.close()


def test_two_stores_on_one_file_never_pull_the_same_message(tmp_path: Path) -> None:
    """Two connections in two threads (WAL): each message goes to exactly one puller."""
    path = tmp_path / "inbox.db"
    filler = InboxStore(path, durable=False)
    pushed = {filler.push("src", "a", b"%d" % i, TEXT_TYPE).id for i in range(1000)}
    filler.close()
    stores = [InboxStore(path, durable=False), InboxStore(path, durable=False)]
    got: list[list[str]] = [[], []]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def puller(index: int, quantity: int) -> None:
        try:
            start.wait()
            while batch := stores[index].pull("a", quantity):
                got[index] += [m.id for m in batch]
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=puller, args=(i, q)) for i, q in ((0, 1), (1, 3))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for store in stores:
        store.close()
    assert not errors, errors
    assert got[0] and got[1], "one puller got everything: no race happened"
    assert not set(got[0]) & set(got[1])
    assert len(got[0]) + len(got[1]) == len(pushed)
    assert set(got[0]) | set(got[1]) == pushed
