"""Inbox, Scripts and Modules in "all" scope as the operator reaches it (``:`` then "all"), at
80x24, over three real agents: rows from each, the tab's count from the fleet, and one agent
killed (its rows greyed) and brought back on its port (its rows live again)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Tab

from console.adapters.connect import AgentConnector
from console.tui.app import OpsConsoleApp
from console.tui.inbox.pane import InboxPane
from console.tui.modules.fleet_modules import FleetModuleTable
from console.tui.modules.pane import ModulesPane
from console.tui.scripts.fleet_scripts import FleetCatalog
from tests.conftest import AgentProcess, write_script
from tests.fleet_helpers import INBOX_TOKEN, connectors, until
from tests.modules import write_config
from tests.test_tui_fleet import choose_scope, summary
from tests.tui_helpers import wait_for

NAMES = ("web1", "web2", "db1")
SIZE = (80, 24)
RETURN = 60.0
"""Seconds an agent brought back may take to be seen live again (a bound, not a timing)."""


def agent_args(tmp_path: Path, name: str) -> list[str]:
    """Each agent's scripts (a check named after it, and a shared one) and modules."""
    scripts = tmp_path / f"scripts-{name}"
    write_script(scripts, "uptime", "description: How long it has been up\n", "echo up")
    write_script(scripts, f"check_{name}", "description: A check of its own\n", "echo ok")
    config = write_config(
        tmp_path / "modules.toml",
        queue={"countdown": [sys.executable, "-m", "console.demo.countdown"]},
    )
    return ["--scripts", str(scripts), "--config", str(config), "--inbox-token", INBOX_TOKEN]


@pytest.fixture
def agents(agent_factory: Callable[..., AgentProcess], tmp_path: Path) -> dict[str, AgentProcess]:
    return {name: agent_factory(*agent_args(tmp_path, name)) for name in NAMES}


def tab_label(app: OpsConsoleApp, pane: str) -> str:
    return app.query_one(f"#tab-{pane}", Tab).label.plain


async def test_three_panes_in_all_scope_and_an_agent_killed_and_brought_back(
    agents: dict[str, AgentProcess], agent_factory: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    by_name: dict[str, AgentConnector] = dict(connectors(agents))
    first = by_name.pop("web1")
    app = OpsConsoleApp(first, name="web1", more_contexts=lambda: (by_name, []))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.client is not None, "web1 connected")
        await pilot.press("4")
        await choose_scope(pilot, app, "all")
        await wait_for(pilot, lambda: "3 agents: 3 up" in summary(app), "every agent up")
        assert app.fleet is not None
        fleet = app.fleet
        for name in NAMES:
            inbox = fleet.client(name).inbox
            await inbox.push(inbox.node_id, {"on": name}, topic="disk.full")
            await fleet.client(name).queue.add("countdown", {"seconds": 300, "label": name})

        # Inbox: every agent's message, the tab counting the fleet's.
        messages = app.query_one(InboxPane).message_table
        await wait_for(pilot, lambda: len(messages.shown) == 3, "three agents' messages")
        assert {messages.contexts[key] for key in messages.shown} == set(NAMES)
        await wait_for(pilot, lambda: tab_label(app, "inbox") == "4 Inbox (3)", "tab count")

        # Scripts: each host's catalog, the shared script once per host.
        await pilot.press("1")
        catalog = app.query_one(FleetCatalog)
        expected = {f"{n}/uptime" for n in NAMES} | {f"{n}/check_{n}" for n in NAMES}
        await wait_for(pilot, lambda: set(catalog.shown) == expected, "every host's scripts")
        assert app.focused is catalog.table

        # Modules: each agent's queue.
        await pilot.press("3")
        modules = app.query_one(ModulesPane)
        await wait_for(pilot, lambda: app.query(FleetModuleTable), "the fleet's lists")
        view = modules.fleet_view
        assert view is not None
        queues = view.tables["queue"]
        await wait_for(pilot, lambda: len(queues.shown) == 3, "three agents' queues")

        # db1 killed: its rows greyed in each pane; the others' stay live.
        dead = agents["db1"]
        dead.stop(signal.SIGKILL)
        await wait_for(pilot, lambda: "offline" in summary(app), "db1 offline")
        await wait_for(pilot, lambda: messages.offline == {"db1"}, "db1's messages stale")
        await wait_for(pilot, lambda: not catalog.items["db1/uptime"].online, "db1's scripts stale")
        db1_module = next(key for key in queues.shown if key.startswith("db1/"))
        await wait_for(pilot, lambda: not queues.items[db1_module].online, "db1's module stale")
        assert catalog.items["web1/uptime"].online
        assert all(item.online for key, item in queues.items.items() if key != db1_module)

        # db1 back on its port and data dir: its rows are live again, by themselves.
        port = dead.url.rsplit(":", 1)[1]
        data_dir = tmp_path / f"agent-data-{NAMES.index('db1')}"  # as agent_factory named it
        agent_factory("--port", port, "--data-dir", str(data_dir), *agent_args(tmp_path, "db1"))
        # (Reconnecting waits out the backoff, up to 5 s a feed: a bound for a loaded machine.)
        await until(lambda: "3 agents: 3 up" in summary(app), RETURN, "db1 up again")
        await until(lambda: messages.offline == set(), RETURN, "db1's messages live")
        await until(lambda: catalog.items["db1/uptime"].online, RETURN, "db1's scripts live")
        await until(
            lambda: all(item.online for item in queues.items.values()),
            RETURN,
            "db1's queue live (a new agent process: its modules are gone or back)",
        )

        # Back to one context: web1's own inbox, its own count.
        await choose_scope(pilot, app, "web1")
        await wait_for(pilot, lambda: app.fleet is None, "one context")
        await wait_for(pilot, lambda: not messages.nodes and len(messages.shown) == 1, "web1's")
