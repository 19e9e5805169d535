"""The ``?`` screen at the size we promise (80x24): each key listed once, the list scrolling."""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widgets import Static

from console.tui.app import OpsConsoleApp
from console.tui.kit.help_screen import HelpScreen, once
from tests.test_tui_kit import burst
from tests.tui_helpers import processes_agent, wait_for

SMALL = (80, 24)


def test_a_key_listed_again_joins_its_first_row() -> None:
    rows = [
        ("enter / l", "show the log"),
        ("s", "stop it"),
        ("/", "filter"),
        ("enter", "open the row"),
        ("s / S", "start it again"),
        ("", "(when stopped)"),
        ("j / k  g / G", "move"),
        ("G", "last"),
    ]
    assert once(rows) == [
        ("enter / l", "show the log"),
        ("", "open the row"),
        ("s / S", "stop it"),
        ("", "start it again"),
        ("", "(when stopped)"),
        ("/", "filter"),
        ("j / k  g / G", "move"),
        ("", "last"),
    ]


LONGER = {"1": False, "2": True, "3": True, "4": True, "5": True}
"""Whether each pane's help is longer than an 80x24 screen (four of the five are)."""


async def test_help_lists_each_key_once_and_scrolls_to_its_end_at_80x24(tmp_path: Path) -> None:
    app = OpsConsoleApp(processes_agent(tmp_path))
    # Every scroll lands at once: each press waits out its animation (a second per G or g,
    # twenty in all), and what is checked is where the list ends, not how it got there.
    app.animation_level = "none"
    async with app.run_test(size=SMALL) as pilot:
        await wait_for(pilot, lambda: app.scripts_pane.scripts, "the catalog loads")
        for pane, longer in LONGER.items():
            await pilot.press(pane, "question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help opens")
            await check_help(pilot, app, longer)


async def check_help(pilot: Pilot[object], app: OpsConsoleApp, longer: bool) -> None:
    """Each key once per section; the list takes the keys and scrolls to its last line."""
    screen = app.screen
    assert isinstance(screen, HelpScreen)
    for heading, rows in screen.sections:
        keys = [k for shown, _ in rows if shown for k in shown.replace("  ", " / ").split(" / ")]
        assert len(keys) == len(set(keys)), f"{heading}: a key twice in {rows}"
        assert rows[0][0], f"{heading}: a first row without its key"
    body = screen.query_one(VerticalScroll)
    await wait_for(pilot, lambda: body.has_focus, "the list takes the keys")
    last = list(screen.query(Static))[-1]
    # Longer than the screen: its end is below the body until scrolled.
    assert (body.max_scroll_y > 0) is longer
    bottom = body.content_region.bottom
    assert (last.region.bottom > bottom) is longer
    await pilot.press("G")
    await wait_for(pilot, lambda: body.scroll_y == body.max_scroll_y, "scrolled to the end")
    await wait_for(pilot, lambda: last.region.bottom <= bottom, "the last section shows")
    assert "escape closes" in str(body.border_subtitle)
    assert ("scroll" in str(body.border_subtitle)) is longer, "the frame says it scrolls"
    await pilot.press("k", "g")
    await wait_for(pilot, lambda: body.scroll_y == 0, "back at the top")
    if longer:
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: body.scroll_y > 0, "a page down")
        await pilot.press("j")
    await pilot.press("escape")
    await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), "closed")


async def test_scroll_keys_typed_in_one_write_each_move_the_list(tmp_path: Path) -> None:
    """`j j j` (or the arrows, pgdn) arriving in one write, as over SSH, move three lines:
    each starts from where the one before is headed, not from where the screen still is."""
    app = OpsConsoleApp(processes_agent(tmp_path))
    async with app.run_test(size=SMALL) as pilot:
        await wait_for(pilot, lambda: app.scripts_pane.scripts, "the catalog loads")
        await pilot.press("2", "question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the help opens")
        body = app.screen.query_one(VerticalScroll)
        await wait_for(pilot, lambda: body.has_focus and body.max_scroll_y > 4, "it scrolls")
        await burst(pilot, "jjj")
        await wait_for(pilot, lambda: body.scroll_y == 3, "three lines down")
        for key in ("down", "down", "up"):
            app.post_message(events.Key(key, None))
        await wait_for(pilot, lambda: body.scroll_y == 4, "one more line down")
        await burst(pilot, "kkkkkk")
        await wait_for(pilot, lambda: body.scroll_y == 0, "at the top, and no further")
        await burst(pilot, "j")
        await wait_for(pilot, lambda: body.scroll_y == 1, "down from the top at once")
        await burst(pilot, "G")
        await wait_for(pilot, lambda: body.scroll_y == body.max_scroll_y, "at the end")
        await burst(pilot, "jjk")
        await wait_for(
            pilot, lambda: body.scroll_y == body.max_scroll_y - 1, "up from the end at once"
        )
