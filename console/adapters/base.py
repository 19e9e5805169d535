"""What every adapter shares: where a backend is, how to reach it, how its errors read.

Adapters are plain asyncio code (no Textual): the console, the command line,
the benchmarks and the tests all call the same methods.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from console.adapters.errors import AuthError, BackendError, NotFound, Unavailable
from console.models import RunEvent, RunRecord, RunResult, Script

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
KEEPALIVE_EXPIRY = 2.0
"""Seconds an idle connection is kept for reuse: well under the agent's keep-alive (5 s,
``[agent.connections] keep_alive``). At equal timeouts (httpx's default is 5 s too) a request
sent on a connection the agent was just closing failed with "Server disconnected without
sending a response", and the console went offline (seen under load)."""


@dataclass(frozen=True)
class Endpoint:
    """An HTTP(S) backend and the credentials it wants."""

    url: str
    username: str | None = None
    password: str | None = None
    verify: bool | str = True
    """True checks TLS against the system CAs, a path names a CA bundle, False trusts anything."""
    token: str | None = None
    """The inbox token (sent as ``Authorization`` to the inbox routes only)."""
    agent_token: str | None = None
    """Our agent's token, sent as ``Authorization: Bearer`` (to the inbox too, without ``token``).

    Basic credentials win over it where both are given (an older pyjojo wants Basic)."""

    @property
    def base_url(self) -> str:
        """The URL without a trailing slash."""
        return self.url.rstrip("/")

    def auth(self) -> httpx.BasicAuth | None:
        """HTTP Basic credentials for httpx, or None."""
        if self.username is None:
            return None
        return httpx.BasicAuth(self.username, self.password or "")

    def headers(self) -> dict[str, str]:
        """What every request and handshake carries: the credentials, as one Authorization."""
        if self.username is not None:
            token = base64.b64encode(f"{self.username}:{self.password or ''}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        if self.agent_token:
            return {"Authorization": f"Bearer {self.agent_token}"}
        return {}

    def inbox_authorization(self) -> str | None:
        """The ``Authorization`` value for the inbox routes: the inbox token, else the agent's."""
        if self.token:
            return self.token
        return f"Bearer {self.agent_token}" if self.agent_token else None

    def http_client(self, timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> httpx.AsyncClient:
        # httpx deprecates a path for verify: give it the context that path names.
        """An httpx client for this backend (its TLS and Basic credentials), to share."""
        verify = (
            ssl.create_default_context(cafile=self.verify)
            if isinstance(self.verify, str)
            else self.verify
        )
        if not self.base_url.startswith("https://"):
            verify = False  # no TLS here: loading the CA bundle would cost 20-90 ms for nothing
        bearer = {} if self.username is not None else self.headers()
        return httpx.AsyncClient(
            base_url=self.base_url,
            auth=self.auth(),
            headers=bearer,
            verify=verify,
            timeout=timeout,
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY),
        )

    def ws_url(self, path: str) -> str:
        """The ws:// (or wss://) URL of ``path`` on this backend."""
        scheme, rest = self.base_url.split("://", 1)
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}{path}"

    def ws_headers(self) -> dict[str, str]:
        """Headers a WebSocket needs (its credentials, as ``headers``), possibly none."""
        return self.headers()

    def ws_ssl(self) -> ssl.SSLContext | None:
        """The TLS context of a wss:// connection (verification as set); None for ws://."""
        if not self.base_url.startswith("https://"):
            return None
        if self.verify is False:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        if isinstance(self.verify, str):
            return ssl.create_default_context(cafile=self.verify)
        return ssl.create_default_context()


def error_message(response: httpx.Response) -> str:
    """The backend's own words for an error, whatever shape it chose."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and "message" in error:
            return str(error["message"])
        if isinstance(error, str):
            return error
    return response.reason_phrase


def raise_for_status(response: httpx.Response) -> None:
    """Turn an error answer into the adapter error hierarchy."""
    if response.is_success:
        return
    status = response.status_code
    message = f"{error_message(response)} (HTTP {status})"
    if status in (401, 403):
        raise AuthError(message, status)
    if status == 404:
        raise NotFound(message, status)
    if status in (502, 503, 504):
        raise Unavailable(message, status)
    raise BackendError(message, status)


async def request(http: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """Send one request; transport failures become Unavailable, error answers raise."""
    try:
        response = await http.request(method, path, **kwargs)
    except httpx.TransportError as exc:
        raise Unavailable(f"{http.base_url}: {exc or type(exc).__name__}") from exc
    raise_for_status(response)
    return response


def json_body(response: httpx.Response) -> Any:
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
