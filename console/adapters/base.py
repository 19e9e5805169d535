"""What every adapter shares: where a backend is, how to reach it, how its errors read.

Adapters are plain asyncio code (no Textual): the console, the command line,
the benchmarks and the tests all call the same methods.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

import httpx

from console.adapters.endpoint import Endpoint as Endpoint  # where the adapters find it
from console.adapters.errors import Unavailable
from console.adapters.http_answer import error_message as error_message
from console.adapters.http_answer import json_body as json_body
from console.adapters.http_answer import raise_for_status as raise_for_status
from console.models import RunEvent, RunRecord, RunResult, Script

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
KEEPALIVE_EXPIRY = 2.0
"""Seconds an idle connection is kept for reuse: well under the agent's keep-alive (5 s,
``[agent.connections] keep_alive``). At equal timeouts (httpx's default is 5 s too) a request
sent on a connection the agent was just closing failed with "Server disconnected without
sending a response", and the console went offline (seen under load)."""


async def request(http: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """Send one request; transport failures become Unavailable, error answers raise."""
    try:
        response = await http.request(method, path, **kwargs)
    except httpx.TransportError as exc:
        raise Unavailable(f"{http.base_url}: {exc or type(exc).__name__}") from exc
    raise_for_status(response)
    return response


class ScriptsBackend(Protocol):
    """A script catalog: list, inspect, run (blocking or streamed), history."""

    @property
    def streams(self) -> bool:
        """True when runs stream line by line; False when output comes at the end."""

    async def list_scripts(self) -> list[Script]:
        """Every script; raises AuthError, Unavailable, BackendError."""

    async def get_script(self, name: str) -> Script:
        """One script; raises NotFound, BackendError."""

    async def run(self, name: str, params: dict[str, str]) -> RunResult:
        """Run to the end; its RunResult. Raises NotFound, BackendError."""

    def stream_run(self, name: str, params: dict[str, str]) -> AsyncIterator[RunEvent]:
        """Run, yielding its RunEvents as they happen. Raises NotFound, BackendError."""

    async def history(self, name: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Past runs, newest first. Raises NotFound (no history), BackendError."""

    async def run_record(self, run_id: int) -> RunRecord:
        """One past run with output. Raises NotFound, BackendError."""

    async def reload(self) -> None:
        """Re-read the catalog. Raises BackendError."""
