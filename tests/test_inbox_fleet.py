"""Many agents, one inbox on a real redis-server; and durability under load on both stores."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from console.adapters import AgentClient
from console.adapters.connect import INBOX_TOKEN_ENV
from console.bench.redis_server import RedisServer, redis_server_path, start_redis
from console.models import AgentEvent
from tests.conftest import AgentProcess, write_inbox_table
from tests.processes_helpers import BOUND

TOKEN = "fleet-token"
AgentFactory = Callable[..., AgentProcess]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may stop and restart."""
    if redis_server_path() is None:
        pytest.skip("redis-server is not installed (tests/system-packages.sh installs it)")
    server = start_redis(tmp_path / "redis")
    yield server
    server.stop()


def inbox_client(agent: AgentProcess, node: str) -> httpx.Client:
    headers = {**agent.headers, "Authorization": TOKEN, "Scirocco-Node-Source": node}
    return httpx.Client(base_url=agent.url, headers=headers, timeout=BOUND)


def push(client: httpx.Client, destination: str, body: bytes) -> httpx.Response:
    headers = {"Scirocco-Node-Destination": destination, "Content-Type": "text/plain"}
    return client.post("/messageQueue", content=body, headers=headers)


def start_fleet_agent(
    agent_factory: AgentFactory, config: Path, data_dir: Path | None = None
) -> AgentProcess:
    extra = ["--data-dir", str(data_dir)] if data_dir is not None else []
    return agent_factory(*extra, "--config", str(config), "--inbox-token", TOKEN)


def fleet_config(path: Path, store: str, name: str, namespace: str, **inbox: object) -> Path:
    return write_inbox_table(path, store, namespace=namespace, agent_name=name, **inbox)


def run_threads(*targets: Callable[[], None]) -> list[BaseException]:
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # reported in the main thread
                errors.append(exc)

        return run

    threads = [threading.Thread(target=guarded(t)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return errors


def test_two_agents_on_one_redis_deliver_each_of_1000_messages_exactly_once(
    agent_factory: AgentFactory, redis_server: RedisServer, tmp_path: Path
) -> None:
    agents = [
        start_fleet_agent(
            agent_factory,
            fleet_config(tmp_path / f"{name}.toml", redis_server.url, name, "fleet-1000"),
        )
        for name in ("host-a", "host-b")
    ]
    pushed: list[str] = []

    def push_from(agent: AgentProcess) -> Callable[[], None]:
        def run() -> None:
            with inbox_client(agent, "sender") as client:
                for i in range(500):
                    response = push(client, "ops", b"%d" % i)
                    assert response.status_code == 201, response.text
                    pushed.append(response.headers["Scirocco-Id"])

        return run

    assert not run_threads(*(push_from(agent) for agent in agents))
    assert len(set(pushed)) == 1000
    got: dict[str, list[str]] = {}

    def pull_from(agent: AgentProcess, quantity: int) -> Callable[[], None]:
        key = f"{agent.url} {quantity}"
        got[key] = []

        def run() -> None:
            with inbox_client(agent, "ops") as client:
                while batch := client.get("/messageQueue", params={"quantity": quantity}).json():
                    got[key] += [m["id"] for m in batch]
                    acked = client.patch("/messageQueue/ack", json={"ids": got[key][-len(batch) :]})
                    assert len(acked.json()["acked"]) == len(batch), acked.text

        return run

    errors = run_threads(*(pull_from(agent, q) for agent in agents for q in (1, 4)))
    assert not errors, errors
    everything = [i for ids in got.values() for i in ids]
    assert sum(bool(ids) for ids in got.values()) >= 3, f"no race: {got.keys()}"
    assert len(everything) == len(set(everything)) == 1000
    assert set(everything) == set(pushed)
    with inbox_client(agents[1], "ops") as client:
        listed = client.get("/messages", params={"limit": 2000}).json()
    assert {m["status"] for m in listed} == {"processed"}
    by_agent = {
        name: sum(m["accepted_by"] == name for m in listed) for name in ("host-a", "host-b")
    }
    assert by_agent == {"host-a": 500, "host-b": 500}
    # The CLI shows which agent took each message.
    shown = subprocess.run(
        [sys.executable, "-m", "console", "inbox", "list", "--agent", agents[0].url],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, INBOX_TOKEN_ENV: TOKEN},
    )
    assert shown.returncode == 0, shown.stderr
    header, *rows = shown.stdout.splitlines()
    assert header.split()[:2] == ["ID", "CREATED"] and "AGENT" in header.split()
    assert len(rows) == 500  # the listing's default limit
    assert {"host-a", "host-b"} <= {word for row in rows for word in row.split()}


def test_deliveries_held_by_a_killed_agent_come_back_after_the_visibility_timeout(
    agent_factory: AgentFactory, redis_server: RedisServer, tmp_path: Path
) -> None:
    configs = [
        fleet_config(
            tmp_path / f"{name}.toml", redis_server.url, name, "fleet-kill", visibility_timeout=1
        )
        for name in ("host-a", "host-b")
    ]
    doomed, survivor = (start_fleet_agent(agent_factory, config) for config in configs)
    with inbox_client(doomed, "ops") as client:
        pushed = [push(client, "ops", b"%d" % i).headers["Scirocco-Id"] for i in range(5)]
        held = client.get("/messageQueue", params={"quantity": 3}).json()
        pulled_at = time.time()
    assert [m["id"] for m in held] == pushed[:3]
    doomed.process.send_signal(signal.SIGKILL)
    assert doomed.process.wait(10) == -signal.SIGKILL
    with inbox_client(survivor, "ops") as client:
        first = client.get("/messageQueue", params={"quantity": 10}).json()
        assert [m["id"] for m in first] == pushed[3:]  # the held ones are still out
        assert len(client.patch("/messageQueue/ack", json={"ids": pushed[3:]}).json()["acked"]) == 2
        deadline = time.monotonic() + BOUND
        while not (again := client.get("/messageQueue", params={"quantity": 10}).json()):
            assert time.monotonic() < deadline, "the killed agent's deliveries never came back"
            time.sleep(0.05)
        assert time.time() >= pulled_at + 1 - 0.05, "redelivered before the visibility timeout"
        assert [(m["id"], m["tries"]) for m in again] == [(i, 2) for i in pushed[:3]]
        acked = client.patch("/messageQueue/ack", json={"ids": pushed[:3]}).json()["acked"]
        assert [m["id"] for m in acked] == pushed[:3]


def test_a_lost_redis_answers_503_and_the_agent_reconnects(
    agent_factory: AgentFactory, own_redis: RedisServer, tmp_path: Path
) -> None:
    config = fleet_config(tmp_path / "a.toml", own_redis.url, "host-a", "lost")
    agent = start_fleet_agent(agent_factory, config)
    with inbox_client(agent, "ops") as client:
        kept = push(client, "ops", b"before").headers["Scirocco-Id"]
        own_redis.stop()
        for request in (
            lambda: push(client, "ops", b"while away"),
            lambda: client.get("/messageQueue"),
            lambda: client.get(f"/messages/{kept}"),
            lambda: client.get("/messages"),
        ):
            started = time.monotonic()
            answer = request()
            assert answer.status_code == 503, answer.text
            assert "Redis" in answer.json()["error"]["message"]
            assert time.monotonic() - started < 5, "a 503 must come fast, not after a hang"
        own_redis.start()
        assert agent.process.poll() is None
        deadline = time.monotonic() + BOUND
        while (pulled := client.get("/messageQueue")).status_code == 503:
            assert time.monotonic() < deadline, "never reconnected"
            time.sleep(0.05)
        assert (pulled.status_code, pulled.headers["Scirocco-Id"]) == (200, kept)


def test_a_redis_restart_under_load_loses_no_acknowledged_message(
    agent_factory: AgentFactory, own_redis: RedisServer, tmp_path: Path
) -> None:
    config = fleet_config(tmp_path / "a.toml", own_redis.url, "host-a", "restart")
    agent = start_fleet_agent(agent_factory, config)
    pushed: set[str] = set()
    acked: set[str] = set()
    refused: list[int] = []
    restarted = threading.Event()
    done = threading.Event()

    def pusher(k: int) -> Callable[[], None]:
        def run() -> None:
            with inbox_client(agent, f"pusher-{k}") as client:
                after = 0
                while after < 30:  # keep going until well after the restart
                    response = push(client, "ops", b"load")
                    if response.status_code == 201:
                        pushed.add(response.headers["Scirocco-Id"])
                        after += restarted.is_set()
                    else:
                        refused.append(response.status_code)

        return run

    def acker() -> None:
        with inbox_client(agent, "ops") as client:
            while not done.is_set():
                batch = client.get("/messageQueue", params={"quantity": 10})
                if batch.status_code != 200:
                    refused.append(batch.status_code)
                    continue
                ids = [m["id"] for m in batch.json()]
                if not ids:
                    continue
                answer = client.patch("/messageQueue/ack", json={"ids": ids})
                if answer.status_code == 200:
                    acked.update(m["id"] for m in answer.json()["acked"])
                else:
                    refused.append(answer.status_code)

    def restarter() -> None:
        deadline = time.monotonic() + BOUND
        while len(acked) < 50:
            assert time.monotonic() < deadline, "no load before the restart"
            time.sleep(0.01)
        own_redis.restart(signal.SIGKILL)  # as a crash: only what was fsynced is kept
        restarted.set()

    pushers = [pusher(k) for k in range(3)]

    def load() -> None:
        errors = run_threads(*pushers, restarter)
        done.set()
        assert not errors, errors

    errors = run_threads(load, acker)
    assert not errors, errors
    assert set(refused) <= {503}, f"answers other than 503 while Redis was away: {refused}"
    with inbox_client(agent, "ops") as client:
        kept = {
            m["id"]: m["status"] for m in client.get("/messages", params={"limit": 100000}).json()
        }
    assert pushed <= set(kept), f"{len(pushed - set(kept))} messages that got a 201 were lost"
    assert all(kept[i] == "processed" for i in acked), "an acknowledged ack was lost"
    assert len(acked) > 50


@pytest.mark.parametrize("clients", [8])
def test_pushes_and_acks_survive_kill_9_under_concurrent_clients(
    agent_factory: AgentFactory, inbox_store: str, tmp_path: Path, clients: int
) -> None:
    """Group commit shares commits between clients; every answered push and ack is on disk."""
    config = fleet_config(tmp_path / "a.toml", inbox_store, "host-a", "kill-8")
    data_dir = tmp_path / "data"
    agent = start_fleet_agent(agent_factory, config, data_dir)
    pushed: set[str] = set()
    acked: set[str] = set()
    cycles = [0]

    def client_loop(k: int) -> Callable[[], None]:
        def run() -> None:
            node = f"client-{k}"
            with inbox_client(agent, node) as client:
                try:
                    while True:
                        response = push(client, node, b"%d" % k)
                        if response.status_code != 201:
                            return
                        pushed.add(response.headers["Scirocco-Id"])
                        pulled = client.get("/messageQueue")
                        answer = client.patch(f"/messageQueue/{pulled.headers['Scirocco-Id']}/ack")
                        if answer.status_code != 200:
                            return
                        acked.add(answer.headers["Scirocco-Id"])
                        cycles[0] += 1
                except httpx.TransportError:  # the agent is gone: what was answered counts
                    return

        return run

    def killer() -> None:
        deadline = time.monotonic() + BOUND
        while cycles[0] < 40 * clients:
            assert time.monotonic() < deadline, f"only {cycles[0]} cycles"
            time.sleep(0.005)
        agent.process.send_signal(signal.SIGKILL)

    errors = run_threads(*(client_loop(k) for k in range(clients)), killer)
    assert not errors, errors
    assert agent.process.wait(10) == -signal.SIGKILL
    again = start_fleet_agent(agent_factory, config, data_dir)
    with inbox_client(again, "reader") as client:
        kept = {
            m["id"]: m["status"] for m in client.get("/messages", params={"limit": 100000}).json()
        }
    assert pushed <= set(kept), f"{len(pushed - set(kept))} pushes answered 201 were lost"
    assert all(kept[i] == "processed" for i in acked), "an answered ack was lost"
    assert len(acked) >= 40 * clients


async def test_a_console_on_one_agent_sees_what_is_done_through_another(
    agent_factory: AgentFactory, redis_server: RedisServer, tmp_path: Path
) -> None:
    """An alert raised on host A, pulled and acked through host B: A's console sees it all."""
    first, second = (
        start_fleet_agent(
            agent_factory,
            fleet_config(tmp_path / f"{name}.toml", redis_server.url, name, "fleet-events"),
        )
        for name in ("host-a", "host-b")
    )
    async with (
        AgentClient(first.endpoint(token=TOKEN)) as watcher,
        AgentClient(second.endpoint(token=TOKEN)) as operator,
    ):
        operator.inbox.node_id = "ops"
        events = watcher.events(("message",))
        try:
            assert (await asyncio.wait_for(anext(events), BOUND)).topic == "hello"
            pushed = await operator.inbox.push("ops", {"alert": "disk full"}, topic="alert.disk")
            seen = [await next_event_about(events, pushed.id)]
            pulled = await operator.inbox.pull()
            assert pulled is not None and pulled.id == pushed.id
            await operator.inbox.ack(pushed.id)
            while seen[-1]["status"] != "processed":
                seen.append(await next_event_about(events, pushed.id))
            assert [e["status"] for e in seen] == ["pending", "processing", "processed"]
            assert {e["accepted_by"] for e in seen} == {"host-b"}
            assert seen[0]["size"] == len(b'{"alert": "disk full"}')
            await operator.inbox.delete(pushed.id)
            deleted = await asyncio.wait_for(anext(events), BOUND)
            assert (deleted.topic, deleted.data) == ("message.deleted", {"id": pushed.id})
        finally:
            await events.aclose()


async def next_event_about(events: AsyncIterator[AgentEvent], message_id: str) -> dict:
    while True:
        event = await asyncio.wait_for(anext(events), BOUND)
        if event.topic == "message" and event.data.get("id") == message_id:
            return event.data
