"""What every adapter shares: where a backend is, how to reach it, how its errors read.

Adapters are plain asyncio code (no Textual): the console, the command line,
the benchmarks and the tests all call the same methods.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

import httpx

from console.adapters.endpoint import Endpoint as Endpoint  # where the adapters find it
from console.adapters.errors import BackendError, Unavailable, error_for_status, error_words
from console.models import RunEvent, RunRecord, RunResult, Script

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
KEEPALIVE_EXPIRY = 2.0
"""Seconds an idle connection is kept for reuse: well under the agent's keep-alive (5 s,
``[agent.connections] keep_alive``). At equal timeouts (httpx's default is 5 s too) a request
sent on a connection the agent was just closing failed with "Server disconnected without
sending a response", and the console went offline (seen under load)."""


class HttpAnswer(Protocol):
    """What the helpers below read of an answer: httpx's Response, or the inbox's Answer."""

    @property
    def status_code(self) -> int: ...
    @property
    def is_success(self) -> bool: ...
    @property
    def reason_phrase(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def url(self) -> object: ...
    def json(self) -> Any: ...


def error_message(response: HttpAnswer) -> str:
    """The backend's own words for an error, whatever shape it chose."""
    return error_words(response.text, response.reason_phrase)


def raise_for_status(response: HttpAnswer) -> None:
    """Turn an error answer into the adapter error hierarchy."""
    if not response.is_success:
        raise error_for_status(response.status_code, error_message(response))


async def request(http: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """Send one request; transport failures become Unavailable, error answers raise."""
    try:
        response = await http.request(method, path, **kwargs)
    except httpx.TransportError as exc:
        raise Unavailable(f"{http.base_url}: {exc or type(exc).__name__}") from exc
    raise_for_status(response)
    return response


def json_body(response: HttpAnswer) -> Any:
    """The answer's body as JSON (any JSON value); raises BackendError, naming the URL, when it
    is not JSON."""
    try:
        return response.json()
    except ValueError as exc:
        raise BackendError(f"not JSON from {response.url}: {response.text[:80]!r}") from exc


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
