"""The console in "all" scope over several real agents: rows from all, a context filter, actions
routed to the row's own agent, one confirmation for a restart everywhere, a death and return."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from rich.console import Console
from rich.text import Text
from textual.widgets import OptionList, Static, Tab, Tabs

from console.adapters.connect import AgentConnector
from console.tui.app import OpsConsoleApp
from console.tui.fleet_scope import SUMMARY_ID
from console.tui.kit.confirm_dialog import ConfirmDialog
from console.tui.kit.scope_picker import ScopePicker
from console.tui.modules.pane import ModulesPane
from console.tui.processes.fleet_table import FleetProcessTable
from tests.conftest import AgentProcess
from tests.fleet_helpers import (
    INBOX_TOKEN,
    add_processes,
    connectors,
    fleet_app,
    start_fleet_agents,
    wait_running,
)
from tests.tui_helpers import processes_agent, record_notifications, select_row, wait_for

NAMES = ("web1", "web2", "db1")
SIZE = (80, 24)
SLUGS = ["shop.web.0", "shop.web.1", "shop.worker.0"]


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return fleet_app(tmp_path / "shop")


@pytest.fixture
def agents(agent_factory: Callable[..., AgentProcess], tmp_path: Path, app_dir: Path):
    """Three agents, each with two ``web`` processes and one ``worker`` (same slugs on each)."""
    started = start_fleet_agents(agent_factory, len(NAMES), tmp_path)
    for agent in started:
        add_processes(agent, app_dir, 2, "web")
        add_processes(agent, app_dir, 1, "worker")
        wait_running(agent, SLUGS)
    return dict(zip(NAMES, started, strict=True))


def fleet_console(agents: dict[str, AgentProcess]) -> OpsConsoleApp:
    """The console started on web1, knowing web2 and db1 as the config's contexts would."""
    by_name: dict[str, AgentConnector] = dict(connectors(agents))
    first = by_name.pop("web1")
    return OpsConsoleApp(first, name="web1", more_contexts=lambda: (by_name, []))


def listing(agent: AgentProcess) -> dict[str, dict]:
    with httpx.Client(base_url=agent.url, headers=agent.headers, timeout=30) as http:
        return {p["slug"]: p for p in http.get("/list-processes").json()["processes"]}


def fleet_table(app: OpsConsoleApp) -> FleetProcessTable:
    return app.processes_pane.query_one(FleetProcessTable)


def dimmed(cell: Text) -> bool:
    return bool(cell.get_style_at_offset(Console(), 0).dim)


def summary(app: OpsConsoleApp) -> str:
    return str(app.query_one(f"#{SUMMARY_ID}", Static).render())


async def choose_scope(pilot, app: OpsConsoleApp, name: str) -> None:
    """``:``, then the picker's line of ``name``, then enter."""
    await pilot.press("colon")
    await wait_for(pilot, lambda: isinstance(app.screen, ScopePicker), "the scope picker")
    picker = app.screen.query_one(OptionList)
    # The picker puts its cursor on the current scope when mounted: moving it before would be
    # undone (and enter would choose the current scope again).
    await wait_for(pilot, lambda: _on_current(picker), "the cursor on the current scope")
    index = next(i for i in range(picker.option_count) if picker.get_option_at_index(i).id == name)
    while picker.highlighted != index:
        await pilot.press("down")
    await pilot.press("enter")
    await wait_for(pilot, lambda: not isinstance(app.screen, ScopePicker), "the picker closes")


def _on_current(picker: OptionList) -> bool:
    highlighted = picker.highlighted
    if highlighted is None:
        return False
    return str(picker.get_option_at_index(highlighted).prompt).startswith("▸")


async def all_scope(pilot, app: OpsConsoleApp) -> FleetProcessTable:
    """The "all" scope on the Processes pane, every agent's rows in."""
    await pilot.press("2")
    await wait_for(pilot, lambda: app.processes_pane.process_table.shown, "web1's rows")
    await choose_scope(pilot, app, "all")
    table = fleet_table(app)
    await wait_for(pilot, lambda: len(table.shown) == 9, "nine rows from three agents")
    await wait_for(pilot, lambda: "3 up" in summary(app), "every agent up")
    return table


async def select(pilot, table: FleetProcessTable, key: str) -> None:
    await select_row(pilot, table, key)


async def test_all_scope_shows_every_agent_with_a_context_filter_and_a_summary_in_every_pane(
    agents: dict[str, AgentProcess],
) -> None:
    app = fleet_console(agents)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.client is not None, "web1 connected")
        await pilot.press("colon")
        await wait_for(pilot, lambda: isinstance(app.screen, ScopePicker), "the scope picker")
        picker = app.screen.query_one(OptionList)
        lines = [str(picker.get_option_at_index(i).prompt) for i in range(picker.option_count)]
        assert [line.lstrip("▸ ").split()[0] for line in lines] == ["web1", "web2", "db1", "all"]
        assert "connected" in lines[0] and "not reached" in lines[1]
        await pilot.press("escape")
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Scope: choose", "Scope: web2", "Scope: all"} <= titles
        table = await all_scope(pilot, app)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert "Processes: restart web on every host" in titles
        assert table.shown_columns[0] == "context"
        assert {key.split("/")[0] for key in table.shown} == set(NAMES)
        assert summary(app) == "3 agents: 3 up · 0 fatal · 0 alerts"
        # The filter matches the context column: web2's worker alone.
        await pilot.press("slash", *"web2 worker", "enter")
        await wait_for(pilot, lambda: table.shown == ["web2/shop.worker.0"], "the filtered row")
        assert app.focused is table.table
        # The summary stays in view at 80x24 whatever the pane; each pane has its "all" view.
        line = app.query_one(f"#{SUMMARY_ID}")
        for key in "12345":
            await pilot.press(key)
            await pilot.pause()
            assert line.display and 0 < line.region.y < SIZE[1] - 1 and line.region.height == 1
        modules = app.panes["modules"]
        assert isinstance(modules, ModulesPane)
        assert modules.fleet_view is not None
        # Back to one context: web2's own rows, no summary line.
        await pilot.press("2")
        await choose_scope(pilot, app, "web2")
        pane = app.processes_pane
        await wait_for(pilot, lambda: sorted(pane.process_table.shown) == SLUGS, "web2's rows")
        assert not line.display and app.fleet is None
        # Into "all" from another pane: the keys stay with the pane shown, not the hidden ones.
        await pilot.press("1")
        await choose_scope(pilot, app, "all")
        await wait_for(pilot, lambda: line.display, "the summary line")
        await pilot.pause()
        assert app.focused is not None and app.scripts_pane in app.focused.ancestors_with_self


async def test_a_restart_reaches_the_rows_agent_and_a_type_restarts_everywhere_on_one_yes(
    agents: dict[str, AgentProcess],
) -> None:
    app = fleet_console(agents)
    notices = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        table = await all_scope(pilot, app)
        await select(pilot, table, "web2/shop.worker.0")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        assert "web2: shop.worker.0" in app.screen.question
        await pilot.press("y")
        await wait_for(
            pilot, lambda: listing(agents["web2"])["shop.worker.0"]["restarts"] == 1, "restart"
        )
        assert all(p["restarts"] == 0 for n in ("web1", "db1") for p in listing(agents[n]).values())
        await wait_for(
            pilot,
            lambda: table.items["web2/shop.worker.0"].status.restarts == 1,
            "the row shows it",
        )
        # B on a web row: one question listing every web process of every host, one yes.
        await select(pilot, table, "db1/shop.web.1")
        await pilot.press("B")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        question = app.screen.question
        assert "6 on 3 hosts" in question
        listed = [line.split() for line in question.splitlines()[1:]]
        assert listed == [[name, "shop.web.0", "shop.web.1"] for name in NAMES]
        await pilot.press("y")
        for name in NAMES:
            await wait_for(
                pilot,
                lambda name=name: all(
                    listing(agents[name])[slug]["restarts"] == 1 for slug in SLUGS[:2]
                ),
                f"{name}'s web processes restarted",
            )
        await wait_for(pilot, lambda: any("everywhere" in n.title for n in notices), "report")
        report = next(n for n in notices if "everywhere" in n.title)
        assert report.message.splitlines() == [f"{name}: 2 restarted" for name in NAMES]
        assert listing(agents["web2"])["shop.worker.0"]["restarts"] == 1  # not a web


async def test_fatal_processes_and_alerts_are_summed_over_the_fleet_in_the_summary_and_tabs(
    agents: dict[str, AgentProcess], app_dir: Path
) -> None:
    app = fleet_console(agents)
    async with app.run_test(size=SIZE) as pilot:
        table = await all_scope(pilot, app)
        # A process that keeps crashing on web2 turns fatal, which pushes an alert there.
        add_processes(agents["web2"], app_dir, 1, "crash")
        await wait_for(pilot, lambda: "1 fatal · 1 alert" in summary(app), "fatal and alert")
        assert table.items["web2/shop.crash.0"].status.state.value == "fatal"
        tabs = {tab.id: str(tab.label) for tab in app.query(Tab)}
        assert tabs["tab-processes"].startswith("2 Processes") and "(1)" in tabs["tab-processes"]
        assert "(1)" in tabs["tab-inbox"]
        # Both counts widen the tabs at 80 columns: the indicator gives way, no tab is cut.
        strip = app.query_one(Tabs)
        await wait_for(
            pilot,
            lambda: all(strip.region.contains_region(tab.region) for tab in app.query(Tab)),
            "every tab whole",
        )
        # Back on web1, whose processes are all fine, the tabs count one context again.
        await choose_scope(pilot, app, "web1")
        await wait_for(pilot, lambda: app.fleet is None, "one context")
        assert "(" not in str(app.query_one("#tab-processes", Tab).label)


async def test_a_killed_agent_greys_its_rows_the_others_stay_live_and_it_comes_back(
    agents: dict[str, AgentProcess],
    agent_factory: Callable[..., AgentProcess],
    tmp_path: Path,
    app_dir: Path,
) -> None:
    app = fleet_console(agents)
    async with app.run_test(size=SIZE) as pilot:
        table = await all_scope(pilot, app)
        dead = agents["db1"]
        dead.stop(signal.SIGKILL)
        await wait_for(pilot, lambda: "2 up 1 offline" in summary(app), "db1 offline")
        await wait_for(
            pilot,
            lambda: not any(table.items[f"db1/{slug}"].online for slug in SLUGS),
            "db1's rows stale",
        )
        assert len(table.shown) == 9  # still shown, greyed
        row = table.table.get_row("db1/shop.web.0")
        assert all(dimmed(cell) for cell in row if cell.plain)
        assert not any(dimmed(cell) for cell in table.table.get_row("web1/shop.web.0"))
        assert "offline: db1" in app.query_one("#top-bar").query_one("ConnectionIndicator").error
        assert app.query_one("#top-bar").has_class("-offline") is False
        # The others are live: a restart on web1 shows up.
        await select(pilot, table, "web1/shop.web.0")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("y")
        await wait_for(
            pilot, lambda: table.items["web1/shop.web.0"].status.restarts == 1, "web1 live"
        )
        # db1 comes back on its port and data dir: the console reconnects by itself.
        port = dead.url.rsplit(":", 1)[1]
        data_dir = tmp_path / f"agent-data-{NAMES.index('db1')}"  # as agent_factory named it
        back = agent_factory(
            "--port", port, "--data-dir", str(data_dir), "--inbox-token", INBOX_TOKEN
        )
        await wait_for(pilot, lambda: "3 agents: 3 up" in summary(app), "db1 up again")
        add_processes(back, app_dir, 1, "worker")
        await wait_for(
            pilot,
            lambda: [k for k in table.shown if k.startswith("db1/")] == ["db1/shop.worker.0"],
            "db1's new rows, live",
        )
        assert table.items["db1/shop.worker.0"].online


async def test_the_spawned_local_agent_lives_through_the_all_scope_and_dies_with_the_console(
    agents: dict[str, AgentProcess], tmp_path: Path
) -> None:
    local = processes_agent(tmp_path)
    others = {"web2": connectors(agents)["web2"]}
    app = OpsConsoleApp(local, name="local", more_contexts=lambda: (others, []))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.client is not None, "the local agent")
        spawned = local.process
        assert spawned is not None
        await pilot.press("2")
        await choose_scope(pilot, app, "all")
        table = fleet_table(app)
        await wait_for(pilot, lambda: "local + 1 agent: 2 up" in summary(app), "both up")
        await wait_for(pilot, lambda: len(table.shown) == 3, "web2's rows (local has none)")
        await choose_scope(pilot, app, "local")
        await wait_for(pilot, lambda: app.fleet is None, "one context again")
        # The same agent process all along: neither the fleet nor the way back spawned or
        # stopped one.
        assert local.process is spawned and spawned.returncode is None
        await choose_scope(pilot, app, "web2")
        await wait_for(pilot, lambda: len(app.processes_pane.process_table.shown) == 3, "web2")
        assert spawned.returncode is None
    # Told to stop as the console exits (which waits for it a bounded time only).
    await asyncio.wait_for(spawned.wait(), 30)
