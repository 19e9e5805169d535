"""fleet_watch: one resource of every agent merged, over real agents joining, leaving, dying."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from console.adapters.changes import Change, Removed, Resync, Upsert
from console.adapters.fleet import Fleet
from console.adapters.fleet_feed import FleetItem, fleet_watch, listed
from console.adapters.scirocco import MessageSeen
from tests.conftest import AgentProcess
from tests.fleet_helpers import connectors, counts_reach, start_fleet_agents, until

NAMES = ("web1", "web2", "db1")


@pytest.fixture
def agents(agent_factory: Callable[..., AgentProcess], tmp_path: Path) -> dict[str, AgentProcess]:
    started = start_fleet_agents(agent_factory, len(NAMES), tmp_path)
    return dict(zip(NAMES, started, strict=True))


class Merged:
    """What a pane would show: the merged stream applied to a dict, read in a task."""

    def __init__(self, fleet: Fleet) -> None:
        self.rows: dict[str, FleetItem[MessageSeen]] = {}
        self.changes: list[str] = []
        stream = fleet_watch(fleet, lambda client: client.inbox.watch(), _id)
        self.task = asyncio.create_task(self._read(stream))

    async def _read(self, stream) -> None:  # type: ignore[no-untyped-def]
        async for change in stream:
            self.apply(change)

    def apply(self, change: Change[FleetItem[MessageSeen]]) -> None:
        match change:
            case Resync(items):
                self.rows = {item.fleet_key: item for item in items}
                self.changes.append("resync")
            case Upsert(item):
                self.rows[item.fleet_key] = item
                self.changes.append(f"upsert {item.fleet_key}")
            case Removed(key):
                self.rows.pop(str(key), None)
                self.changes.append(f"removed {key}")
            case _:
                self.changes.append(f"unexpected {change}")

    def contexts(self) -> set[str]:
        return {item.context for item in self.rows.values()}

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def _id(seen: MessageSeen) -> str:
    return seen.message.id


async def push(fleet: Fleet, name: str, topic: str) -> str:
    inbox = fleet.client(name).inbox
    return (await inbox.push(inbox.node_id, {"on": name}, topic=topic)).id


async def test_items_of_each_agent_tagged_joining_leaving_and_a_dead_one_kept_stale(
    agents: dict[str, AgentProcess],
) -> None:
    first_two = {name: c for name, c in connectors(agents).items() if name != "db1"}
    async with Fleet(first_two) as fleet:
        await counts_reach(fleet, lambda c: c.connected == 2)
        ids = {name: await push(fleet, name, "seen") for name in first_two}
        merged = Merged(fleet)
        try:
            await until(lambda: merged.contexts() == {"web1", "web2"}, why="both agents' rows")
            for name, message_id in ids.items():
                row = merged.rows[f"{name}/{message_id}"]
                assert row.context == name and row.key == message_id and row.online
            # A change on one agent comes as an Upsert of its row only.
            later = await push(fleet, "web2", "later")
            await until(lambda: f"web2/{later}" in merged.rows, why="the new row")
            assert f"upsert web2/{later}" in merged.changes
            await fleet.client("web2").inbox.delete(later)
            await until(lambda: f"removed web2/{later}" in merged.changes, why="the removal")
            # An agent added at run time is followed; one removed takes its rows along.
            fleet.add("db1", connectors(agents)["db1"])
            await counts_reach(fleet, lambda c: c.connected == 3)
            ids["db1"] = await push(fleet, "db1", "joined")
            await until(lambda: f"db1/{ids['db1']}" in merged.rows, why="db1's row")
            await fleet.remove("web1")
            await until(lambda: "web1" not in merged.contexts(), why="web1's rows gone")
            # A dead agent's rows stay, stale; the others stay live.
            agents["web2"].stop(signal.SIGKILL)
            await until(lambda: not merged.rows[f"web2/{ids['web2']}"].online, why="stale")
            assert merged.rows[f"db1/{ids['db1']}"].online
            assert not [c for c in merged.changes if c.startswith("unexpected")]
        finally:
            await merged.close()


async def test_a_listing_without_events_is_one_resync_not_live() -> None:
    async def listing() -> list[str]:
        return ["a", "b"]

    changes = [change async for change in listed(listing)]
    assert changes == [Resync(["a", "b"], live=False)]
