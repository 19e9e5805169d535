"""Routes of the inbox: the scirocco API (token auth, Scirocco-* headers, payload as the body)."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from console.agent.http import Handler, HttpError, answered, error_response, read_body
from console.agent.inbox import InboxService, parse_status
from console.agent.inbox_backend import StoreUnavailable
from console.agent.parsing import parse_int, parse_json, parse_moment
from console.models import (
    BINARY_TYPE,
    JSON_TYPE,
    LEFT_OUT_HEADER,
    TEXT_TYPE,
    Message,
    MessageStatus,
    header_name,
)

PREFIXES = ("/messageQueue", "/messages", "/globalDataSpace")
"""Paths of the inbox family (the auth middleware lets the inbox token in here)."""

FEATURES = ("inbox.batch", "inbox.batch_ack", "inbox.redelivery")
PAYLOAD_LIMITS = {JSON_TYPE: 100 << 10, TEXT_TYPE: 100 << 10, BINARY_TYPE: 1000 << 10}
"""Bytes a payload may have, by how it is sent: scirocco-server's body-parser defaults
(``SCIROCCO_MAX_KB_SIZE_JSON``/``_TEXT``/``_RAW``: 100, 100 and 1000 KiB)."""
MAX_PAYLOAD_TYPE = 30
"""Characters a ``Scirocco-Payload-Type`` may have (scirocco-server's schema)."""
MAX_QUANTITY = 1000
MAX_ACK_BODY = 256 << 10
MAX_LIST = 10_000
"""Messages one listing gives at most (a larger ``limit`` is taken as this, as scirocco does)."""
JSON_UTF8 = "application/json; charset=utf-8"


def message_response(message: Message, status_code: int = 200, echo: bool = False) -> Response:
    """The payload as the body, the metadata in Scirocco-* headers.

    As scirocco-server: a binary payload goes back raw only in the push's echo
    (``echo``); a read, pull, ack or update gives it as a JSON string of base64.
    """
    content = message.content
    if isinstance(content, bytes) and not echo:
        body = json.dumps(base64.b64encode(content).decode()).encode()
        media_type = JSON_UTF8
    else:
        body = message.payload
        media_type = JSON_UTF8 if message.payload_type == JSON_TYPE else message.payload_type
    return Response(body, status_code=status_code, media_type=media_type, headers=message.headers())


def deleted_response(count: int) -> JSONResponse:
    """scirocco-server's answer to every delete (MongoDB's ``{n, ok}``), 200 even for none."""
    return JSONResponse({"n": count, "ok": 1}, media_type=JSON_UTF8)


def routes(service: InboxService, started_at: float) -> list[BaseRoute]:
    """The scirocco routes; ``started_at`` (epoch seconds): no schedule may be before it."""

    def authorized(
        handler: Callable[[Request, str], Awaitable[Response]], anyone: bool = False
    ) -> Handler:
        """The caller's node id for ``handler``, required unless ``anyone`` may call (its
        token was checked by the auth middleware)."""

        async def wrapped(request: Request) -> Response:
            caller = request.headers.get(header_name("node_source"), "").strip()
            if not caller and not anyone:
                return error_response(400, f"the {header_name('node_source')} header is required")
            try:
                return await answered(request, lambda: handler(request, caller))
            except StoreUnavailable as exc:
                return error_response(503, str(exc), {"Retry-After": "1"})

        return wrapped

    async def push(request: Request, caller: str) -> Response:
        headers = request.headers
        order = PushOrder(
            destination=headers.get(header_name("node_destination"), ""),
            status=headers.get(header_name("status"), "pending"),
            scheduled_text=headers.get(header_name("scheduled_time")),
            declared_type=headers.get(header_name("payload_type"), ""),
            topic=headers.get(header_name("topic")),
        )
        destination, scheduled = order.settle(started_at)
        payload, kind = await _payload(request)
        message = await service.push(
            caller, destination, payload, order.payload_type(kind), order.topic, scheduled
        )
        return message_response(message, 201, echo=True)

    async def pull(request: Request, caller: str) -> Response:
        quantity = request.query_params.get("quantity")
        if quantity is None:
            messages = await service.pull(caller, 1)
            return message_response(messages[0]) if messages else Response(status_code=204)
        count = parse_int(quantity, "quantity", 1, MAX_QUANTITY)
        messages = await service.pull(caller, count)
        return JSONResponse([m.to_wire() for m in messages], media_type=JSON_UTF8)

    async def ack(request: Request, caller: str) -> Response:
        message_id = request.path_params["message_id"]
        acked = await service.ack(caller, [message_id])
        if not acked:
            raise HttpError(404, f"no message {message_id} is processing for {caller}")
        return message_response(acked[0])

    async def ack_many(request: Request, caller: str) -> Response:
        """Ours: ``{"ids": [...]}`` → ``{"acked": [metadata...], "not_processing": [ids]}``."""
        ids = _id_list(await read_body(request, MAX_ACK_BODY))
        return JSONResponse(acked_answer(ids, await service.ack(caller, ids)))

    async def list_messages(request: Request, caller: str) -> Response:
        try:
            status = parse_status(request.query_params.get("status"))
        except ValueError as exc:
            raise HttpError(400, str(exc)) from None
        limit = parse_int(request.query_params.get("limit", "500"), "limit")
        destination = request.query_params.get("node_destination")
        # Read only what can fit the answer; what matched past that is left out unread.
        messages, unread = await service.store.list_within(
            destination, status, min(limit, MAX_LIST), service.answer_bytes
        )
        documents, left_out = newest_within(messages, service.answer_bytes)
        left_out += unread
        if request.query_params.get("order") != "newest":
            documents.reverse()  # scirocco lists in the order messages came in
        headers = {LEFT_OUT_HEADER: str(left_out)} if left_out else None
        body = f"[{','.join(documents)}]".encode()
        return Response(body, media_type=JSON_UTF8, headers=headers)

    async def read(request: Request, caller: str) -> Response:
        found = await service.store.get(request.path_params["message_id"])
        return message_response(_found(found, request))

    async def update(request: Request, caller: str) -> Response:
        payload, kind = await _payload(request)
        message_id = request.path_params["message_id"]
        current = _found(await service.store.get(message_id), request)
        # As scirocco-server, the payload changes and its type stays: the new body is
        # stored in the form the message's type reads back.
        stored = as_kind(payload, kind, current.payload_type)
        message = await service.update(message_id, stored, current.payload_type)
        return message_response(_found(message, request))

    async def delete(request: Request, caller: str) -> Response:
        return deleted_response(int(await service.delete(request.path_params["message_id"])))

    async def delete_all(request: Request, caller: str) -> Response:
        return deleted_response(await service.delete_all())

    return [
        Route("/messageQueue", authorized(push), methods=["POST"]),
        Route("/messageQueue", authorized(pull), methods=["GET"]),
        Route("/messageQueue/ack", authorized(ack_many), methods=["PATCH"]),
        Route("/messageQueue/{message_id}/ack", authorized(ack), methods=["PATCH"]),
        Route("/messages", authorized(list_messages), methods=["GET"]),
        Route("/messages", authorized(delete_all), methods=["DELETE"]),
        Route("/messages/{message_id}", authorized(read), methods=["GET"]),
        Route("/messages/{message_id}", authorized(update), methods=["PATCH"]),
        Route("/messages/{message_id}", authorized(delete), methods=["DELETE"]),
        Route("/globalDataSpace", authorized(delete_all, anyone=True), methods=["DELETE"]),
    ]


def newest_within(messages: list[Message], budget: int) -> tuple[list[str], int]:
    """The JSON documents of ``messages`` (newest first) that fit in ``budget`` bytes, and how
    many were left out. The newest is always given, whatever its size (at most a payload's
    limit, base64-encoded); each document is as compact as JSONResponse makes it."""
    documents: list[str] = []
    size = 2  # the brackets
    for count, message in enumerate(messages):
        document = json.dumps(
            message.to_wire(), ensure_ascii=False, allow_nan=False, separators=(",", ":")
        )
        size += len(document.encode()) + 1
        if documents and size > budget:
            return documents, len(messages) - count
        documents.append(document)
    return documents, 0


def _found(message: Message | None, request: Request) -> Message:
    if message is None:
        raise HttpError(404, f"no message {request.path_params['message_id']}")
    return message


def _id_list(body: bytes) -> list[str]:
    """The ids of a batch ack: a JSON object ``{"ids": [string, ...]}``, 1 to MAX_QUANTITY."""
    parsed = parse_json(body, "a batch ack")
    if not isinstance(parsed, dict):
        raise HttpError(400, 'a batch ack is a JSON object {"ids": ["ID", ...]}')
    return ack_ids(parsed.get("ids"))


def ack_ids(ids: object) -> list[str]:
    """``ids`` if it is a list of 1 to MAX_QUANTITY message ids (strings); else HttpError 400."""
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        raise HttpError(400, '"ids" must be a list of message ids (strings)')
    if not 1 <= len(ids) <= MAX_QUANTITY:
        raise HttpError(400, f"a batch ack takes 1 to {MAX_QUANTITY} ids, not {len(ids)}")
    return ids


def acked_answer(ids: list[str], acked: list[Message]) -> dict[str, list[Any]]:
    """Ours, a batch ack's answer: ``{"acked": [metadata...], "not_processing": [ids]}``."""
    done = {m.id for m in acked}
    return {
        "acked": [m.metadata() for m in acked],
        "not_processing": [i for i in dict.fromkeys(ids) if i not in done],
    }


async def _payload(request: Request) -> tuple[bytes, str]:
    """The body and how it was sent (JSON, text or bytes), within that kind's size limit."""
    kind = payload_kind(request.headers.get("content-type", ""))
    return check_payload(await read_body(request, PAYLOAD_LIMITS[kind]), kind), kind


def payload_kind(content_type: str) -> str:
    """How a payload is sent, from its media type: JSON_TYPE, TEXT_TYPE (any ``text/``) or
    BINARY_TYPE (anything else)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind if kind == JSON_TYPE else TEXT_TYPE if kind.startswith("text/") else BINARY_TYPE


def check_payload(payload: bytes, kind: str) -> bytes:
    """``payload`` if it is what ``kind`` says and within its limit; else HttpError 413 / 400."""
    if len(payload) > PAYLOAD_LIMITS[kind]:
        raise HttpError(413, f"a payload is over the {PAYLOAD_LIMITS[kind]}-byte limit")
    if kind == JSON_TYPE:
        parse_json(payload, "the payload")
    elif kind == TEXT_TYPE:
        try:
            payload.decode()
        except UnicodeDecodeError:
            raise HttpError(400, "a text payload must be UTF-8") from None
    return payload


@dataclass(frozen=True)
class PushOrder:
    """What a push asks besides its payload, as the client sent it (the Scirocco-* headers, or
    a channel frame's fields): checked here once for both transports."""

    destination: str
    status: str = "pending"
    scheduled_text: str | None = None
    """ISO 8601, for a scheduled push."""
    declared_type: str = ""
    """The payload type to record (``Scirocco-Payload-Type``); empty: how it was sent."""
    topic: str | None = None

    def settle(self, started_at: float) -> tuple[str, float | None]:
        """The destination and scheduled time (epoch seconds, None: pending now); raises
        HttpError 400 for a refused order. ``started_at``: no schedule may be before it."""
        destination = self.destination.strip()
        if not destination:
            raise HttpError(400, f"the {header_name('node_destination')} header is required")
        status = self.status.strip().lower()
        if status == MessageStatus.PENDING:
            return destination, None
        if status != MessageStatus.SCHEDULED:
            raise HttpError(400, f"a pushed message is pending or scheduled, not {status!r}")
        scheduled = parse_moment(self.scheduled_text, header_name("scheduled_time"))
        if scheduled is None:
            raise HttpError(400, "a scheduled message needs Scirocco-Scheduled-Time")
        if scheduled < started_at:
            raise HttpError(400, f"{self.scheduled_text} is before the agent started")
        return destination, scheduled

    def payload_type(self, kind: str) -> str:
        """The type to record for a payload sent as ``kind``; raises HttpError 400."""
        declared = self.declared_type.strip() or kind
        if len(declared) > MAX_PAYLOAD_TYPE:
            raise HttpError(400, f"a payload type has at most {MAX_PAYLOAD_TYPE} characters")
        return declared


def as_kind(payload: bytes, kind: str, payload_type: str) -> bytes:
    """``payload`` (sent as ``kind``) in the form a message of ``payload_type`` reads back.

    A JSON message given text or bytes keeps them as a JSON string (bytes in base64),
    a text message given bytes keeps their base64: what scirocco-server answers then.
    """
    if kind == payload_type or payload_type not in (JSON_TYPE, TEXT_TYPE):
        return payload
    text = base64.b64encode(payload).decode() if kind == BINARY_TYPE else payload.decode()
    if payload_type == TEXT_TYPE:
        return text.encode()
    return payload if kind == JSON_TYPE else json.dumps(text).encode()
