"""One resource of every agent of a ``Fleet`` as one typed stream, items tagged with their context.

``Fleet.watch()`` merges the processes its members follow anyway; the panes of the
other resources (the inbox's messages, the scripts' catalogs, the modules) follow
their own feed per agent and merge it here, in the same ``Change`` types one
agent's ``watch()`` gives: each agent's feed runs in its own task (one slow or dead
agent holds up no other), agents joining or leaving the fleet are followed, and an
agent that drops keeps its items, marked ``online`` False, until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from console.adapters.changes import Backoff, Change, Offline, Removed, Resync, Upsert
from console.adapters.errors import BackendError
from console.adapters.fleet import fleet_key
from console.models import ConnectionState

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.fleet import Fleet

Item = TypeVar("Item")


@dataclass(frozen=True)
class FleetItem(Generic[Item]):
    """One resource of one agent: ``key`` is its key on that agent (a message id, a script
    name, a module uid); ``online`` False while the agent's feed is down (``item`` is then
    the last state seen, stale)."""

    context: str
    key: str
    item: Item
    online: bool = True

    @property
    def fleet_key(self) -> str:
        """``CONTEXT/KEY``: unique over the fleet."""
        return fleet_key(self.context, self.key)


WatchOf = Callable[["AgentClient"], AsyncIterator[Change[Item]]]
"""One agent's typed stream of the resource (``client.inbox.watch()``, say)."""


@dataclass
class _Feed(Generic[Item]):
    """What the merge knows of one agent's feed."""

    client: AgentClient
    task: asyncio.Task[None]
    items: dict[str, Item]
    online: bool = False
    """The feed is live (between a Resync and the next Offline)."""


_GONE = object()
"""Queued for a context that left the fleet."""


async def fleet_watch(
    fleet: Fleet, watch_of: WatchOf[Item], key_of: Callable[[Item], str]
) -> AsyncIterator[Change[FleetItem[Item]]]:
    """Every agent's ``watch_of(client)`` merged, for ever: a ``Resync`` of every item first
    and whenever an agent's feed resyncs, drops, or the agent joins or leaves the fleet
    (many at once come as one), then ``Upsert`` of a changed item and
    ``Removed(CONTEXT/KEY)`` of a deleted one. An agent is offline (its items kept, with
    ``online`` False) while its feed is down or the fleet sees it offline. No ``Offline``
    comes out: one agent dropping is not the fleet dropping. A feed that ends (an agent
    without an events stream) keeps its one listing; one that raises BackendError is
    offline and read again after a backoff."""
    feeds: dict[str, _Feed[Item]] = {}
    queue: asyncio.Queue[tuple[str, object]] = asyncio.Queue()

    async def follow(context: str, client: AgentClient) -> None:
        backoff = Backoff()
        while True:
            try:
                async for change in watch_of(client):
                    backoff.reset()
                    queue.put_nowait((context, change))
                return
            except BackendError as exc:
                queue.put_nowait((context, Offline(exc.message)))
            await backoff.wait()

    def fleet_offline(context: str) -> bool:
        member = fleet.members.get(context)
        return member is None or member.state is ConnectionState.OFFLINE

    def rows() -> list[FleetItem[Item]]:
        return [
            FleetItem(context, key, item, feed.online and not fleet_offline(context))
            for context, feed in feeds.items()
            for key, item in feed.items.items()
        ]

    def members_changed() -> bool:
        """Start a feed for each agent newly connected, end those of agents gone; True when
        what is shown changed (an agent came, went, or changed its fleet state)."""
        changed = False
        for context, member in fleet.members.items():
            feed = feeds.get(context)
            if member.client is not None and (feed is None or feed.client is not member.client):
                if feed is not None:
                    feed.task.cancel()
                task = asyncio.create_task(follow(context, member.client), name=f"feed {context}")
                feeds[context] = _Feed(member.client, task, feed.items if feed else {})
                changed = True
        for context in [c for c in feeds if c not in fleet.members]:
            feeds.pop(context).task.cancel()
            changed = True
        return changed

    async def membership() -> None:
        offline: dict[str, bool] = {}
        async for _ in fleet.watch_counts():
            now = {context: fleet_offline(context) for context in fleet.members}
            if members_changed() or now != offline:
                queue.put_nowait(("", _GONE))
            offline = now

    watcher = asyncio.create_task(membership(), name="fleet feed members")
    try:
        members_changed()
        yield Resync(rows())
        while True:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            resync = False
            out: list[Change[FleetItem[Item]]] = []
            for context, change in batch:
                feed = feeds.get(context)
                if change is _GONE or feed is None:
                    resync = True
                    continue
                match change:
                    case Resync(items):
                        feed.items = {key_of(item): item for item in items}
                        feed.online = True
                        resync = True
                    case Offline():
                        feed.online = False
                        resync = True
                    case Removed(None):
                        feed.items.clear()
                        resync = True
                    case Removed(key):
                        if feed.items.pop(str(key), None) is not None:
                            out.append(Removed(fleet_key(context, str(key))))
                    case Upsert(item):
                        key = key_of(item)
                        feed.items[key] = item
                        online = feed.online and not fleet_offline(context)
                        out.append(Upsert(FleetItem(context, key, item, online)))
            if resync:
                yield Resync(rows())  # the state now includes every change of the batch
            else:
                for each in out:
                    yield each
    finally:
        watcher.cancel()
        for feed in feeds.values():
            feed.task.cancel()
        for task in [watcher, *(feed.task for feed in feeds.values())]:
            with contextlib.suppress(asyncio.CancelledError, BackendError):
                await task


async def listed(
    listing: Callable[[], Awaitable[Sequence[Item]]],
) -> AsyncIterator[Change[Item]]:
    """A feed for a resource with no events (a script catalog): its listing once, not live.
    Raises what ``listing`` raises (BackendError)."""
    yield Resync(await listing(), live=False)
