"""The console in "all" scope with its own local agent, alone or beside three others, at
80x24: the summary names the local agent apart, keys that mean nothing there are not offered
(footer and palette), the Inbox's filter line fits, CPU and memory come from every agent,
an open log greys with its agent and comes back, and ctrl+q ends promptly with four
contexts, one of them killed."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Footer

from console.adapters.connect import AgentConnector
from console.tui.app import OpsConsoleApp
from console.tui.inbox.fleet_scope import FLEET_PLACEHOLDER
from console.tui.kit.fleet_rows import OFFLINE_WORDS
from tests.conftest import AgentProcess
from tests.fleet_helpers import add_processes, connectors, fleet_app, start_fleet_agents
from tests.test_tui_fleet import choose_scope, fleet_table, summary
from tests.test_tui_processes import header
from tests.tui_helpers import processes_agent, select_row, wait_for

NAMES = ("web1", "web2", "db1")
SIZE = (80, 24)
QUIT_BOUND = 3.0
"""Seconds ctrl+q may take with four contexts, one dead (a generous bound, not a timing)."""


@pytest.fixture
def agents(agent_factory: Callable[..., AgentProcess], tmp_path: Path) -> dict[str, AgentProcess]:
    return dict(zip(NAMES, start_fleet_agents(agent_factory, len(NAMES), tmp_path), strict=True))


def local_console(tmp_path: Path, agents: dict[str, AgentProcess]) -> OpsConsoleApp:
    """The console on its own spawned local agent, knowing ``agents`` as config contexts."""
    more: dict[str, AgentConnector] = dict(connectors(agents))
    return OpsConsoleApp(processes_agent(tmp_path), more_contexts=lambda: (more, []))


def footer_keys(app: OpsConsoleApp) -> set[str]:
    return {key.description for key in app.query_one(Footer).query("FooterKey")}  # type: ignore[attr-defined]


def palette_titles(app: OpsConsoleApp) -> set[str]:
    return {command.title for command in app.get_system_commands(app.screen)}


async def test_local_alone_in_all_scope_is_named_and_local_is_not_offered(
    tmp_path: Path,
) -> None:
    app = OpsConsoleApp(processes_agent(tmp_path), more_contexts=lambda: ({}, []))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.client is not None, "the local agent is reached")
        await choose_scope(pilot, app, "all")
        await wait_for(pilot, lambda: "1 up" in summary(app), "the agent up")
        assert summary(app) == "local agent: 1 up · 0 fatal · 0 alerts"
        # "L Local" goes back to the first context: in "all" it is shown already.
        await wait_for(pilot, lambda: "Reconnect" in footer_keys(app), "the footer")
        assert "Local" not in footer_keys(app)
        assert not any(title.startswith("Back to") for title in palette_titles(app))
        # The Inbox's filter line says all it says within its width at 80 columns.
        await pilot.press("4")
        table = app.query_one("#inbox").resource_table  # type: ignore[attr-defined]
        line = table.filter_input
        await wait_for(pilot, lambda: line.wording == FLEET_PLACEHOLDER, "fleet's placeholder")
        await wait_for(pilot, lambda: line.content_region.width > 0, "the filter laid out")
        # A long count ("no messages · n pushes one on 1 agent") leaves too little: "/ filter".
        assert len(line.placeholder) <= line.content_region.width
        await pilot.resize_terminal(120, 24)
        await wait_for(pilot, lambda: line.placeholder == FLEET_PLACEHOLDER, "all of it, wider")
        assert len(line.placeholder) <= line.content_region.width


async def test_cpu_and_memory_in_all_scope_come_from_each_agent(
    agents: dict[str, AgentProcess], tmp_path: Path
) -> None:
    source = fleet_app(tmp_path / "shop")
    for agent in agents.values():
        add_processes(agent, source, 1, "web")
    app = local_console(tmp_path, agents)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.client is not None, "the local agent is reached")
        await pilot.press("2")
        await choose_scope(pilot, app, "all")
        table = fleet_table(app)
        keys = [f"{name}/shop.web.0" for name in NAMES]

        def sampled() -> bool:
            return all(
                key in table.items and str(table.table.get_cell(key, "cpu")) != "-" for key in keys
            )

        await wait_for(pilot, sampled, "a CPU figure on each agent's row")
        # At 80 columns the mem column gives way to the message; wider, it is there too.
        await pilot.resize_terminal(140, 24)
        await wait_for(pilot, lambda: "mem" in table.shown_columns, "the mem column")
        assert all(str(table.table.get_cell(key, "mem")).endswith(("K", "M")) for key in keys)


async def test_an_open_log_in_all_scope_greys_with_its_agent_and_comes_back(
    agents: dict[str, AgentProcess], tmp_path: Path
) -> None:
    add_processes(agents["web1"], fleet_app(tmp_path / "shop"), 1, "web")
    app = local_console(tmp_path, agents)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.client is not None, "the local agent is reached")
        await pilot.press("2")
        await choose_scope(pilot, app, "all")
        pane = app.processes_pane
        await select_row(pilot, fleet_table(app), "web1/shop.web.0")
        await pilot.press("enter")
        await wait_for(pilot, lambda: pane.log_open, "the log opens")
        await wait_for(pilot, lambda: "running" in header(app), "its header")
        assert OFFLINE_WORDS not in header(app)
        agents["web1"].process.send_signal(signal.SIGSTOP)  # frozen: no heartbeat answered
        try:
            await wait_for(pilot, lambda: OFFLINE_WORDS in header(app), "the header greyed")
        finally:
            agents["web1"].process.send_signal(signal.SIGCONT)
        await wait_for(pilot, lambda: OFFLINE_WORDS not in header(app), "live again")
        assert "running" in header(app)


async def test_quit_with_four_contexts_one_dead_ends_promptly(
    agents: dict[str, AgentProcess], tmp_path: Path
) -> None:
    app = local_console(tmp_path, agents)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.client is not None, "the local agent is reached")
        await choose_scope(pilot, app, "all")
        await wait_for(pilot, lambda: "4 up" in summary(app), "every agent up")
        assert summary(app) == "local + 3 agents: 4 up · 0 fatal · 0 alerts"
        agents["web2"].stop(signal.SIGKILL)
        await wait_for(pilot, lambda: "1 offline" in summary(app), "web2 seen offline")
        spawned = app.connector.inner.process  # type: ignore[attr-defined]
        assert spawned is not None
        started = time.monotonic()
        await pilot.press("ctrl+q")
    took = time.monotonic() - started
    print(f"quit took {took:.3f} s")
    assert took < QUIT_BOUND, f"quitting took {took:.1f} s"
    # Told to stop before the exit; it ends its children and itself in its own time.
    await asyncio.wait_for(spawned.wait(), 30)
