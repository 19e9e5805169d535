"""HTTP and WebSocket routes of the scripts service: the Jojo API plus our streaming and history."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from console.agent.http import HttpError, answering, json_object_body
from console.agent.scripts import ScriptService, UnknownScript
from console.models import HttpMethod, run_event_to_wire

FEATURES = ("scripts.stream", "scripts.history")


def routes(service: ScriptService) -> list[BaseRoute]:
    answering_errors = answering(UnknownScript)

    async def list_scripts(request: Request) -> Response:
        return JSONResponse({"scripts": {n: s.to_wire() for n, s in service.scripts.items()}})

    async def script(request: Request) -> Response:
        name = request.path_params["name"]
        found = service.get(name)
        method = request.method.lower()
        if method == "options" or (method == "get" and found.http_method is not HttpMethod.GET):
            return JSONResponse({"script": found.to_wire()})
        if method != found.http_method.value:
            raise HttpError(405, f"Script '{name}' runs with {found.http_method.value.upper()}")
        params = await json_object_body(request)
        result = await service.run(name, params)
        return JSONResponse(result.to_wire())

    async def reload(request: Request) -> Response:
        service.reload()
        return JSONResponse({"status": "ok"})

    async def runs(request: Request) -> Response:
        limit = request.query_params.get("limit", "50")
        if not limit.isdigit():
            raise HttpError(400, f"limit must be a whole number, not {limit!r}")
        records = service.history.recent(request.query_params.get("script"), min(int(limit), 1000))
        return JSONResponse({"runs": [r.to_wire(with_output=False) for r in records]})

    async def run(request: Request) -> Response:
        record = service.history.get(request.path_params["run_id"])
        if record is None:
            raise HttpError(404, f"No run with id {request.path_params['run_id']}")
        return JSONResponse({"run": record.to_wire()})

    async def stream(websocket: WebSocket) -> None:
        """First frame from the client: ``{"params": {...}}``; then one frame per run event."""
        await websocket.accept()
        name = websocket.path_params["name"]
        try:
            request = json.loads(await websocket.receive_text())
            params = request.get("params", {}) if isinstance(request, dict) else None
            if not isinstance(params, dict):
                raise HttpError(400, 'the first frame must be {"params": {...}}')
            async for event in service.stream(name, params):
                await websocket.send_text(json.dumps(run_event_to_wire(event)))
        except WebSocketDisconnect:
            return
        except (ValueError, KeyError):
            await _send_error(websocket, 400, "the first frame must be a JSON object")
        except UnknownScript as exc:
            await _send_error(websocket, 404, str(exc))
        except HttpError as exc:
            await _send_error(websocket, exc.status, exc.message)
        await websocket.close()

    return [
        Route("/scripts", answering_errors(list_scripts), methods=["GET"], name="scripts_index"),
        Route(
            "/scripts/{name}",
            answering_errors(script),
            methods=["GET", "OPTIONS", "POST", "PUT", "DELETE"],
        ),
        WebSocketRoute("/scripts/{name}/stream", stream),
        Route("/reload", answering_errors(reload), methods=["POST"]),
        Route("/runs", answering_errors(runs), methods=["GET"]),
        Route("/runs/{run_id:int}", answering_errors(run), methods=["GET"]),
    ]


async def _send_error(websocket: WebSocket, code: int, message: str) -> None:
    await websocket.send_text(json.dumps({"event": "error", "code": code, "message": message}))
