"""The console's side of the queue and pool: ``AgentClient.queue`` / ``.pool`` and the events.

Against a real agent whose modules are real processes (``tests/modules/recorder.py``).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from console.adapters.agent import AgentClient
from console.adapters.errors import BackendError
from console.models import AgentEvent, ModuleInfo
from tests.conftest import AgentProcess
from tests.modules import received, unique
from tests.test_agent_lifecycle import pids_with_argument
from tests.test_agent_modules_api import modules_config

BOUND = 10.0


@pytest.fixture
def marker() -> str:
    return unique("adapter")


@pytest.fixture
def agent(
    agent_factory: Callable[..., AgentProcess], tmp_path: Path, marker: str
) -> Iterator[AgentProcess]:
    agent = agent_factory("--config", str(modules_config(tmp_path / "config.toml", marker)))
    yield agent
    assert agent.stop(signal.SIGTERM) == 0
    assert not pids_with_argument(marker)


@pytest.fixture
async def client(agent: AgentProcess) -> AsyncIterator[AgentClient]:
    async with AgentClient(agent.endpoint()) as client:
        yield client


def shape(module: ModuleInfo | None) -> tuple[int, str, dict, bool | None] | None:
    if module is None:
        return None
    return (module.uid, module.type, module.parameters, module.playing)


async def test_a_queue_snapshot_has_the_order_who_plays_parameters_and_background(
    client: AgentClient, tmp_path: Path
) -> None:
    a, b, bg = tmp_path / "a.log", tmp_path / "b.log", tmp_path / "bg.log"
    queue = client.queue
    uid_bg = await queue.set_background("quiet", {"log": str(bg), "parameters": {"mood": "calm"}})
    empty = await queue.snapshot()
    assert (empty.service, empty.modules) == ("queue", [])
    assert shape(empty.background) == (uid_bg, "quiet", {"mood": "calm"}, True)

    uid_a = await queue.add("recorder", {"log": str(a), "parameters": {"title": "a"}})
    uid_b = await queue.add("recorder", {"log": str(b), "parameters": {"title": "b", "n": 2}})
    snapshot = await queue.snapshot()
    assert [shape(m) for m in snapshot.modules] == [
        (uid_a, "recorder", {"title": "a"}, True),
        (uid_b, "recorder", {"title": "b", "n": 2}, False),
    ]
    assert shape(snapshot.background) == (uid_bg, "quiet", {"mood": "calm"}, False)

    await queue.move_to_front(uid_b)
    snapshot = await queue.snapshot()
    assert [(m.uid, m.playing) for m in snapshot.modules] == [(uid_b, True), (uid_a, False)]
    assert received(a)[-1] == "suspend" and received(b)[-1] == "play"

    await queue.remove(uid_a, uid_b)
    snapshot = await queue.snapshot()
    assert snapshot.modules == []
    assert shape(snapshot.background) == (uid_bg, "quiet", {"mood": "calm"}, True)
    assert received(bg) == ["init", "play", "suspend", "play"]


async def test_a_pool_snapshot_plays_every_module(client: AgentClient, tmp_path: Path) -> None:
    pool = client.pool
    uids = [
        await pool.add("recorder", {"log": str(tmp_path / f"{i}.log"), "parameters": {"i": i}})
        for i in range(3)
    ]
    snapshot = await pool.snapshot()
    assert snapshot.service == "pool" and snapshot.background is None
    assert [shape(m) for m in snapshot.modules] == [
        (uid, "recorder", {"i": i}, True) for i, uid in enumerate(uids)
    ]
    await pool.remove(uids[0])
    snapshot = await pool.snapshot()
    assert [(m.uid, m.playing) for m in snapshot.modules] == [(uids[1], True), (uids[2], True)]
    with pytest.raises(BackendError, match=r"mv: Bad command\."):
        await pool.move_to_front(uids[2])  # as shmooze: a pool has no order


async def test_tell_available_and_errors_with_the_agents_message(
    client: AgentClient, tmp_path: Path
) -> None:
    queue = client.queue
    assert await queue.available() == (["recorder", "stubborn"], ["quiet", "recorder"])
    assert await client.pool.available() == (["recorder"], [])
    uid = await queue.add("recorder", {"log": str(tmp_path / "a.log")})
    assert await queue.tell(uid, "echo", {"x": 1}) == {"echo": {"x": 1}, "playing": True}
    assert await queue.tell(uid, "nothing") is None
    assert await queue.command("ask_module", {"uid": uid, "parameters": ["x"]}) == {}

    # Every error in shmooze's words (clients match them).
    failures = [
        (queue.add("nope"), "add: Unrecognized module name"),
        (queue.set_background("nope"), "set_bg: Unrecognized module name"),
        (queue.tell("999", "echo"), "tell_module: Module identifier not in queue"),
        (client.pool.tell("999", "echo"), "tell_module: Module identifier not in pool"),
        (queue.tell(uid, "fail", {"message": "no"}), "tell_module: ValueError: no"),
        (queue.tell(uid, "dance"), "tell_module: Unrecognized command"),
        (queue.command("ask_module", {"uid": uid}), "ask_module: ask_module() takes exactly 3"),
        (client.pool.command("dance"), "dance: Bad command."),
    ]
    for call, message in failures:
        with pytest.raises(BackendError) as raised:
            await call
        assert raised.value.message.startswith(message), raised.value.message
    assert [m.uid for m in (await queue.snapshot()).modules] == [uid], "errors changed nothing"
    await queue.remove("999")  # unknown uids are ignored, as shmooze
    await queue.move_to_front("999", uid)
    assert [m.uid for m in (await queue.snapshot()).modules] == [uid]


async def next_event(
    events: AsyncIterator[AgentEvent], wanted: Callable[[AgentEvent], bool]
) -> AgentEvent:
    """The next event ``wanted`` picks, within BOUND seconds."""
    seen: list[AgentEvent] = []
    try:
        async with asyncio.timeout(BOUND):
            while True:
                event = await anext(events)
                seen.append(event)
                if wanted(event):
                    return event
    except TimeoutError:
        raise AssertionError(f"not among the events: {seen}") from None


async def events_until(
    events: AsyncIterator[AgentEvent], done: Callable[[list[AgentEvent]], bool]
) -> list[AgentEvent]:
    """Events read until ``done`` says the list of them is complete, within BOUND seconds."""
    seen: list[AgentEvent] = []
    try:
        async with asyncio.timeout(BOUND):
            while not seen or not done(seen):
                seen.append(await anext(events))
    except TimeoutError:
        raise AssertionError(f"incomplete: {seen}") from None
    return seen


def modules_event(*uids: int) -> Callable[[AgentEvent], bool]:
    """A ``modules`` event of the queue holding exactly ``uids`` in this order."""

    def wanted(event: AgentEvent) -> bool:
        return (
            event.topic == "modules"
            and event.data["service"] == "queue"
            and [m["uid"] for m in event.data["modules"]] == list(uids)
        )

    return wanted


async def test_events_show_parameters_live_and_the_queue_on_add_rm_mv(
    client: AgentClient, tmp_path: Path
) -> None:
    events = client.events(("module",))
    try:
        assert (await anext(events)).topic == "hello"
        queue = client.queue
        uid_a = await queue.add("recorder", {"log": str(tmp_path / "a.log"), "ticks": 3})

        # Pushed by the module on its own, seen as they happen, in order; and the
        # queue as it changed (which of the two comes first is a race).
        def tick(event: AgentEvent) -> int | None:
            return event.data["parameters"].get("tick") if event.topic == "module" else None

        def complete(seen: list[AgentEvent]) -> bool:
            return any(map(modules_event(uid_a), seen)) and any(tick(e) == 2 for e in seen)

        seen = await events_until(events, complete)
        added = next(filter(modules_event(uid_a), seen))
        assert added.data["modules"][0]["playing"] is True
        ticks = [e for e in seen if e.topic == "module"]
        assert [tick(e) for e in ticks] == [0, 1, 2]
        assert all((e.data["service"], e.data["uid"]) == ("queue", uid_a) for e in ticks)
        assert ticks[-1].data["type"] == "recorder" and ticks[-1].data["playing"] is True

        await queue.tell(uid_a, "set", {"title": "live"})
        changed = await next_event(events, lambda e: e.topic == "module")
        assert changed.data["parameters"] == {"tick": 2, "title": "live"}

        uid_b = await queue.add("recorder", {"log": str(tmp_path / "b.log")})
        await next_event(events, modules_event(uid_a, uid_b))
        await queue.move_to_front(uid_b)
        moved = await next_event(events, modules_event(uid_b, uid_a))
        assert [m["playing"] for m in moved.data["modules"]] == [True, False]
        await queue.remove(uid_b)
        removed = await next_event(events, modules_event(uid_a))
        assert removed.data["modules"][0]["parameters"] == {"tick": 2, "title": "live"}
        assert removed.data["modules"][0]["playing"] is True
    finally:
        await events.aclose()
        # The agent notices a listener left only when it next sends it something; without
        # this event the listener would hold the agent's shutdown for its grace period.
        await client.queue.command("rm", {"uids": []})
