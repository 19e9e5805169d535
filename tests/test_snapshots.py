"""Screenshots of the Scripts pane at 80x24 and 120x40, compared with tests/snapshots/.

Each app runs against a real agent on a fixed catalog. What changes from run
to run is pinned before the shot: the agent's port (the URL is masked), the
node id (given), run times and durations (formatted as fixed text), and the
input cursor (not blinking). Update with ``pytest tests/test_snapshots.py
--snapshot-update`` and look at the SVGs before committing them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest
import pytest_textual_snapshot
from syrupy.location import PyTestLocation
from textual.pilot import Pilot
from textual.widgets import Input

from console.adapters.errors import Unavailable
from console.models import ProcessState, ProcessStatus
from console.tui.app import OpsConsoleApp
from console.tui.kit.connection_indicator import ConnectionIndicator
from console.tui.processes import table as process_table
from console.tui.scripts import history as run_history
from console.tui.scripts import view as script_view
from tests.tui_helpers import (
    LONG_LINE,
    QUIET,
    create_processes,
    make_catalog,
    make_procfile_app,
    process_state,
    processes_agent,
    settled,
    spawned_agent,
    wait_for,
    wait_for_catalog,
)

NARROW = (80, 24)
WIDE = (120, 40)

Before = Callable[[Pilot[object]], Awaitable[None]]


class _SnapshotsDirectory(pytest_textual_snapshot.SVGImageExtension):
    """Keeps the SVGs in tests/snapshots/ (the project's place), not in __snapshots__/."""

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(Path(test_location.filepath).parent / "snapshots" / test_location.basename)


@pytest.fixture(autouse=True)
def pinned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything time- or machine-dependent, made the same on every run."""
    monkeypatch.setattr(pytest_textual_snapshot, "SVGImageExtension", _SnapshotsDirectory)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no user themes
    monkeypatch.setattr(script_view, "format_duration", lambda seconds: "0.05 s")
    monkeypatch.setattr(run_history, "format_duration", lambda seconds: "0.05 s")
    monkeypatch.setattr(run_history, "started_text", lambda started_at: "12:00:00")
    monkeypatch.setattr(process_table, "uptime_text", _pinned_uptime)
    monkeypatch.setattr(process_table, "cpu_text", lambda usage: "0.3%" if usage else "-")
    monkeypatch.setattr(process_table, "mem_text", lambda usage: "12M" if usage else "-")


def _pinned_uptime(status: ProcessStatus, now: float) -> str:
    return "1m05s" if status.state is ProcessState.RUNNING else "-"


def console_app(tmp_path: Path, theme: str | None = None) -> OpsConsoleApp:
    catalog = make_catalog(tmp_path / "scripts")
    config = tmp_path / "quiet.toml"
    config.write_text(QUIET)
    agent = spawned_agent(tmp_path, catalog, "--node-id", "ops-1", "--config", str(config))
    return OpsConsoleApp(agent, theme=theme)


def steady(*steps: Before) -> Before:
    """Wait for the catalog, do the steps, then pin the URL and the cursors."""

    async def before(pilot: Pilot[object]) -> None:
        app = pilot.app
        assert isinstance(app, OpsConsoleApp)
        await wait_for_catalog(pilot)
        for step in steps:
            await step(pilot)
        app.query_one(ConnectionIndicator).url = "http://127.0.0.1:8470"
        for field in app.screen.query(Input):
            field.cursor_blink = False
        await settled(pilot)

    return before


def keys(*pressed: str) -> Before:
    async def press(pilot: Pilot[object]) -> None:
        await pilot.press(*pressed)
        await settled(pilot)

    return press


async def open_rotate_key(pilot: Pilot[object]) -> None:
    await pilot.press("slash", *"rotate", "enter", "enter", *"billing", "tab", *"hunter2")
    await settled(pilot)


async def run_fail(pilot: Pilot[object]) -> None:
    app = pilot.app
    assert isinstance(app, OpsConsoleApp)
    await pilot.press("slash", *"fail", "enter", "enter", "enter")
    pane = app.scripts_pane
    await wait_for(pilot, lambda: pane.query_one(run_history.RunHistoryTable).row_count, "history")
    await settled(pilot)


def test_catalog_narrow(snap_compare, tmp_path: Path) -> None:
    assert snap_compare(console_app(tmp_path), terminal_size=NARROW, run_before=steady())


def test_catalog_wide(snap_compare, tmp_path: Path) -> None:
    assert snap_compare(console_app(tmp_path), terminal_size=WIDE, run_before=steady())


def test_catalog_filtered_narrow(snap_compare, tmp_path: Path) -> None:
    before = steady(keys("slash", *"re"))
    assert snap_compare(console_app(tmp_path), terminal_size=NARROW, run_before=before)


def test_script_page_narrow(snap_compare, tmp_path: Path) -> None:
    before = steady(open_rotate_key)
    assert snap_compare(console_app(tmp_path), terminal_size=NARROW, run_before=before)


def test_script_page_wide(snap_compare, tmp_path: Path) -> None:
    before = steady(open_rotate_key)
    assert snap_compare(console_app(tmp_path), terminal_size=WIDE, run_before=before)


def test_finished_run_narrow(snap_compare, tmp_path: Path) -> None:
    before = steady(run_fail)
    assert snap_compare(console_app(tmp_path), terminal_size=NARROW, run_before=before)


def test_finished_run_wide(snap_compare, tmp_path: Path) -> None:
    before = steady(run_fail)
    assert snap_compare(console_app(tmp_path), terminal_size=WIDE, run_before=before)


def test_confirm_dialog_narrow(snap_compare, tmp_path: Path) -> None:
    before = steady(open_rotate_key, keys("ctrl+j"))
    assert snap_compare(console_app(tmp_path), terminal_size=NARROW, run_before=before)


def test_help_narrow(snap_compare, tmp_path: Path) -> None:
    before = steady(keys("question_mark"))
    assert snap_compare(console_app(tmp_path), terminal_size=NARROW, run_before=before)


def test_light_theme_script_page_narrow(snap_compare, tmp_path: Path) -> None:
    app = console_app(tmp_path, theme="opsconsole-light")
    assert snap_compare(app, terminal_size=NARROW, run_before=steady(run_fail))


def test_high_contrast_script_page_narrow(snap_compare, tmp_path: Path) -> None:
    app = console_app(tmp_path, theme="opsconsole-high-contrast")
    assert snap_compare(app, terminal_size=NARROW, run_before=steady(run_fail))


class _RefusingAgent:
    """An agent that cannot be reached, with a message that does not vary."""

    description = "staging"

    async def connect(self) -> object:
        raise Unavailable("https://staging-ops.internal:8470: connection refused")

    async def close(self) -> None:
        return None


def test_offline_narrow(snap_compare) -> None:
    app = OpsConsoleApp(_RefusingAgent())  # type: ignore[arg-type]

    async def before(pilot: Pilot[object]) -> None:
        await wait_for(pilot, lambda: app.connection_state == "offline", "offline")
        await settled(pilot)

    assert snap_compare(app, terminal_size=NARROW, run_before=before)


# -- the Processes pane: processes in states that no longer change, fixed output, pinned pids --


def processes_app(tmp_path: Path) -> OpsConsoleApp:
    return OpsConsoleApp(processes_agent(tmp_path))


def settled_processes(tmp_path: Path) -> Before:
    """shop.steady.0 running (its lines all out), shop.crash.0 fatal, shop.quiet.0 stopped."""

    async def settle(pilot: Pilot[object]) -> None:
        app = pilot.app
        assert isinstance(app, OpsConsoleApp)
        source = make_procfile_app(tmp_path / "shop")
        await create_processes(pilot, source, "steady", "crash", "quiet")
        await pilot.press("2")
        pane = app.processes_pane
        await wait_for(pilot, lambda: process_state(app, "shop.quiet.0") == "running", "up")
        assert app.client is not None
        await app.client.processes.stop("shop.quiet.0")
        for slug, state in [("quiet", "stopped"), ("crash", "fatal"), ("steady", "running")]:
            shows = partial(lambda s, t: process_state(app, f"shop.{s}.0") == t, slug, state)
            await wait_for(pilot, shows, f"{slug} {state}")
        pane.apply(replace(pane.statuses["shop.steady.0"], pid=4242))
        # CPU and memory (pinned above) once sampled, so the shot never catches it before.
        await wait_for(pilot, lambda: "shop.steady.0" in pane.process_table.usage, "a sample")
        # The toast that says crash went fatal lasts seconds: whether it is still up at the
        # shot would depend on the machine's speed (tests/test_tui_kit.py proves it).
        app.clear_notifications()
        await settled(pilot)

    return settle


def steady_log(*more: str) -> Before:
    """Open the steady process's log and wait for its last line; then press ``more``."""

    async def open_it(pilot: Pilot[object]) -> None:
        app = pilot.app
        assert isinstance(app, OpsConsoleApp)
        pane = app.processes_pane
        pane.process_table.move_to("shop.steady.0")
        await pilot.press("enter")
        await wait_for(pilot, lambda: pane.process_log is not None, "the log")
        log = pane.process_log
        assert log is not None
        await wait_for(pilot, lambda: LONG_LINE in log.view.text_lines, "every line")
        if more:
            await pilot.press(*more)
        await settled(pilot)

    return open_it


def test_processes_narrow(snap_compare, tmp_path: Path) -> None:
    before = steady(settled_processes(tmp_path))
    assert snap_compare(processes_app(tmp_path), terminal_size=NARROW, run_before=before)


def test_processes_wide(snap_compare, tmp_path: Path) -> None:
    before = steady(settled_processes(tmp_path))
    assert snap_compare(processes_app(tmp_path), terminal_size=WIDE, run_before=before)


def test_process_log_narrow(snap_compare, tmp_path: Path) -> None:
    before = steady(settled_processes(tmp_path), steady_log())
    assert snap_compare(processes_app(tmp_path), terminal_size=NARROW, run_before=before)


def test_process_log_searched_wide(snap_compare, tmp_path: Path) -> None:
    search = ("slash", *"disk", "enter")
    before = steady(settled_processes(tmp_path), steady_log(*search))
    assert snap_compare(processes_app(tmp_path), terminal_size=WIDE, run_before=before)


def test_new_process_form_narrow(snap_compare, tmp_path: Path) -> None:
    form = keys("n", *"web", "space", "1", "ctrl+s")
    before = steady(settled_processes(tmp_path), form)
    assert snap_compare(processes_app(tmp_path), terminal_size=NARROW, run_before=before)
