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

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from console.adapters.base import DEFAULT_TIMEOUT, KEEPALIVE_EXPIRY, Endpoint, raise_for_status
from console.adapters.errors import Unavailable
from console.adapters.http_answer import Answer

if TYPE_CHECKING:
    import aiohttp


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
        proxy = self._endpoint.proxy()  # our one proxy rule (``adapters.proxy``)
        return aiohttp.ClientSession(
            base_url=self._endpoint.base_url + "/",
            connector=connector,
            proxy=proxy.url if proxy else None,
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
