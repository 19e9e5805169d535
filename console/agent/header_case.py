"""Response header names in the case the older servers sent them (``Scirocco-Id``).

HTTP header names are case-insensitive (RFC 9110 §5.1), but real clients of the older
systems compare them case-sensitively: scirocco-pyclient keeps a response header only if
its name is exactly ``Scirocco-Id``, ``Scirocco-Status``... Starlette writes every name
in lower case; uvicorn's h11 protocol (the one we run, chosen in ``server.py``) writes a
name's bytes as the app gives them. So this middleware, around the whole app, rewrites
each response name to its canonical Title-Case form, the form Express, tornado, werkzeug
and aiohttp all sent (``www-authenticate`` → ``Www-Authenticate``, as tornado).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def title_case(name: bytes) -> bytes:
    """``scirocco-node-source`` → ``Scirocco-Node-Source``; ASCII bytes in, bytes out."""
    return b"-".join(word[:1].upper() + word[1:].lower() for word in name.split(b"-"))


class TitleCaseHeaders:
    """ASGI middleware: every HTTP response header name goes out in Title-Case."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        async def send_title_cased(message: Message) -> None:
            # A WebSocket handshake refused with an HTTP answer has its own start message.
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                message["headers"] = [
                    (title_case(name), value) for name, value in message.get("headers", ())
                ]
            await send(message)

        await self.app(scope, receive, send_title_cased)
