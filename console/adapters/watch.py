"""Typed change streams: the one reconnecting loop behind every adapter's ``watch()`` (what it
yields, ``Resync``/``Upsert``/``Removed``/``Offline``, is in ``changes``).

A watcher sees a full ``Resync`` after every (re)connection, then ``Upsert``
and ``Removed`` as things change, and ``Offline`` as soon as the stream
drops or the agent stops answering its heartbeat (the data shown is then
stale until the next ``Resync``). No consumer decodes a raw event or knows a
topic string: each adapter turns the agent's events (PROTOCOLS.md, the
``/events`` WebSocket) into these.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

from console.adapters import websocket
from console.adapters.base import Endpoint
from console.adapters.changes import (
    Backoff,
    Change,
    Listing,
    Offline,
    Resync,
)
from console.adapters.errors import AuthError, NotFound, Unavailable
from console.models import AgentEvent

Item = TypeVar("Item")

HEARTBEAT = 0.6
"""Seconds between pings on the events stream, and the most a pong may take: an agent that
stops answering is noticed within two of them (and the goodbye it will not answer)."""

HELLO = "hello"
LOST = "lost"
OFFLINE = "offline"
"""The topic ``agent_events`` gives its own notice that the stream dropped."""


EventSource = Callable[[tuple[str, ...]], AsyncIterator[AgentEvent]]
"""Where adapters read the agent's events from (``AgentClient.events``)."""


async def agent_events(endpoint: Endpoint, topics: tuple[str, ...]) -> AsyncIterator[AgentEvent]:
    """The agent's events for ``topics``, for ever, reconnecting with backoff.

    Each (re)connection starts with a ``hello`` event; each drop, and each
    failed attempt, yields an ``offline`` event whose data has the ``reason``.
    The connection is pinged every ``HEARTBEAT`` seconds, so an agent that
    stops answering (killed, frozen, unreachable) is noticed within two.
    Raises AuthError when the agent refuses us (retrying would not help).
    """
    path = "/events" + (f"?topics={','.join(topics)}" if topics else "")
    backoff = Backoff()
    from websockets.exceptions import ConnectionClosed  # loaded by the first connect anyway

    while True:
        reason = "the events stream ended"
        try:
            async with websocket.connect(
                endpoint,
                path,
                ping_interval=HEARTBEAT,
                ping_timeout=HEARTBEAT,
                # An agent that does not answer pings will not answer a goodbye either.
                close_timeout=HEARTBEAT / 3,
            ) as ws:
                try:
                    async for frame in ws:
                        backoff.reset()
                        wire = json.loads(frame)
                        yield AgentEvent(str(wire.get("topic", "")), wire.get("data") or {})
                except ConnectionClosed:
                    reason = "the agent went away (no answer to its heartbeat, or closed)"
        except AuthError:
            raise
        except Unavailable as exc:
            reason = exc.message
        yield AgentEvent(OFFLINE, {"reason": reason})
        await backoff.wait()


async def no_events(topics: tuple[str, ...]) -> AsyncIterator[AgentEvent]:
    """The event source of an adapter made outside an ``AgentClient``: raises NotFound."""
    raise NotFound("no events stream: this adapter was made without its agent client")
    yield AgentEvent("", {})  # an async generator: the error comes when it is read


async def resyncing(
    events: AsyncIterator[AgentEvent],
    listing: Callable[[], Awaitable[Sequence[Item] | Listing[Item]]],
    change: Callable[[AgentEvent], Change[Item] | None],
) -> AsyncIterator[Change[Item]]:
    """The typed stream of one resource: a listing after every hello (or lost events), an
    ``Offline`` on every drop, and ``change(event)`` for the rest (None: not ours).

    An agent without an events stream (NotFound) gives one listing, not live. A listing that
    says it left some out (a ``Listing``) gives a Resync with that ``left_out``.
    """

    async def resync(live: bool = True) -> Resync[Item]:
        listed = await listing()
        if isinstance(listed, Listing):
            return Resync(listed.items, live, listed.left_out)
        return Resync(listed, live)

    try:
        async for event in events:
            if event.topic in (HELLO, LOST):
                yield await resync()
            elif event.topic == OFFLINE:
                yield Offline(str(event.data.get("reason", "")))
            else:
                changed = change(event)
                if changed is not None:
                    yield changed
    except NotFound:
        yield await resync(live=False)
