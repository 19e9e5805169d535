"""Small HTTP helpers every routes module shares: error answers and bounded JSON bodies."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

MAX_BODY = 1 << 20
"""Bodies past 1 MiB are refused before they are read whole."""


class HttpError(Exception):
    """An error answer, raised anywhere in a handler and rendered by the routes module."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The Jojo error shape: ``{"error": {"code", "type", "message"}}``."""
    body = {"error": {"code": status, "type": HTTPStatus(status).phrase, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


Handler = Callable[[Request], Awaitable[Response]]


def answering(not_found: type[Exception]) -> Callable[[Handler], Handler]:
    """Wrap route handlers so that their errors are error answers, never crashes.

    ``not_found`` (the service's own "no such thing") is a 404; an HttpError
    carries its status.
    """

    def wrap(handler: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except not_found as exc:
                return error_response(404, str(exc))
            except HttpError as exc:
                return error_response(exc.status, exc.message)

        return wrapped

    return wrap


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refused with 413 once it grows past ``limit``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HttpError(413, f"request body of {declared} bytes is over the {limit}-byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HttpError(413, f"request body is over the {limit}-byte limit")
    return bytes(body)


def is_json_type(content_type: str, accepted: tuple[str, ...] = ("application/json",)) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in accepted


async def json_object_body(
    request: Request, accepted: tuple[str, ...] = ("application/json",)
) -> dict[str, Any]:
    """A JSON object body, or {} when empty; anything else is a 400.

    ``accepted`` are the media types a body may be declared as (``""``: none at all),
    for older clients that post JSON under another type. Never the types a browser
    sends cross-site without asking first (``text/plain``, forms): a web page could.
    """
    body = await read_body(request)
    if not body.strip():
        return {}
    if not is_json_type(request.headers.get("content-type", ""), accepted):
        raise HttpError(400, "the body must be JSON, sent with Content-Type: application/json")
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HttpError(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise HttpError(400, "the body must be a JSON object of params")
    return value


async def send_until_gone(websocket: WebSocket, frames: AsyncIterator[str]) -> bool:
    """Send ``frames`` until they run out (True) or the client goes away (False).

    The clients of these streams send nothing, so ``receive()`` returns only
    when one leaves: waiting on sends alone would keep a quiet stream, and the
    agent's shutdown, waiting for a next frame that may never come.
    """

    async def send_all() -> None:
        async for frame in frames:
            await websocket.send_text(frame)

    async def until_gone() -> None:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass

    sender = asyncio.create_task(send_all())
    watcher = asyncio.create_task(until_gone())
    done, pending = await asyncio.wait({sender, watcher}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await task
    finished = sender in done and sender.exception() is None
    if watcher in done:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            watcher.result()
    return finished
