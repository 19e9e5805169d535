"""The console's contexts: every agent it knows by name, each connected once and shared.

The first connector (the local spawned agent, ``--agent`` or ``--context``), the config's
``[contexts.NAME]`` and the hosts chosen at run time (Hosts pane ``c``) each become a
``SharedConnector``. The one-context path and the fleet ("all" scope) both connect through
it and get the same client: a spawned agent is spawned once, lives while the console does,
and is stopped once, when the console exits (``Contexts.close``). A ``close()`` from
either user (a fleet member giving up on an attempt, a switch to another context) leaves
it alone; only ``reset`` (ctrl+r: reach it again) and the console's exit really close it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.connect import AgentConnector

CLOSE_BOUND = 1.5
"""Seconds the console's exit waits for its connections (agents, tunnels, SSH) to close."""


class SharedConnector:
    """An ``AgentConnector`` whose client is made once and handed to every user of it."""

    def __init__(self, name: str, inner: AgentConnector) -> None:
        self.name = name
        self.inner = inner
        self.client: AgentClient | None = None
        self._lock = asyncio.Lock()

    @property
    def description(self) -> str:
        return self.inner.description

    async def connect(self) -> AgentClient:
        """The one client (made on first use, by the inner connector: a spawn, a tunnel).
        Raises what the inner connector raises (Unavailable, AuthError, BackendError)."""
        async with self._lock:
            if self.client is None:
                self.client = await self.inner.connect()
            return self.client

    async def close(self) -> None:
        """Nothing: the client is shared, and closed by ``reset`` or the console's exit."""

    async def reset(self) -> None:
        """Really close (a spawned agent stops); the next ``connect`` starts afresh."""
        async with self._lock:
            self.client = None
            await self.inner.close()


class Contexts:
    """Contexts by name, in the order they became known (the first one first)."""

    def __init__(self) -> None:
        self._known: dict[str, SharedConnector] = {}

    def add(self, name: str, connector: AgentConnector) -> SharedConnector:
        """Know one more context; a name known already keeps its first connector (the
        new one, never connected, is dropped)."""
        if name not in self._known:
            self._known[name] = SharedConnector(name, connector)
        return self._known[name]

    def __getitem__(self, name: str) -> SharedConnector:
        return self._known[name]

    def __contains__(self, name: object) -> bool:
        return name in self._known

    def __iter__(self) -> Iterator[str]:
        return iter(self._known)

    def __len__(self) -> int:
        return len(self._known)

    @property
    def first(self) -> SharedConnector:
        return next(iter(self._known.values()))

    def connectors(self) -> dict[str, SharedConnector]:
        return dict(self._known)

    async def close(self) -> None:
        """Close every context at once (at the console's exit), each whatever the others do
        (a failure is returned by ``gather``, not raised)."""
        await asyncio.gather(
            *(shared.reset() for shared in self._known.values()), return_exceptions=True
        )
