"""Response header names in the case the older servers sent them (``Scirocco-Id``).

HTTP header names are case-insensitive (RFC 9110 §5.1), but real clients of the older
systems compare them case-sensitively: scirocco-pyclient keeps a response header only if
its name is exactly ``Scirocco-Id``, ``Scirocco-Status``... Starlette writes every name
in lower case, and uvicorn's httptools protocol (the one we run, chosen in
``connections.py``: it costs half the CPU of h11) lower-cases them again as it writes the
head. So names are put in their canonical Title-Case form, the form Express, tornado,
werkzeug and aiohttp all sent (``www-authenticate`` → ``Www-Authenticate``, as tornado):

- for HTTP answers, as the head is written (``TitleCaseHead``, a cycle's transport);
- for a WebSocket handshake refused with an HTTP answer, in its start message
  (``TitleCaseHeaders``, a middleware: the WebSocket protocol writes names as given).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@functools.lru_cache(maxsize=512)
def title_case(name: bytes) -> bytes:
    """``scirocco-node-source`` → ``Scirocco-Node-Source``; ASCII bytes in, bytes out."""
    return b"-".join(word[:1].upper() + word[1:].lower() for word in name.split(b"-"))


def title_case_head(head: bytes) -> bytes:
    """An HTTP/1.1 response head (status line, ``name: value`` lines, blank line; RFC 9112
    §2.1) with every field name in Title-Case; values and anything after the head as given."""
    end = head.find(b"\r\n\r\n")
    if end < 0:
        return head
    status, *fields = head[:end].split(b"\r\n")
    lines = [status]
    for field in fields:
        name, colon, value = field.partition(b":")
        lines.append(title_case(name) + colon + value if colon else field)
    return b"\r\n".join(lines) + head[end:]


class TitleCaseHead:
    """The transport of one request's answer: its head goes out with Title-Case names.

    ``cycle`` is uvicorn's request/response cycle this transport serves: the head is the
    first write made once ``cycle.response_started`` is true (a ``100 Continue`` comes
    before it, the body after it). Everything else is the wrapped transport's.
    """

    def __init__(self, transport: asyncio.Transport, cycle: Any) -> None:
        self._transport = transport
        self._cycle = cycle
        self._head_sent = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._head_sent and self._cycle.response_started:
            self._head_sent = True
            data = title_case_head(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class TitleCaseHeaders:
    """ASGI middleware: a refused WebSocket handshake's header names go out in Title-Case
    (HTTP answers are title-cased as written: ``TitleCaseHead``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return

        async def send_title_cased(message: Message) -> None:
            # A WebSocket handshake refused with an HTTP answer has its own start message.
            if message["type"] == "websocket.http.response.start":
                message["headers"] = [
                    (title_case(name), value) for name, value in message.get("headers", ())
                ]
            await send(message)

        await self.app(scope, receive, send_title_cased)
