"""The Processes pane, driven by key presses in the real app against a real agent and children."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events
from textual.widgets import Input, Static, TextArea

from console.adapters.agent import AgentClient
from console.adapters.base import Endpoint
from console.models import ProcessState, Stream
from console.tui.app import OpsConsoleApp
from console.tui.kit import log_view
from console.tui.kit.confirm_dialog import ConfirmDialog
from console.tui.kit.help_screen import HelpScreen
from console.tui.kit.log_view import LogView
from console.tui.kit.prompt_dialog import PromptDialog
from console.tui.kit.rich_style import component_style
from console.tui.processes.create_form import CreateProcessForm
from console.tui.processes.log_panel import ProcessLogPanel
from tests.tui_helpers import (
    LONG_LINE,
    create_processes,
    make_procfile_app,
    process_state,
    processes_agent,
    record_notifications,
    select_row,
    wait_for,
)

SIZE = (80, 24)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return make_procfile_app(tmp_path / "shop")


@pytest.fixture
def app(tmp_path: Path) -> OpsConsoleApp:
    return OpsConsoleApp(processes_agent(tmp_path))


async def show_processes(pilot, app: OpsConsoleApp, source: Path, *kinds: str) -> list[str]:
    """Create processes of the test app and switch to the pane once their rows are there."""
    slugs = await create_processes(pilot, source, *kinds)
    await pilot.press("2")
    pane = app.processes_pane
    await wait_for(pilot, lambda: set(slugs) <= set(pane.process_table.shown), "the rows")
    return slugs


async def select(pilot, app: OpsConsoleApp, slug: str) -> None:
    pane = app.processes_pane
    await select_row(pilot, pane.process_table, slug)
    selected = pane.process_table.selected
    assert selected is not None and selected.slug == slug


async def open_log(pilot, app: OpsConsoleApp, slug: str) -> LogView:
    await select(pilot, app, slug)
    await pilot.press("enter")
    pane = app.processes_pane
    await wait_for(pilot, lambda: pane.log_open and pane.process_log is not None, "log opens")
    log = pane.process_log
    assert log is not None and log.slug == slug
    assert app.focused is log.view
    return log.view


def keys(app: OpsConsoleApp, *names: str) -> None:
    """Queue key events as the driver does, without waiting for the app to go idle."""
    for name in names:
        app.post_message(events.Key(name, name if len(name) == 1 else None))


def header(app: OpsConsoleApp) -> str:
    log = app.processes_pane.process_log
    assert log is not None
    return str(log.query_one("#log-header", Static).render())


async def test_table_shows_processes_and_follows_their_states_without_a_key(
    app: OpsConsoleApp, source: Path
) -> None:
    # Wide enough for every column (at 80 some drop: test_tui_process_details).
    async with app.run_test(size=(120, 30)) as pilot:
        slugs = await show_processes(pilot, app, source, "quiet", "crash", "steady")
        pane = app.processes_pane
        assert pane.process_table.shown == sorted(slugs)
        assert app.focused is pane.table
        await wait_for(pilot, lambda: process_state(app, "shop.quiet.0") == "running", "running")
        # The crash loop goes through backoff to fatal on its own, seen live.
        await wait_for(pilot, lambda: process_state(app, "shop.crash.0") == "fatal", "fatal")
        table = pane.table
        assert str(table.get_cell("shop.crash.0", "restarts")) == "2"
        assert str(table.get_cell("shop.crash.0", "exit")) == "1"
        assert "exited 3 times" in str(table.get_cell("shop.crash.0", "message"))
        assert str(table.get_cell("shop.quiet.0", "pid")).isdigit()
        # Somebody else stops and deletes processes: the table changes with no key pressed.
        assert app.client is not None
        async with AgentClient(
            Endpoint(app.client.endpoint.url, agent_token=app.client.endpoint.agent_token)
        ) as other:
            await other.info()
            await other.processes.stop("shop.quiet.0")
            await wait_for(
                pilot, lambda: process_state(app, "shop.quiet.0") == "stopped", "stopped"
            )
            assert str(table.get_cell("shop.quiet.0", "pid")) == "-"
            await other.processes.delete("shop.steady.0")
            await wait_for(pilot, lambda: "shop.steady.0" not in pane.statuses, "deleted")
        assert pane.process_table.shown == ["shop.crash.0", "shop.quiet.0"]
        # The filter narrows rows as typed; escape clears it.
        await pilot.press("slash", *"fatal")
        assert pane.process_table.shown == ["shop.crash.0"]
        await pilot.press("escape")
        assert len(pane.process_table.shown) == 2 and app.focused is pane.table


async def test_enter_opens_the_log_with_history_stderr_marked_and_escape_goes_back(
    app: OpsConsoleApp, source: Path
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await show_processes(pilot, app, source, "steady", "quiet")
        pane = app.processes_pane
        await wait_for(pilot, lambda: process_state(app, "shop.steady.0") == "running", "up")
        view = await open_log(pilot, app, "shop.steady.0")
        await wait_for(pilot, lambda: "gamma" in view.text_lines, "the lines")
        assert view.text_lines[:3] == ["alpha", "beta", "warning: disk 91% full"]
        kinds = dict((text, kind) for kind, text in view.entries)
        assert kinds["alpha"] is Stream.STDOUT
        assert kinds["warning: disk 91% full"] is Stream.STDERR
        shown = header(app)
        for part in ("shop.steady.0", "running", "following", "5 lines"):
            assert part in shown
        assert not pane.process_table.display  # at 80x24 the log takes the table's place
        # Wrap: the long line takes more rows, and the header says so.
        rows = view.virtual_size.height
        await pilot.press("w")
        assert view.virtual_size.height > rows and "wrap" in header(app)
        assert LONG_LINE in view.text_lines
        await pilot.press("escape")
        assert not pane.log_open and app.focused is pane.table
        assert pane.process_log is not None and not pane.process_log.tailing


async def test_scrolling_up_pauses_following_and_G_resumes_it(
    app: OpsConsoleApp, source: Path
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await show_processes(pilot, app, source, "ticker")
        view = await open_log(pilot, app, "shop.ticker.0")
        await wait_for(pilot, lambda: view.kept > 60, "enough lines to scroll")
        assert view.follow and view.scroll_y == view.max_scroll_y
        # Keys as the driver delivers them: a press waits until the app goes idle, which a
        # log taking 100 lines a second never does (up to 2 s a key, most of this test).
        keys(app, "up", "up", "up")
        await wait_for(pilot, lambda: not view.follow, "following pauses")
        assert "paused" in header(app)
        top, shown = view.scroll_y, view.text_lines
        # Paused, the lines are held: what is read does not move, however busy the process.
        await wait_for(pilot, lambda: view.held > 20, "more lines arrive, held")
        assert view.scroll_y == top and view.text_lines == shown
        assert f"{view.held:,} new" in header(app) or "new" in header(app)
        keys(app, "G")
        await wait_for(pilot, lambda: view.follow and "following" in header(app), "following")
        await wait_for(pilot, lambda: view.scroll_y == view.max_scroll_y, "back at the end")
        # Nothing held was lost or repeated: the ticks run on, one by one.
        ticks = [int(line.split()[1]) for line in view.text_lines if line.startswith("tick ")]
        assert ticks == list(range(ticks[0], ticks[0] + len(ticks)))
        keys(app, "f")
        await wait_for(pilot, lambda: not view.follow, "f pauses")


async def test_search_highlights_every_match_and_n_N_move_between_them(
    app: OpsConsoleApp, source: Path
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await show_processes(pilot, app, source, "numbers")
        view = await open_log(pilot, app, "shop.numbers.0")
        await wait_for(pilot, lambda: "line 300" in view.text_lines, "the lines")
        await pilot.press("slash")
        log = app.processes_pane.process_log
        assert log is not None and app.focused is log.search_input
        await pilot.press(*"LINE", "space", *"25", "enter")  # without regard to case
        assert app.focused is view
        # The first search finds the latest match: line 259 (250..259 and 25 all match).
        assert view.current_match == ("line 259", 0)
        assert str(log.query_one("#search-count", Static).render()) == "11 lines"
        assert not view.follow
        await pilot.press("N")
        assert view.current_match == ("line 258", 0)
        await pilot.press("N", "N")
        assert view.current_match == ("line 256", 0)
        await pilot.press("n")
        assert view.current_match == ("line 257", 0)
        await pilot.pause()
        # The match on screen is painted in the current-match colour, others in the match colour.
        current = view.get_component_rich_style("log-view--current-match").bgcolor
        other = component_style(view, "log-view--match").bgcolor
        painted = {
            strip.text.strip(): {seg.style.bgcolor for seg in strip if seg.style}
            for strip in (view.render_line(y) for y in range(view.size.height))
        }
        assert current in painted["line 257"] and other in painted["line 258"]
        assert other not in painted.get("line 260", {other})
        # Nothing newer than the last one: n says so.
        seen = record_notifications(app)
        await pilot.press("n", "n", "n")
        assert view.current_match == ("line 259", 0)
        assert seen and "no newer match" in seen[-1].message


async def test_restart_stop_and_delete_ask_first_and_start_does_not(
    app: OpsConsoleApp, source: Path
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await show_processes(pilot, app, source, "quiet", "steady")
        pane = app.processes_pane
        await wait_for(pilot, lambda: process_state(app, "shop.quiet.0") == "running", "up")
        await select(pilot, app, "shop.quiet.0")
        before = pane.statuses["shop.quiet.0"]
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmDialog)
        assert "Restart shop.quiet.0?" in str(app.screen.query_one("#question", Static).render())
        await pilot.press("n")  # no: nothing happens
        assert not isinstance(app.screen, ConfirmDialog)
        await pilot.press("r", "y")

        def restarted() -> bool:
            now = pane.statuses["shop.quiet.0"]
            return now.restarts == before.restarts + 1 and now.state is ProcessState.RUNNING

        await wait_for(pilot, restarted, "the restart")
        assert pane.statuses["shop.quiet.0"].pid != before.pid
        # s stops a running process and starts a stopped one; the footer says which.
        assert app.screen.active_bindings["s"].binding.description == "Stop"
        await pilot.press("s", "y")
        await wait_for(pilot, lambda: process_state(app, "shop.quiet.0") == "stopped", "stop")
        assert app.screen.active_bindings["s"].binding.description == "Start"
        # Starting what is stopped loses nothing: no question (operator item 10).
        await pilot.press("s")
        assert not isinstance(app.screen, ConfirmDialog)
        await wait_for(pilot, lambda: process_state(app, "shop.quiet.0") == "running", "start")
        await pilot.press("ctrl+d")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await wait_for(pilot, lambda: "shop.quiet.0" not in pane.statuses, "deleted")
        assert pane.process_table.shown == ["shop.steady.0"]


async def test_new_process_form_checks_inline_and_creates_with_env(
    app: OpsConsoleApp, source: Path
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        seen = record_notifications(app)
        await show_processes(pilot, app, source, "quiet")
        pane = app.processes_pane
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, CreateProcessForm), "the form")
        form = app.screen
        assert isinstance(form, CreateProcessForm)
        assert form.values()["app"] == "shop"  # from the selected process
        assert app.focused is form.query_one("#field-node", Input)
        await pilot.press(*"bad node", "enter", "enter")  # no process type, no source
        form.query_one(TextArea).text = "GREETING=world\nnot a pair"
        await pilot.press("ctrl+s")
        problems = str(form.query_one("#problems", Static).render())
        assert "node: only letters" in problems and "process type: required" in problems
        assert "source: required" in problems and "env line 2: expected KEY=VALUE" in problems
        assert form.query_one("#field-node", Input).has_class("-invalid")
        assert not seen  # nothing was sent
        form.query_one("#field-node", Input).value = "greet.0"
        form.query_one("#field-process_type", Input).value = "greet"
        form.query_one("#field-source_url", Input).value = str(source)
        form.query_one(TextArea).text = "# a comment\nGREETING=world\n"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, CreateProcessForm), "created")
        await wait_for(pilot, lambda: "shop.greet.0" in pane.statuses, "the new row")
        assert any(n.title == "Process created" for n in seen)
        view = await open_log(pilot, app, "shop.greet.0")
        await wait_for(pilot, lambda: "hello world" in view.text_lines, "env reached it")


async def test_agent_errors_are_notifications_and_old_agents_cannot_restart(
    app: OpsConsoleApp, source: Path
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        seen = record_notifications(app)
        await show_processes(pilot, app, source, "quiet")
        pane = app.processes_pane
        # The agent refuses a slug that exists: a notification, and the form stays to fix it.
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, CreateProcessForm), "the form")
        form = app.screen
        assert isinstance(form, CreateProcessForm)
        for name, value in [("node", "quiet.0"), ("process_type", "quiet")]:
            form.query_one(f"#field-{name}", Input).value = value
        form.query_one("#field-source_url", Input).value = str(source)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: seen, "a notification")
        assert seen[-1].severity == "error" and "exists already" in seen[-1].message
        assert seen[-1].title == "Create shop.quiet.0"
        assert app.screen is form
        await pilot.press("escape")
        # What a compatible (older) agent amounts to: no control routes.
        assert app.client is not None
        app.client.processes.features = frozenset()
        await select(pilot, app, "shop.quiet.0")
        await pilot.press("r")
        assert not isinstance(app.screen, ConfirmDialog)
        assert "no control routes" in seen[-1].message and seen[-1].severity == "warning"
        # A process deleted behind the console's back: the control call fails with a notice.
        app.client.processes.features = frozenset({"processes.control"})
        pane.workers.cancel_group(pane, "feed")  # so the row stays to act on
        async with AgentClient(
            Endpoint(app.client.endpoint.url, agent_token=app.client.endpoint.agent_token)
        ) as other:
            await other.processes.delete("shop.quiet.0")
        await pilot.press("r", "y")
        await wait_for(pilot, lambda: seen[-1].severity == "error", "the error")
        assert seen[-1].title == "Restart shop.quiet.0" and "No process" in seen[-1].message
        assert app.is_running


async def test_a_flood_of_lines_is_added_in_batches_and_the_view_stays_bounded(
    app: OpsConsoleApp, source: Path, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    async with app.run_test(size=SIZE) as pilot:
        slugs = await create_processes(pilot, source, "flood", env={"GATE": str(gate)})
        await pilot.press("2")
        await wait_for(pilot, lambda: slugs[0] in app.processes_pane.statuses, "the row")
        view = await open_log(pilot, app, slugs[0])
        flushes = 0
        flush = view.flush

        def counting_flush() -> None:
            nonlocal flushes
            if view._pending:
                flushes += 1
            flush()

        view.flush = counting_flush  # type: ignore[method-assign]
        log = app.processes_pane.process_log
        assert log is not None
        await wait_for(pilot, lambda: log.tailing, "attached")
        gate.touch()
        # The app keeps answering keys while the lines pour in.
        await wait_for(pilot, lambda: view.received > 0, "the flood starts")
        await pilot.press("w")
        assert view.wrap
        await wait_for(pilot, lambda: view.received == 30000, "every line arrives")
        await wait_for(pilot, lambda: view.text_lines[-1:] == ["30000"], "the last one shown")
        assert view.kept == log_view.MAX_LINES
        assert view.text_lines[-1] == "30000" and view.text_lines[0] == "20001"
        assert flushes < 30000 / 100  # one update per frame, not per line or per batch


async def test_save_asks_for_a_path_and_never_overwrites(
    app: OpsConsoleApp, source: Path, tmp_path: Path
) -> None:
    target = tmp_path / "saved.log"
    async with app.run_test(size=SIZE) as pilot:
        seen = record_notifications(app)
        await show_processes(pilot, app, source, "numbers")
        view = await open_log(pilot, app, "shop.numbers.0")
        await wait_for(pilot, lambda: "line 300" in view.text_lines, "the lines")
        for attempt in range(2):
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, PromptDialog), "the prompt")
            answer = app.screen.query_one(Input)
            assert answer.value.startswith("./shop.numbers.0-") and answer.value.endswith(".log")
            answer.value = str(target)
            await pilot.press("enter")
            await wait_for(pilot, lambda n=attempt: len(seen) > n, "a notification")
        assert seen[0].title == "Log saved" and str(target) in seen[0].message
        assert target.read_text().splitlines() == view.text_lines
        assert seen[1].title == "Log not saved" and "exists already" in seen[1].message
        await pilot.press("c")
        assert view.kept == 0 and view.text_lines == []


async def test_help_and_palette_list_the_panes_actions(app: OpsConsoleApp, source: Path) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await show_processes(pilot, app, source, "quiet")

        async def help_text() -> str:
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            text = "\n".join(str(s.render()) for s in app.screen.query("Static"))
            await pilot.press("escape")
            return text

        def listed(text: str, key: str, what: str) -> bool:
            return any(line.startswith(key) and what in line for line in text.splitlines())

        text = await help_text()
        for key, what in [
            ("enter / l", "log"),
            ("r", "restart"),
            ("s", "stop the selected"),
            (" ", "start it again"),  # under the row of s: the key is listed once
            ("^d", "forget it"),
            ("n", "create a process"),
            ("/", "filter"),
        ]:
            assert listed(text, key, what), key
        assert text.index("Processes table") < text.index("Console")
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Processes: new", "Processes: restart shop.quiet.0"} <= titles
        assert {"Open log of shop.quiet.0", "Show Scripts", "Scripts: filter"} <= titles
        await open_log(pilot, app, "shop.quiet.0")
        text = await help_text()
        for key, what in [
            ("f", "follow new lines"),
            ("G / end", "following again"),
            ("/", "search"),
            ("n", "next (newer) match"),
            ("w", "wrap"),
            ("s", "save"),
            ("c", "clear"),
            ("esc", "back to the table"),
        ]:
            assert listed(text, key, what), key
        assert "Processes table" not in text  # at 80x24, the keys of what is shown
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Log: follow on/off", "Log: save to a file", "Log: search"} <= titles
        assert isinstance(app.processes_pane.process_log, ProcessLogPanel)


async def test_a_fatal_log_opens_at_its_true_end_above_the_scrollbar(
    app: OpsConsoleApp, tmp_path: Path
) -> None:
    long_app = tmp_path / "long"
    long_app.mkdir()
    script = f"seq 1 40; echo '{LONG_LINE} {LONG_LINE}'; echo 'the last words'; exit 1"
    (long_app / "Procfile").write_text(f"dies: {script}\n")
    async with app.run_test(size=SIZE) as pilot:
        await show_processes(pilot, app, long_app, "dies")
        await wait_for(pilot, lambda: process_state(app, "shop.dies.0") == "fatal", "fatal")
        view = await open_log(pilot, app, "shop.dies.0")
        await wait_for(pilot, lambda: "the last words" in view.text_lines, "the history")
        await pilot.pause()
        # A line wider than the view brings a scrollbar row: the last line stays above it.
        rows = view.scrollable_content_region.height
        assert view.show_horizontal_scrollbar
        assert view.scroll_y + rows >= len(view.text_lines), (view.scroll_y, rows)
