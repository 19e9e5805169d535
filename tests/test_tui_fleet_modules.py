"""The Modules pane in "all" scope: every agent's queue and pool, actions via the row's agent."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from console.adapters.fleet import Fleet
from console.tui.app import OpsConsoleApp
from console.tui.kit.confirm_dialog import ConfirmDialog
from console.tui.kit.fleet_rows import STALE
from console.tui.modules.fleet_modules import FleetModuleTable
from console.tui.modules.forms import AddModuleForm, TellModuleForm
from console.tui.modules.pane import ModulesPane
from tests.conftest import AgentProcess
from tests.fleet_helpers import INBOX_TOKEN, connectors, counts_reach
from tests.modules import write_config
from tests.tui_helpers import make_catalog, spawned_agent, wait_for

NAMES = ("web1", "web2", "db1")
SIZE = (120, 36)


def demo(name: str) -> list[str]:
    return [sys.executable, "-m", f"console.demo.{name}"]


@pytest.fixture
def agents(agent_factory: Callable[..., AgentProcess], tmp_path: Path) -> dict[str, AgentProcess]:
    """Three agents with the demo's countdown queue and ticker pool (uids 1, 2... on each)."""
    config = write_config(
        tmp_path / "modules.toml",
        queue={"countdown": demo("countdown")},
        pool={"ticker": demo("ticker")},
    )
    return {
        name: agent_factory("--config", str(config), "--inbox-token", INBOX_TOKEN) for name in NAMES
    }


@pytest.fixture
def app(tmp_path: Path) -> OpsConsoleApp:
    return OpsConsoleApp(spawned_agent(tmp_path, make_catalog(tmp_path / "scripts")))


async def test_all_scope_rows_filter_remove_on_its_agent_and_a_dead_agent(
    app: OpsConsoleApp, agents: dict[str, AgentProcess]
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.client is not None, "the app's own agent")
        async with Fleet(connectors(agents)) as fleet:
            await counts_reach(fleet, lambda c: c.connected == 3)
            uids = {}
            for name in ("web1", "web2"):
                queue = fleet.client(name).queue
                uids[name] = await queue.add("countdown", {"seconds": 300, "label": name})
            ticker = await fleet.client("db1").pool.add("ticker", {"symbol": "DB", "price": 1})
            await pilot.press("3")
            modules = app.query_one(ModulesPane)
            modules.set_fleet(fleet)
            await wait_for(pilot, lambda: len(app.query(FleetModuleTable)) == 2, "fleet view")
            view = modules.fleet_view
            assert view is not None
            queues, pools = view.tables["queue"], view.tables["pool"]
            web1, web2 = f"web1/{uids['web1']}", f"web2/{uids['web2']}"
            await wait_for(pilot, lambda: set(queues.shown) == {web1, web2}, "both queues")
            await wait_for(pilot, lambda: pools.shown == [f"db1/{ticker}"], "db1's pool")
            # Same uid on two agents, two rows: each says whose it is.
            assert str(queues.table.get_cell(web1, "context")) == "web1"
            assert str(queues.table.get_cell(web2, "context")) == "web2"
            assert "label=web2" in str(queues.table.get_cell(web2, "parameters"))

            # The filter matches the context column.
            modules.focus_default()
            await pilot.press("slash", *"web2", "enter")
            await wait_for(pilot, lambda: queues.shown == [web2], "web2's row only")
            await pilot.press("escape")
            await wait_for(pilot, lambda: len(queues.shown) == 2, "the filter cleared")

            # Tell and add go to the row's own agent too (its service in the forms).
            queues.move_to(web2)
            await pilot.pause()
            await pilot.press("t")
            await wait_for(pilot, lambda: isinstance(app.screen, TellModuleForm), "tell form")
            assert app.screen.backend is fleet.client("web2").queue
            await pilot.press("escape")
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, AddModuleForm), "add form")
            assert app.screen.backend is fleet.client("web2").queue
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, AddModuleForm), "closed")

            # Remove goes to the row's own agent, after asking (naming it).
            queues.move_to(web1)
            await pilot.pause()
            await pilot.press("ctrl+d")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), "asks")
            assert isinstance(app.screen, ConfirmDialog)
            assert "web1's queue" in app.screen.question
            await pilot.press("y")
            await wait_for(pilot, lambda: queues.shown == [web2], "web1's module gone")
            assert (await fleet.client("web1").queue.snapshot()).modules == []
            assert len((await fleet.client("web2").queue.snapshot()).modules) == 1

            # web2 killed: its row greyed (kept), db1's pool live.
            agents["web2"].stop(signal.SIGKILL)
            await wait_for(pilot, lambda: not queues.items[web2].online, "web2's row stale")
            assert pools.items[f"db1/{ticker}"].online
            assert "offline: web2" in str(queues.query_one("#fleet-queue-count").render())
            stale = queues.table.get_cell(web2, "type")
            assert STALE in [span.style for span in stale.spans]
            more = await fleet.client("db1").pool.add("ticker", {"symbol": "DB2", "price": 2})
            await wait_for(pilot, lambda: f"db1/{more}" in pools.shown, "db1 still live")

            # Back to one context: the app's own lists again.
            modules.set_fleet(None)
            assert app.client is not None
            modules.set_client(app.client, app.agent_info)
            await wait_for(pilot, lambda: not app.query(FleetModuleTable), "fleet view gone")
