"""HTTP and WebSocket routes of the scripts service: the Jojo API plus our streaming and history."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from console.agent.http import (
    HttpError,
    answering,
    as_http_error,
    close_reason,
    json_object_body,
)
from console.agent.parsing import parse_int, parse_json
from console.agent.scripts import ScriptService, UnknownScript
from console.models import Script, run_event_to_wire

FEATURES = ("scripts.stream", "scripts.history")
FIRST_FRAME_TIMEOUT = 30.0
"""Seconds a stream waits for its first frame before it closes (a silent client holds a task)."""
JOJO_JSON = "application/json; charset=UTF-8"
"""pyjojo's Content-Type for every JSON answer, errors included."""
WRONG_TYPE = (
    "This application only support json, please set the http header Content-Type "
    "to application/json"
)
"""pyjojo's words (sic) for a body sent as anything but JSON."""
TAG_FILTERS = ("tags", "not_tags", "any_tags")


def jojo_json(body: object, status_code: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, media_type=JOJO_JSON)


def tag_filter(request: Request) -> Callable[[Script], bool]:
    """pyjojo's ``?tags=a,b`` (all of them), ``?not_tags=`` (none), ``?any_tags=`` (one at least).

    As pyjojo, only the first of the three given (in that order) counts.
    """
    for kind in TAG_FILTERS:
        if kind in request.query_params:
            wanted = set(request.query_params[kind].split(","))
            break
    else:
        return lambda script: True
    match kind:
        case "tags":
            return lambda script: wanted <= set(script.tags)
        case "not_tags":
            return lambda script: not wanted & set(script.tags)
        case _:
            return lambda script: bool(wanted & set(script.tags))


JOJO_BODY_TYPES = ("application/json", "")
"""pymojo posts ``requests.post(url, data=json_str)``: no Content-Type at all."""


async def jojo_params(request: Request) -> dict[str, object]:
    """The run's params: a JSON object body; no Content-Type at all means JSON, as pyjojo."""
    content_type = request.headers.get("content-type")
    if content_type is not None and not content_type.startswith("application/json"):
        raise HttpError(400, WRONG_TYPE)
    return await json_object_body(request, JOJO_BODY_TYPES)


def routes(service: ScriptService) -> list[BaseRoute]:
    answering_errors = answering(UnknownScript, JOJO_JSON)

    def selected(request: Request) -> dict[str, Script]:
        keep = tag_filter(request)
        return {name: script for name, script in service.scripts.items() if keep(script)}

    async def list_scripts(request: Request) -> Response:
        return jojo_json({"scripts": {n: s.to_wire() for n, s in selected(request).items()}})

    async def script_names(request: Request) -> Response:
        return jojo_json({"script_names": list(selected(request))})

    async def script(request: Request) -> Response:
        name = request.path_params["name"]
        found = service.get(name)
        method = request.method.lower()
        if method == "options":
            return jojo_json({"script": found.to_wire()})
        if method != found.http_method.value:
            wanted = found.http_method.value.upper()
            raise HttpError(405, f"Wrong HTTP method for script '{name}'. Use '{wanted}'")
        params = await jojo_params(request)
        result = await service.run(name, params)
        return jojo_json(result.to_wire())

    async def reload(request: Request) -> Response:
        service.reload()
        return jojo_json({"status": "ok"})

    async def runs(request: Request) -> Response:
        limit = parse_int(request.query_params.get("limit", "50"), "limit")
        records = service.history.recent(request.query_params.get("script"), min(limit, 1000))
        return JSONResponse({"runs": [r.to_wire(with_output=False) for r in records]})

    async def run(request: Request) -> Response:
        text = request.path_params["run_id"]
        record = service.history.get(parse_int(text, "a run id", status=404))
        if record is None:
            raise HttpError(404, f"No run with id {request.path_params['run_id']}")
        return JSONResponse({"run": record.to_wire()})

    async def stream(websocket: WebSocket) -> None:
        """First frame from the client: ``{"params": {...}}``; then one frame per run event.

        A bad first frame (or none within FIRST_FRAME_TIMEOUT) gets an error frame, then a
        close with code 4000 + the HTTP status and the message as its reason.
        """
        await websocket.accept()
        name = websocket.path_params["name"]
        try:
            params = await _first_frame_params(websocket)
            async for event in service.stream(name, params):
                await websocket.send_text(json.dumps(run_event_to_wire(event)))
        except WebSocketDisconnect:
            return
        except Exception as exc:
            error = as_http_error(exc, websocket, UnknownScript)
            if error is None:
                raise
            await _close_with_error(websocket, error)
            return
        await websocket.close()

    # pyjojo's routes end in an optional slash: each is served both ways, without a redirect.
    return [
        Route("/scripts", answering_errors(list_scripts), methods=["GET"], name="scripts_index"),
        Route("/scripts/", answering_errors(list_scripts), methods=["GET"]),
        *(
            Route(path, answering_errors(script_names), methods=["GET"])
            for path in ("/script_names", "/script_names/")
        ),
        *(
            Route(
                path, answering_errors(script), methods=["GET", "OPTIONS", "POST", "PUT", "DELETE"]
            )
            for path in ("/scripts/{name}", "/scripts/{name}/")
        ),
        WebSocketRoute("/scripts/{name}/stream", stream),
        *(
            Route(path, answering_errors(reload), methods=["POST"])
            for path in ("/reload", "/reload/")
        ),
        Route("/runs", answering_errors(runs), methods=["GET"]),
        Route("/runs/{run_id}", answering_errors(run), methods=["GET"]),
    ]


async def _first_frame_params(websocket: WebSocket) -> dict[str, object]:
    try:
        async with asyncio.timeout(FIRST_FRAME_TIMEOUT):
            frame = await websocket.receive()
    except TimeoutError:
        raise HttpError(408, f"no first frame within {FIRST_FRAME_TIMEOUT:.0f} s") from None
    if frame["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(frame.get("code", 1000))
    text = frame.get("text")
    if text is None:
        raise HttpError(400, 'the first frame must be a text frame: {"params": {...}}')
    request = parse_json(text, "the first frame")
    params = request.get("params", {}) if isinstance(request, dict) else None
    if not isinstance(params, dict):
        raise HttpError(400, 'the first frame must be {"params": {...}}')
    return params


async def _close_with_error(websocket: WebSocket, error: HttpError) -> None:
    """An error frame (what our adapter reads), then a close whose code and reason say it."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        frame = {"event": "error", "code": error.status, "message": error.message}
        await websocket.send_text(json.dumps(frame))
        await websocket.close(code=4000 + error.status, reason=close_reason(error.message))
