"""The inbox adapter's HTTP client: aiohttp, for the CPU a request costs.

The inbox is the one service a client calls in tight loops (push → pull → ack,
three requests a message), so its client's own CPU sets the rate on a loaded
machine: measured on the agent's ``GET /messageQueue`` and ``POST /messageQueue``,
httpx spent ~1,000 µs of client CPU a request and aiohttp ~320 µs (its parser is
in C). The other adapters keep httpx (one shared pool per agent): they are not
called in loops. aiohttp is imported on first use: commands that never reach the
inbox (``opsconsole ps``) do not pay for its import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from console.adapters.base import DEFAULT_TIMEOUT, KEEPALIVE_EXPIRY, Endpoint, raise_for_status
from console.adapters.errors import Unavailable

if TYPE_CHECKING:
    import aiohttp


@dataclass(frozen=True)
class Answer:
    """An HTTP answer read whole: status, headers (case-insensitive), body bytes, URL.

    It reads as httpx's Response does where the adapters' helpers look
    (``base.raise_for_status``, ``base.json_body``): ``status_code``, ``is_success``,
    ``reason_phrase``, ``text``, ``json()``.
    """

    status_code: int
    reason_phrase: str
    headers: Mapping[str, str]
    content: bytes
    url: str

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        """The body as JSON (UTF-8, -16 or -32, as RFC 8259 allows); raises ValueError."""
        return json.loads(self.content)


class InboxHttp:
    """Requests to one endpoint over a pool of keep-alive connections, opened on first use
    (in the running event loop) and closed by ``aclose``."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._endpoint = endpoint
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        connector = aiohttp.TCPConnector(
            # The same TLS verification as every other connection to this endpoint.
            ssl=self._endpoint.ws_ssl() or False,
            keepalive_timeout=KEEPALIVE_EXPIRY,
        )
        return aiohttp.ClientSession(
            base_url=self._endpoint.base_url + "/",
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=DEFAULT_TIMEOUT.connect, sock_read=DEFAULT_TIMEOUT.read
            ),
        )

    async def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        params: Mapping[str, str | int] | None = None,
        content: bytes | None = None,
        json_body: Any = None,
    ) -> Answer:
        """Send one request (``path`` from the endpoint's root, ``content`` or ``json_body`` as
        the body) and read its answer whole. Raises Unavailable when the endpoint cannot be
        reached or the connection fails; an error answer raises as ``base.raise_for_status``."""
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = self._open()
        try:
            async with self._session.request(
                method,
                path.lstrip("/"),
                headers=headers,
                params=params,
                data=content,
                json=json_body,
                allow_redirects=False,  # as httpx: a redirect is an answer, not followed
            ) as response:
                answer = Answer(
                    response.status,
                    response.reason or "",
                    response.headers,
                    await response.read(),
                    str(response.url),
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unavailable(f"{self._endpoint.base_url}: {exc or type(exc).__name__}") from exc
        raise_for_status(answer)
        return answer

    async def aclose(self) -> None:
        """Close the connections; the next request opens new ones."""
        if self._session is not None:
            await self._session.close()
            self._session = None
