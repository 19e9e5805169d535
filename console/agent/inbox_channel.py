"""The inbox command channel (ours): push, pull and ack over one WebSocket, many in flight.

Queue services are spoken to this way (Redis's RESP, NATS, AMQP): one long-lived
connection, commands sent without waiting for the one before, answers matched
by id. Over HTTP each command is a request, and on this agent a request costs
several times the store's own work (headers, routing, middleware, a response);
a frame on an open channel costs a JSON parse and a JSON dump.

Wire (every frame a JSON text frame, UTF-8):

- handshake: ``GET /messageQueue/channel`` upgraded to a WebSocket, with the inbox
  routes' credentials (``Authorization``: the inbox token, or the agent token as
  Bearer; checked by the auth middleware with the browser guard first) and
  ``Scirocco-Node-Source``: the caller's node, for every command (else 400).
- commands, ``id`` an integer (0 to 2**53) or a string of at most 64 characters:
  ``{"id", "op": "push", "destination", "payload", "content_type", "payload_type"?,
  "topic"?, "status"?: "pending" | "scheduled", "scheduled_time"?: ISO 8601}``;
  ``{"id", "op": "pull", "quantity"?: 1..1000}``;
  ``{"id", "op": "ack", "message_id"}`` or ``{"id", "op": "ack", "ids": [...]}``.
  ``content_type`` says how ``payload`` (a string) is sent, as the push's
  Content-Type does: JSON text, text, or (anything else) bytes in base64.
- answers: ``{"id", "ok": VALUE}`` or ``{"id", "error": {"code", "type", "message"}}``,
  the HTTP routes' statuses and error object (``http.error_detail``). A message is
  its metadata (``Message.metadata``) and ``payload``: the stored text for a JSON or
  ``text/*`` type, base64 otherwise. push → the message; pull → a message or null,
  with ``quantity`` a list; ack → the message (404 when not processing for the
  caller), with ``ids`` the batch ack's ``{"acked", "not_processing"}``.

Commands run concurrently, in the order they came; a command that depends on
another's outcome is sent after its answer. A push or ack is answered after the
store's commit (and fsync), as over HTTP. A bad frame gets an error answer (id
null when it had none) and changes nothing. Bounds: a frame is at most the
server's ``ws_max_size``; a connection has at most MAX_IN_FLIGHT commands and
MAX_IN_FLIGHT_BYTES of frames and answers in flight, past which it is not read
(the client's socket fills and it waits), so no client grows the agent's memory.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from console.agent.errors import HttpError
from console.agent.http import as_http_error, error_detail, error_response
from console.agent.inbox import InboxService
from console.agent.inbox_backend import StoreUnavailable
from console.agent.inbox_routes import (
    MAX_QUANTITY,
    PushOrder,
    ack_ids,
    acked_answer,
    check_payload,
    payload_kind,
)
from console.agent.parsing import parse_json
from console.agent.ws_frames import send_text_frames, write_text_frames_now
from console.models import JSON_TYPE, Message, header_name

PATH = "/messageQueue/channel"
"""Under ``/messageQueue``: the inbox family, so the inbox token opens it too."""
FEATURES = ("inbox.channel",)
MAX_IN_FLIGHT = 256
"""Commands of one connection read and not yet answered (written) at most."""
MAX_IN_FLIGHT_BYTES = 8 << 20
"""Bytes of one connection's frames and answers in flight at most (one frame always passes)."""
MAX_ID = 2**53
MAX_ID_CHARS = 64

log = logging.getLogger(__name__)


class _Connection:
    """One client's channel: reads commands while there is room, runs each as a task, writes
    the answers that are ready together in one socket write."""

    def __init__(
        self, websocket: WebSocket, service: InboxService, caller: str, started_at: float
    ) -> None:
        self.websocket = websocket
        self.service = service
        self.caller = caller
        self.started_at = started_at
        self.in_flight = 0
        self.in_flight_bytes = 0
        self.room = asyncio.Event()
        self.room.set()
        self.answers: list[tuple[str, int]] = []
        """Answers (JSON text) to write, with the bytes each held in flight (frame + answer)."""
        self.ready = asyncio.Event()
        self.flush_soon = False
        self.sending = False
        self.tasks: set[asyncio.Task[None]] = set()

    async def serve(self) -> None:
        writer = asyncio.create_task(self._write())
        try:
            await self._read()
        finally:
            for task in self.tasks:
                task.cancel()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await writer

    async def _read(self) -> None:
        while True:
            await self.room.wait()
            received = await self.websocket.receive()
            if received["type"] == "websocket.disconnect":
                return
            text = received.get("text")
            size = len(text) if text is not None else len(received.get("bytes") or b"")
            self._hold(1, size)
            if text is None:
                self._answer(None, size, error=HttpError(400, "frames are JSON text, not binary"))
                continue
            task = asyncio.create_task(self._run(text, size))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def _hold(self, count: int, size: int) -> None:
        self.in_flight += count
        self.in_flight_bytes += size
        full = self.in_flight >= MAX_IN_FLIGHT or self.in_flight_bytes >= MAX_IN_FLIGHT_BYTES
        if full and self.in_flight > 0:
            self.room.clear()
        elif not full:
            self.room.set()

    async def _run(self, text: str, size: int) -> None:
        command_id: Any = None
        try:
            command = _command(text)
            command_id = command["id"]
            value = await self._dispatch(command)
        except StoreUnavailable as exc:
            self._answer(command_id, size, error=HttpError(503, str(exc)))
        except Exception as exc:  # the HTTP routes' mapping: HttpError, a full disk (507)
            error = as_http_error(exc, self.websocket)
            if error is None:  # a bug: logged, and answered so the command's room comes back
                log.exception("inbox channel: command %r failed", command_id)
                error = HttpError(500, f"the agent failed on this command: {type(exc).__name__}")
            self._answer(command_id, size, error=error)
        else:
            self._answer(command_id, size, value=value)

    def _answer(
        self, command_id: Any, size: int, value: Any = None, error: HttpError | None = None
    ) -> None:
        if error is None:
            text = json.dumps({"id": command_id, "ok": value}, separators=(",", ":"))
        else:
            detail = error_detail(error.status, error.message)
            text = json.dumps({"id": command_id, "error": detail}, separators=(",", ":"))
        self.answers.append((text, size + len(text)))
        self._hold(0, len(text))
        if not self.flush_soon:
            # At the end of this turn of the loop: the answers of every command the store
            # settled in this turn go out in one socket write.
            self.flush_soon = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self.flush_soon = False
        if self.sending or not self.answers:
            return  # the writer task is waiting for the socket: it takes these too
        batch, self.answers = self.answers, []
        try:
            written = write_text_frames_now(self.websocket, [text for text, _ in batch])
        except WebSocketDisconnect:
            return  # the reader sees the disconnect and ends the connection
        if written:
            self._hold(-len(batch), -sum(held for _, held in batch))
        else:
            self.answers[:0] = batch
            self.ready.set()

    async def _write(self) -> None:
        """Writes what ``_flush`` could not: waits until the client's socket takes more."""
        while True:
            await self.ready.wait()
            self.ready.clear()
            self.sending = True
            try:
                while self.answers:
                    batch, self.answers = self.answers, []
                    await send_text_frames(self.websocket, [text for text, _ in batch])
                    self._hold(-len(batch), -sum(held for _, held in batch))
            finally:
                self.sending = False

    async def _dispatch(self, command: dict[str, Any]) -> Any:
        op = command.get("op")
        if op == "push":
            return wire_message(await self._push(command))
        if op == "pull":
            return await self._pull(command.get("quantity"))
        if op == "ack":
            return await self._ack(command)
        raise HttpError(400, f'"op" must be "push", "pull" or "ack", not {str(op)[:40]!r}')

    async def _push(self, command: dict[str, Any]) -> Message:
        order = PushOrder(
            destination=_text(command, "destination", ""),
            status=_text(command, "status", "pending"),
            scheduled_text=_text(command, "scheduled_time", None),
            declared_type=_text(command, "payload_type", ""),
            topic=_text(command, "topic", None),
        )
        destination, scheduled = order.settle(self.started_at)
        kind = payload_kind(_text(command, "content_type", JSON_TYPE))
        payload = check_payload(_payload_bytes(_text(command, "payload", ""), kind), kind)
        return await self.service.push(
            self.caller, destination, payload, order.payload_type(kind), order.topic, scheduled
        )

    async def _pull(self, quantity: object) -> Any:
        if quantity is None:
            messages = await self.service.pull(self.caller, 1)
            return wire_message(messages[0]) if messages else None
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise HttpError(400, f'"quantity" must be a whole number from 1 to {MAX_QUANTITY}')
        if not 1 <= quantity <= MAX_QUANTITY:
            raise HttpError(400, f"quantity must be from 1 to {MAX_QUANTITY}, not {quantity}")
        return [wire_message(m) for m in await self.service.pull(self.caller, quantity)]

    async def _ack(self, command: dict[str, Any]) -> Any:
        if "ids" in command:
            ids = ack_ids(command["ids"])
            return acked_answer(ids, await self.service.ack(self.caller, ids))
        message_id = command.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            raise HttpError(400, '"message_id" (a string) or "ids" (a list) is required')
        acked = await self.service.ack(self.caller, [message_id])
        if not acked:
            raise HttpError(404, f"no message {message_id} is processing for {self.caller}")
        return wire_message(acked[0])


def wire_message(message: Message) -> dict[str, Any]:
    """A message on the channel: its metadata and ``payload``, the stored text for a JSON or
    ``text/*`` type, else base64 (no JSON parse and dump of the payload on the way out)."""
    payload_type = message.payload_type
    if payload_type == JSON_TYPE or payload_type.startswith("text/"):
        payload = message.payload.decode(errors="replace")
    else:
        payload = base64.b64encode(message.payload).decode()
    return {**message.metadata(), "payload": payload}


def _command(text: str) -> dict[str, Any]:
    """A frame as a command with a valid ``id``; raises HttpError 400 (with the id if valid)."""
    command = parse_json(text, "a frame")
    if not isinstance(command, dict):
        raise HttpError(400, 'a frame must be a JSON object {"id": ..., "op": ...}')
    command_id = command.get("id")
    if isinstance(command_id, bool) or not (
        (isinstance(command_id, int) and 0 <= command_id <= MAX_ID)
        or (isinstance(command_id, str) and 0 < len(command_id) <= MAX_ID_CHARS)
    ):
        raise HttpError(
            400, f'"id" must be a whole number up to 2**53 or a string of 1 to {MAX_ID_CHARS}'
        )
    return command


def _text(command: dict[str, Any], key: str, default: str | None) -> Any:
    value = command.get(key, default)
    # Lone surrogates were refused by parse_json: every string here is UTF-8-encodable.
    if value is not None and not isinstance(value, str):
        raise HttpError(400, f'"{key}" must be a string')
    return value


def _payload_bytes(payload: str, kind: str) -> bytes:
    if kind != JSON_TYPE and not kind.startswith("text/"):
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise HttpError(400, "a binary payload is sent as base64") from None
    return payload.encode()


def route(service: InboxService, started_at: float) -> WebSocketRoute:
    """The channel's WebSocket route; ``started_at`` as ``inbox_routes.routes``."""

    async def channel(websocket: WebSocket) -> None:
        caller = websocket.headers.get(header_name("node_source"), "").strip()
        if not caller:
            await _refuse(websocket, f"the {header_name('node_source')} header is required")
            return
        await websocket.accept()
        await _Connection(websocket, service, caller, started_at).serve()

    return WebSocketRoute(PATH, channel)


async def _refuse(websocket: WebSocket, message: str) -> None:
    """A 400 answer to the handshake where the server can send one; else a close (403)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(error_response(400, message))
    else:
        await websocket.close(1008, message)
