"""Routes of the queue and pool: the shmooze proxy's ``<prefix>/<service>`` JSON commands."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from console.agent.http import HttpError, is_json_type, read_body
from console.agent.module_process import failure
from console.agent.modules import ModuleService
from console.agent.parsing import parse_json

JSON_TYPES = ("application/json", "text/json")
NOT_JSON = "Endpoint only accepts JSON."
"""shmooze.wsgi's answer (200, text/plain) to a body sent as anything but JSON."""


def packet_response(body: object, status_code: int = 200) -> Response:
    """``text/json`` exactly, as shmooze.wsgi (Starlette would add a charset to a text type)."""
    response = Response(json.dumps(body), status_code=status_code)
    response.raw_headers.append((b"content-type", b"text/json"))
    return response


def routes(services: list[ModuleService]) -> list[BaseRoute]:
    def endpoint(service: ModuleService):
        async def commands(request: Request) -> Response:
            if not is_json_type(request.headers.get("content-type", ""), JSON_TYPES):
                return Response(NOT_JSON, media_type="text/plain")
            try:
                body = await read_body(request)
                # shmooze.wsgi crashed here (a 500 page); a clear 400 instead.
                packet = parse_json(body)
                service.check_bounds(packet)
            except HttpError as exc:
                return packet_response(failure(exc.message), exc.status)
            return packet_response(await service.execute(packet))

        return commands

    # As shmooze.wsgi: any method, and any path below the service's own.
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return [
        Route(path, endpoint(service), methods=methods)
        for service in services
        for path in (f"/{service.name}", f"/{service.name}/{{rest:path}}")
    ]
