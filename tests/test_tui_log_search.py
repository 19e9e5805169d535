"""``/`` in a process's log finds what the view no longer holds: in the agent's ring, in context."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import App, ComposeResult

from console.models import Stream
from console.tui.app import OpsConsoleApp
from console.tui.kit import log_view
from console.tui.kit.log_search import LogSearch
from console.tui.kit.log_view import LogView
from console.tui.processes.log_panel import BACKLOG
from tests.processes_helpers import write_app
from tests.test_tui_processes import open_log
from tests.tui_helpers import (
    create_processes,
    processes_agent,
    record_notifications,
    wait_for,
)

SIZE = (80, 24)
NEEDLES = (
    'while [ ! -e "$GATE" ]; do sleep 0.05; done; '
    "echo 'needle first'; seq -f 'line %g' 1 12000; echo 'Needle MIDDLE'; "
    "seq -f 'line %g' 12001 24000; echo 'last line'; exec sleep 1000"
)
PRINTED = 24003
"""Lines the process prints: "needle first" is line 0, "Needle MIDDLE" line 12,001."""


async def test_search_goes_on_in_the_agents_log_and_shows_the_hit_in_its_context(
    tmp_path: Path,
) -> None:
    gate = tmp_path / "gate"
    source = write_app(tmp_path / "shop", {"needles": "sh ./needles.sh"}, **{"needles.sh": NEEDLES})
    app = OpsConsoleApp(processes_agent(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        seen = record_notifications(app)
        slugs = await create_processes(pilot, source, "needles", env={"GATE": str(gate)})
        await pilot.press("2")
        await wait_for(pilot, lambda: slugs[0] in app.processes_pane.statuses, "the row")
        view = await open_log(pilot, app, slugs[0])
        log = app.processes_pane.process_log
        assert log is not None
        await wait_for(pilot, lambda: log.tailing, "attached")
        gate.touch()
        await wait_for(pilot, lambda: view.received == PRINTED, "every line arrives")
        await wait_for(pilot, lambda: view.text_lines[-1:] == ["last line"], "the last shown")
        # The view holds the newest 10,000 lines: neither needle is among them.
        assert view.kept == log_view.MAX_LINES
        assert not any("needle" in line.lower() for line in view.text_lines)

        await pilot.press("slash", *"needle", "enter")
        await wait_for(pilot, lambda: view.current_match == ("Needle MIDDLE", 0), "found")
        assert log.history and not view.follow and not log.tailing
        header = str(log.query_one("#log-header").render())
        assert "history: lines 11,901-12,101 · G: live" in header, "the hit and 100 lines each side"
        shown = view.text_lines
        middle = shown.index("Needle MIDDLE")
        assert shown[middle - 1] == "line 12000" and shown[middle + 1] == "line 12001"
        assert shown[middle - 100] == "line 11901" and shown[middle + 100] == "line 12100"
        assert "older lines in the agent's log" in shown[0]
        assert "newer lines" in shown[-1]
        # On screen, not merely held: the hit's row lies within the view's rows.
        assert view.scroll_y <= middle < view.scroll_y + view.scrollable_content_region.height

        await pilot.press("N")
        await wait_for(pilot, lambda: view.current_match == ("needle first", 0), "older")
        assert view.text_lines[0] == "needle first", "the ring's first line: nothing older"
        await pilot.press("N")
        await wait_for(pilot, lambda: any("no older match" in n.message for n in seen), "none")
        assert view.current_match == ("needle first", 0)
        await pilot.press("n")
        await wait_for(pilot, lambda: view.current_match == ("Needle MIDDLE", 0), "newer")
        await pilot.press("n")
        await wait_for(pilot, lambda: any("no newer match" in n.message for n in seen), "end")

        # G: back to the live end, with its recent lines; the search stays and goes on.
        await pilot.press("G")
        await wait_for(pilot, lambda: view.text_lines[-1:] == ["last line"], "the live end")
        assert not log.history and view.follow and view.search == "needle"
        await wait_for(pilot, lambda: view.kept == BACKLOG, "the recent lines")
        await pilot.press("N")
        await wait_for(pilot, lambda: view.current_match == ("Needle MIDDLE", 0), "found again")
        assert log.history


class OneLog(App[None]):
    """A LogView of 50 lines alone, recording where it asks to search on."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[bool, int | None]] = []

    def compose(self) -> ComposeResult:
        yield LogView(max_lines=50)

    @on(LogSearch.FindBeyond)
    def _asked(self, event: LogSearch.FindBeyond) -> None:
        self.asked.append((event.forward, event.edge))


async def test_the_view_knows_each_held_lines_sequence_number_as_lines_come_and_go() -> None:
    app = OneLog()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        view.add_lines(Stream.STDOUT, [f"a{n}" for n in range(30)], seq=100)
        view.note("a note has no number")
        view.add_lines(Stream.STDERR, [f"b{n}" for n in range(30)], seq=130)
        view.set_partial(Stream.STDOUT, "a partial has none either")
        view.flush()
        # 61 lines and a partial came; the 50 newest stay: a0..a11 went.
        assert view.kept == 49 and view.text_lines[0] == "a12"
        assert view.seq_span == (112, 159)
        view.search = "a2"
        assert view.show_seq(120) and view.current_match == ("a20", 0)
        assert not view.follow, "a hit shown pauses"
        assert not view.show_seq(105), "pruned"
        assert not view.show_seq(131), "held, but no match there"
        # Past the oldest line: a plain view says so; one whose owner searches on asks it.
        view.search = "nowhere"
        await pilot.press("N")
        assert app.asked == []
        view.searches_beyond = (True, False)
        await pilot.press("N", "n")
        await wait_for(pilot, lambda: app.asked == [(False, 112)], "asked for older only")
        # Paused, a flood past what the view keeps: the held lines keep their numbers.
        view.add_lines(Stream.STDOUT, [f"c{n}" for n in range(80)], seq=1000)
        view.follow = True
        await wait_for(pilot, lambda: view.text_lines[-1:] == ["c79"], "the flood shown")
        assert view.seq_span == (1030, 1079) and view.text_lines[0] == "c30"
        view.clear()
        assert view.seq_span is None
