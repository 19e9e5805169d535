"""The Scripts pane, driven by key presses in the real app against a real agent process."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Static

from console.adapters.agent import AgentClient
from console.adapters.base import Endpoint
from console.models import FILTERED, AgentInfo, RunOutput, RunStarted, Stream
from console.tui.app import OpsConsoleApp
from console.tui.kit.confirm_dialog import ConfirmDialog
from console.tui.kit.log_view import MAX_LINES
from console.tui.scripts.history import RunHistoryTable
from console.tui.scripts.record_screen import RunRecordScreen
from console.tui.scripts.view import ScriptView
from tests.test_tui_kit import burst
from tests.tui_helpers import (
    make_catalog,
    record_notifications,
    spawned_agent,
    table_keys,
    wait_for,
    wait_for_catalog,
    write_script,
)

SIZE = (80, 24)


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    return make_catalog(tmp_path / "scripts")


@pytest.fixture
def app(tmp_path: Path, catalog: Path) -> OpsConsoleApp:
    return OpsConsoleApp(spawned_agent(tmp_path, catalog))


async def open_script(pilot, app: OpsConsoleApp, name: str) -> ScriptView:
    """Filter the catalog down to one script and press enter on it, as an operator would."""
    await pilot.press("slash", *name, "enter")
    assert table_keys(app) == [name]
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.scripts_pane.current_view is not None, f"{name} opens")
    view = app.scripts_pane.current_view
    assert view is not None and view.script.name == name
    return view


def history_rows(app: OpsConsoleApp) -> int:
    return app.scripts_pane.query_one(RunHistoryTable).row_count


async def test_catalog_lists_every_script_with_its_flags(app: OpsConsoleApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_catalog(pilot)
        assert table_keys(app) == ["deploy_web", "fail", "gated", "hello", "rotate_key"]
        table = app.scripts_pane.table
        flags = table.get_cell("rotate_key", "flags")
        assert str(flags) == "lock ask"
        # Square brackets in a description are text, not markup.
        assert "[never logged]" in str(table.get_cell("rotate_key", "description"))
        assert app.focused is table


async def test_filter_narrows_rows_live_and_escape_clears_it(app: OpsConsoleApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_catalog(pilot)
        await pilot.press("slash")
        assert isinstance(app.focused, Input) and app.focused.id == "filter"
        await pilot.press(*"one")
        assert table_keys(app) == ["deploy_web", "gated", "hello"]  # in the description
        await pilot.press("space", *"run")
        assert table_keys(app) == ["deploy_web"]  # every word must match
        await pilot.press("ctrl+u", *"health")
        assert table_keys(app) == ["fail"]  # by tag
        await pilot.press("ctrl+u", *"rotate")
        assert table_keys(app) == ["rotate_key"]  # by name
        await pilot.press("escape")
        assert app.query_one("#filter", Input).value == ""
        assert len(table_keys(app)) == 5
        assert app.focused is app.scripts_pane.table


async def test_enter_opens_details_and_a_form_with_one_input_per_param(
    app: OpsConsoleApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_catalog(pilot)
        view = await open_script(pilot, app, "rotate_key")
        details = str(view.query_one(".details", Static).render())
        for fact in ("Store a new key [never logged]", "#secrets", "PUT", "split output"):
            assert fact in details
        assert "locked" in details and "asks to confirm" in details
        inputs = view.form.inputs
        assert [i.name for i in inputs] == ["service", "token"]
        assert [i.password for i in inputs] == [False, True]  # token is a filtered param
        assert inputs[0].placeholder == "which service"
        assert app.focused is inputs[0]
        # At 80 columns the page takes the catalog's place; escape brings the catalog back.
        assert not app.scripts_pane.catalog.display
        await pilot.press("escape")
        assert app.focused is app.scripts_pane.table


async def test_output_streams_in_before_the_script_ends(app: OpsConsoleApp, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_catalog(pilot)
        view = await open_script(pilot, app, "gated")
        await pilot.press(*str(gate), "ctrl+j")
        await wait_for(pilot, lambda: "first line" in view.log_view.text_lines, "first line")
        # The script is still blocked on the gate file: the line came while it ran.
        assert view.running
        assert "last line" not in view.log_view.text_lines
        assert "running" in str(view.query_one(".status", Static).render())
        gate.touch()
        await wait_for(pilot, lambda: not view.running, "the run ends")
        lines = view.log_view.text_lines
        assert lines.index("first line") < lines.index("last line")
        assert "exit 0" in str(view.query_one(".status", Static).render())
        assert any(line.startswith("exit 0 after") for line in lines)
        await wait_for(pilot, lambda: history_rows(app) == 1, "history shows the run")


async def test_failing_run_shows_its_exit_code_and_stderr_in_the_error_colour(
    app: OpsConsoleApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_catalog(pilot)
        view = await open_script(pilot, app, "fail")
        assert app.focused is view.query_one("#run")  # no params: the Run button has the focus
        await pilot.press("enter")
        await wait_for(pilot, lambda: view.last_retcode == 3, "exit 3")
        await pilot.pause()
        assert "exit 3" in str(view.query_one(".status", Static).render())
        kinds = dict((text, kind) for kind, text in view.log_view.entries)
        assert kinds["checking"] is Stream.STDOUT
        assert kinds["disk is full"] is Stream.STDERR


async def test_run_history_updates_and_a_past_run_opens_with_its_output(
    app: OpsConsoleApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_catalog(pilot)
        view = await open_script(pilot, app, "hello")
        await pilot.press(*"Ada", "enter")
        await wait_for(pilot, lambda: history_rows(app) == 1, "first run in history")
        await pilot.press("ctrl+a", "ctrl+k", *"Bob", "ctrl+j")
        await wait_for(pilot, lambda: history_rows(app) == 2, "second run in history")
        history = app.scripts_pane.query_one(RunHistoryTable)
        assert [r.params for r in history.records] == [{"name": "Bob"}, {"name": "Ada"}]
        assert {"hello Bob", "greeted on stderr"} <= set(view.log_view.text_lines)
        history.focus()
        await pilot.press("down", "enter")  # the older run, Ada's
        await wait_for(pilot, lambda: isinstance(app.screen, RunRecordScreen), "record opens")
        shown = app.screen.query_one("LogView").text_lines
        assert "hello Ada" in shown and "greeted on stderr" in shown
        await pilot.press("escape")
        assert not isinstance(app.screen, RunRecordScreen)


async def test_confirm_dialog_guards_the_run_and_filtered_params_stay_masked(
    app: OpsConsoleApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_catalog(pilot)
        view = await open_script(pilot, app, "rotate_key")
        await pilot.press(*"billing", "tab", *"s3cret9", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), "dialog")
        question = str(app.screen.query_one("#question", Static).render())
        assert "billing" in question and FILTERED in question and "s3cret9" not in question
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmDialog)
        assert view.log_view.received == 0 and not view.running
        await pilot.press("ctrl+j", "y")
        await wait_for(pilot, lambda: view.last_retcode == 0, "the confirmed run ends")
        stored = "stored 7 characters for billing"
        await wait_for(pilot, lambda: stored in view.log_view.text_lines, "its line")
        assert not any("s3cret9" in line for line in view.log_view.text_lines)
        await wait_for(pilot, lambda: history_rows(app) == 1, "history")
        record = app.scripts_pane.query_one(RunHistoryTable).records[0]
        assert record.params == {"service": "billing", "token": FILTERED}


async def test_locked_script_says_it_waits_for_the_lock(app: OpsConsoleApp, tmp_path: Path) -> None:
    gate = tmp_path / "deploy-gate"
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_catalog(pilot)
        client = app.client
        assert client is not None
        # Another operator holds the lock: a run started outside the console.
        async with AgentClient(
            Endpoint(client.endpoint.url, agent_token=client.endpoint.agent_token)
        ) as other:
            await other.info()
            holder = other.scripts.stream_run("deploy_web", {"gate": str(gate)})
            async for event in holder:
                if isinstance(event, RunOutput):
                    break
                assert isinstance(event, RunStarted)
            view = await open_script(pilot, app, "deploy_web")
            # The path in one write: typed a key at a time (each waiting for the app to go
            # idle), its ~90 characters took most of the test's 10 s.
            await burst(pilot, str(gate))
            await pilot.press("ctrl+j")
            await wait_for(
                pilot,
                lambda: "waiting for lock" in str(view.query_one(".status", Static).render()),
                "the run waits for the lock",
            )
            assert "deploying" not in view.log_view.text_lines
            gate.touch()
            async for _event in holder:
                pass
        await wait_for(pilot, lambda: view.last_retcode == 0, "our run gets the lock and ends")
        await wait_for(pilot, lambda: "deployed" in view.log_view.text_lines, "its last line")


async def test_running_a_script_the_agent_dropped_notifies_and_reload_closes_it(
    app: OpsConsoleApp, catalog: Path
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        seen = record_notifications(app)
        await wait_for_catalog(pilot)
        view = await open_script(pilot, app, "fail")
        # Somebody removes the script and reloads the agent behind the console's back.
        (catalog / "fail.sh").unlink()
        assert app.client is not None
        async with AgentClient(
            Endpoint(app.client.endpoint.url, agent_token=app.client.endpoint.agent_token)
        ) as other:
            await other.scripts.reload()
        await pilot.press("ctrl+j")
        await wait_for(pilot, lambda: not view.running and seen, "the run fails")
        assert [n.severity for n in seen] == ["error"]
        assert "fail" in seen[0].message and seen[0].title == "Run fail"
        assert "failed" in str(view.query_one(".status", Static).render())
        await pilot.press("R")
        await wait_for(pilot, lambda: "fail" not in app.scripts_pane.scripts, "reload")
        await pilot.pause()
        assert "fail" not in table_keys(app)
        assert any("no longer in the catalog" in n.message for n in seen)
        assert app.scripts_pane.current_view is None
        assert app.is_running


async def test_a_flood_of_output_is_written_in_batches_and_the_log_stays_bounded(
    app: OpsConsoleApp, catalog: Path
) -> None:
    write_script(catalog, "chatty.sh", "description: many lines", "seq 1 12000")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_catalog(pilot)
        view = await open_script(pilot, app, "chatty")
        log = view.log_view
        flushes = 0
        flush = log.flush

        def counting_flush() -> None:
            nonlocal flushes
            flushes += 1
            flush()

        log.flush = counting_flush  # type: ignore[method-assign]
        await pilot.press("enter")
        await wait_for(pilot, lambda: view.last_retcode == 0, "the run ends")
        await wait_for(pilot, lambda: log.text_lines[-1].startswith("exit 0"), "the exit note")
        assert log.received == 12000
        assert log.kept == MAX_LINES
        assert log.text_lines[-2] == "12000"
        # One update of the view per frame, not per line.
        assert flushes < 12000 / 20


async def test_an_agent_without_history_says_so(app: OpsConsoleApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_catalog(pilot)
        pane = app.scripts_pane
        assert pane.info is not None
        # What an older (plain Jojo) server's index amounts to: no extensions.
        pane.info = AgentInfo(url=pane.info.url)
        await open_script(pilot, app, "hello")
        title = pane.query_one("#history-title", Static)
        await wait_for(pilot, lambda: "no run history" in str(title.render()), "says so")
        assert history_rows(app) == 0
