"""The agent's one authentication layer: every route family and WebSocket, in one middleware.

Order of checks, before any handler runs:

1. the browser guard (``browser_guard.refusal``): 403, whatever the auth settings;
2. credentials, by route family (``family_of``):
   - ``Authorization: Bearer <agent token>`` opens every family (our console and CLI);
   - HTTP Basic against the htpasswd file opens every family but the inbox (pyjojo clients);
   - ``Authorization: <inbox token>`` opens the inbox family (scirocco clients);
   - families named in ``open_families`` (loopback only) and everything under ``no_auth``
     need none.

A refusal is 401 (HTTP, or a WebSocket handshake when the server can answer one
with a status) or a close before accept (the server then answers 403). Repeated
failures from one client are slowed down (``FailureThrottle``); failures are
logged without the secret.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import time
from dataclasses import dataclass, field

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from console.agent import browser_guard, inbox_routes
from console.agent.htpasswd import Htpasswd
from console.agent.http import error_response

log = logging.getLogger("console.agent.auth")

FAMILY_PREFIXES: dict[str, tuple[str, ...]] = {
    "inbox": inbox_routes.PREFIXES,
    "scripts": ("/scripts", "/script_names", "/reload", "/runs"),
    "processes": (
        "/list-processes",
        "/create-process",
        "/process-status",
        "/process-details",
        "/process-usage",
        "/delete-process",
        "/restart-process",
        "/stop-process",
        "/start-process",
        "/restart-processes",
        "/stop-processes",
        "/start-processes",
        "/attach-console",
        "/search-log",
    ),
    "modules": ("/queue", "/pool"),
    "events": ("/events",),
}


def family_of(path: str) -> str:
    """The route family a path belongs to; ``/`` is the smartmob index; anything else ``agent``."""
    if path == "/":
        return "processes"
    for family, prefixes in FAMILY_PREFIXES.items():
        if any(path == p or path.startswith(f"{p}/") for p in prefixes):
            return family
    return "agent"


def basic_credentials(header: str) -> tuple[str, str] | None:
    """``(user, password)`` of a ``Basic`` Authorization value (RFC 7617); None if not one."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def _same(given: str, secret: str) -> bool:
    # Bytes: compare_digest refuses str with non-ASCII, and a header may hold any byte.
    return hmac.compare_digest(given.encode("latin-1", "replace"), secret.encode())


@dataclass
class FailureThrottle:
    """A growing delay before each failure's answer, per client address.

    The first ``free`` failures answer at once; then each waits ``first_delay``
    doubled per failure, up to ``max_delay`` seconds. A success, or ``forget_after``
    seconds without a failure, starts the client afresh. Throttling a client is
    logged once, when it begins.
    """

    free: int = 5
    first_delay: float = 0.25
    max_delay: float = 8.0
    forget_after: float = 600.0
    _failures: dict[str, tuple[int, float]] = field(default_factory=dict)

    def failed(self, client: str) -> float:
        """Count a failure; the delay its answer waits, in seconds."""
        now = time.monotonic()
        count, last = self._failures.get(client, (0, now))
        count = 1 if now - last > self.forget_after else count + 1
        self._failures[client] = (count, now)
        if count <= self.free:
            if count == 1:
                log.warning("authentication failed for a client at %s", client)
            return 0.0
        if count == self.free + 1:
            log.warning(
                "client at %s failed to authenticate %d times: its answers are slowed down "
                "(logged once)",
                client,
                count,
            )
        return min(self.first_delay * 2 ** (count - self.free - 1), self.max_delay)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)


@dataclass(frozen=True)
class AuthPolicy:
    """Who may in: the secrets, and what is open without them."""

    agent_tokens: tuple[str, ...] = ()
    inbox_tokens: tuple[str, ...] = ()
    htpasswd: Htpasswd | None = None
    open_families: frozenset[str] = frozenset()
    no_auth: bool = False
    allowed_hosts: frozenset[str] = frozenset()
    realm: str = "opsconsole"

    async def admits(self, family: str, authorization: str) -> bool:
        """True when these credentials (an Authorization value) open this family."""
        if self.no_auth or family in self.open_families:
            return True
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and any(_same(value.strip(), t) for t in self.agent_tokens):
            return True
        if family == "inbox":
            return any(_same(authorization, t) for t in self.inbox_tokens)
        credentials = basic_credentials(authorization)
        if credentials is not None and self.htpasswd is not None:
            return await self.htpasswd.check(*credentials)
        return False


class AuthMiddleware:
    """The browser guard, then credentials by route family; see the module docstring."""

    def __init__(
        self, app: ASGIApp, policy: AuthPolicy, throttle: FailureThrottle | None = None
    ) -> None:
        self.app = app
        self.policy = policy
        self.throttle = throttle or FailureThrottle()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        why = browser_guard.refusal(scope, headers, self.policy.allowed_hosts)
        if why is not None:
            log.warning("refused %s %s: %s", scope.get("method", "WS"), scope["path"], why)
            await self._refuse(scope, receive, send, 403, why)
            return
        family = family_of(scope["path"])
        authorization = headers.get("authorization", "")
        client = (scope.get("client") or ("unknown", 0))[0]
        if await self.policy.admits(family, authorization):
            if authorization:
                self.throttle.succeeded(client)
            await self.app(scope, receive, send)
            return
        delay = self.throttle.failed(client)
        if delay:
            await asyncio.sleep(delay)
        await self._refuse(scope, receive, send, 401, self._wanted(family))

    def _wanted(self, family: str) -> str:
        if family == "inbox":
            return "a valid inbox token (or the agent token as Bearer) is required in Authorization"
        if self.policy.htpasswd is not None:
            return "Authentication required: the agent token (Bearer) or HTTP Basic credentials"
        return "Authentication required: send the agent token as Authorization: Bearer TOKEN"

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, message: str
    ) -> None:
        if scope["type"] == "websocket" and "websocket.http.response" not in scope.get(
            "extensions", {}
        ):
            # No way to answer this handshake with a status: refuse it (the server sends 403).
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = None
        if status == 401:
            scheme = "Basic" if self.policy.htpasswd is not None else "Bearer"
            headers = {"WWW-Authenticate": f'{scheme} realm="{self.policy.realm}"'}
        # HTTP, or a WebSocket handshake answered with a status (the denial-response extension).
        await error_response(status, message, headers=headers)(scope, receive, send)
