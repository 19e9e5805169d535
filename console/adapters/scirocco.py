"""The message inbox over the scirocco API (PROTOCOLS.md §4).

Every request carries the inbox token and the caller's node id; a message
travels as its payload in the body and its metadata in Scirocco-* headers.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from console.adapters.base import Endpoint, json_body
from console.adapters.changes import Change, Listing, Removed, Upsert
from console.adapters.errors import NotFound
from console.adapters.inbox_channel import (
    ChannelKeeper,
    FrameTooLarge,
    InboxChannel,
    message_of,
    push_fields,
)
from console.adapters.inbox_http import Answer, InboxHttp
from console.adapters.scirocco_wire import (
    encode_payload,
    inbox_headers,
    json_array,
    left_out,
    list_params,
    message_from_answer,
    push_request,
)
from console.adapters.watch import EventSource, no_events, resyncing
from console.models import AgentEvent, Message, MessageStatus

LIST_LIMIT = 1000
"""Newest messages a watch lists."""
FETCH_BATCH = 20
"""Past this many payloads to fetch at once, one listing is cheaper than a request each."""


@dataclass(frozen=True)
class MessageSeen:
    """A message as a watch saw it; events carry metadata only, so its payload may be to come."""

    message: Message
    payload_size: int | None = None
    """The payload's size in bytes while it is not in ``message`` yet (None: it is)."""


def message_from_event(data: dict[str, Any]) -> MessageSeen:
    """The message an event describes (metadata only: an empty payload), with its size."""
    message = Message.from_wire({**data, "payload": None})
    return MessageSeen(replace(message, payload=b""), int(data.get("size") or 0))


class SciroccoInbox:
    """An inbox client acting as node ``node_id``."""

    def __init__(self, endpoint: Endpoint, node_id: str = "", transport: str = "auto") -> None:
        self._http = InboxHttp(endpoint)
        self._endpoint = endpoint
        self.node_id = node_id
        self.events: EventSource = no_events
        """The agent's events (set by ``AgentClient``), for ``watch``."""
        self.transport = transport
        """How push, pull and ack travel: ``auto`` (our agent's command channel where it
        offers one, else HTTP: older agents, scirocco servers) or ``http`` (always)."""
        self._channels = ChannelKeeper(endpoint)

    def watch(self, limit: int = LIST_LIMIT) -> AsyncIterator[Change[MessageSeen]]:
        """This node's messages as they change, for ever: a Resync of the newest ``limit``
        after every (re)connection, Upsert of a new or changed one (metadata only: fetch its
        payload with ``fetch_payloads``), Removed(id) of a deleted one (None: all deleted),
        Offline when the stream drops. Listing raises AuthError without a valid token,
        BackendError otherwise."""
        node = self.node_id

        async def listing() -> Listing[MessageSeen]:
            listed = await self.listing(destination=node or None, limit=limit)
            seen = [MessageSeen(message) for message in listed.items]
            return Listing(seen, listed.left_out)

        def change(event: AgentEvent) -> Change[MessageSeen] | None:
            data = event.data
            if event.topic == "message" and data.get("node_destination") == node and "id" in data:
                return Upsert(message_from_event(data))
            if event.topic == "message.deleted":
                return Removed(None if data.get("all") else str(data.get("id", "")))
            return None

        return resyncing(self.events(("message",)), listing, change)

    async def fetch_payloads(self, ids: set[str], limit: int = LIST_LIMIT) -> list[Message]:
        """The messages (payloads included) of ``ids`` that still exist: one request each, or
        one listing of this node's newest ``limit`` for many. Raises BackendError."""
        if len(ids) > FETCH_BATCH:
            listed = await self.list(destination=self.node_id, limit=limit)
            return [message for message in listed if message.id in ids]
        fetched = []
        for message_id in ids:
            try:
                fetched.append(await self.get(message_id))
            except NotFound:
                continue  # deleted since: its deletion event says so
        return fetched

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return inbox_headers(self._endpoint, self.node_id, extra)

    async def _send(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        params: dict[str, str | int] | None = None,
        content: bytes | None = None,
        json: Any = None,
    ) -> Answer:
        # The inbox takes a token (never the Basic credentials of the agent's other routes).
        return await self._http.request(
            method, path, self._headers(headers), params, content=content, json_body=json
        )

    async def aclose(self) -> None:
        """Close this adapter's connections (it has its own: see ``inbox_http``)."""
        await self._channels.aclose()
        await self._http.aclose()

    @property
    def uses_channel(self) -> bool:
        """True while push, pull and ack travel over an open command channel (else HTTP)."""
        return self.transport != "http" and self._channels.is_open

    async def _channel(self) -> InboxChannel | None:
        """The open command channel for this node, or None: use HTTP."""
        if self.transport == "http":
            return None
        return await self._channels.get(self._headers()["Authorization"], self.node_id)

    async def push(
        self,
        destination: str,
        content: Any,
        topic: str | None = None,
        scheduled_time: float | None = None,
    ) -> Message:
        """Push ``content`` (bytes, text or JSON) to ``destination``; the stored Message (pending,
        or scheduled). Raises AuthError without a valid inbox token, BackendError for a refused
        message."""
        channel = await self._channel()
        if channel is not None:
            fields = push_fields(destination, content, topic, scheduled_time)
            with contextlib.suppress(FrameTooLarge):  # too large for a frame: by HTTP
                return message_of(await channel.call("push", **fields))
        payload, headers = push_request(destination, content, topic, scheduled_time)
        response = await self._send("POST", "/messageQueue", content=payload, headers=headers)
        return message_from_answer(response)

    async def pull(self) -> Message | None:
        """The oldest pending message for this node (now processing), or None."""
        channel = await self._channel()
        if channel is not None:
            pulled = await channel.call("pull")
            return None if pulled is None else message_of(pulled)
        response = await self._send("GET", "/messageQueue")
        return None if response.status_code == 204 else message_from_answer(response)

    async def pull_many(self, quantity: int) -> list[Message]:
        """Up to ``quantity`` pending messages, oldest first, each now processing (empty: none).
        Raises AuthError, BackendError."""
        channel = await self._channel()
        if channel is not None:
            pulled = json_array(await channel.call("pull", quantity=quantity))
            return [message_of(m) for m in pulled]
        response = await self._send("GET", "/messageQueue", params={"quantity": quantity})
        return [Message.from_wire(m) for m in json_array(json_body(response))]

    async def ack(self, message_id: str) -> Message:
        """Mark a processing message processed; the Message as it is now. Raises NotFound for an
        unknown id, BackendError when it is not processing."""
        channel = await self._channel()
        if channel is not None:
            return message_of(await channel.call("ack", message_id=message_id))
        return message_from_answer(await self._send("PATCH", f"/messageQueue/{message_id}/ack"))

    async def ack_many(self, message_ids: list[str]) -> list[str]:
        """Ours (feature ``inbox.batch_ack``): ack several in one request; answers the ids acked
        (the others were not processing for this node)."""
        channel = await self._channel()
        if channel is not None:
            body = await channel.call("ack", ids=message_ids)
        else:
            response = await self._send("PATCH", "/messageQueue/ack", json={"ids": message_ids})
            body = json_body(response)
        acked = body.get("acked") if isinstance(body, dict) else None
        return [str(m["id"]) for m in json_array(acked)]

    async def list(
        self, status: MessageStatus | None = None, destination: str | None = None, limit: int = 500
    ) -> list[Message]:
        """Messages, newest first, at most ``limit``, narrowed by ``status`` and ``destination``
        (those the agent left out to keep to its byte budget: see ``listing``). Raises
        AuthError, BackendError."""
        return list((await self.listing(status, destination, limit)).items)

    async def listing(
        self, status: MessageStatus | None = None, destination: str | None = None, limit: int = 500
    ) -> Listing[Message]:
        """As ``list``, with how many of the ``limit`` asked for the agent left out to keep its
        answer within its byte budget (its ``Opsconsole-Left-Out``; scirocco-server never
        does). Raises AuthError, BackendError."""
        params = list_params(status, destination, limit)
        response = await self._send("GET", "/messages", params=params)
        messages = [Message.from_wire(m) for m in json_array(json_body(response))]
        return Listing(messages, left_out(response))

    async def get(self, message_id: str) -> Message:
        """One message, payload included. Raises NotFound for an unknown id, AuthError,
        BackendError."""
        return message_from_answer(await self._send("GET", f"/messages/{message_id}"))

    async def update(self, message_id: str, content: Any) -> Message:
        """Replace a message's payload; the Message as it is now. Raises NotFound, AuthError,
        BackendError."""
        payload, payload_type = encode_payload(content)
        response = await self._send(
            "PATCH",
            f"/messages/{message_id}",
            content=payload,
            headers={"Content-Type": payload_type},
        )
        return message_from_answer(response)

    async def delete(self, message_id: str) -> None:
        """Delete one message. Raises NotFound when there was no such message (scirocco answers
        ``{"n": 0}``), AuthError, BackendError."""
        body = json_body(await self._send("DELETE", f"/messages/{message_id}"))
        if isinstance(body, dict) and body.get("n") == 0:
            raise NotFound(f"no message {message_id}")

    async def delete_all(self) -> int:
        """Delete every message of the inbox (every node); how many went. Raises AuthError,
        BackendError."""
        body = json_body(await self._send("DELETE", "/messages"))
        return int(body.get("n", 0)) if isinstance(body, dict) else 0
