"""The scripts adapter against our agent, and against a server with only the Jojo routes."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from console.adapters import AgentClient, Endpoint, NotFound, Unavailable
from console.agent import scripts_routes
from console.agent.children import Children
from console.agent.run_history import RunHistory
from console.agent.scripts import ScriptService
from console.models import RunFinished, RunOutput, RunStarted, RunWaiting, Stream
from tests.conftest import AgentProcess


async def test_lists_and_inspects_the_catalog(agent: AgentProcess) -> None:
    async with AgentClient(agent.endpoint()) as client:
        info = await client.info()
        assert {"scripts.stream", "scripts.history"} <= info.features
        names = [s.name for s in await client.scripts.list_scripts()]
        assert names == sorted(names)
        assert "deploy_web" in names
        echo = await client.scripts.get_script("echo")
        assert [p.name for p in echo.params] == ["text"]


async def test_stream_delivers_lines_while_the_script_still_runs(
    agent: AgentProcess, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    async with AgentClient(agent.endpoint()) as client:
        await client.info()
        assert client.scripts.streams
        events = client.scripts.stream_run("slow", {"go": str(go)})
        started = await anext(events)
        assert isinstance(started, RunStarted)
        assert started.run_id is not None
        first = await anext(events)
        # The script is blocked until `go` exists: this line came while it was running.
        assert first == RunOutput(Stream.STDOUT, "first line")
        assert not go.exists()
        go.touch()
        rest = [event async for event in events]
    assert rest[0] == RunOutput(Stream.STDOUT, "last line")
    assert isinstance(rest[-1], RunFinished)
    assert rest[-1].retcode == 0


async def test_stream_of_a_failing_script_ends_with_its_retcode(agent: AgentProcess) -> None:
    async with AgentClient(agent.endpoint()) as client:
        await client.info()
        events = [e async for e in client.scripts.stream_run("fail", {})]
    assert RunOutput(Stream.STDERR, "bad thing") in events
    assert events[-1].retcode == 3  # type: ignore[union-attr]


async def test_second_run_of_a_locked_script_says_it_waits(
    agent: AgentProcess, tmp_path: Path
) -> None:
    out = str(tmp_path / "times")
    async with AgentClient(agent.endpoint()) as client:
        await client.info()
        first = client.scripts.stream_run("locked", {"label": "a", "out": out})
        await anext(first)  # started: it holds the lock now
        second = [e async for e in client.scripts.stream_run("locked", {"label": "b", "out": out})]
        rest_of_first = [e async for e in first]
    assert isinstance(second[0], RunWaiting)
    assert isinstance(rest_of_first[-1], RunFinished)


async def test_history_and_run_record(agent: AgentProcess) -> None:
    async with AgentClient(agent.endpoint()) as client:
        await client.info()
        result = await client.scripts.run("echo", {"text": "remember me"})
        assert result.stdout == ["remember me"]
        [record] = await client.scripts.history("echo")
        full = await client.scripts.run_record(record.id)
    assert full.params == {"text": "remember me"}
    assert (Stream.STDOUT, "remember me") in full.output


async def test_errors_map_to_the_adapter_hierarchy(agent: AgentProcess) -> None:
    async with AgentClient(agent.endpoint()) as client:
        await client.info()
        with pytest.raises(NotFound, match="nope"):
            await client.scripts.get_script("nope")
        with pytest.raises(NotFound):
            [e async for e in client.scripts.stream_run("nope", {})]
    async with AgentClient(Endpoint(f"http://127.0.0.1:{free_port()}")) as client:
        with pytest.raises(Unavailable):
            await client.info()


# A server that has only the compatible routes: no index, no streaming, no history.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def jojo_only_server(scripts_dir: Path, data_dir: Path) -> Iterator[str]:
    data_dir.mkdir()
    children = Children()
    service = ScriptService(scripts_dir, RunHistory(data_dir / "h.db"), children)
    compatible = [
        r
        for r in scripts_routes.routes(service)
        if isinstance(r, Route) and not r.path.startswith("/runs")
    ]
    server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=compatible), log_level="warning", lifespan="off")
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    try:
        while not server.started:
            threading.Event().wait(0.01)
        yield url
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


async def test_against_a_plain_jojo_server_runs_fall_back_to_blocking(
    scripts_dir: Path, tmp_path: Path
) -> None:
    with jojo_only_server(scripts_dir, tmp_path / "data") as url:
        async with AgentClient(Endpoint(url)) as client:
            info = await client.info()
            assert info.features == frozenset()
            assert not client.scripts.streams
            events = [e async for e in client.scripts.stream_run("fail", {})]
            assert await client.scripts.history("fail") == []
            names = {s.name for s in await client.scripts.list_scripts()}
    assert isinstance(events[0], RunStarted)
    assert events[1:3] == [RunOutput(Stream.STDOUT, "out"), RunOutput(Stream.STDERR, "bad thing")]
    assert isinstance(events[-1], RunFinished)
    assert events[-1].retcode == 3
    assert "echo" in names
