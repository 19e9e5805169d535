"""A filter over 1,000 rows, typed key by key in the Inbox of a real agent at 80x24: each
keystroke narrows the rows right (the behaviour), and what each costs is printed (the figure
for the report; a benchmark, not a timed test)."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

from console.tui.app import OpsConsoleApp
from tests.test_tui_inbox import NODE, SIZE, pane, sender, show_inbox
from tests.tui_helpers import make_catalog, spawned_agent, wait_for

MESSAGES = 1000
TYPED = "topic.12"


def expected_rows(typed: str) -> int:
    """Rows whose topic holds what is typed (nothing else in a row can: ids are hex, the
    payloads are numbers)."""
    return sum(typed in f"topic.{number}" for number in range(MESSAGES))


async def test_a_filter_keystroke_over_1000_messages_narrows_the_rows(tmp_path: Path) -> None:
    app = OpsConsoleApp(
        spawned_agent(tmp_path, make_catalog(tmp_path / "scripts"), "--node-id", NODE)
    )
    async with app.run_test(size=SIZE) as pilot:
        inbox = await show_inbox(pilot, app)
        table = inbox.message_table
        async with sender(app, "ci") as other:
            for start in range(0, MESSAGES, 25):
                await asyncio.gather(
                    *(
                        other.inbox.push(NODE, {"n": n}, topic=f"topic.{n}")
                        for n in range(start, min(start + 25, MESSAGES))
                    )
                )

        def full() -> bool:
            return len(table.shown) == MESSAGES and not table.unfetched

        await wait_for(pilot, full, "1,000 rows with their payloads")
        await pilot.press("slash")
        await wait_for(pilot, lambda: table.filter_input.has_focus, "the filter")
        took = []
        typed = ""
        for letter in TYPED:
            typed += letter
            started = time.perf_counter()
            await pilot.press(letter)
            want = expected_rows(typed)
            await wait_for(
                pilot, lambda want=want: len(table.shown) == want, f"{want} rows for {typed!r}"
            )
            await pilot.pause()
            took.append(time.perf_counter() - started)
        # Back over two letters: from 11 rows to 1,000 again (every row made anew).
        started = time.perf_counter()
        await pilot.press("backspace", "backspace")
        await wait_for(pilot, lambda: len(table.shown) == MESSAGES, "every row again")
        await pilot.pause()
        widened = time.perf_counter() - started
        await pilot.press(*TYPED[-2:])
        await wait_for(pilot, lambda: len(table.shown) == expected_rows(TYPED), "narrowed again")
        assert all(
            f"topic.{TYPED[6:]}" in str(pane(app).table.get_cell(key, "topic"))
            for key in table.shown
        )
        over_all = took[:6]  # "t" .. "topic.": every row still shown
        median = statistics.median(over_all) * 1000
        print(
            f"\nkeystroke over {MESSAGES} rows: median {median:.0f} ms, "
            f"max {max(over_all) * 1000:.0f} ms; all keys {[round(t * 1000) for t in took]} ms; "
            f"two backspaces to all rows {widened * 1000:.0f} ms"
        )
