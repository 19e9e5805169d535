"""Routes of the process service: the smartmob-agent API, plus control routes and log cursors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from console.agent.http import (
    Handler,
    HttpError,
    answering,
    close_reason,
    error_response,
    json_object_body,
    send_until_gone,
)
from console.agent.log_search import MAX_CONTEXT, MAX_TEXT, LogQuery, search_log
from console.agent.parsing import parse_int
from console.agent.process_details import details_of
from console.agent.process_usage import UsageSampler
from console.agent.processes import (
    InvalidSpec,
    ManagedProcess,
    ProcessService,
    SlugTaken,
    UnknownProcess,
    parse_spec,
)
from console.agent.ws_frames import send_text_frames
from console.models import LogBatch, LogEvent, LogGap, LogPartial, ProcessState, ProcessStatus
from console.output.ansi import strip_sgr

FEATURES = (
    "processes.control",
    "processes.cursor",
    "processes.json-logs",
    "processes.bulk",
    "processes.partial-lines",
    "processes.strip-ansi",
    "processes.log-search",
    "processes.details",
    "processes.usage",
)
CREATE_BODY_TYPES = ("application/json", "application/octet-stream", "")
"""What smartmob clients declare: aiohttp posts a JSON string as octet-stream, others none."""
CONTROL_ACTIONS = ("restart", "stop", "start")
SETTLE_LIMIT = 2.0
"""Seconds a control call waits for its process to settle before answering where it is."""
SETTLE_PER_PROCESS = 0.02
"""Seconds more per process of a bulk call: its spawns take turns on the agent's loop."""


_SLUG_MARK = "\x00slug\x00"
"""Stands for the slug in link templates; slugs never hold it (see processes.NAME)."""
NEVER_STARTED = frozenset(
    {ProcessState.DOWNLOAD_FAILURE, ProcessState.NO_PROCFILE, ProcessState.UNKNOWN_PROCESS_TYPE}
)
"""States of a process whose command never ran and never will (its source is bad)."""


async def refuse_handshake(websocket: WebSocket, status: int, message: str) -> None:
    """Answer a WebSocket handshake with an HTTP error, or close it where the server cannot."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(error_response(status, message))
    else:
        await websocket.close(code=4000 + status, reason=close_reason(message))


def status_document(status: ProcessStatus, connection: HTTPConnection) -> dict[str, object]:
    """STATUS with its absolute links, built from the host the client used."""
    return status_documents([status], connection)[0]


def status_documents(
    statuses: list[ProcessStatus], connection: HTTPConnection
) -> list[dict[str, object]]:
    """Each STATUS with its links; the routes are looked up once for all (a listing of 200
    spent most of its time in ``url_for``)."""
    links = {
        "attach": str(connection.url_for("attach_console", slug=_SLUG_MARK)).replace(
            "http", "ws", 1
        ),
        "details": str(connection.url_for("process_status", slug=_SLUG_MARK)),
        "delete": str(connection.url_for("delete_process", slug=_SLUG_MARK)),
    }
    return [
        {
            **status.to_wire(),
            **{name: link.replace(_SLUG_MARK, status.slug) for name, link in links.items()},
        }
        for status in statuses
    ]


def routes(service: ProcessService) -> list[BaseRoute]:
    answering_errors = answering(UnknownProcess)
    sampler = UsageSampler()

    async def process_details(request: Request) -> Response:
        """STATUS, then command, workdir, env (secrets masked here), exits and usage."""
        slug = request.path_params["slug"]
        process, status = service.get(slug), service.status(slug)
        usage = None
        if status.pid is not None:
            usage = (await asyncio.to_thread(sampler.sample, {slug: status.pid})).get(slug)
        document = details_of(process, status, usage).to_wire()
        return JSONResponse(status_document(status, request) | document)

    async def process_usage(request: Request) -> Response:
        """``{"usage": {SLUG: {"cpu": percent, "rss": bytes}}}`` of the processes running now."""
        pids = {s.slug: s.pid for s in service.list() if s.pid is not None}
        usage = await asyncio.to_thread(sampler.sample, pids)
        return JSONResponse({"usage": {slug: u.to_wire() for slug, u in usage.items()}})

    async def list_processes(request: Request) -> Response:
        return JSONResponse({"processes": status_documents(service.list(), request)})

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
            await act(process, action)
            return JSONResponse(status_document(service.status(process.spec.slug), request))

        return handler

    def bulk_control(action: str) -> Handler:
        async def handler(request: Request) -> Response:
            chosen = select(service, await json_object_body(request))
            patience = SETTLE_LIMIT + SETTLE_PER_PROCESS * len(chosen)
            await asyncio.gather(*(act(process, action, patience) for process in chosen))
            statuses = [service.status(process.spec.slug) for process in chosen]
            return JSONResponse({"processes": status_documents(statuses, request)})

        return handler

    async def search_process_log(request: Request) -> Response:
        """``?text=T`` and ``before=SEQ`` or ``after=SEQ`` (neither: the newest match),
        ``context=N`` lines each side: a LogSearchResult (see console.agent.log_search)."""
        process = service.get(request.path_params["slug"])
        query = log_query(request.query_params)
        found = search_log(process.log, query, service.budget.answer_bytes)
        return JSONResponse(found.to_wire())

    async def attach_console(websocket: WebSocket) -> None:
        """Plain: one text frame per line. ``?format=json``: batches with seq, ts and stream.

        ``?strip_ansi=1`` takes colour codes out; ``?partial=1`` (JSON only) adds
        the line a stream is still writing, as ``{"partial": {...}}`` frames.
        """
        slug = websocket.path_params["slug"]
        query = websocket.query_params
        since = query.get("since")
        as_json = query.get("format") == "json"
        try:
            process = service.get(slug)
        except UnknownProcess as exc:
            # As smartmob-agent: a 404 answer to the handshake, no WebSocket at all.
            await refuse_handshake(websocket, 404, str(exc))
            return
        await websocket.accept()
        try:
            first = None if since is None else parse_int(since, "since")
            strip, partials = _flag(query, "strip_ansi"), _flag(query, "partial")
        except HttpError as exc:
            await websocket.close(code=4400, reason=close_reason(str(exc)))
            return
        if process.status.state in NEVER_STARTED:
            await websocket.close()  # as smartmob-agent: nothing will ever come
            return
        reader = process.log.follow(first, as_json and partials)

        async def frames() -> AsyncIterator[str | list[str]]:
            async for event in reader:
                if as_json:
                    yield json.dumps(_log_frame(event, strip))
                elif isinstance(event, LogGap):
                    yield [f"[opsconsole: {event.count} lines dropped]"]
                elif isinstance(event, LogBatch):
                    yield [strip_sgr(line) for line in event.lines] if strip else event.lines

        async def send_lines(frame: str | list[str]) -> None:
            if isinstance(frame, str):
                await websocket.send_text(frame)
            else:
                await send_text_frames(websocket, frame)

        try:
            if await send_until_gone(websocket, frames(), send_lines):
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
            "/process-details/{slug}",
            answering_errors(process_details),
            methods=["GET"],
            name="process_details",
        ),
        Route("/process-usage", answering_errors(process_usage), methods=["GET"]),
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
            for action in CONTROL_ACTIONS
        ),
        *(
            Route(f"/{action}-processes", answering_errors(bulk_control(action)), methods=["POST"])
            for action in CONTROL_ACTIONS
        ),
        Route(
            "/search-log/{slug}",
            answering_errors(search_process_log),
            methods=["GET"],
            name="search_log",
        ),
        WebSocketRoute("/attach-console/{slug}", attach_console, name="attach_console"),
    ]


def log_query(query: Mapping[str, str]) -> LogQuery:
    """A log search's parameters, checked. Raises HttpError 400 naming what is wrong."""
    unknown = sorted(set(query) - {"text", "before", "after", "context"})
    if unknown:
        raise HttpError(400, f"unknown parameter {unknown[0][:40]!r}")
    text = query.get("text", "")
    if not text or len(text) > MAX_TEXT or "\n" in text:
        raise HttpError(400, f"text must be 1 to {MAX_TEXT} characters on one line")
    if "before" in query and "after" in query:
        raise HttpError(400, "give before or after, not both")
    before, after = (
        None if name not in query else parse_int(query[name], name) for name in ("before", "after")
    )
    context = parse_int(query.get("context", "100"), "context", 0, MAX_CONTEXT)
    return LogQuery(text, before, after, context)


def _flag(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name, "0")
    if value not in ("0", "1", "true", "false"):
        raise HttpError(400, f"{name} must be 1 or 0, not {value[:20]!r}")
    return value in ("1", "true")


def _log_frame(event: LogEvent, strip: bool) -> dict[str, object]:
    if isinstance(event, LogGap):
        return {"gap": {"seq": event.seq, "count": event.count}}
    if isinstance(event, LogPartial):
        return (replace(event, text=strip_sgr(event.text)) if strip else event).to_wire()
    wire = event.to_wire()
    if strip:
        wire["lines"] = [strip_sgr(line) for line in event.lines]
    return wire


async def act(process: ManagedProcess, action: str, patience: float = SETTLE_LIMIT) -> None:
    """Restart, stop or start one process, then wait (up to ``patience`` seconds) for where
    it ends up.

    The answer shows where it settled (running, or why not), not a state in passing.
    """
    match action:
        case "restart":
            await process.restart()
        case "stop":
            await process.stop()
        case "start":
            process.start()
    await process.settle(patience)


def select(service: ProcessService, body: dict[str, Any]) -> list[ManagedProcess]:
    """The processes a bulk body names: ``{"app": APP}``, ``{"slugs": [SLUG, ...]}`` or
    ``{"all": true}``, exactly one of them.

    Raises HttpError 400 for any other body, UnknownProcess (404) for a slug or an app
    the agent does not have: then nothing is acted on.
    """
    given = [key for key in ("app", "slugs", "all") if key in body]
    unknown = sorted(set(body) - {"app", "slugs", "all"})
    if unknown or len(given) != 1:
        raise HttpError(400, 'give exactly one of "app", "slugs" or "all" (and nothing else)')
    match given[0], body[given[0]]:
        case "all", True:
            return service.processes()
        case "app", str(app) if app:
            chosen = [p for p in service.processes() if p.spec.app == app]
            if not chosen:
                raise HttpError(404, f"No process of app '{app}'")
            return chosen
        case "slugs", list(slugs) if slugs and all(isinstance(s, str) for s in slugs):
            return [service.get(slug) for slug in dict.fromkeys(slugs)]
    raise HttpError(400, '"app" takes a name, "slugs" a non-empty list of slugs, "all" true')
