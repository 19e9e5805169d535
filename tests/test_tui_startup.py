"""The console's start: the first paint waits for the Scripts pane alone. The other panes
are built just after it and work unseen as before; one asked for sooner is built at
once; each built late follows the agent as it stands. The garbage collector is held
until then (``opsconsole bench startup`` measures the whole)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from textual.widgets import ContentSwitcher

from console.adapters.connect import AgentConnector, ExistingAgent
from console.adapters.endpoint import Endpoint
from console.cli import main
from console.models import ConnectionState
from console.tui import collector
from console.tui.app import OpsConsoleApp
from console.tui.inbox.pane import InboxPane
from console.tui.kit.resource_pane import ResourcePane
from console.tui.panes import PANES
from tests.tui_helpers import make_catalog, spawned_agent, wait_for

SIZE = (80, 24)


@pytest.fixture(autouse=True)
def own_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Config and data of the test's own, never the developer's."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    return make_catalog(tmp_path / "scripts")


class HeldAfterFirstPaint(OpsConsoleApp):
    """The console held in the moment after its first paint: the hidden panes are built
    only when a key or the test asks; the agent is reached at once when ``reach``."""

    def __init__(self, connector: AgentConnector, reach: bool) -> None:
        super().__init__(connector)
        self.reach = reach

    async def after_first_paint(self) -> None:
        if self.reach:
            self.connect_agent()


def resource_pane(app: OpsConsoleApp, pane: str) -> ResourcePane[object]:
    found = app.panes[pane]
    assert isinstance(found, ResourcePane)
    return found


async def test_hidden_panes_are_built_after_the_first_paint_and_work_unseen(
    tmp_path: Path, catalog: Path
) -> None:
    app = OpsConsoleApp(spawned_agent(tmp_path, catalog))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: list(app.panes) == list(PANES), "every pane built")
        # Never shown, yet following the agent: the Inbox counts into its tab from here.
        for pane in ("processes", "modules", "inbox"):
            await wait_for(pilot, lambda p=pane: resource_pane(app, p).live, f"{pane} live")
        inbox = app.panes["inbox"]
        assert isinstance(inbox, InboxPane)
        await wait_for(pilot, lambda: inbox.unacked is not None, "the inbox counted")
        switcher = app.query_one("#panes", ContentSwitcher)
        assert switcher.current == "scripts"
        shown = [pane.id for pane in switcher.children if pane.display]
        assert shown == ["scripts"], "the hidden panes were built hidden"


async def test_a_pane_asked_for_before_it_is_built_is_built_and_shown(
    tmp_path: Path, catalog: Path
) -> None:
    app = HeldAfterFirstPaint(spawned_agent(tmp_path, catalog), reach=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert list(app.panes) == ["scripts"]
        await pilot.press("2", "j")  # "j" in the same write reaches the new pane's table
        assert list(app.panes) == list(PANES)
        assert app.current_pane == "processes"
        table = resource_pane(app, "processes").table
        assert app.focused is table
        assert app.query_one("#panes", ContentSwitcher).visible_content is app.panes["processes"]


async def test_panes_built_after_the_agent_answered_follow_it(
    tmp_path: Path, catalog: Path
) -> None:
    app = HeldAfterFirstPaint(spawned_agent(tmp_path, catalog), reach=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(
            pilot, lambda: app.connection_state is ConnectionState.CONNECTED, "connected"
        )
        assert list(app.panes) == ["scripts"]
        await app.build_panes()
        for pane in ("processes", "modules", "inbox"):
            await wait_for(pilot, lambda p=pane: resource_pane(app, p).live, f"{pane} live")


async def test_panes_built_after_the_agent_was_lost_say_so() -> None:
    refused = ExistingAgent(Endpoint("http://127.0.0.1:9"))
    app = HeldAfterFirstPaint(refused, reach=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.connection_state is ConnectionState.OFFLINE, "offline")
        await app.build_panes()
        processes = resource_pane(app, "processes")
        await wait_for(pilot, lambda: processes.resource_table.note == "offline", "offline note")
        assert processes.resource_table.has_class("-stale")


async def test_the_collector_is_held_until_the_first_paint_then_freezes_the_start(
    tmp_path: Path, catalog: Path
) -> None:
    frozen_before = gc.get_freeze_count()
    collector.hold()
    try:
        assert not gc.isenabled()
        app = OpsConsoleApp(spawned_agent(tmp_path, catalog))
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, gc.isenabled, "the collector back on")
            assert list(app.panes) == list(PANES), "on once the hidden panes are built"
            # What the start made (the app, its panes) is out of the collector's sight.
            assert gc.get_freeze_count() > frozen_before
    finally:
        collector.release()
        gc.unfreeze()  # this test process's objects go back to the collector
        gc.enable()


def test_a_console_that_never_starts_leaves_the_collector_on() -> None:
    assert main(["demo", "--theme", "nosuch"]) == 2
    assert gc.isenabled()
