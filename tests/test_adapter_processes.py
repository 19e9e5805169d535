"""The processes adapter and the events stream, against our agent and a compatible-only server."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import threading
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from console.adapters import AgentClient, Endpoint
from console.adapters.errors import BackendError, NotFound
from console.adapters.watch import agent_events
from console.agent import processes_routes
from console.agent.children import Children
from console.agent.events import EventBus
from console.agent.processes import ProcessService
from console.models import AgentEvent, LogBatch, LogEvent, LogGap, ProcessState, Stream
from tests.conftest import AgentProcess, start_agent
from tests.processes_helpers import BOUND, TcpProxy, write_app, write_config
from tests.test_agent_lifecycle import group_members

TICKER = 'i=0; while :; do echo "n $i"; i=$((i+1)); sleep 0.01; done'


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    home = tmp_path_factory.mktemp("agent")
    agent = start_agent(
        "--config",
        str(write_config(home / "config.toml")),
        "--data-dir",
        str(home / "data"),
        log=home / "agent.log",
    )
    yield agent
    assert agent.stop() == 0
    assert agent.process.stdout is not None
    agent.process.stdout.close()


@pytest.fixture
def node() -> str:
    return f"web.{uuid.uuid4().hex[:8]}"


async def states_until(
    events: AsyncIterator[AgentEvent], slug: str, *states: ProcessState
) -> list[dict]:
    """Process events of ``slug`` until one in ``states``."""
    seen: list[dict] = []

    async def collect() -> None:
        async for event in events:
            if event.topic == "process" and event.data["slug"] == slug:
                seen.append(event.data)
                if event.data["state"] in states:
                    return

    try:
        await asyncio.wait_for(collect(), BOUND)
    except TimeoutError:
        raise AssertionError(f"{slug}: no end in {[s['state'] for s in seen]}") from None
    return seen


async def lines_of(tail: AsyncIterator[LogEvent], count: int) -> list[LogEvent]:
    """Events of a tail until they hold ``count`` lines."""
    events: list[LogEvent] = []
    while sum(len(e.lines) for e in events if isinstance(e, LogBatch)) < count:
        events.append(await asyncio.wait_for(anext(tail), BOUND))
    return events


def assert_ticks(events: list[LogEvent], start: int) -> int:
    """Batches of the ticker, contiguous from ``start``: line ``seq`` reads ``n seq``."""
    position = start
    for event in events:
        assert isinstance(event, LogBatch), event
        assert event.seq == position, f"expected {position}, got {event.seq}"
        assert event.lines == [f"n {n}" for n in range(event.seq, event.end)]
        position = event.end
    return position


async def test_create_list_get_control_and_delete(agent: AgentProcess, tmp_path: Path, node: str):
    app = write_app(tmp_path / "app", {"web": "echo up; exec sleep 60"})
    slug = f"ad.{node}"
    async with AgentClient(agent.endpoint()) as client:
        info = await client.info()
        assert {"processes.control", "processes.cursor", "events"} <= info.features
        assert client.processes.controllable
        events = client.events(("process",))
        assert await anext(events) == AgentEvent("hello", {})

        created = await client.processes.create("ad", node, "web", str(app), {"X": "1"})
        assert (created.slug, created.app, created.node) == (slug, "ad", node)
        assert created.state is ProcessState.PENDING
        assert slug in [p.slug for p in await client.processes.list()]
        seen = await states_until(events, slug, ProcessState.RUNNING)
        assert [s["state"] for s in seen] == ["pending", "processing", "starting", "running"]
        status = await client.processes.get(slug)
        assert status.state is ProcessState.RUNNING
        assert status.pid == seen[-1]["pid"]
        assert status.process_type == "web"

        await client.processes.restart(slug)
        again = (await states_until(events, slug, ProcessState.RUNNING))[-1]
        assert again["pid"] != status.pid
        assert again["restarts"] == 1
        assert not group_members(status.pid)

        stopping = await client.processes.stop(slug)
        assert stopping.state in (ProcessState.STOPPING, ProcessState.STOPPED)
        await states_until(events, slug, ProcessState.STOPPED)
        assert (await client.processes.get(slug)).pid is None
        await client.processes.start(slug)
        started = (await states_until(events, slug, ProcessState.RUNNING))[-1]

        await client.processes.delete(slug)
        last: list[AgentEvent] = [await asyncio.wait_for(anext(events), BOUND)]
        while last[-1].topic != "process.deleted":
            last.append(await asyncio.wait_for(anext(events), BOUND))
        assert last[-1] == AgentEvent("process.deleted", {"slug": slug})
        assert [e.data["state"] for e in last[:-1]] == ["stopping"]
        assert not group_members(started["pid"])
        with pytest.raises(NotFound):
            await client.processes.get(slug)
        with pytest.raises(NotFound):
            await client.processes.delete(slug)
        with pytest.raises(NotFound):
            await client.processes.restart(slug)
        with pytest.raises(BackendError) as invalid:
            await client.processes.create("bad app", node, "web", str(app))
        assert invalid.value.status == 400
        await events.aclose()


async def test_tail_resumes_from_a_cursor_without_gap_or_duplicate(
    agent: AgentProcess, tmp_path: Path, node: str
) -> None:
    app = write_app(tmp_path / "app", {"web": TICKER})
    async with AgentClient(agent.endpoint()) as client:
        await client.info()
        await client.processes.create("tail", node, "web", str(app))
        slug = f"tail.{node}"
        first = client.processes.tail(slug, since=0)
        head = await lines_of(first, 20)
        await first.aclose()
        end = assert_ticks(head, 0)

        second = client.processes.tail(slug, since=end)
        rest = await lines_of(second, 20)
        await second.aclose()
        assert_ticks(rest, end)

        # A tail ends by itself once the process is deleted.
        last = client.processes.tail(slug, since=end)
        await anext(last)
        await client.processes.delete(slug)
        await asyncio.wait_for(_drain(last), BOUND)
        with pytest.raises(NotFound):
            await anext(client.processes.tail(slug))


async def _drain(tail: AsyncIterator[LogEvent]) -> None:
    async for _ in tail:
        pass


async def test_tail_resumes_after_the_connection_really_drops(
    agent: AgentProcess, tmp_path: Path, node: str
) -> None:
    app = write_app(tmp_path / "app", {"web": TICKER})
    proxy = await TcpProxy(httpx.URL(agent.url).port).start()
    async with AgentClient(
        Endpoint(f"http://127.0.0.1:{proxy.port}", agent_token=agent.token)
    ) as client:
        await client.info()
        await client.processes.create("drop", node, "web", str(app))
        tail = client.processes.tail(f"drop.{node}", since=0)
        before = await lines_of(tail, 30)

        # Reset every connection mid-stream; the port stays closed for a moment.
        await proxy.kill()
        second = TcpProxy(proxy.target_port)
        second.port = proxy.port

        async def reopen() -> None:
            await asyncio.sleep(0.4)
            await second.start()

        reopening = asyncio.create_task(reopen())
        after = await lines_of(tail, 100)
        await reopening
        await tail.aclose()
        await client.processes.delete(f"drop.{node}")
    assert second.connections >= 1, "the tail came back through the new proxy"
    assert proxy.connections >= 1
    assert_ticks(before + after, 0)


async def test_an_old_cursor_gives_a_gap_with_the_exact_count(
    agent: AgentProcess, tmp_path: Path, node: str
) -> None:
    total = 250_000  # 1.6 MB: past the ring's 1 MiB
    app = write_app(tmp_path / "app", {"web": f"seq 0 {total - 1}; exec sleep 60"})
    async with AgentClient(agent.endpoint()) as client:
        await client.info()
        await client.processes.create("ring", node, "web", str(app))
        slug = f"ring.{node}"
        deadline = asyncio.get_running_loop().time() + BOUND
        while (await client.processes.get(slug)).next_seq < total:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        tail = client.processes.tail(slug, since=0)
        gap = await anext(tail)
        assert isinstance(gap, LogGap)
        assert gap.seq == 0
        events = await lines_of(tail, total - gap.count)
        await tail.aclose()
        await client.processes.delete(slug)
    assert events[0].seq == gap.count
    lines = [line for e in events for line in e.lines]
    assert lines == [str(n) for n in range(gap.count, total)]


# A server with only the smartmob-compatible routes.


@contextlib.contextmanager
def smartmob_only_server(data_dir: Path) -> Iterator[str]:
    children = Children()
    service = ProcessService(data_dir, children, EventBus())
    extensions = ("/restart-", "/stop-", "/start-")
    compatible = [r for r in processes_routes.routes(service) if not r.path.startswith(extensions)]

    async def index(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "list": str(request.url_for("list_processes")),
                "create": str(request.url_for("create_process")),
            }
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await children.start()
        yield
        await service.close()
        await children.close()

    app = Starlette(routes=[Route("/", index), *compatible], lifespan=lifespan)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive(), "the server did not start"
            threading.Event().wait(0.01)
        yield url
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


async def test_against_a_plain_smartmob_server(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"web": "echo one; echo two >&2; echo three; exec sleep 60"})
    with smartmob_only_server(tmp_path / "data") as url:
        async with httpx.AsyncClient() as http:
            for action in ("restart", "stop", "start"):
                answer = await http.post(f"{url}/{action}-process/x.y")
                assert answer.status_code in (404, 405), "the server has no control routes"
        async with AgentClient(Endpoint(url)) as client:
            info = await client.info()
            assert info.features == frozenset()
            assert not client.processes.controllable
            created = await client.processes.create("old", "web.0", "web", str(app))
            assert created.state is ProcessState.PENDING
            for call in (client.processes.restart, client.processes.stop, client.processes.start):
                with pytest.raises(BackendError, match="no control routes"):
                    await call("old.web.0")
            with pytest.raises(NotFound):
                await anext(client.events())

            tail = client.processes.tail("old.web.0")
            events = await lines_of(tail, 3)
            await tail.aclose()
            assert [p.slug for p in await client.processes.list()] == ["old.web.0"]
            pid = (await client.processes.get("old.web.0")).pid
            await client.processes.delete("old.web.0")
            assert await client.processes.list() == []
    assert all(isinstance(e, LogBatch) and e.stream is Stream.STDOUT for e in events)
    assert [(e.seq, len(e.lines)) for e in events] == [(0, 1), (1, 1), (2, 1)]
    # Plain frames cannot say which stream a line came from: all three arrive, in some order.
    assert sorted(line for e in events for line in e.lines) == ["one", "three", "two"]
    assert pid is not None
    assert not group_members(pid)


async def test_an_events_stream_left_open_closes_cleanly_whatever_is_closed_first(
    agent: AgentProcess,
) -> None:
    """When the console quits, the event loop closes every async generator still open, in
    no set order. The stream must close cleanly after the generators it holds have been
    closed (a generator context manager inside it once made it raise on the terminal)."""
    opened: list[AsyncGenerator[object, None]] = []
    hooks = sys.get_asyncgen_hooks()

    def first_use(generator: AsyncGenerator[object, None]) -> None:
        opened.append(generator)
        if hooks.firstiter is not None:
            hooks.firstiter(generator)

    sys.set_asyncgen_hooks(firstiter=first_use, finalizer=hooks.finalizer)
    try:
        events = agent_events(agent.endpoint(), ("process",))
        assert await asyncio.wait_for(anext(events), BOUND) == AgentEvent("hello", {})
    finally:
        sys.set_asyncgen_hooks(*hooks)
    assert opened[0] is events
    for generator in reversed(opened):  # the innermost first: the order that broke it
        await generator.aclose()
