"""One agent (ours or an older system's) and the adapters that reach its services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType

from console.adapters.base import Endpoint, json_body, request
from console.adapters.errors import NotFound
from console.adapters.jojo import JojoScripts
from console.adapters.scirocco import SciroccoInbox
from console.adapters.shmooze import ShmoozeModules
from console.adapters.smartmob import SmartmobProcesses
from console.adapters.watch import agent_events
from console.models import AgentEvent, AgentInfo

EVENTS_FEATURE = "events"


class AgentClient:
    """Holds the one HTTP connection pool that every service adapter of an agent shares."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._http = endpoint.http_client()
        self.scripts = JojoScripts(self._http, endpoint)
        self.processes = SmartmobProcesses(self._http, endpoint)
        self.inbox = SciroccoInbox(endpoint)
        self.queue = ShmoozeModules(self._http, "queue")
        self.pool = ShmoozeModules(self._http, "pool")
        for adapter in (self.processes, self.inbox, self.queue, self.pool):
            adapter.events = self.events
        self.info_cache: AgentInfo | None = None

    async def info(self) -> AgentInfo:
        """Ask the agent what it is; an older server without our index has no extensions."""
        try:
            body = json_body(await request(self._http, "GET", "/"))
        except NotFound:
            body = {}
        info = AgentInfo.from_index(self.endpoint.base_url, body)
        self.scripts.features = self.processes.features = info.features
        self.inbox.node_id = self.inbox.node_id or info.node_id or ""
        self.info_cache = info
        return info

    async def events(self, topics: tuple[str, ...] = ()) -> AsyncIterator[AgentEvent]:
        """The agent's state changes, for ever: re-connects by itself after a drop.

        Each (re)connection starts with a ``hello`` event: re-read what you show then,
        since changes made while disconnected were not seen; each drop yields an
        ``offline`` event. Raises NotFound when the agent has no events stream (an
        older server), AuthError when it refuses us.
        """
        if self.info_cache is not None and EVENTS_FEATURE not in self.info_cache.features:
            raise NotFound("this agent has no events stream")
        async for event in agent_events(self.endpoint, topics):
            yield event

    async def aclose(self) -> None:
        """Close the connection pool the adapters share, and the inbox's own."""
        await self.inbox.aclose()
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
