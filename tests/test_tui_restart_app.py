"""The Processes pane's "restart all of app X": one key, one confirmation, one call."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from console.models import ProcessState
from console.tui.app import OpsConsoleApp
from console.tui.kit.confirm_dialog import ConfirmDialog
from tests.test_tui_processes import SIZE, select, show_processes
from tests.tui_helpers import make_procfile_app, processes_agent, wait_for


@pytest.fixture
def app(tmp_path: Path) -> OpsConsoleApp:
    return OpsConsoleApp(processes_agent(tmp_path))


async def test_A_restarts_every_process_of_the_app_after_one_confirmation(
    app: OpsConsoleApp, tmp_path: Path
) -> None:
    source = make_procfile_app(tmp_path / "shop")
    async with app.run_test(size=SIZE) as pilot:
        slugs = await show_processes(pilot, app, source, "quiet", "steady")
        pane = app.processes_pane

        def all_running() -> bool:
            return all(pane.statuses[s].state is ProcessState.RUNNING for s in slugs)

        await wait_for(pilot, all_running, "both running")
        before = {slug: pane.statuses[slug] for slug in slugs}
        await select(pilot, app, "shop.quiet.0")
        await pilot.press("A")
        assert isinstance(app.screen, ConfirmDialog)
        question = str(app.screen.query_one("#question", Static).render())
        assert "Restart all 2 processes of app shop?" in question
        await pilot.press("n")  # no: nothing happens
        assert not isinstance(app.screen, ConfirmDialog)
        assert {s: pane.statuses[s].pid for s in slugs} == {s: before[s].pid for s in slugs}

        await pilot.press("A", "y")

        def restarted() -> bool:
            return all_running() and all(
                pane.statuses[s].restarts == before[s].restarts + 1 for s in slugs
            )

        await wait_for(pilot, restarted, "both restarted")
        assert all(pane.statuses[s].pid != before[s].pid for s in slugs)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert "Processes: restart all of app shop" in titles
