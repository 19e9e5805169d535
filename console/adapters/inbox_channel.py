"""The inbox adapter's command channel: one WebSocket, many commands in flight, matched by id.

The agent's extension (feature ``inbox.channel``; the wire is described in
``console/agent/inbox_channel.py``): push, pull and ack as JSON frames, each
answered by a frame with the same id and the HTTP routes' statuses and error
words, so errors raise as ``base.raise_for_status`` would over HTTP. It costs a
fraction of a request's CPU on both ends (no headers, routing or response to
build), which is what a push → pull → ack loop is bound by.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
from typing import TYPE_CHECKING, Any

from console.adapters.base import Endpoint
from console.adapters.errors import BackendError, Unavailable, error_for_status
from console.adapters.scirocco_wire import encode_payload
from console.adapters.websocket import connect
from console.models import JSON_TYPE, Message, header_name, iso_time

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

PATH = "/messageQueue/channel"
FEATURE = "inbox.channel"
MAX_FRAME = 1 << 20
"""The agent's largest frame (its ``ws_max_size``): a push past it goes over HTTP."""


class FrameTooLarge(BackendError):
    """A command whose frame is over MAX_FRAME: send it over HTTP instead."""


class InboxChannel:
    """One open channel to an agent, as one node; ``call`` sends a command, answers its value.

    Opened by ``open`` (raises as ``websocket.connect``: AuthError, NotFound for an agent
    without the channel, BackendError, Unavailable); once it drops, every call in flight
    raises Unavailable and ``closed`` is True.
    """

    def __init__(self, connection: ClientConnection, node_id: str) -> None:
        self.node_id = node_id
        self._connection = connection
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._reader = asyncio.create_task(self._read(), name="inbox channel")
        self.closed = False

    @classmethod
    async def open(cls, endpoint: Endpoint, authorization: str, node_id: str) -> InboxChannel:
        """A channel to ``endpoint`` as ``node_id``, sending ``authorization`` (the inbox's
        ``Authorization`` value); raises as ``websocket.connect``."""
        stack = contextlib.AsyncExitStack()
        connection = await stack.enter_async_context(
            connect(
                endpoint,
                PATH,
                additional_headers={
                    "Authorization": authorization,
                    header_name("node_source"): node_id,
                },
                # Frames are small and many: compressing each costs more CPU than it saves.
                compression=None,
                # An answer is as large as what was asked (a pull of 1,000 messages), and is
                # read whole, as the HTTP answer to the same pull would be.
                max_size=None,
            )
        )
        channel = cls(connection, node_id)
        channel._stack = stack
        return channel

    _stack: contextlib.AsyncExitStack | None = None

    async def call(self, op: str, **fields: Any) -> Any:
        """Send ``{"op": op, **fields}`` and wait for its answer's value; an error answer raises
        as over HTTP (``errors.error_for_status``); a dropped channel raises Unavailable."""
        if self.closed:
            raise Unavailable(f"{PATH}: the channel is closed")
        command_id = next(self._ids)
        frame = json.dumps({"id": command_id, "op": op, **fields})  # ASCII: chars are bytes
        if len(frame) > MAX_FRAME:
            raise FrameTooLarge(f"{PATH}: a {len(frame)}-byte command is over {MAX_FRAME}")
        waiting = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = waiting
        try:
            await self._connection.send(frame)
            return await waiting
        except Exception as exc:
            if isinstance(exc, BackendError):
                raise
            raise Unavailable(f"{PATH}: {exc or type(exc).__name__}") from exc
        finally:
            self._waiting.pop(command_id, None)

    async def _read(self) -> None:
        try:
            async for frame in self._connection:
                answer = json.loads(frame)
                waiting = self._waiting.get(answer.get("id"))
                if waiting is None or waiting.done():
                    continue  # its caller went away (cancelled)
                error = answer.get("error")
                if error is None:
                    waiting.set_result(answer.get("ok"))
                else:
                    waiting.set_exception(
                        error_for_status(int(error.get("code", 500)), str(error.get("message")))
                    )
        except Exception:  # a dropped connection, a frame that is not ours: the channel is done
            pass
        finally:
            self.closed = True
            for waiting in self._waiting.values():
                if not waiting.done():
                    waiting.set_exception(Unavailable(f"{PATH}: the channel dropped"))

    async def aclose(self) -> None:
        """Close the connection; calls in flight raise Unavailable."""
        self.closed = True
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        if self._stack is not None:
            with contextlib.suppress(Exception):
                await self._stack.aclose()


def push_fields(
    destination: str, content: Any, topic: str | None = None, scheduled_time: float | None = None
) -> dict[str, Any]:
    """A push command's fields for ``content`` (bytes, text or JSON, encoded as over HTTP),
    its payload as the agent reads it for its type; scheduled at ``scheduled_time`` (epoch
    seconds) if given."""
    payload, payload_type = encode_payload(content)
    if payload_type == JSON_TYPE or payload_type.startswith("text/"):
        text = payload.decode()
    else:
        text = base64.b64encode(payload).decode()
    fields: dict[str, Any] = {
        "destination": destination,
        "payload": text,
        "content_type": payload_type,
    }
    if topic:
        fields["topic"] = topic
    if scheduled_time is not None:
        fields["status"] = "scheduled"
        fields["scheduled_time"] = iso_time(scheduled_time) or ""
    return fields


def message_of(wire: object) -> Message:
    """A message from a channel answer (metadata and ``payload``, see the agent's
    ``wire_message``); raises BackendError for anything else."""
    if not isinstance(wire, dict) or not isinstance(wire.get("payload"), str):
        raise BackendError(f"not a message from {PATH}: {str(wire)[:80]}")
    text: str = wire["payload"]
    payload_type = str(wire.get("payload_type") or JSON_TYPE)
    try:
        if payload_type == JSON_TYPE or payload_type.startswith("text/"):
            return Message.from_wire(wire, payload=text.encode())
        return Message.from_wire(wire, payload=base64.b64decode(text, validate=True))
    except (ValueError, KeyError, TypeError) as exc:
        raise BackendError(f"not a message from {PATH}: {exc}") from None


RETRY_AFTER = 5.0
"""Seconds of HTTP after a channel could not be opened for now (unreachable, 5xx)."""


class ChannelKeeper:
    """The adapter's channel: opened on first use, re-opened after a drop, and given up for
    HTTP where the agent has none.

    An older agent refuses the handshake (403, 404), a scirocco server answers it
    with some error: the adapter then uses HTTP for good, and HTTP's own answer says
    whether the credentials were wrong. An agent out of reach (or a 5xx) gets HTTP
    for RETRY_AFTER seconds: its request fails or succeeds as it would have.
    """

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._channel: InboxChannel | None = None
        self._opening = asyncio.Lock()
        self._http_until = 0.0
        """Monotonic seconds until which calls go by HTTP (inf: this agent has no channel)."""

    @property
    def is_open(self) -> bool:
        """True while a channel is open (calls go over it)."""
        return self._channel is not None and not self._channel.closed

    async def get(self, authorization: str, node_id: str) -> InboxChannel | None:
        """The open channel as ``node_id``, or None: use HTTP."""
        channel = self._channel
        if channel is not None and not channel.closed and channel.node_id == node_id:
            return channel
        if asyncio.get_running_loop().time() < self._http_until:
            return None
        async with self._opening:
            channel = self._channel
            if channel is not None and not channel.closed and channel.node_id == node_id:
                return channel
            if channel is not None:
                self._channel = None
                await channel.aclose()
            try:
                self._channel = await InboxChannel.open(self._endpoint, authorization, node_id)
            except BackendError as exc:
                transient = isinstance(exc, Unavailable) or (exc.status or 0) >= 500
                wait = RETRY_AFTER if transient else float("inf")
                self._http_until = asyncio.get_running_loop().time() + wait
                return None
            return self._channel

    async def aclose(self) -> None:
        """Close the channel; the next call opens another."""
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.aclose()
