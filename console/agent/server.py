"""Serving the agent: bind, announce the URL once ready, stop everything on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import uvicorn

from console.agent.app import create_app
from console.agent.credentials import ensure_agent_token, make_private_dir, write_private_file
from console.config import AGENT_URL_FILE, AgentSettings, ConfigError, agent_registry

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


async def _announce_when_ready(server: uvicorn.Server, url: str, url_file: Path) -> None:
    while not server.started:
        if server.should_exit:
            return
        await asyncio.sleep(0.01)
    # Local clients of this user find the running agent (and its token beside it) here.
    write_private_file(url_file, f"{url} {os.getpid()}\n")
    register(url, url_file.parent)
    # The one line on stdout: whoever spawned us reads the URL from it.
    print(url, flush=True)
    log.info("agent ready at %s", url)


async def _serve(server: uvicorn.Server, sock: socket.socket, url: str, url_file: Path) -> None:
    announce = asyncio.create_task(_announce_when_ready(server, url, url_file))
    try:
        await server.serve(sockets=[sock])
    finally:
        announce.cancel()


def register(url: str, data_dir: Path) -> None:
    """Tell this user's clients where the agent at ``url`` keeps its token (its data dir)."""
    try:
        make_private_dir(agent_registry())
        record = {"url": url, "pid": os.getpid(), "data_dir": str(data_dir.resolve())}
        write_private_file(agent_registry() / f"{os.getpid()}.json", json.dumps(record))
    except OSError as exc:
        log.warning("cannot register the agent for local clients: %s", exc.strerror)


def _forget_url(url_file: Path) -> None:
    """Remove the URL file if it is still ours (another agent may have taken the data dir),
    and this agent's registry entry."""
    with contextlib.suppress(OSError, IndexError):
        if url_file.read_text().split()[-1] == str(os.getpid()):
            url_file.unlink()
    with contextlib.suppress(OSError):
        (agent_registry() / f"{os.getpid()}.json").unlink()


def announce_credentials(settings: AgentSettings) -> None:
    """Say on stderr who may use this agent (stdout carries only its URL)."""
    if settings.no_auth:
        log.warning(
            "--no-auth: every route is open to anyone who can reach %s (loopback only)",
            settings.host,
        )
        return
    token_file = settings.agent_token_file
    _, created = ensure_agent_token(token_file)
    print(
        f"opsconsole agent: clients authenticate with the agent token in {token_file}"
        f"{' (new)' if created else ''}: send it as 'Authorization: Bearer TOKEN'; "
        "opsconsole commands of this user read it by themselves",
        file=sys.stderr,
        flush=True,
    )
    if settings.open_families:
        log.warning(
            "open without credentials (loopback only): %s", ", ".join(settings.open_families)
        )


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
    )
    server = _AgentServer(config, app.state.stop_children)
    url_file = settings.data_dir / AGENT_URL_FILE
    try:
        asyncio.run(_serve(server, sock, url, url_file))
    finally:
        _forget_url(url_file)
    return 0 if server.started else 1
