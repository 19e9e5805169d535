"""The app shell: painting before the agent answers, panes, help, palette, themes, shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from textual.command import CommandList, CommandPalette
from textual.widgets import ContentSwitcher, Tabs

from console.adapters.agent import AgentClient
from console.adapters.connect import SpawnedAgent
from console.models import ConnectionState
from console.tui.app import OpsConsoleApp
from console.tui.kit.connection_indicator import ConnectionIndicator
from console.tui.kit.help_screen import HelpScreen
from console.tui.themes import bundled_themes_dir, load_themes, user_themes_dir
from tests.tui_helpers import (
    make_catalog,
    record_notifications,
    spawned_agent,
    wait_for,
    wait_for_catalog,
)

SIZE = (80, 24)


class GatedConnector:
    """A real spawned agent that the test lets the console reach only when it says so."""

    def __init__(self, inner: SpawnedAgent, fail_first: bool = False) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.fail_first = fail_first
        self.attempts = 0

    @property
    def description(self) -> str:
        return self.inner.description

    async def connect(self) -> AgentClient:
        self.attempts += 1
        await self.gate.wait()
        if self.fail_first and self.attempts == 1:
            from console.adapters.errors import Unavailable

            raise Unavailable("agent refused: connection refused")
        return await self.inner.connect()

    async def close(self) -> None:
        await self.inner.close()


@pytest.fixture(autouse=True)
def own_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """User themes come from a config dir of the test's own, never the developer's."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config"


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    return make_catalog(tmp_path / "scripts")


def indicator(app: OpsConsoleApp) -> ConnectionIndicator:
    return app.query_one(ConnectionIndicator)


async def test_paints_before_the_agent_is_ready_then_shows_where_it_is(
    tmp_path: Path, catalog: Path
) -> None:
    connector = GatedConnector(spawned_agent(tmp_path, catalog, "--node-id", "node-7"))
    app = OpsConsoleApp(connector)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        # The screen is up and answering keys while the agent has not been reached.
        assert indicator(app).state is ConnectionState.CONNECTING
        assert app.query_one(Tabs).active == "tab-scripts"
        await pilot.press("2")
        assert app.query_one("#panes", ContentSwitcher).current == "processes"
        await pilot.press("1")
        connector.gate.set()
        await wait_for_catalog(pilot)
        shown = str(indicator(app).render())
        assert "connected" in shown and "local agent" in shown
        assert "node-7" in shown and "127.0.0.1:" in shown


async def test_unreachable_agent_goes_offline_with_a_notification_and_ctrl_r_retries(
    tmp_path: Path, catalog: Path
) -> None:
    connector = GatedConnector(spawned_agent(tmp_path, catalog), fail_first=True)
    connector.gate.set()
    app = OpsConsoleApp(connector)
    seen = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.connection_state is ConnectionState.OFFLINE, "offline")
        await wait_for(pilot, lambda: seen, "a notification")
        assert seen[0].severity == "error" and "connection refused" in seen[0].message
        assert "connection refused" in str(indicator(app).render())
        await pilot.press("ctrl+r")
        await wait_for_catalog(pilot)
        assert app.connection_state is ConnectionState.CONNECTED
        assert connector.attempts == 2


async def test_agent_dying_mid_session_marks_it_offline_without_crashing(
    tmp_path: Path, catalog: Path
) -> None:
    connector = spawned_agent(tmp_path, catalog)
    app = OpsConsoleApp(connector)
    async with app.run_test(size=SIZE) as pilot:
        seen = record_notifications(app)
        await wait_for_catalog(pilot)
        assert connector.process is not None
        connector.process.send_signal(signal.SIGKILL)
        await connector.process.wait()
        await pilot.press("R")
        await wait_for(pilot, lambda: app.connection_state is ConnectionState.OFFLINE, "offline")
        assert seen and seen[-1].severity == "error" and seen[-1].title == "Reload scripts"
        assert app.is_running
        await pilot.press("ctrl+r")  # a local agent is started afresh
        await wait_for(
            pilot, lambda: app.connection_state is ConnectionState.CONNECTED, "reconnected"
        )
        await wait_for_catalog(pilot)


async def test_exit_stops_the_spawned_agent(tmp_path: Path, catalog: Path) -> None:
    connector = spawned_agent(tmp_path, catalog)
    app = OpsConsoleApp(connector)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_catalog(pilot)
        process = connector.process
        assert process is not None and process.returncode is None
        await pilot.press("ctrl+q")
    assert process.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.kill(process.pid, 0)


async def test_number_keys_and_mouse_switch_between_the_five_panes(
    tmp_path: Path, catalog: Path
) -> None:
    app = OpsConsoleApp(spawned_agent(tmp_path, catalog))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_catalog(pilot)
        switcher = app.query_one("#panes", ContentSwitcher)
        await pilot.press("2")
        assert switcher.current == "processes"
        assert app.focused is app.processes_pane.table
        for key, pane in [("3", "modules"), ("4", "inbox"), ("5", "hosts")]:
            await pilot.press(key)
            shown = app.query_one(f"#{pane}")
            # A pane builds its widgets when first shown: wait for the focus to land in it.
            await wait_for(
                pilot,
                lambda shown=shown: (
                    app.focused is not None and shown in (app.focused, *app.focused.ancestors)
                ),
                f"the {pane} pane focused",
            )
            assert switcher.current == pane
            # The keys go to the pane now shown, never to the hidden catalog.
            assert app.focused is not None and app.focused is not app.scripts_pane.table
            assert app.focused is shown or shown in app.focused.ancestors
        await pilot.click("#tab-scripts")
        assert switcher.current == "scripts"
        assert app.focused is app.scripts_pane.table
        await pilot.click("#tab-inbox")
        assert switcher.current == "inbox"


async def test_question_mark_lists_the_keys_of_the_current_pane(
    tmp_path: Path, catalog: Path
) -> None:
    app = OpsConsoleApp(spawned_agent(tmp_path, catalog))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(str(s.render()) for s in app.screen.query("Static"))
        for key, what in [
            ("/", "filter the catalog"),
            ("^j", "run the open script"),
            ("R / ^l", "re-read its scripts"),
            ("esc", "back to the catalog"),
            ("1-5", "switch pane"),
            ("^r", "reach the agent again"),
        ]:
            assert any(line.startswith(key) and what in line for line in text.splitlines())
        assert text.index("Scripts pane") < text.index("Console")
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_offers_every_action_and_runs_them(
    tmp_path: Path, catalog: Path
) -> None:
    app = OpsConsoleApp(spawned_agent(tmp_path, catalog))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_catalog(pilot)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        expected = {f"Show {p}" for p in ("Scripts", "Processes", "Modules", "Inbox", "Hosts")}
        expected |= {"Help: keys", "Reconnect", "Scripts: filter", "Scripts: reload catalog"}
        expected |= {"Open script hello", "Open script deploy_web"}
        assert expected <= titles
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"Open script gated")
        palette = app.screen
        await wait_for(
            pilot,
            lambda: (
                "Open script gated"
                in str(palette.query_one(CommandList).get_option_at_index(0).prompt)
            ),
            "the palette offers it first",
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.scripts_pane.current_view is not None, "opened")
        view = app.scripts_pane.current_view
        assert view is not None and view.script.name == "gated"
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert "Scripts: run gated" in titles


def first_offer(palette: object) -> object:
    """The palette's first command, as shown (None while it is still searching)."""
    commands = palette.query_one(CommandList)  # type: ignore[attr-defined]
    return commands.get_option_at_index(0).prompt if commands.option_count else None


def test_bundled_themes_load_and_are_well_formed() -> None:
    loaded = load_themes([bundled_themes_dir()])
    assert loaded.problems == []
    names = {theme.name for theme in loaded.themes}
    assert names == {"opsconsole-dark", "opsconsole-light", "opsconsole-high-contrast"}
    assert {t.name for t in loaded.themes if not t.dark} == {"opsconsole-light"}


def test_broken_theme_files_are_skipped_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "good.toml").write_text('name = "mine"\nprimary = "#123456"\n')
    (tmp_path / "bad-toml.toml").write_text("name = \n")
    (tmp_path / "bad-colour.toml").write_text('name = "x"\nprimary = "not-a-colour"\n')
    (tmp_path / "no-name.toml").write_text('primary = "#123456"\n')
    (tmp_path / "typo.toml").write_text('name = "y"\nprimary = "#123456"\nprimery = "#000"\n')
    loaded = load_themes([tmp_path])
    assert [t.name for t in loaded.themes] == ["mine"]
    reasons = "\n".join(loaded.problems)
    assert "not valid TOML" in reasons and "not a colour" in reasons
    assert "'name' is missing" in reasons and "unknown keys: primery" in reasons


async def test_theme_is_chosen_by_name_and_user_themes_are_offered(
    tmp_path: Path, catalog: Path, own_config_dir: Path
) -> None:
    themes = user_themes_dir()
    assert themes.is_relative_to(own_config_dir)
    themes.mkdir(parents=True)
    (themes / "night.toml").write_text('name = "night"\nprimary = "#336699"\n')
    (themes / "broken.toml").write_text('name = "broken"\nprimary = 7\n')
    app = OpsConsoleApp(spawned_agent(tmp_path, catalog), theme="night")
    seen = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "night"
        assert "opsconsole-high-contrast" in app.available_themes
        # The broken file is named in a warning, and the console starts anyway.
        assert [n.severity for n in seen] == ["warning"] and "broken.toml" in seen[0].message
        app.theme = "opsconsole-light"
        await pilot.pause()
        assert not app.current_theme.dark
    app = OpsConsoleApp(spawned_agent(tmp_path, catalog), theme="no-such-theme")
    seen = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.theme == "opsconsole-dark"
        assert any("no-such-theme" in n.message for n in seen)
