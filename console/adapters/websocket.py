"""Opening WebSockets to a backend, with its credentials and TLS, and errors in our hierarchy.

``websockets`` is imported on the first connection, not with this module: a command
that never opens a WebSocket (``opsconsole ps``) starts ~15 ms sooner without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from console.adapters.base import Endpoint
from console.adapters.errors import AuthError, BackendError, NotFound, Unavailable

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

MAX_FRAME = 1 << 24


@contextlib.asynccontextmanager
async def connect(endpoint: Endpoint, path: str, **options: Any) -> AsyncIterator[ClientConnection]:
    """A WebSocket to ``path`` on ``endpoint`` (``options`` go to ``websockets.connect``: pings);
    raises AuthError when refused for credentials, BackendError for other refusals,
    Unavailable when it cannot be reached."""
    import websockets
    from websockets.exceptions import InvalidStatus, WebSocketException

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
            **options,
        }
        connection = await websockets.connect(endpoint.ws_url(path), **settings)
    except InvalidStatus as exc:
        status = exc.response.status_code
        error = AuthError if status in (401, 403) else NotFound if status == 404 else BackendError
        raise error(f"{path}: refused (HTTP {status})", status) from exc
    except (OSError, WebSocketException, TimeoutError) as exc:
        raise Unavailable(f"{path}: {exc or type(exc).__name__}") from exc
    async with connection:
        yield connection
