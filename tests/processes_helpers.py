"""Helpers shared by the process-service tests: apps, archives, a file server, a TCP proxy."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import io
import json
import tarfile
import threading
import time
import zipfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect as ws_connect

from console.agent.children import Children
from console.agent.events import EventBus
from console.agent.processes import ProcessService, ProcessSpec
from console.models import ProcessState, ProcessStatus, RestartPolicy
from tests.conftest import AgentProcess

# A fast policy: tests see backoff, fatal and SIGKILL in fractions of a second.
FAST = {
    "first_delay": 0.05,
    "max_delay": 0.5,
    "stable_after": 9.0,  # generous: under load a run of `exit 3` took over 1 s
    "max_quick_failures": 3,
    "stop_grace": 0.5,
}

BOUND = 15.0
"""Seconds a state may take to be reached: a generous correctness bound, never a timing."""


def write_app(directory: Path, procfile: dict[str, str], **files: str) -> Path:
    """A folder with a Procfile of ``type: command`` lines and other small files."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["# written by the tests", ""] + [f"{k}: {v}" for k, v in procfile.items()]
    (directory / "Procfile").write_text("\n".join(lines) + "\n")
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def zip_folder(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(folder.rglob("*")):
            zipped.write(path, path.relative_to(folder).as_posix())
    return archive


def tar_folder(folder: Path, archive: Path, mode: str = "w:gz") -> Path:
    with tarfile.open(archive, mode) as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, path.relative_to(folder).as_posix(), recursive=False)
    return archive


def tar_with(archive: Path, *members: tuple[tarfile.TarInfo, bytes | None]) -> Path:
    """A tar.gz of hand-made members (data only for regular files)."""
    with tarfile.open(archive, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return archive


def tar_member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o644
    return info


def write_config(path: Path, restart: dict[str, float] | None = None, **agent: Any) -> Path:
    """A TOML config with ``[agent]`` settings and an ``[agent.restart]`` policy."""
    lines = ["[agent]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in agent.items()]
    lines += ["", "[agent.restart]"]
    lines += [f"{key} = {value}" for key, value in (restart or FAST).items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def create_body(app: str, node: str, source_url: str, process_type: str = "web", **extra: Any):
    return {
        "app": app,
        "node": node,
        "process_type": process_type,
        "source_url": source_url,
        **extra,
    }


def wait_status(
    agent: AgentProcess,
    slug: str,
    until: Callable[[dict[str, Any]], bool],
    bound: float = BOUND,
) -> dict[str, Any]:
    """Poll ``GET /process-status/SLUG`` until ``until(status)``; that status."""
    deadline = time.monotonic() + bound
    url = agent.url
    while True:
        status = httpx.get(f"{url}/process-status/{slug}", headers=agent.headers, timeout=10).json()
        if until(status):
            return status
        assert time.monotonic() < deadline, f"{slug} never got there; last: {status}"
        time.sleep(0.03)


def in_state(*states: str) -> Callable[[dict[str, Any]], bool]:
    return lambda status: status["state"] in states


class EventsSocket:
    """The agent's ``/events`` WebSocket, read in a test thread."""

    def __init__(self, agent: AgentProcess, topics: str = "process") -> None:
        ws_url = agent.url.replace("http", "ws", 1) + f"/events?topics={topics}"
        self._stack = contextlib.ExitStack()
        self.ws = self._stack.enter_context(
            ws_connect(ws_url, additional_headers=agent.headers, open_timeout=10)
        )
        hello = json.loads(self.ws.recv(timeout=10))
        assert hello == {"topic": "hello", "data": {}}

    def states_of(
        self, slug: str, until: Callable[[dict[str, Any]], bool], bound: float = BOUND
    ) -> list[dict[str, Any]]:
        """Every status of ``slug`` pushed, up to and including the one ``until`` accepts."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + bound
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{slug}: no end in {[s['state'] for s in seen]}"
            event = json.loads(self.ws.recv(timeout=remaining))
            if event["topic"] == "process" and event["data"]["slug"] == slug:
                seen.append(event["data"])
                if until(event["data"]):
                    return seen

    def close(self) -> None:
        self._stack.close()


class FileServer:
    """A tiny HTTP server on 127.0.0.1 serving fixed bodies with fixed content types."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        files = self.files

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path not in files:
                    self.send_error(404)
                    return
                body, content_type = files[self.path]
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def serve(self, path: str, body: bytes, content_type: str) -> str:
        self.files[path] = (body, content_type)
        return self.url + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class TcpProxy:
    """Forwards 127.0.0.1:port to a target; ``kill`` drops every connection at once."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(1 << 16):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def kill(self) -> None:
        """Stop listening and reset every connection, with no WebSocket close frame."""
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()


# In-process service: quicker than an agent for unit-level tests.


@contextlib.asynccontextmanager
async def process_service(
    data_dir: Path, **policy: float
) -> AsyncIterator[tuple[ProcessService, EventBus]]:
    children = Children()
    await children.start()
    events = EventBus()
    service = ProcessService(data_dir, children, events, RestartPolicy(**(FAST | policy)))
    try:
        yield service, events
    finally:
        await service.close()
        await children.close()


def spec_for(folder: Path, node: str = "web.0", process_type: str = "web", **env: str):
    return ProcessSpec("app", node, process_type, str(folder), dict(env))


async def next_state(
    subscription: Any, slug: str, until: Callable[[ProcessStatus], bool], bound: float = BOUND
) -> list[ProcessStatus]:
    """Statuses of ``slug`` from an EventBus subscription, up to the one ``until`` accepts."""
    seen: list[ProcessStatus] = []

    async def collect() -> None:
        async for event in subscription:
            if event.topic == "process" and event.data["slug"] == slug:
                status = ProcessStatus.from_wire(event.data)
                seen.append(status)
                if until(status):
                    return

    try:
        await asyncio.wait_for(collect(), bound)
    except TimeoutError:
        raise AssertionError(f"{slug}: no end in {[s.state.value for s in seen]}") from None
    return seen


def state_is(*states: ProcessState) -> Callable[[ProcessStatus], bool]:
    return lambda status: status.state in states
