"""The console side of ``bench fleet``: key to screen in the real app, "all" scope or one agent.

Run as ``python -m console.bench.fleet_keys EXPECTED URL...``; prints one JSON line. The
console (``OpsConsoleApp`` under Textual's pilot, headless, 80x24) starts on the first URL;
with more than one URL the others are its contexts and it goes to "all" scope (``:``
then "all"), else it stays on that one agent. Once the Processes table holds EXPECTED
rows it measures keys: each letter of a filter typed one by one, then cursor moves (``j``,
``g`` at the end), each from the key press until the table shows its result (the filter's
rows or the cursor's row) and the screen has been refreshed (the pilot's pause: every pending
message, the repaint included, handled). Figures: ``view_s`` (start to the full table),
``key_p50_ms``, ``key_p99_ms``, ``keys`` (how many), ``rss_mib`` (/proc/self/status at
the end), ``rows`` (the table's rows at the full view).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable

from console.bench.fleet_client import connector, rss_mib

FILTERS = ("shop web 1", "worker 3", "running 7")
"""Typed letter by letter: words that match on either side."""
CURSOR_MOVES = 60
VIEW_LIMIT = 180.0
KEY_LIMIT = 30.0


async def measure(expected: int, urls: list[str]) -> dict[str, float]:
    from console.tui.app import OpsConsoleApp
    from console.tui.kit.scope_picker import ScopePicker

    first, *others = urls
    more = {f"agent{i}": connector(url) for i, url in enumerate(others, start=1)}
    app = OpsConsoleApp(connector(first), name="agent0", more_contexts=lambda: (more, []))
    latencies: list[float] = []
    started = time.perf_counter()
    async with app.run_test(size=(80, 24)) as pilot:

        async def until(what: Callable[[], bool], limit: float, why: str) -> None:
            deadline = time.perf_counter() + limit
            while not what():
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"never happened: {why}")
                await pilot.pause(0.005)

        await pilot.press("2")
        await until(lambda: app.client is not None, VIEW_LIMIT, "the first agent")
        if others:
            await pilot.press("colon")
            await until(lambda: isinstance(app.screen, ScopePicker), KEY_LIMIT, "picker")
            await pilot.press("end", "enter")
            await until(lambda: app.fleet is not None, VIEW_LIMIT, "the fleet")
        pane = app.processes_pane
        await until(
            lambda: len(pane.resource_table.shown) >= expected, VIEW_LIMIT, "the full table"
        )
        view_s = time.perf_counter() - started
        table = pane.resource_table
        rows = len(table.shown)

        async def key(name: str, shown: Callable[[], bool], why: str) -> None:
            pressed = time.perf_counter()
            await pilot.press(name)
            await until(shown, KEY_LIMIT, why)
            await pilot.pause()
            latencies.append(time.perf_counter() - pressed)

        for words in FILTERS:
            await pilot.press("slash")
            typed = ""
            for letter in words:
                typed += letter

                def filtered(typed: str = typed) -> bool:
                    words = typed.lower().split()
                    wanted = [
                        item
                        for item in table.items.values()
                        if all(word in table.haystack(item).lower() for word in words)
                    ]
                    return table.filter_input.value == typed and len(table.shown) == len(wanted)

                await key("space" if letter == " " else letter, filtered, f"filter {typed!r}")
            await pilot.press("escape")  # clears the filter, back to the rows
            await until(lambda: len(table.shown) == rows, KEY_LIMIT, "the filter cleared")
        grid = table.table
        for _ in range(CURSOR_MOVES):
            # Down, and back to the top from the last row.
            after = grid.cursor_row + 1 if grid.cursor_row + 1 < rows else 0
            name = "j" if after else "g"
            await key(name, lambda after=after: grid.cursor_row == after, "cursor moved")
        memory = rss_mib()
    ordered = sorted(latencies)
    return {
        "view_s": view_s,
        "key_p50_ms": statistics.median(ordered) * 1000,
        "key_p99_ms": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000,
        "keys": len(ordered),
        "rss_mib": memory,
        "rows": rows,
    }


def main(argv: list[str]) -> int:
    expected, *urls = argv
    print(json.dumps(asyncio.run(measure(int(expected), urls))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
