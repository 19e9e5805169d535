"""The Processes pane's operator items (issue 14, item 10): a live backoff countdown, a
requested restart that is no failure, the details view, CPU and memory columns, and the
fatal toast; the real app under ``run_test()`` against a real agent and real children."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.widgets import Static

from console.models import FILTERED, ProcessState
from console.tui.app import OpsConsoleApp
from console.tui.kit.confirm_dialog import ConfirmDialog
from console.tui.processes.details import ProcessDetailsPanel
from console.tui.processes.table import DROP_FIRST, MESSAGE_ROOM
from tests.test_tui_processes import header, select, show_processes
from tests.tui_helpers import (
    QUIET,
    make_catalog,
    make_procfile_app,
    process_state,
    processes_agent,
    record_notifications,
    spawned_agent,
    wait_for,
)

SIZE = (80, 24)
WIDE = (160, 40)
SLOW_BACKOFF = (
    QUIET
    + """
[agent.restart]
first_delay = 4.0
max_delay = 4.0
stable_after = 10.0
max_quick_failures = 6
stop_grace = 0.5
"""
)
"""Each crash waits 4 s before its restart: long enough to watch a countdown."""


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return make_procfile_app(tmp_path / "shop")


@pytest.fixture
def app(tmp_path: Path) -> OpsConsoleApp:
    return OpsConsoleApp(processes_agent(tmp_path))


def cell(app: OpsConsoleApp, slug: str, column: str) -> str:
    return str(app.processes_pane.table.get_cell(slug, column))


def details_text(app: OpsConsoleApp) -> str:
    panel = app.processes_pane.query_children(ProcessDetailsPanel).first()
    body = str(panel.query_one("#details-text", Static).render())
    return f"{panel.query_one('#details-header', Static).render()}\n{body}"


async def test_restarting_in_counts_down_in_the_table_and_the_log_then_shows_the_new_state(
    tmp_path: Path, source: Path
) -> None:
    config = tmp_path / "slow.toml"
    config.write_text(SLOW_BACKOFF)
    agent = spawned_agent(tmp_path, make_catalog(tmp_path / "scripts"), "--config", str(config))
    app = OpsConsoleApp(agent)
    async with app.run_test(size=WIDE) as pilot:
        await show_processes(pilot, app, source, "crash")
        slug = "shop.crash.0"
        await wait_for(pilot, lambda: process_state(app, slug) == "backoff", "backoff")
        seen: list[int] = []

        def counting(*, below: int) -> bool:
            found = re.search(r"restarting in (\d+)s", cell(app, slug, "message"))
            if found:
                seen.append(int(found.group(1)))
            return bool(found) and int(found.group(1)) < below

        await wait_for(pilot, lambda: counting(below=5), "a countdown in the table")
        first = seen[-1]
        await wait_for(pilot, lambda: counting(below=first), "one second less")
        # The same countdown in the open log's header.
        await pilot.press("enter")
        await wait_for(pilot, lambda: "restarting in" in header(app), "the header counts")
        shown = int(re.search(r"restarting in (\d+)s", header(app)).group(1))  # type: ignore[union-attr]
        await wait_for(
            pilot,
            lambda: f"restarting in {shown - 1}s" in header(app) or "backoff" not in header(app),
            "the header counts down",
        )
        # The count ends in the new state: it ran again (and crashed again).
        pane = app.processes_pane
        await wait_for(pilot, lambda: pane.statuses[slug].restarts >= 1, "restarted")
        assert pane.statuses[slug].failures >= 1


async def test_a_restart_the_operator_asked_for_is_no_failure(
    app: OpsConsoleApp, source: Path
) -> None:
    async with app.run_test(size=WIDE) as pilot:
        await show_processes(pilot, app, source, "quiet")
        slug = "shop.quiet.0"
        pane = app.processes_pane
        await wait_for(pilot, lambda: process_state(app, slug) == "running", "up")
        await select(pilot, app, slug)
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: (
                pane.statuses[slug].restarts == 1
                and pane.statuses[slug].state is ProcessState.RUNNING
            ),
            "the restart",
        )
        status = pane.statuses[slug]
        assert status.last_exit == -15 and status.last_exit_request == "restart"
        assert status.failures == 0
        exit_cell = pane.table.get_cell(slug, "exit")
        assert str(exit_cell) == "restarted"
        assert exit_cell.style != pane.process_table.style("failed")
        assert "-15" not in [str(c) for c in pane.table.get_row(slug)]
        assert cell(app, slug, "message") == "restarted on request"
        await pilot.press("s", "y")
        await wait_for(pilot, lambda: cell(app, slug, "exit") == "stopped", "stopped by request")


async def test_d_describes_a_process_with_its_exits_and_secrets_masked(
    app: OpsConsoleApp, source: Path
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        env = {"GREETING": "hi", "API_TOKEN": "tok-4711", "DB_URL": "postgres://u:pw-4712@db/x"}
        from tests.tui_helpers import create_processes

        await create_processes(pilot, source, "greet", env=env)
        await pilot.press("2")
        pane = app.processes_pane
        slug = "shop.greet.0"
        await wait_for(pilot, lambda: process_state(app, slug) == "running", "up")
        await select(pilot, app, slug)
        assert app.client is not None
        await app.client.processes.restart(slug)
        await wait_for(pilot, lambda: pane.statuses[slug].restarts == 1, "restarted once")
        await pilot.press("d")
        await wait_for(pilot, lambda: pane.detail_open, "the details open")
        await wait_for(pilot, lambda: "Environment" in details_text(app), "details loaded")
        text = details_text(app)
        status = pane.statuses[slug]
        for expected in (
            slug,
            'echo "hello $GREETING"; exec sleep 1000',
            f"pid        {status.pid}",
            "shop / greet",
            "(up ",
            "restarts   1  (0 quick failures in a row)",
            "SIGTERM",
            "restarted by the operator",
            "GREETING   hi",
            "API_TOKEN",
            "masked",
            "postgres://u:***@db/x",
        ):
            assert expected in text, (expected, text)
        assert "tok-4711" not in text and "pw-4712" not in text and FILTERED not in text
        panel = pane.query_children(ProcessDetailsPanel).first()
        assert panel.details is not None
        assert panel.details.env["API_TOKEN"] == FILTERED  # masked by the agent, not here
        assert app.focused is panel.view  # type: ignore[attr-defined]
        # l opens its log in the same place; escape goes back to the table.
        await pilot.press("l")
        await wait_for(pilot, lambda: pane.log_open, "the log opens")
        assert pane.process_log is not None and pane.process_log.slug == slug
        assert not panel.display or panel.has_class("-shelved")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not pane.detail_open, "back to the table")
        assert app.focused is pane.table
        # d again, then escape: the details, then the table.
        await pilot.press("d")
        await wait_for(pilot, lambda: pane.detail_open and not pane.log_open, "details again")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not pane.detail_open, "back again")


async def test_cpu_and_memory_columns_and_what_goes_first_at_80_columns(
    app: OpsConsoleApp, source: Path
) -> None:
    async with app.run_test(size=WIDE) as pilot:
        await show_processes(pilot, app, source, "quiet", "ticker")
        table = app.processes_pane.process_table
        assert {"cpu", "mem"} <= set(table.shown_columns)
        for slug in ("shop.quiet.0", "shop.ticker.0"):
            await wait_for(pilot, lambda s=slug: process_state(app, s) == "running", "up")  # type: ignore[misc]

        def sampled(slug: str) -> bool:
            return cell(app, slug, "cpu").endswith("%") and cell(app, slug, "mem") != "-"

        await wait_for(pilot, lambda: sampled("shop.quiet.0"), "a sample")
        await wait_for(pilot, lambda: sampled("shop.ticker.0"), "a sample")
        assert re.fullmatch(r"\d+(\.\d)?[BKMG]", cell(app, "shop.quiet.0", "mem"))
        # A stopped process has neither.
        assert app.client is not None
        await app.client.processes.stop("shop.quiet.0")
        await wait_for(pilot, lambda: cell(app, "shop.quiet.0", "cpu") == "-", "no sample")
        # At 80 columns the least needed columns go, the name stays whole.
        await pilot.resize_terminal(*SIZE)
        await wait_for(pilot, lambda: DROP_FIRST[0] not in table.shown_columns, "narrower")
        shown = table.shown_columns
        assert shown == ("process", "state", "uptime", "cpu", "restarts", "message"), shown
        assert shown[:2] == ("process", "state") and shown[-1] == "message"
        dropped = [c for c in DROP_FIRST if c not in shown]
        assert dropped == list(DROP_FIRST[: len(dropped)]), "dropped in priority order"
        assert "shop.ticker.0" in str(table.table.get_row("shop.ticker.0")[0])
        widths = {c.key.value: c.width for c in table.table.columns.values()}
        others = sum(w for c, w in widths.items() if c != "message") + 2 * len(widths) + 1
        room = table.table.scrollable_content_region.width
        assert room - others >= MESSAGE_ROOM, (room, widths)


async def test_a_process_turning_fatal_raises_a_toast(app: OpsConsoleApp, source: Path) -> None:
    async with app.run_test(size=SIZE) as pilot:
        seen = record_notifications(app)
        await show_processes(pilot, app, source, "crash")
        await wait_for(pilot, lambda: process_state(app, "shop.crash.0") == "fatal", "fatal")
        await wait_for(pilot, lambda: any("is fatal" in n.title for n in seen), "a toast")
        notice = next(n for n in seen if n.title == "shop.crash.0 is fatal")
        assert notice.severity == "error" and "exited 3 times" in notice.message
