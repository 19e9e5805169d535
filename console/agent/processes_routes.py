"""Routes of the process service: the smartmob-agent API, plus control routes and log cursors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from console.agent.http import (
    Handler,
    HttpError,
    answering,
    json_object_body,
    send_until_gone,
)
from console.agent.processes import (
    InvalidSpec,
    ProcessService,
    SlugTaken,
    UnknownProcess,
    parse_spec,
)
from console.models import LogBatch, LogGap, ProcessStatus

FEATURES = ("processes.control", "processes.cursor", "processes.json-logs")
CREATE_BODY_TYPES = ("application/json", "application/octet-stream", "")
"""What smartmob clients declare: aiohttp posts a JSON string as octet-stream, others none."""


def status_document(status: ProcessStatus, connection: HTTPConnection) -> dict[str, object]:
    """STATUS with its absolute links, built from the host the client used."""
    slug = status.slug
    return {
        **status.to_wire(),
        "attach": str(connection.url_for("attach_console", slug=slug)).replace("http", "ws", 1),
        "details": str(connection.url_for("process_status", slug=slug)),
        "delete": str(connection.url_for("delete_process", slug=slug)),
    }


def routes(service: ProcessService) -> list[BaseRoute]:
    answering_errors = answering(UnknownProcess)

    async def list_processes(request: Request) -> Response:
        return JSONResponse({"processes": [status_document(s, request) for s in service.list()]})

    async def create_process(request: Request) -> Response:
        body = await json_object_body(request, CREATE_BODY_TYPES)
        try:
            status = service.create(parse_spec(body))
        except InvalidSpec as exc:
            raise HttpError(400, str(exc)) from None
        except SlugTaken as exc:
            raise HttpError(409, str(exc)) from None
        document = status_document(status, request)
        return JSONResponse(document, status_code=201, headers={"Location": document["details"]})

    async def process_status(request: Request) -> Response:
        return JSONResponse(status_document(service.status(request.path_params["slug"]), request))

    async def delete_process(request: Request) -> Response:
        await service.delete(request.path_params["slug"])
        return JSONResponse({})

    def control(action: str) -> Handler:
        async def handler(request: Request) -> Response:
            process = service.get(request.path_params["slug"])
            match action:
                case "restart":
                    await process.restart()
                case "stop":
                    await process.stop()
                case "start":
                    process.start()
            # Answer with where it ended up (running, or why not), not a state in passing.
            await process.settle()
            return JSONResponse(status_document(service.status(process.spec.slug), request))

        return handler

    async def attach_console(websocket: WebSocket) -> None:
        """Plain: one text frame per line. ``?format=json``: batches with seq, ts and stream."""
        slug = websocket.path_params["slug"]
        since = websocket.query_params.get("since")
        as_json = websocket.query_params.get("format") == "json"
        await websocket.accept()
        try:
            process = service.get(slug)
            if since is not None and not since.isdigit():
                raise HttpError(400, f"since must be a sequence number, not {since!r}")
        except (UnknownProcess, HttpError) as exc:
            await websocket.close(
                code=4404 if isinstance(exc, UnknownProcess) else 4400, reason=str(exc)[:120]
            )
            return
        reader = process.log.follow(int(since) if since is not None else None)

        async def frames() -> AsyncIterator[str]:
            async for event in reader:
                if as_json:
                    yield json.dumps(_log_frame(event))
                elif isinstance(event, LogGap):
                    yield f"[opsconsole: {event.count} lines dropped]"
                else:
                    for line in event.lines:
                        yield line

        try:
            if await send_until_gone(websocket, frames()):
                await websocket.close()  # the process was deleted
        finally:
            reader.close()

    return [
        Route(
            "/list-processes",
            answering_errors(list_processes),
            methods=["GET"],
            name="list_processes",
        ),
        Route(
            "/create-process",
            answering_errors(create_process),
            methods=["POST"],
            name="create_process",
        ),
        Route(
            "/process-status/{slug}",
            answering_errors(process_status),
            methods=["GET"],
            name="process_status",
        ),
        Route(
            "/delete-process/{slug}",
            answering_errors(delete_process),
            methods=["POST"],
            name="delete_process",
        ),
        *(
            Route(
                f"/{action}-process/{{slug}}", answering_errors(control(action)), methods=["POST"]
            )
            for action in ("restart", "stop", "start")
        ),
        WebSocketRoute("/attach-console/{slug}", attach_console, name="attach_console"),
    ]


def _log_frame(event: LogBatch | LogGap) -> dict[str, object]:
    if isinstance(event, LogGap):
        return {"gap": {"seq": event.seq, "count": event.count}}
    return event.to_wire()
