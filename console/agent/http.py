"""Small HTTP helpers every routes module shares: error answers and bounded JSON bodies."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from console.agent.disk import describe_full_disk, is_disk_full
from console.agent.errors import HttpError as HttpError  # re-exported: the routes raise it
from console.agent.parsing import parse_int, parse_json

MAX_BODY = 1 << 20
"""Bodies past 1 MiB are refused before they are read whole."""


def error_response(
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
    media_type: str = "application/json",
) -> JSONResponse:
    """The Jojo error shape: ``{"error": {"code", "type", "message"}}``."""
    body = {"error": error_detail(status, message)}
    return JSONResponse(body, status_code=status, headers=headers, media_type=media_type)


def error_detail(status: int, message: str) -> dict[str, Any]:
    """An error answer's ``error`` object: ``{"code", "type", "message"}`` (also the inbox
    channel's error frames)."""
    return {"code": status, "type": HTTPStatus(status).phrase, "message": message}


Handler = Callable[[Request], Awaitable[Response]]


def answering(
    not_found: type[Exception], media_type: str = "application/json"
) -> Callable[[Handler], Handler]:
    """Wrap route handlers so that their errors are error answers, never crashes.

    ``not_found`` (the service's own "no such thing") is a 404; the rest as :func:`answered`;
    ``media_type`` is the errors' Content-Type.
    """

    def wrap(handler: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            return await answered(request, lambda: handler(request), not_found, media_type)

        return wrapped

    return wrap


async def answered(
    request: Request,
    call: Callable[[], Awaitable[Response]],
    not_found: type[Exception] | tuple[type[Exception], ...] = (),
    media_type: str = "application/json",
) -> Response:
    """``call()``'s answer, or its error as an error answer (see :func:`as_http_error`)."""
    try:
        return await call()
    except Exception as exc:
        error = as_http_error(exc, request, not_found)
        if error is None:
            raise
        return error_response(error.status, error.message, media_type=media_type)


def as_http_error(
    error: Exception,
    connection: HTTPConnection,
    not_found: type[Exception] | tuple[type[Exception], ...] = (),
) -> HttpError | None:
    """What ``error`` answers: ``not_found`` a 404, an HttpError itself, a full disk a 507
    naming the disk; None for anything else (a bug: let it be seen)."""
    if isinstance(error, not_found):
        return HttpError(404, str(error))
    if isinstance(error, HttpError):
        return error
    if isinstance(error, OSError | sqlite3.Error):
        return disk_full_error(error, connection)
    return None


def disk_full_error(error: Exception, connection: HTTPConnection) -> HttpError | None:
    """A write refused for want of space as a 507 naming the disk; None for other errors.

    The disk named is the one of the file that failed, else the agent's data dir
    (``app.state.data_dir``): SQLite does not say which file it was writing.
    """
    if not is_disk_full(error):
        return None
    where = getattr(error, "filename", None) or getattr(connection.app.state, "data_dir", ".")
    return HttpError(507, describe_full_disk(Path(where)))


BODY_TIMEOUT = 60.0
"""Seconds a request body may take to arrive whole, unless ``app.state.body_timeout`` says."""


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body; 413 once it grows past ``limit`` bytes, 408 if it takes too long."""
    declared = request.headers.get("content-length")
    if declared is not None and parse_int(declared, "Content-Length", status=400) > limit:
        raise HttpError(413, f"request body of {declared} bytes is over the {limit}-byte limit")
    body = bytearray()
    timeout = getattr(request.app.state, "body_timeout", BODY_TIMEOUT)
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise HttpError(413, f"request body is over the {limit}-byte limit")
    except TimeoutError:
        raise HttpError(408, f"the request body took over {timeout:g} s") from None
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
    value = parse_json(body)
    if not isinstance(value, dict):
        raise HttpError(400, "the body must be a JSON object of params")
    return value


def close_reason(message: str) -> str:
    """``message`` cut to fit a WebSocket close reason (123 bytes of UTF-8 at most)."""
    reason = message.encode()[:123]
    return reason.decode(errors="ignore")


async def send_until_gone(
    websocket: WebSocket,
    frames: AsyncIterator[Any],
    send: Callable[[Any], Awaitable[None]] | None = None,
) -> bool:
    """Send ``frames`` until they run out (True) or the client goes away (False).

    Each item goes out with ``send`` (default: ``websocket.send_text``).

    The clients of these streams send nothing, so ``receive()`` returns only
    when one leaves: waiting on sends alone would keep a quiet stream, and the
    agent's shutdown, waiting for a next frame that may never come.
    """

    async def send_all() -> None:
        async for frame in frames:
            await (websocket.send_text(frame) if send is None else send(frame))

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
