"""Routes of the inbox: the scirocco API (token auth, Scirocco-* headers, payload as the body)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

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
    TEXT_TYPE,
    Message,
    MessageStatus,
    header_name,
)

PREFIXES = ("/messageQueue", "/messages", "/globalDataSpace")
"""Paths of the inbox family (the auth middleware lets the inbox token in here)."""

FEATURES = ("inbox.batch", "inbox.batch_ack", "inbox.redelivery")
MAX_PAYLOAD = 8 << 20
MAX_QUANTITY = 1000
MAX_ACK_BODY = 256 << 10


def message_response(message: Message, status_code: int = 200) -> Response:
    """The payload as the body, the metadata in Scirocco-* headers."""
    return Response(
        message.payload,
        status_code=status_code,
        media_type=message.payload_type,
        headers=message.headers(),
    )


def routes(service: InboxService) -> list[BaseRoute]:
    def authorized(handler: Callable[[Request, str], Awaitable[Response]]) -> Handler:
        """The caller's node id for ``handler`` (its token was checked by the auth middleware)."""

        async def wrapped(request: Request) -> Response:
            caller = request.headers.get(header_name("node_source"), "").strip()
            if not caller:
                return error_response(400, f"the {header_name('node_source')} header is required")
            try:
                return await answered(request, lambda: handler(request, caller))
            except StoreUnavailable as exc:
                return error_response(503, str(exc), {"Retry-After": "1"})

        return wrapped

    async def push(request: Request, caller: str) -> Response:
        destination = request.headers.get(header_name("node_destination"), "").strip()
        if not destination:
            raise HttpError(400, f"the {header_name('node_destination')} header is required")
        status = request.headers.get(header_name("status"), "pending").strip().lower()
        scheduled_text = request.headers.get(header_name("scheduled_time"))
        scheduled = None
        if status == MessageStatus.SCHEDULED:
            scheduled = parse_moment(scheduled_text, header_name("scheduled_time"))
            if scheduled is None:
                raise HttpError(400, "a scheduled message needs Scirocco-Scheduled-Time")
        elif status != MessageStatus.PENDING:
            raise HttpError(400, f"a pushed message is pending or scheduled, not {status!r}")
        payload = await read_body(request, MAX_PAYLOAD)
        payload_type = _payload_type(request.headers.get("content-type", ""), payload)
        topic = request.headers.get(header_name("topic"))
        message = await service.push(caller, destination, payload, payload_type, topic, scheduled)
        return message_response(message, 201)

    async def pull(request: Request, caller: str) -> Response:
        quantity = request.query_params.get("quantity")
        if quantity is None:
            messages = await service.pull(caller, 1)
            return message_response(messages[0]) if messages else Response(status_code=204)
        count = parse_int(quantity, "quantity", 1, MAX_QUANTITY)
        messages = await service.pull(caller, count)
        return JSONResponse([m.to_wire() for m in messages])

    async def ack(request: Request, caller: str) -> Response:
        message_id = request.path_params["message_id"]
        acked = await service.ack(caller, [message_id])
        if not acked:
            raise HttpError(404, f"no message {message_id} is processing for {caller}")
        return message_response(acked[0])

    async def ack_many(request: Request, caller: str) -> Response:
        """Ours: ``{"ids": [...]}`` → ``{"acked": [metadata...], "not_processing": [ids]}``."""
        ids = _id_list(await read_body(request, MAX_ACK_BODY))
        acked = await service.ack(caller, ids)
        done = {m.id for m in acked}
        return JSONResponse(
            {
                "acked": [m.metadata() for m in acked],
                "not_processing": [i for i in dict.fromkeys(ids) if i not in done],
            }
        )

    async def list_messages(request: Request, caller: str) -> Response:
        try:
            status = parse_status(request.query_params.get("status"))
        except ValueError as exc:
            raise HttpError(400, str(exc)) from None
        limit = parse_int(request.query_params.get("limit", "500"), "limit")
        destination = request.query_params.get("node_destination")
        messages = await service.store.list(destination, status, min(limit, 10_000))
        return JSONResponse([m.to_wire() for m in messages])

    async def read(request: Request, caller: str) -> Response:
        found = await service.store.get(request.path_params["message_id"])
        return message_response(_found(found, request))

    async def update(request: Request, caller: str) -> Response:
        payload = await read_body(request, MAX_PAYLOAD)
        payload_type = _payload_type(request.headers.get("content-type", ""), payload)
        message = await service.update(request.path_params["message_id"], payload, payload_type)
        return message_response(_found(message, request))

    async def delete(request: Request, caller: str) -> Response:
        if not await service.delete(request.path_params["message_id"]):
            _found(None, request)
        return JSONResponse({})

    async def delete_all(request: Request, caller: str) -> Response:
        return JSONResponse({"deleted": await service.delete_all()})

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
        Route("/globalDataSpace", authorized(delete_all), methods=["DELETE"]),
    ]


def _found(message: Message | None, request: Request) -> Message:
    if message is None:
        raise HttpError(404, f"no message {request.path_params['message_id']}")
    return message


def _id_list(body: bytes) -> list[str]:
    """The ids of a batch ack: a JSON object ``{"ids": [string, ...]}``, 1 to MAX_QUANTITY."""
    parsed = parse_json(body, "a batch ack")
    if not isinstance(parsed, dict):
        raise HttpError(400, 'a batch ack is a JSON object {"ids": ["ID", ...]}')
    ids = parsed.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
        raise HttpError(400, '"ids" must be a list of message ids (strings)')
    if not 1 <= len(ids) <= MAX_QUANTITY:
        raise HttpError(400, f"a batch ack takes 1 to {MAX_QUANTITY} ids, not {len(ids)}")
    return ids


def _payload_type(content_type: str, payload: bytes) -> str:
    """JSON, text or bytes, from the Content-Type; JSON must parse."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == JSON_TYPE:
        parse_json(payload, "the payload")
        return JSON_TYPE
    if kind.startswith("text/"):
        try:
            payload.decode()
        except UnicodeDecodeError:
            raise HttpError(400, "a text payload must be UTF-8") from None
        return TEXT_TYPE
    return BINARY_TYPE
