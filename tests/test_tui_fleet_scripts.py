"""The Scripts pane in "all" scope: every host's catalog, one run on the hosts chosen."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import Input

from console.adapters.fleet import Fleet
from console.models import Stream
from console.tui.app import OpsConsoleApp
from console.tui.kit.confirm_dialog import ConfirmDialog
from console.tui.kit.fleet_rows import STALE
from console.tui.scripts.fleet_scripts import FleetCatalog, FleetScripts
from console.tui.scripts.pane import ScriptsPane
from tests.conftest import AgentProcess, write_script
from tests.fleet_helpers import INBOX_TOKEN, connectors, counts_reach
from tests.tui_helpers import make_catalog, record_notifications, spawned_agent, wait_for

SIZE = (140, 40)
HELLO = ("description: Say hello\nparam: name - who to greet\n", 'echo "hello $NAME from $HOST"')


@pytest.fixture
def agents(agent_factory: Callable[..., AgentProcess], tmp_path: Path) -> dict[str, AgentProcess]:
    """web1 and web2 have hello.sh (each says which it is); db1 has backup.sh only."""
    started = {}
    for name, scripts in (("web1", ["hello"]), ("web2", ["hello"]), ("db1", ["backup"])):
        folder = tmp_path / f"scripts-{name}"
        if "hello" in scripts:
            write_script(folder, "hello", HELLO[0], HELLO[1].replace("$HOST", name))
        else:
            write_script(folder, "backup", "description: Back the database up\n", "echo ok")
        started[name] = agent_factory("--scripts", str(folder), "--inbox-token", INBOX_TOKEN)
    return started


@pytest.fixture
def app(tmp_path: Path) -> OpsConsoleApp:
    return OpsConsoleApp(spawned_agent(tmp_path, make_catalog(tmp_path / "scripts")))


async def test_all_scope_catalogs_a_run_on_chosen_hosts_and_a_dead_host(
    app: OpsConsoleApp, agents: dict[str, AgentProcess]
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        notices = record_notifications(app)
        await wait_for(pilot, lambda: app.client is not None, "the app's own agent")
        scripts = app.query_one(ScriptsPane)
        await wait_for(pilot, lambda: scripts.scripts, "the app's own catalog")
        async with Fleet(connectors(agents)) as fleet:
            await counts_reach(fleet, lambda c: c.connected == 3)
            scripts.set_fleet(fleet)
            await wait_for(pilot, lambda: app.query(FleetCatalog), "the fleet view")
            view = scripts.fleet_view
            assert view is not None
            catalog = view.catalog
            everywhere = {"web1/hello", "web2/hello", "db1/backup"}
            await wait_for(pilot, lambda: set(catalog.shown) == everywhere, "every catalog")
            assert str(catalog.table.get_cell("db1/backup", "context")) == "db1"
            assert not scripts.catalog.display and catalog.display  # the fleet's, not web1's
            # The app's own agent's catalog is not shown in "all" scope.
            assert "hello" not in catalog.shown  # the app's own agent is not a row here
            scripts.focus_default()
            await pilot.pause()

            # The filter matches the host.
            await pilot.press("slash", *"db1", "enter")
            await wait_for(pilot, lambda: catalog.shown == ["db1/backup"], "db1's only")
            await pilot.press("escape")
            await wait_for(pilot, lambda: len(catalog.shown) == 3, "filter cleared")

            # Mark web2's hello, open web1's: the run goes to both, after one confirmation.
            catalog.move_to("web2/hello")
            await pilot.press("space")
            assert catalog.marked == {"web2/hello"}
            catalog.refill()  # as a filter keystroke or a feed's change would
            assert str(catalog.table.get_cell("web2/hello", "mark")) == "●"
            catalog.move_to("web1/hello")
            await pilot.press("enter")
            page = view.current_view
            assert page is not None and page.script.name == "hello"
            assert view.hosts() == ["web1", "web2"]
            await wait_for(pilot, lambda: isinstance(app.focused, Input), "the name param")
            await pilot.press(*"ops", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), "asks first")
            assert isinstance(app.screen, ConfirmDialog)
            question = app.screen.question
            assert "hello" in question and "name='ops'" in question
            assert "web1, web2" in question and "db1" not in question
            await pilot.press("y")
            await wait_for(pilot, lambda: len(page.results) == 2, "both hosts' results")
            assert {h: r.value for h, r in page.results.items()} == {"web1": 0, "web2": 0}
            page.output.flush()
            lines = page.output.view.entries
            # Each host's output after its own name: kept apart.
            assert (Stream.STDOUT, "web1 │ hello ops from web1") in lines
            assert (Stream.STDOUT, "web2 │ hello ops from web2") in lines
            assert "web1 exit 0" in str(page.status) and "web2 exit 0" in str(page.status)

            # web2 dies: its rows greyed; a run on it fails there only.
            agents["web2"].stop(signal.SIGKILL)
            await wait_for(
                pilot,
                lambda: not catalog.items["web2/hello"].online,
                "web2's rows stale",
            )
            assert catalog.items["web1/hello"].online
            stale = catalog.table.get_cell("web2/hello", "name")
            assert STALE in [span.style for span in stale.spans]
            assert "offline: web2" in str(catalog.query_one("#fleet-catalog-count").render())
            page.focus_form()
            await pilot.press("ctrl+j")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), "asks again")
            await pilot.press("y")
            await wait_for(pilot, lambda: not page.running and page.results, "ran again")
            await wait_for(pilot, lambda: set(page.results) == {"web1", "web2"}, "results")
            assert page.results["web1"].value == 0
            assert not page.results["web2"].ok and "not connected" in str(
                page.results["web2"].error
            )
            assert any("web2" in n.title for n in notices if n.severity == "error")

            # Back to one context: the agent's own catalog.
            scripts.set_fleet(None)
            assert app.client is not None
            scripts.set_client(app.client, app.agent_info)
            await wait_for(pilot, lambda: not app.query(FleetScripts), "the fleet view gone")
            await wait_for(pilot, lambda: "hello" in scripts.catalog.shown, "own catalog")
