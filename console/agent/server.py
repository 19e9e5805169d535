"""Serving the agent: bind, announce the URL once ready, stop everything on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import uvicorn

from console.agent.app import create_app
from console.agent.connections import (
    connection_cap,
    raise_file_limit,
    uvicorn_options,
    widen_listen_backlog,
)
from console.agent.credentials import announce_credentials, forget_agent, register_agent
from console.agent.log_throttle import throttle_agent_logs
from console.config import AGENT_URL_FILE, AgentSettings, ConfigError

log = logging.getLogger("console.agent")


class _AgentServer(uvicorn.Server):
    def __init__(
        self, config: uvicorn.Config, stop_children: Callable[[], Awaitable[None]]
    ) -> None:
        super().__init__(config)
        self._stop_children = stop_children

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Stop taking connections, then the children: a run in flight ends and answers
        # now, rather than holding the graceful shutdown until its timeout cancels it.
        for server in self.servers:
            server.close()
        await self._stop_children()
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            # A signal asked for a clean stop and got one: exit 0 rather than re-raise it.
            self._captured_signals.clear()


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every answer with a body waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.set_inheritable(True)
    return sock


def url_of(settings: AgentSettings, sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    scheme = "https" if settings.tls_cert else "http"
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


async def _announce_when_ready(
    server: uvicorn.Server, url: str, sock: socket.socket, url_file: Path
) -> None:
    while not server.started:
        if server.should_exit:
            return
        await asyncio.sleep(0.01)
    widen_listen_backlog(sock)
    # What exists now (modules, the app) lives as long as the agent: out of the collector's
    # sight, a full collection walks what came later alone (~100 ms less, each time one
    # falls in a request: a stop of 200 processes makes enough garbage to trigger it).
    gc.freeze()
    # Local clients of this user find the running agent (and its token beside it) here.
    register_agent(url, url_file)
    # The one line on stdout: whoever spawned us reads the URL from it.
    print(url, flush=True)
    log.info("agent ready at %s", url)


async def _serve(server: uvicorn.Server, sock: socket.socket, url: str, url_file: Path) -> None:
    announce = asyncio.create_task(_announce_when_ready(server, url, sock, url_file))
    try:
        await server.serve(sockets=[sock])
    finally:
        announce.cancel()


def _connection_options(settings: AgentSettings) -> dict[str, object]:
    """The connection cap and time limits (console.agent.connections), under the file limit."""
    file_limit = raise_file_limit()
    limits = settings.connection_limits()
    cap = connection_cap(limits, file_limit)
    log.info("open-file limit %d; at most %d connections", file_limit, cap)
    return uvicorn_options(limits, file_limit)


def serve(settings: AgentSettings) -> int:
    """Run the agent until SIGINT/SIGTERM; 0 after a clean stop."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    # httpx logs each request's full URL at INFO: a source URL's password and signature.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        sock = bind(settings.host, settings.port)
    except OSError as exc:
        print(
            f"opsconsole agent: cannot listen on {settings.host}:{settings.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    url = url_of(settings, sock)
    try:
        app = create_app(settings)
        announce_credentials(settings)
    except ConfigError as exc:
        print(f"opsconsole agent: {exc}", file=sys.stderr)
        return 2
    config = uvicorn.Config(
        app,
        log_level="warning",
        ssl_certfile=settings.tls_cert,
        ssl_keyfile=settings.tls_key,
        timeout_graceful_shutdown=5,
        ws_max_size=1 << 20,
        lifespan="on",
        # No proxy sits in front of the agent: X-Forwarded-For must not let a client name
        # its own address (the auth throttle counts failures by it); and it costs a layer.
        proxy_headers=False,
        **_connection_options(settings),
    )
    throttle_agent_logs()  # after uvicorn.Config: it sets up uvicorn's log handlers
    server = _AgentServer(config, app.state.stop_children)
    url_file = settings.data_dir / AGENT_URL_FILE
    try:
        asyncio.run(_serve(server, sock, url, url_file))
    finally:
        forget_agent(url_file)
    return 0 if server.started else 1
