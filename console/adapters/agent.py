"""One agent (ours or an older system's) and the adapters that reach its services."""

from __future__ import annotations

from types import TracebackType

from console.adapters.base import Endpoint, json_body, request
from console.adapters.errors import NotFound
from console.adapters.jojo import JojoScripts
from console.models import AgentInfo


class AgentClient:
    """Holds the one HTTP connection pool that every service adapter of an agent shares."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._http = endpoint.http_client()
        self.scripts = JojoScripts(self._http, endpoint)

    async def info(self) -> AgentInfo:
        """Ask the agent what it is; an older server without our index has no extensions."""
        try:
            body = json_body(await request(self._http, "GET", "/"))
        except NotFound:
            body = {}
        ours = body.get("opsconsole") if isinstance(body, dict) else None
        if not isinstance(ours, dict):
            ours = {}
        info = AgentInfo(
            url=self.endpoint.base_url,
            version=ours.get("version"),
            node_id=ours.get("node_id"),
            features=frozenset(ours.get("features", [])),
        )
        self.scripts.features = info.features
        return info

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AgentClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
