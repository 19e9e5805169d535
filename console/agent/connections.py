"""Connections the agent holds: a cap below the open-file limit, and time limits for idle ones.

Idle connections cost a file descriptor each and nothing else, so a crowd of
them (or of clients that trickle a request head a byte at a time) used to take
every descriptor and leave normal clients waiting. Here:

- the soft RLIMIT_NOFILE is raised to the hard one at start;
- at most ``max_open`` connections are open (and never more than half the file
  limit: children's pipes, log files and the stores need the rest); a new one past
  the cap closes the oldest idle connection, and if none is idle its request
  is answered 503 at once, in the agent's one JSON error shape (``http.error_response``;
  uvicorn's own ``limit_concurrency`` answer is plain text, so it is not used);
- a connection that has not sent a whole request head within ``head_timeout``
  seconds of opening (or of its last answer) is closed.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
from http import HTTPStatus
from typing import Any, ClassVar

from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from console.agent.header_case import TitleCaseHead
from console.agent.http import error_response
from console.config import ConnectionLimits

log = logging.getLogger("console.agent.connections")

ACCEPT_BURST = 64
"""Connections accepted at once: the cap is checked between bursts."""
LISTEN_BACKLOG = 2048
"""Connections the kernel queues for us (asyncio would set ACCEPT_BURST: too few)."""


def raise_file_limit() -> int:
    """Raise the soft open-file limit to the hard one; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, target, exc)
    return soft


def connection_cap(limits: ConnectionLimits, file_limit: int) -> int:
    """Open connections allowed: ``max_open``, but at most half of ``file_limit``."""
    return max(8, min(limits.max_open, file_limit // 2))


def full_house_answer(cap: int) -> Response:
    """The 503 a request past the cap gets when every connection is busy."""
    return error_response(
        503,
        f"the agent holds its cap of {cap} connections, all busy: try again shortly",
        headers={"Retry-After": "1", "Connection": "close"},
    )


def raw_answer(response: Response) -> bytes:
    """``response`` as HTTP/1.1 bytes, for a connection no ASGI app will answer."""
    head = f"HTTP/1.1 {response.status_code} {HTTPStatus(response.status_code).phrase}\r\n"
    fields = b"".join(name + b": " + value + b"\r\n" for name, value in response.raw_headers)
    return head.encode() + fields + b"\r\n" + bytes(response.body)


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol (httptools: its C parser costs half the CPU of h11's) with
    the connection cap, the request-head deadline and Title-Case response header names."""

    cap: ClassVar[int] = 4096
    head_timeout: ClassVar[float] = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._served_app = self.app
        self.app = self._app_below_cap

    async def _app_below_cap(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Counted when the request comes, as uvicorn's limit_concurrency would.
        if len(self.connections) > self.cap:
            log.warning("connection cap of %d reached: answering 503", self.cap)
            await full_house_answer(self.cap)(scope, receive, send)
            return
        await self._served_app(scope, receive, send)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._idle_since = self.loop.time()
        self._head_deadline: asyncio.TimerHandle | None = None
        if len(self.connections) > self.cap:
            # Room is made by closing the oldest idle one; with every other connection
            # busy, this one's request is answered 503 (_app_below_cap).
            self._close_oldest_idle()
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        # A new cycle (not an upgrade): its head is title-cased as it is written. Its task
        # is scheduled but has not run, so nothing has been written through it yet.
        if cycle is not None and not isinstance(cycle.transport, TitleCaseHead):
            cycle.transport = TitleCaseHead(cycle.transport, cycle)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._idle_since = self.loop.time()
        self._arm_head_deadline()

    def handle_websocket_upgrade(self) -> None:
        # A WebSocket past the cap would stay open: refused here with the same 503.
        if len(self.connections) > self.cap:
            log.warning("connection cap of %d reached: refusing a WebSocket with 503", self.cap)
            self.transport.write(raw_answer(full_house_answer(self.cap)))
            self.transport.close()
            return
        super().handle_websocket_upgrade()

    def _is_idle(self) -> bool:
        """Open, and between requests (or still before the end of its first request head)."""
        return self in self.connections and (self.cycle is None or self.cycle.response_complete)

    def _arm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
        self._head_deadline = self.loop.call_later(
            self.head_timeout, self._head_deadline_passed, self.cycle
        )

    def _head_deadline_passed(self, cycle_when_armed: Any) -> None:
        # The same cycle as when armed, and idle: no new request head came in time.
        if self.cycle is cycle_when_armed and self._is_idle():
            self.transport.close()

    def _close_oldest_idle(self) -> bool:
        idle = [
            connection
            for connection in self.connections
            if isinstance(connection, GuardedHttpProtocol)
            and connection is not self
            and connection._is_idle()
        ]
        if not idle:
            return False
        oldest = min(idle, key=lambda connection: connection._idle_since)
        oldest.transport.close()
        # Counted out now, not when its close completes: the next accept sees the room.
        self.connections.discard(oldest)
        return True


def widen_listen_backlog(sock: socket.socket) -> None:
    """Once serving: let the kernel queue LISTEN_BACKLOG connections again.

    asyncio listens with the same number it accepts in one burst; a short queue
    makes a crowd's SYNs wait out retransmits (a second or more each).
    """
    sock.listen(LISTEN_BACKLOG)


def uvicorn_options(limits: ConnectionLimits, file_limit: int) -> dict[str, Any]:
    """uvicorn.Config keyword arguments that put ``limits`` in force."""
    cap = connection_cap(limits, file_limit)
    protocol = type(
        "GuardedHttpProtocol",
        (GuardedHttpProtocol,),
        {"cap": cap, "head_timeout": limits.head_timeout},
    )
    return {
        # Ours, never "auto": old clients match Scirocco-* names exactly (header_case).
        "http": protocol,
        # No limit_concurrency: GuardedHttpProtocol keeps the cap and answers past it.
        "timeout_keep_alive": limits.keep_alive,
        # asyncio accepts up to `backlog` connections in one go before any of them runs:
        # uvicorn's 2048 would take 2048 descriptors at once, past the cap and the limit.
        "backlog": ACCEPT_BURST,
    }
