"""Many agents, one console: every context connected at once, and one merged view of them.

A ``Fleet`` holds one ``FleetMember`` per context (a name and its ``AgentConnector``: a
local spawned agent, an ``ssh://`` tunnel, an ``https://`` agent, or a host added at run
time). Each member connects, reconnects with backoff and follows its agent's typed
``watch()`` streams in its own task, so one slow or dead agent never holds up another.
The fleet merges what the members see into rows tagged with their context
(``FleetProcess``), counts for a summary line (``FleetCounts``), and streams of both in
the same ``Change`` types one agent's ``watch()`` gives. Actions on one row go to that
row's own agent (``Fleet.client``); actions on many hosts (``fleet_actions``) return one
``HostResult`` per host.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING

from console.adapters.changes import Backoff, Change, Offline, Removed, Resync, Upsert
from console.adapters.errors import BackendError, NotFound, Unavailable
from console.adapters.fleet_model import (
    WAITING,
    FleetCounts,
    FleetProcess,
    MemberStatus,
    fleet_key,
)
from console.models import ConnectionState, ProcessState, ProcessStatus

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.connect import AgentConnector
    from console.adapters.scirocco import MessageSeen

PROCESSES, INBOX = "processes", "inbox"
"""The feeds a member follows; each is live, failing, or (not yet) started."""


class FleetMember:
    """One context: its connection, its state and what its feeds last said."""

    def __init__(self, fleet: Fleet, name: str, connector: AgentConnector) -> None:
        self.fleet = fleet
        self.name = name
        self.connector = connector
        self.client: AgentClient | None = None
        self.attempted = asyncio.Event()
        """Set once the first connection attempt has ended, either way."""
        self.processes: dict[str, ProcessStatus] = {}
        self.waiting: set[str] = set()
        """Ids of this agent's messages to its node that wait for an ack."""
        self._connect_error: str | None = None
        """Why the last connection attempt failed; None once connected."""
        self._feeds: dict[str, str | None] = {}
        """Feed name → None while live, else why it is not."""
        self._dropped = False
        """The processes feed's events stream dropped: the agent is unreachable."""

    @property
    def state(self) -> ConnectionState:
        if self._connect_error is not None or self._dropped:
            return ConnectionState.OFFLINE
        if self.client is None or (self.fleet.follow and PROCESSES not in self._feeds):
            return ConnectionState.CONNECTING
        if any(why is not None for why in self._feeds.values()):
            return ConnectionState.DEGRADED
        return ConnectionState.CONNECTED

    @property
    def reason(self) -> str:
        """Why the state is not CONNECTED, in a few words ("" when it is)."""
        if self._connect_error is not None:
            return self._connect_error
        return "; ".join(why for why in self._feeds.values() if why is not None)

    def status(self) -> MemberStatus:
        """This context's name, where it is, its connection state and why (data only)."""
        return MemberStatus(self.name, self.connector.description, self.state, self.reason)

    def rows(self) -> list[FleetProcess]:
        """This agent's processes by slug, each marked offline while the agent is."""
        online = self.state is not ConnectionState.OFFLINE
        return [
            FleetProcess(self.name, self.processes[slug], online) for slug in sorted(self.processes)
        ]

    async def run(self) -> None:
        """Connect (again and again, with backoff, until it works), then follow the feeds."""
        backoff = Backoff()
        while True:
            try:
                client = await self.connector.connect()
                await client.info()
            except BackendError as exc:
                await self._failed(exc.message)
                await backoff.wait()
                continue
            except OSError as exc:  # an SSH forward that could not be set up
                await self._failed(str(exc) or type(exc).__name__)
                await backoff.wait()
                continue
            self.client, self._connect_error = client, None
            self.attempted.set()
            self.fleet.member_changed(self)
            break
        if self.fleet.follow:
            async with asyncio.TaskGroup() as feeds:
                feeds.create_task(self._follow(PROCESSES))
                feeds.create_task(self._follow(INBOX))

    async def _failed(self, reason: str) -> None:
        self._connect_error = reason
        self.attempted.set()
        self.fleet.member_changed(self)
        with contextlib.suppress(BackendError, OSError):
            await self.connector.close()

    async def _follow(self, feed: str) -> None:
        """One feed for ever: its watch() again after an error, with backoff."""
        assert self.client is not None
        backoff = Backoff()
        while True:
            try:
                if feed == PROCESSES:
                    async for change in self.client.processes.watch():
                        backoff.reset()
                        self._on_process(change)
                else:
                    async for seen in self.client.inbox.watch():
                        backoff.reset()
                        self._on_message(seen)
                return  # an agent without an events stream: one listing, not live
            except Unavailable as exc:  # gone between its hello and the listing
                self._set_feed(feed, f"{feed}: {exc.message}", dropped=True)
            except BackendError as exc:
                self._set_feed(feed, f"{feed}: {exc.message}")
            except ValueError as exc:  # a frame that is not JSON: the stream is reopened
                self._set_feed(feed, f"{feed}: unreadable event ({exc})")
            await backoff.wait()

    def _set_feed(self, feed: str, why_not_live: str | None, dropped: bool = False) -> None:
        self._feeds[feed] = why_not_live
        if feed == PROCESSES:
            self._dropped = dropped
            self.fleet.member_changed(self)
        else:
            # No row changes with the inbox feed: a resync of them all cost a console seconds.
            self.fleet.counts_changed()

    def _on_process(self, change: Change[ProcessStatus]) -> None:
        match change:
            case Resync(items, live):
                self.processes = {status.slug: status for status in items}
                self._set_feed(PROCESSES, None if live else "processes: not live")
            case Upsert(status):
                self.processes[status.slug] = status
                self.fleet.row_changed(self, Upsert(FleetProcess(self.name, status)))
            case Removed(None):
                self.processes.clear()
                self.fleet.member_changed(self)
            case Removed(slug):
                if self.processes.pop(slug, None) is not None:
                    self.fleet.row_changed(self, Removed(fleet_key(self.name, slug)))
            case Offline(reason):
                self._set_feed(PROCESSES, reason, dropped=True)

    def _on_message(self, change: Change[MessageSeen]) -> None:
        match change:
            case Resync(items, live):
                self.waiting = {s.message.id for s in items if s.message.status in WAITING}
                self._set_feed(INBOX, None if live else "inbox: not live")
            case Upsert(seen):
                if seen.message.status in WAITING:
                    self.waiting.add(seen.message.id)
                else:
                    self.waiting.discard(seen.message.id)
                self.fleet.counts_changed()
            case Removed(None):
                self.waiting.clear()
                self.fleet.counts_changed()
            case Removed(message_id):
                self.waiting.discard(str(message_id))
                self.fleet.counts_changed()
            case Offline(reason):
                self._set_feed(INBOX, f"inbox: {reason}")

    async def close(self) -> None:
        """Disconnect from this agent; raises nothing (a close that fails is a close)."""
        self.client = None
        with contextlib.suppress(BackendError, OSError):
            await self.connector.close()


RESYNC = object()
"""Queued for a listener when the merged listing changed as a whole."""


class Fleet:
    """Every context at once. Use as ``async with Fleet(connectors) as fleet:``.

    ``follow`` False connects each agent once and follows nothing (the command line's
    use: no events streams, no reconnection after the first attempt's result is known).
    """

    def __init__(self, connectors: Mapping[str, AgentConnector], follow: bool = True) -> None:
        self.follow = follow
        self.members: dict[str, FleetMember] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._row_listeners: set[asyncio.Queue[object]] = set()
        self._count_listeners: set[asyncio.Event] = set()
        self._pending = dict(connectors)

    async def __aenter__(self) -> Fleet:
        for name, connector in self._pending.items():
            self.add(name, connector)
        self._pending.clear()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def add(self, name: str, connector: AgentConnector) -> FleetMember:
        """Start connecting to one more context (a host added at run time); ValueError if
        the name is taken."""
        if name in self.members:
            raise ValueError(f"context {name!r} is in the fleet already")
        member = FleetMember(self, name, connector)
        self.members[name] = member
        self._tasks[name] = asyncio.create_task(member.run(), name=f"fleet member {name}")
        self.member_changed(member)
        return member

    async def remove(self, name: str) -> None:
        """Disconnect one context and drop its rows; NotFound for an unknown one."""
        member = self._member(name)
        task = self._tasks.pop(name)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        del self.members[name]
        await member.close()
        self.member_changed(member)

    async def close(self) -> None:
        """Disconnect every context, all at once (one slow to close never delays the rest)."""
        names = list(self.members)
        await asyncio.gather(*(self.remove(name) for name in names), return_exceptions=True)

    async def ready(self) -> None:
        """Until every member's first connection attempt has ended (connected or not)."""
        await asyncio.gather(*(member.attempted.wait() for member in self.members.values()))

    def _member(self, context: str) -> FleetMember:
        member = self.members.get(context)
        if member is None:
            known = ", ".join(sorted(self.members)) or "none"
            raise NotFound(f"no context {context!r} in the fleet (known: {known})")
        return member

    def client(self, context: str) -> AgentClient:
        """The agent of ``context``, for an action on one of its rows; NotFound for an
        unknown context, Unavailable while it is not connected."""
        member = self._member(context)
        if member.client is None or member.state is ConnectionState.OFFLINE:
            raise Unavailable(f"{context}: not connected ({member.reason or 'connecting'})")
        return member.client

    def select(self, contexts: Iterable[str] | None = None) -> list[str]:
        """The contexts named (all when None), in the fleet's order; NotFound for a stranger."""
        if contexts is None:
            return list(self.members)
        chosen = list(dict.fromkeys(contexts))
        for name in chosen:
            self._member(name)
        return chosen

    def rows(self) -> list[FleetProcess]:
        """Every process of every agent, by context then slug."""
        return [row for member in self.members.values() for row in member.rows()]

    def statuses(self) -> list[MemberStatus]:
        """Every context's status, in the order they were added."""
        return [member.status() for member in self.members.values()]

    def counts(self) -> FleetCounts:
        """How many contexts are in each connection state, for the summary line."""
        states = [member.state for member in self.members.values()]
        return FleetCounts(
            connected=states.count(ConnectionState.CONNECTED),
            degraded=states.count(ConnectionState.DEGRADED),
            offline=states.count(ConnectionState.OFFLINE),
            connecting=states.count(ConnectionState.CONNECTING),
            fatal=sum(
                status.state is ProcessState.FATAL
                for member in self.members.values()
                for status in member.processes.values()
            ),
            waiting=sum(len(member.waiting) for member in self.members.values()),
        )

    async def watch(self) -> AsyncIterator[Change[FleetProcess]]:
        """The merged rows as they change, for ever: a Resync of all rows first and whenever
        an agent (re)connects, drops, joins or leaves (many at once come as one), then
        Upsert of a changed row and Removed(``CONTEXT/SLUG``) of a deleted one. An
        unreachable agent's rows stay, with ``online`` False."""
        queue: asyncio.Queue[object] = asyncio.Queue()
        self._row_listeners.add(queue)
        try:
            yield Resync(self.rows())
            while True:
                batch = [await queue.get()]
                while not queue.empty():
                    batch.append(queue.get_nowait())
                if any(item is RESYNC for item in batch):
                    yield Resync(self.rows())  # the state now includes every queued change
                    continue
                for item in batch:
                    yield item  # type: ignore[misc]
        finally:
            self._row_listeners.discard(queue)

    async def watch_counts(self) -> AsyncIterator[FleetCounts]:
        """The summary now, then again after each change (the latest only, when many came)."""
        changed = asyncio.Event()
        self._count_listeners.add(changed)
        try:
            while True:
                changed.clear()
                yield self.counts()
                await changed.wait()
        finally:
            self._count_listeners.discard(changed)

    def member_changed(self, member: FleetMember) -> None:
        """``member`` connected, dropped or was removed: every row listener resyncs."""
        for queue in self._row_listeners:
            queue.put_nowait(RESYNC)
        self.counts_changed()

    def row_changed(self, member: FleetMember, change: Change[FleetProcess]) -> None:
        """One of ``member``'s processes changed: every row listener gets ``change``."""
        for queue in self._row_listeners:
            queue.put_nowait(change)
        self.counts_changed()

    def counts_changed(self) -> None:
        """Wake every listener of the counts (they read ``counts()`` again)."""
        for changed in self._count_listeners:
            changed.set()
