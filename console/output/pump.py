"""Reading one output stream to its end: lines as they complete, a partial line once it lingers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from console.output.lines import MAX_LINE, LineSplitter

CHUNK = 1 << 16
PARTIAL_AFTER = 1.0
"""Seconds an unfinished line waits before it is shown as it stands (then about once a second)."""

LinesSink = Callable[[bytes], None]
"""Takes a block of complete lines, each ending in ``\\n``."""
PartialSink = Callable[[bytes], None]
"""Takes the unfinished line as it stands (``b""``: none any more)."""


async def pump_output(
    read: Callable[[int], Awaitable[bytes]],
    on_lines: LinesSink,
    on_partial: PartialSink | None = None,
    max_line: int = MAX_LINE,
    partial_after: float = PARTIAL_AFTER,
) -> None:
    """Read with ``read(CHUNK)`` until it returns ``b""``; feed lines (and partials) to the sinks.

    A line still unfinished ``partial_after`` seconds after it began goes to
    ``on_partial`` (a prompt, ``Waiting for database... ``, a ``\\r`` progress
    bar), and again about once a second while it changes; its completion goes
    to ``on_lines`` as usual. A flood's lines complete within microseconds, so
    it never sees a partial: the hot path costs one timer check per read.
    """
    splitter = LineSplitter(max_line)
    loop = asyncio.get_running_loop()
    began: float | None = None
    shown = b""
    timer: asyncio.TimerHandle | None = None

    def show() -> None:
        nonlocal timer, shown
        timer = None
        if began is None or on_partial is None:
            return
        due = began + partial_after
        if time.monotonic() >= due - 0.01:
            current = splitter.partial()
            if current != shown:
                shown = current
                on_partial(current)
            due = time.monotonic() + partial_after
        timer = loop.call_at(loop.time() + due - time.monotonic(), show)

    try:
        while chunk := await read(CHUNK):
            lines = splitter.feed(chunk)
            if lines:
                on_lines(lines)
                shown = b""
                began = None
            if splitter.pending and began is None:
                began = time.monotonic()
            if began is not None and timer is None and on_partial is not None:
                timer = loop.call_at(loop.time() + partial_after, show)
        if last := splitter.finish():
            on_lines(last)
    finally:
        if timer is not None:
            timer.cancel()
