"""One request, answered, then exit: the command line's synchronous way to an agent.

A command that asks an agent one thing and prints the answer (``opsconsole ps``)
spends most of its life starting up; the async stack (asyncio, httpx, httpcore,
anyio) costs more to import than the request takes. This speaks HTTP/1.1 through
the standard library's ``http.client`` instead, with what the adapters use: the
``Endpoint``'s credentials and TLS, and the adapter error hierarchy (transport
failures are ``Unavailable``, error answers are read by ``errors.error_words``).
"""

from __future__ import annotations

import http.client
import json
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from console.adapters.endpoint import Endpoint
from console.adapters.errors import BackendError, Unavailable, error_for_status, error_words

ONE_SHOT_TIMEOUT = 10.0
"""Seconds to connect, and then between bytes of the answer (as the adapters' read timeout)."""


class OneShot:
    """Blocking JSON requests to one backend over one kept-alive connection."""

    def __init__(self, endpoint: Endpoint, timeout: float = ONE_SHOT_TIMEOUT) -> None:
        self.endpoint = endpoint
        parts = urlsplit(endpoint.base_url)
        self._prefix = parts.path
        if parts.hostname is None:
            raise BackendError(f"{endpoint.base_url}: no host in the URL")
        if endpoint.tls:
            self._connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=timeout, context=endpoint.ssl_context()
            )
        else:
            self._connection = http.client.HTTPConnection(
                parts.hostname, parts.port, timeout=timeout
            )

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Send ``method path`` (``body`` as JSON when not None) and return the JSON answer.

        Raises Unavailable when the backend cannot be reached (refused, timed out, TLS
        failed, dropped), AuthError / NotFound / BackendError for an error answer (as the
        adapters do), BackendError for a success that is not JSON.
        """
        headers = {"Accept": "application/json", **self.endpoint.headers()}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self._connection.request(method, self._prefix + path, payload, headers)
            response = self._connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._connection.close()
            raise Unavailable(f"{self.endpoint.base_url}: {exc or type(exc).__name__}") from exc
        text = data.decode("utf-8", errors="replace")
        if not 200 <= response.status < 300:
            raise error_for_status(response.status, error_words(text, response.reason))
        try:
            return json.loads(text)
        except ValueError as exc:
            url = self.endpoint.base_url + path
            raise BackendError(f"not JSON from {url}: {text[:80]!r}") from exc

    def close(self) -> None:
        """Close the connection (a request after this opens a new one)."""
        self._connection.close()

    def __enter__(self) -> OneShot:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
