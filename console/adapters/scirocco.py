"""The message inbox over the scirocco API (PROTOCOLS.md §4).

Every request carries the inbox token and the caller's node id; a message
travels as its payload in the body and its metadata in Scirocco-* headers.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from console.adapters.base import Endpoint, json_body
from console.adapters.changes import Change, Removed, Upsert
from console.adapters.errors import AuthError, BackendError, NotFound
from console.adapters.inbox_channel import (
    ChannelKeeper,
    FrameTooLarge,
    InboxChannel,
    message_of,
    push_fields,
)
from console.adapters.inbox_http import Answer, InboxHttp
from console.adapters.watch import EventSource, no_events, resyncing
from console.models import (
    BINARY_TYPE,
    JSON_TYPE,
    TEXT_TYPE,
    AgentEvent,
    Message,
    MessageStatus,
    header_name,
    iso_time,
)


def encode_payload(content: Any) -> tuple[bytes, str]:
    """A payload and its type: bytes stay bytes, str is text, anything else JSON."""
    if isinstance(content, bytes | bytearray):
        return bytes(content), BINARY_TYPE
    if isinstance(content, str):
        return content.encode(), TEXT_TYPE
    return json.dumps(content).encode(), JSON_TYPE


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

        async def listing() -> list[MessageSeen]:
            listed = await self.list(destination=node or None, limit=limit)
            return [MessageSeen(message) for message in listed]

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
        authorization = self._endpoint.inbox_authorization()
        if not authorization:
            raise AuthError("no inbox token: give one (OPSCONSOLE_INBOX_TOKEN) to reach the inbox")
        if not self.node_id:
            raise BackendError("no node id to act as")
        return {
            "Authorization": authorization,
            header_name("node_source"): self.node_id,
            **(extra or {}),
        }

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
        payload, payload_type = encode_payload(content)
        scheduled_text = None if scheduled_time is None else iso_time(scheduled_time) or ""
        channel = await self._channel()
        if channel is not None:
            fields = push_fields(destination, payload, payload_type, topic, scheduled_text)
            with contextlib.suppress(FrameTooLarge):  # too large for a frame: by HTTP
                return message_of(await channel.call("push", **fields))
        headers = {header_name("node_destination"): destination, "Content-Type": payload_type}
        if topic:
            headers[header_name("topic")] = topic
        if scheduled_text is not None:
            headers[header_name("status")] = MessageStatus.SCHEDULED.value
            headers[header_name("scheduled_time")] = scheduled_text
        response = await self._send("POST", "/messageQueue", content=payload, headers=headers)
        return _from_response(response)

    async def pull(self) -> Message | None:
        """The oldest pending message for this node (now processing), or None."""
        channel = await self._channel()
        if channel is not None:
            pulled = await channel.call("pull")
            return None if pulled is None else message_of(pulled)
        response = await self._send("GET", "/messageQueue")
        return None if response.status_code == 204 else _from_response(response)

    async def pull_many(self, quantity: int) -> list[Message]:
        """Up to ``quantity`` pending messages, oldest first, each now processing (empty: none).
        Raises AuthError, BackendError."""
        channel = await self._channel()
        if channel is not None:
            return [message_of(m) for m in _array(await channel.call("pull", quantity=quantity))]
        response = await self._send("GET", "/messageQueue", params={"quantity": quantity})
        return [Message.from_wire(m) for m in _array(json_body(response))]

    async def ack(self, message_id: str) -> Message:
        """Mark a processing message processed; the Message as it is now. Raises NotFound for an
        unknown id, BackendError when it is not processing."""
        channel = await self._channel()
        if channel is not None:
            return message_of(await channel.call("ack", message_id=message_id))
        return _from_response(await self._send("PATCH", f"/messageQueue/{message_id}/ack"))

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
        return [str(m["id"]) for m in _array(acked)]

    async def list(
        self, status: MessageStatus | None = None, destination: str | None = None, limit: int = 500
    ) -> list[Message]:
        """Messages, newest first, at most ``limit``, narrowed by ``status`` and ``destination``.
        Raises AuthError, BackendError."""
        params: dict[str, str | int] = {"limit": limit, "order": "newest"}
        if status is not None:
            params["status"] = status.value
        if destination is not None:
            params["node_destination"] = destination
        response = await self._send("GET", "/messages", params=params)
        return [Message.from_wire(m) for m in _array(json_body(response))]

    async def get(self, message_id: str) -> Message:
        """One message, payload included. Raises NotFound for an unknown id, AuthError,
        BackendError."""
        return _from_response(await self._send("GET", f"/messages/{message_id}"))

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
        return _from_response(response)

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


def _from_response(response: Answer) -> Message:
    if not response.headers.get(header_name("id")):
        raise BackendError(f"no {header_name('id')} header in the answer from {response.url}")
    message = Message.from_headers(response.headers, response.content)
    if isinstance(message.content, bytes) and _media_type(response) == JSON_TYPE:
        # scirocco reads back a binary payload as a JSON string of its base64.
        try:
            encoded = json.loads(response.content)
            return replace(message, payload=base64.b64decode(encoded, validate=True))
        except (ValueError, TypeError, binascii.Error):
            raise BackendError(f"a binary payload not in base64 from {response.url}") from None
    return message


def _media_type(response: Answer) -> str:
    return response.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _array(body: object) -> list[dict[str, Any]]:
    if not isinstance(body, list):
        raise BackendError(f"expected a JSON array, got {str(body)[:80]}")
    return body
