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


def packet_response(body: object, status_code: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status_code, media_type="text/json")


def routes(services: list[ModuleService]) -> list[BaseRoute]:
    def endpoint(service: ModuleService):
        async def commands(request: Request) -> Response:
            try:
                if not is_json_type(request.headers.get("content-type", ""), JSON_TYPES):
                    raise HttpError(400, "send the commands as application/json or text/json")
                body = await read_body(request)
                packet = parse_json(body)
            except HttpError as exc:
                return packet_response(failure(exc.message), exc.status)
            return packet_response(await service.execute(packet))

        return commands

    return [
        Route(f"/{service.name}", endpoint(service), methods=["GET", "POST", "PUT"])
        for service in services
    ]
