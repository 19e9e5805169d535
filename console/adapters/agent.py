"""One agent (ours or an older system's) and the adapters that reach its services."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from types import TracebackType

from console.adapters import websocket
from console.adapters.base import Endpoint, json_body, request
from console.adapters.errors import AuthError, NotFound, Unavailable
from console.adapters.jojo import JojoScripts
from console.adapters.scirocco import SciroccoInbox
from console.adapters.shmooze import ShmoozeModules
from console.adapters.smartmob import RECONNECT_DELAYS, SmartmobProcesses
from console.models import AgentEvent, AgentInfo

EVENTS_FEATURE = "events"


class AgentClient:
    """Holds the one HTTP connection pool that every service adapter of an agent shares."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._http = endpoint.http_client()
        self.scripts = JojoScripts(self._http, endpoint)
        self.processes = SmartmobProcesses(self._http, endpoint)
        self.inbox = SciroccoInbox(self._http, endpoint)
        self.queue = ShmoozeModules(self._http, "queue")
        self.pool = ShmoozeModules(self._http, "pool")
        self.info_cache: AgentInfo | None = None

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
        self.scripts.features = self.processes.features = info.features
        self.inbox.node_id = self.inbox.node_id or info.node_id or ""
        self.info_cache = info
        return info

    async def events(self, topics: tuple[str, ...] = ()) -> AsyncIterator[AgentEvent]:
        """The agent's state changes, for ever: re-connects by itself after a drop.

        Each (re)connection starts with a ``hello`` event: re-read what you show then,
        since changes made while disconnected were not seen.
        """
        if self.info_cache is not None and EVENTS_FEATURE not in self.info_cache.features:
            raise NotFound("this agent has no events stream")
        path = "/events" + (f"?topics={','.join(topics)}" if topics else "")
        attempt = 0
        while True:
            try:
                async with websocket.connect(self.endpoint, path) as ws:
                    from websockets.exceptions import ConnectionClosed  # loaded by connect

                    try:
                        async for frame in ws:
                            attempt = 0
                            wire = json.loads(frame)
                            yield AgentEvent(str(wire.get("topic", "")), wire.get("data") or {})
                    except ConnectionClosed:
                        pass
            except AuthError:
                raise
            except Unavailable:
                pass
            await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
            attempt += 1

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
