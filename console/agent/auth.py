"""HTTP Basic auth against an htpasswd file, for every route but the inbox's own token auth."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from pathlib import Path

from passlib.apache import HtpasswdFile
from starlette.types import ASGIApp, Receive, Scope, Send

from console.agent.http import error_response


class Htpasswd:
    """Checks user/password pairs; re-reads the file when it changes on disk.

    Hash checks (bcrypt is slow on purpose) run off the event loop, and a pair
    already proven against the same stored hash is not checked again.
    """

    def __init__(self, path: Path) -> None:
        self._file = HtpasswdFile(str(path))
        self._proven: set[tuple[str, str, str]] = set()

    async def check(self, user: str, password: str) -> bool:
        self._file.load_if_changed()
        stored = self._file.get_hash(user)
        if stored is None:
            return False
        key = (user, hashlib.sha256(password.encode()).hexdigest(), str(stored))
        if key in self._proven:
            return True
        if await asyncio.to_thread(self._file.check_password, user, password):
            self._proven.add(key)
            return True
        return False


def basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class BasicAuthMiddleware:
    """Refuses requests without valid Basic credentials: 401 with a challenge (HTTP), close (WS)."""

    def __init__(
        self,
        app: ASGIApp,
        htpasswd: Htpasswd,
        realm: str = "opsconsole",
        exempt_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.htpasswd = htpasswd
        self.realm = realm
        self.exempt_prefixes = exempt_prefixes

    def _exempt(self, path: str) -> bool:
        """``/messages`` and ``/messages/ID`` are exempt; ``/messagesX`` is not."""
        return any(path == p or path.startswith(f"{p}/") for p in self.exempt_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self._exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        credentials = basic_credentials(headers.get(b"authorization", b"").decode("latin-1"))
        if credentials is not None and await self.htpasswd.check(*credentials):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket" and "websocket.http.response" not in scope.get(
            "extensions", {}
        ):
            # No way to answer the handshake with a 401 here: refuse it (the server sends 403).
            await send({"type": "websocket.close", "code": 1008})
            return
        # HTTP, or a WebSocket handshake answered with the same 401 (the denial-response extension).
        response = error_response(
            401,
            "Authentication required",
            headers={"WWW-Authenticate": f'Basic realm="{self.realm}"'},
        )
        await response(scope, receive, send)
