"""One console over several real agents: merged rows, counts, actions routed, a death and return."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from console.adapters.changes import Change, Removed, Resync, Upsert
from console.adapters.connect import ExistingAgent
from console.adapters.errors import NotFound, Unavailable
from console.adapters.fleet import Fleet, FleetCounts, FleetProcess
from console.adapters.fleet_actions import control_type, run_script
from console.models import ConnectionState, ProcessState
from tests.conftest import AgentProcess
from tests.fleet_helpers import (
    INBOX_TOKEN,
    add_processes,
    connectors,
    counts_reach,
    fleet_app,
    start_fleet_agents,
    until,
)
from tests.ssh_server import SshServer

NAMES = ("web1", "web2", "db1")


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return fleet_app(tmp_path / "shop")


@pytest.fixture
def agents(agent_factory: Callable[..., AgentProcess], tmp_path: Path, app: Path):
    """Three agents, each with two ``web`` processes and one ``worker`` (same slugs on each)."""
    started = start_fleet_agents(agent_factory, len(NAMES), tmp_path)
    for agent in started:
        add_processes(agent, app, 2, "web")
        add_processes(agent, app, 1, "worker")
    return dict(zip(NAMES, started, strict=True))


class MergedView:
    """What a pane in "all" scope would show: the fleet's watch() applied to a dict."""

    def __init__(self) -> None:
        self.rows: dict[str, FleetProcess] = {}
        self.resyncs = 0

    def apply(self, change: Change[FleetProcess]) -> None:
        match change:
            case Resync(items):
                self.rows = {row.key: row for row in items}
                self.resyncs += 1
            case Upsert(row):
                self.rows[row.key] = row
            case Removed(key):
                self.rows.pop(str(key), None)

    def of(self, context: str) -> list[FleetProcess]:
        return [row for row in self.rows.values() if row.context == context]


async def follow(fleet: Fleet, view: MergedView) -> None:
    async for change in fleet.watch():
        view.apply(change)


def all_connected(counts: FleetCounts) -> bool:
    return counts.connected == counts.agents


async def test_rows_come_from_every_agent_tagged_with_their_context(
    agents: dict[str, AgentProcess],
) -> None:
    async with Fleet(connectors(agents)) as fleet:
        view = MergedView()
        reader = asyncio.create_task(follow(fleet, view))
        counts = await counts_reach(fleet, all_connected)
        assert (counts.connected, counts.offline, counts.fatal) == (3, 0, 0)
        await until(lambda: len(view.rows) == 9, why="nine rows")
        for name in NAMES:
            rows = view.of(name)
            assert sorted(row.status.process_type for row in rows) == ["web", "web", "worker"]
            assert all(row.online for row in rows)
        # The same slug lives on every agent; the fleet keys tell them apart.
        assert {key.split("/", 1)[0] for key in view.rows} == set(NAMES)
        assert counts.line() == "3 agents: 3 up · 0 fatal · 0 alerts"
        reader.cancel()


async def test_a_restart_reaches_the_rows_own_agent(agents: dict[str, AgentProcess]) -> None:
    async with Fleet(connectors(agents)) as fleet:
        view = MergedView()
        reader = asyncio.create_task(follow(fleet, view))
        await counts_reach(fleet, all_connected)
        await until(
            lambda: sum(r.status.state is ProcessState.RUNNING for r in view.rows.values()) == 9,
            why="all nine running",
        )
        row = next(r for r in view.of("web2") if r.status.process_type == "worker")
        before = {key: r.status.restarts for key, r in view.rows.items()}
        await fleet.client(row.context).processes.restart(row.status.slug)
        # The restart shows up on web2's row (through the merged stream), and nowhere else.
        await until(
            lambda: (
                view.rows[row.key].status.restarts == before[row.key] + 1
                and view.rows[row.key].status.state is ProcessState.RUNNING
            ),
            why="web2's worker restarted",
        )
        others = {k: r.status.restarts for k, r in view.rows.items() if k != row.key}
        assert others == {k: v for k, v in before.items() if k != row.key}
        with pytest.raises(NotFound, match="no context 'nowhere'"):
            fleet.client("nowhere")
        reader.cancel()


async def test_a_killed_agent_goes_offline_the_others_stay_live_and_it_comes_back(
    agents: dict[str, AgentProcess],
    agent_factory: Callable[..., AgentProcess],
    tmp_path: Path,
    app: Path,
) -> None:
    async with Fleet(connectors(agents)) as fleet:
        view = MergedView()
        reader = asyncio.create_task(follow(fleet, view))
        await counts_reach(fleet, all_connected)
        await until(lambda: len(view.rows) == 9, why="nine rows")
        dead = agents["db1"]
        dead.stop(signal.SIGKILL)
        counts = await counts_reach(fleet, lambda c: c.offline == 1)
        assert (counts.connected, counts.offline) == (2, 1)
        status = {s.context: s for s in fleet.statuses()}
        assert status["db1"].state is ConnectionState.OFFLINE and status["db1"].reason
        # Its rows stay, greyed (online False); the others' rows are live.
        await until(lambda: not any(r.online for r in view.of("db1")), why="db1 rows stale")
        assert len(view.of("db1")) == 3
        assert all(r.online for r in view.rows.values() if r.context != "db1")
        with pytest.raises(Unavailable, match="db1: not connected"):
            fleet.client("db1")
        # The others still answer, and their changes still arrive.
        slug = view.of("web1")[0].status.slug
        restarts = view.rows[f"web1/{slug}"].status.restarts
        await fleet.client("web1").processes.restart(slug)
        await until(
            lambda: view.rows[f"web1/{slug}"].status.restarts == restarts + 1,
            why="web1 still live",
        )
        # The agent comes back on its port and data dir: the fleet reconnects by itself, and
        # shows what the new agent has (its processes died with the old one), live.
        port = dead.url.rsplit(":", 1)[1]
        data_dir = tmp_path / f"agent-data-{NAMES.index('db1')}"  # as agent_factory named it
        back = agent_factory(
            "--port", port, "--data-dir", str(data_dir), "--inbox-token", INBOX_TOKEN
        )
        counts = await counts_reach(fleet, all_connected, bound=30)
        assert counts.offline == 0
        await until(lambda: view.of("db1") == [], why="db1's stale rows replaced")
        add_processes(back, app, 1, "web")
        await until(
            lambda: [r.status.slug for r in view.of("db1") if r.online] == ["shop.web.0"],
            why="db1 live again",
        )
        reader.cancel()


async def test_a_dead_or_silent_context_never_delays_the_others_and_a_host_joins_at_run_time(
    agents: dict[str, AgentProcess], tmp_path: Path, app: Path
) -> None:
    from console.adapters.base import Endpoint

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts the connection, never answers a request
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    # A port nothing listens on: refused at once, retried with backoff for ever.
    refused = ExistingAgent(Endpoint("http://127.0.0.1:9"))
    first = {
        "web1": connectors(agents)["web1"],
        "gone": refused,
        "mute": ExistingAgent(Endpoint(f"http://127.0.0.1:{port}")),
    }
    try:
        async with Fleet(first) as fleet:
            counts = await counts_reach(fleet, lambda c: c.connected == 1 and c.offline == 1)
            # web1 is up and its rows are in while the silent agent is still being waited for.
            assert counts.connecting == 1 and counts.agents == 3
            assert {s.context: s.state for s in fleet.statuses()}["mute"] is (
                ConnectionState.CONNECTING
            )
            assert len([r for r in fleet.rows() if r.context == "web1"]) == 3
            assert "gone" in {s.context for s in fleet.statuses() if s.reason}
            fleet.add("db1", connectors(agents)["db1"])
            await counts_reach(fleet, lambda c: c.connected == 2)
            await until(lambda: len([r for r in fleet.rows() if r.context == "db1"]) == 3)
            with pytest.raises(ValueError, match="already"):
                fleet.add("db1", refused)
            await fleet.remove("gone")
            await fleet.remove("mute")
            await counts_reach(fleet, lambda c: c.agents == 2 and c.offline == 0)
    finally:
        server.close()


async def test_fatal_processes_and_their_alerts_are_counted_over_the_fleet(
    agents: dict[str, AgentProcess], app: Path
) -> None:
    async with Fleet(connectors(agents)) as fleet:
        await counts_reach(fleet, all_connected)
        add_processes(agents["web1"], app, 1, "crash")
        add_processes(agents["db1"], app, 1, "crash")
        counts = await counts_reach(fleet, lambda c: c.fatal == 2 and c.waiting == 2)
        assert counts.connected == 3
        assert counts.line() == "3 agents: 3 up · 2 fatal · 2 alerts"
        # Acking one alert on its own agent lowers the fleet's count.
        inbox = fleet.client("db1").inbox
        message = await inbox.pull()
        assert message is not None and message.topic == "alert.process.fatal"
        await inbox.ack(message.id)
        await counts_reach(fleet, lambda c: c.waiting == 1)


async def test_restart_a_type_everywhere_gives_one_result_per_host(
    agents: dict[str, AgentProcess], scripts_dir: Path
) -> None:
    async with Fleet(connectors(agents)) as fleet:
        await counts_reach(fleet, all_connected)
        agents["web2"].stop(signal.SIGKILL)
        await counts_reach(fleet, lambda c: c.offline == 1)
        results = await control_type(fleet, "restart", "web")
        by_host = {r.context: r for r in results}
        assert [r.context for r in results] == list(NAMES)
        for name in ("web1", "db1"):
            assert by_host[name].ok
            statuses = by_host[name].value or []
            assert sorted(s.slug for s in statuses) == ["shop.web.0", "shop.web.1"]
            assert all(s.restarts == 1 for s in statuses)
        assert not by_host["web2"].ok and "not connected" in str(by_host["web2"].error)
        nothing = await control_type(fleet, "restart", "nosuchtype", ["web1"])
        assert nothing[0].ok and nothing[0].value == []
        # A script the agents do not have: each host says so in its own result.
        ran = await run_script(fleet, "nope.sh", {}, ["web1", "db1"])
        assert [r.ok for r in ran] == [False, False]
        assert all("nope.sh" in str(r.error) or "404" in str(r.error) for r in ran)


async def test_an_ssh_tunnel_context_sits_beside_local_agents(
    agents: dict[str, AgentProcess], sshd: SshServer, tmp_path: Path, app: Path
) -> None:
    from console.adapters.ssh import Host, SshHosts
    from console.adapters.ssh_agent import SshAgent
    from tests.ssh_server import THIS_CODE, _free_port

    ssh = SshHosts(known_hosts=sshd.known_hosts, client_keys=[sshd.client_key], config=None)
    tunnel = SshAgent(
        ssh,
        Host("testhost", "127.0.0.1", sshd.port, sshd.user),
        remote_port=_free_port(),
        remote_command=f"{THIS_CODE} -m console",  # the code under test, on the SSH side too
        agent_args=["--data-dir", str(tmp_path / "remote"), "--inbox-token", INBOX_TOKEN],
    )
    members = {**connectors({"web1": agents["web1"]}), "remote": tunnel}
    try:
        async with Fleet(members) as fleet:
            # Reached through the tunnel (its inbox may want credentials this connector has
            # not: degraded then, never offline).
            await until(
                lambda: (
                    {s.context: s.state for s in fleet.statuses()}["remote"]
                    in (ConnectionState.CONNECTED, ConnectionState.DEGRADED)
                ),
                bound=60,
                why="the tunnelled agent answers",
            )
            remote = fleet.client("remote").processes
            await remote.create("shop", "web.0", "web", str(app))
            await until(lambda: any(r.context == "remote" for r in fleet.rows()), why="rows")
            results = await control_type(fleet, "restart", "web")
            assert [(r.context, r.ok) for r in results] == [("web1", True), ("remote", True)]
            assert [s.slug for s in results[1].value or []] == ["shop.web.0"]
    finally:
        if tunnel.started_pid is not None:
            with contextlib.suppress(ProcessLookupError):  # it may have died: the log says why
                os.kill(tunnel.started_pid, signal.SIGTERM)


async def test_an_agent_whose_inbox_refuses_us_is_degraded_not_offline(
    agents: dict[str, AgentProcess],
) -> None:
    wrong = ExistingAgent(agents["web2"].endpoint(token="not-the-inbox-token"))
    async with Fleet({**connectors({"web1": agents["web1"]}), "web2": wrong}) as fleet:
        counts = await counts_reach(fleet, lambda c: c.connected == 1 and c.degraded == 1)
        assert counts.line() == "2 agents: 1 up 1 degraded · 0 fatal · 0 alerts"
        status = {s.context: s for s in fleet.statuses()}["web2"]
        assert status.reason.startswith("inbox:")
        # Its processes are live all the same, and actions reach it.
        await until(lambda: len([r for r in fleet.rows() if r.context == "web2"]) == 3)
        assert all(r.online for r in fleet.rows())
        assert len(await fleet.client("web2").processes.list()) == 3
