"""Opening WebSockets to a backend, with its credentials and TLS, and errors in our hierarchy.

``websockets`` is imported on the first connection, not with this module: a command
that never opens a WebSocket (``opsconsole ps``) starts ~15 ms sooner without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from console.adapters.base import Endpoint
from console.adapters.errors import AuthError, BackendError, NotFound, Unavailable

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

MAX_FRAME = 1 << 24


def connect(endpoint: Endpoint, path: str, **options: Any) -> WebSocketOpening:
    """``async with connect(...) as ws``: a WebSocket to ``path`` on ``endpoint`` (``options``
    go to ``websockets.connect``: pings), closed on the way out; entering raises AuthError
    when refused for credentials, BackendError for other refusals, Unavailable when it
    cannot be reached."""
    return WebSocketOpening(endpoint, path, options)


class WebSocketOpening:
    """The context manager ``connect`` gives. A class, not a generator: when the console
    quits, the event loop finalizes every async generator still suspended, in no set order;
    a generator context manager finalized before the stream holding it (``agent_events``)
    made that one raise "generator didn't stop after athrow()" on the operator's terminal."""

    def __init__(self, endpoint: Endpoint, path: str, options: dict[str, Any]) -> None:
        self.endpoint = endpoint
        self.path = path
        self.options = options
        self.connection: ClientConnection | None = None

    async def __aenter__(self) -> ClientConnection:
        import websockets
        from websockets.exceptions import InvalidStatus, WebSocketException

        endpoint, path = self.endpoint, self.path
        proxy = endpoint.proxy()
        try:
            settings: dict[str, Any] = {
                "additional_headers": endpoint.ws_headers(),
                # Our proxy rule (``adapters.proxy``), not the environment's as websockets reads it.
                "proxy": proxy.url if proxy else None,
                "ssl": endpoint.ws_ssl(),
                "max_size": MAX_FRAME,
                "open_timeout": 5,
                # A reader that stops mid-stream should not wait long for the server's goodbye.
                "close_timeout": 1,
                **self.options,
            }
            self.connection = await websockets.connect(endpoint.ws_url(path), **settings)
        except InvalidStatus as exc:
            status = exc.response.status_code
            error = (
                AuthError if status in (401, 403) else NotFound if status == 404 else BackendError
            )
            raise error(f"{path}: refused (HTTP {status})", status) from exc
        except (OSError, WebSocketException, TimeoutError) as exc:
            raise Unavailable(f"{path}: {exc or type(exc).__name__}") from exc
        return self.connection

    async def __aexit__(self, *exc_info: object) -> None:
        if self.connection is not None:
            await self.connection.close()
