"""Searching a LogView: every match highlighted, n / N to the next newer or older one.

Matches are kept by line number (lines keep their number while older ones are
pruned), so a match stays put while the log grows; a search pauses following,
and a paused log holds new lines, so the hit never scrolls away.

Past the lines held, a view whose lines carry the agent's sequence numbers asks
its owner to search on (``FindBeyond``, from the oldest or newest sequence
number held, when ``searches_beyond`` says the owner can): the owner loads the
lines around a hit, and ``show_seq`` shows it.
"""

from __future__ import annotations

from collections import deque
from itertools import islice
from typing import TYPE_CHECKING, Any

from textual.message import Message
from textual.scroll_view import ScrollView

from console.tui.kit.ansi_line import printable

if TYPE_CHECKING:
    from console.models import Stream
    from console.tui.kit.log_rows import SequenceNumbers

    Kind = Stream | None


class LogSearch(ScrollView):
    """The search half of LogView: it reads the view's lines (set up by LogView) and scrolls."""

    _lines: deque[tuple[Kind, str]]
    _first: int
    _match: tuple[int, int] | None
    _strips: Any
    _wrapping: bool
    _seqs: SequenceNumbers
    search: str
    follow: bool
    searches_beyond: tuple[bool, bool] = (False, False)
    """Whether the owner searches on past the oldest and past the newest line held (it
    handles ``FindBeyond``); a plain view says "no match" there."""

    class FindBeyond(Message):
        """No match in the lines held, in that direction: search on from sequence ``edge``
        (the oldest held, or the newest); ``forward`` is towards newer lines."""

        def __init__(self, text: str, forward: bool, edge: int | None) -> None:
            super().__init__()
            self.text = text
            self.forward = forward
            self.edge = edge

    def _locate(self, row: int) -> tuple[int, int] | None:
        raise NotImplementedError

    def _row_of(self, index: int) -> int:
        raise NotImplementedError

    @property
    def current_match(self) -> tuple[str, int] | None:
        """The line (as shown) and column of the current search match, if any."""
        if self._match is None or self._match[0] < self._first:
            return None
        number, column = self._match
        return printable(self._lines[number - self._first][1]), column

    def count_matches(self) -> int:
        """How many held lines contain the search text."""
        query = self.search.lower()
        if not query:
            return 0
        return sum(query in printable(line).lower() for _, line in self._lines)

    @property
    def seq_span(self) -> tuple[int, int] | None:
        """The oldest and newest sequence numbers (in the agent's log) of the lines held."""
        return self._seqs.span(self._first)

    def show_seq(self, seq: int) -> bool:
        """Make the first match in the held line of sequence ``seq`` the current one and show
        it (following pauses); False when no held line has that number, or no match."""
        number = self._seqs.number_of(seq)
        query = self.search.lower()
        if number is None or number < self._first or not query:
            return False
        column = printable(self._lines[number - self._first][1]).lower().find(query)
        if column < 0:
            return False
        self._match = (number, column)
        self.follow = False
        self._strips.clear()
        self._show(number - self._first, column, len(query))
        self.refresh()
        return True

    def action_find(self, forward: bool) -> None:
        if self.find(forward):
            return
        span = self.seq_span
        if self.searches_beyond[forward] and (span is not None or not self._lines):
            edge = None if span is None else span[forward]
            self.post_message(self.FindBeyond(self.search, forward, edge))
        else:
            self.notify(no_match(self.search, forward), severity="warning", timeout=2)

    def watch_search(self) -> None:
        self._match = None
        self._strips.clear()
        self.refresh()
        self.refresh_bindings()

    def find(self, forward: bool) -> bool:
        """Move to the next newer (or older) match and show it; False when there is none.

        With no match yet it starts from the view: newer ones below its top line,
        older ones from its bottom line up, so the first search finds the latest one shown.
        """
        query = self.search.lower()
        if not query or not self._lines:
            return False
        count = len(self._lines)
        if self._match is not None and self._match[0] >= self._first:
            index, column = self._match[0] - self._first, self._match[1]
        else:
            height = self.scrollable_content_region.height
            located = self._locate(round(self.scroll_y) + (0 if forward else height - 1))
            index = located[0] if located is not None else count - 1
            column = -1 if forward else len(self._lines[index][1]) + 1
        found = _find(self._lines, index, column, query, forward)
        if found is None:
            return False
        self._match = (self._first + found[0], found[1])
        self.follow = False
        self._strips.clear()
        self._show(*found, len(query))
        self.refresh()
        return True

    def _show(self, index: int, column: int, length: int) -> None:
        """Scroll so that a match is on screen, in the middle when it was not."""
        width = max(self.scrollable_content_region.width, 1)
        row = self._row_of(index) + (column // width if self._wrapping else 0)
        height = self.scrollable_content_region.height
        if not self.scroll_y <= row < self.scroll_y + height:
            self.scroll_to(y=max(0, row - height // 2), animate=False, immediate=True, force=True)
        visible = self.scroll_x <= column and column + length <= self.scroll_x + width
        if not self._wrapping and not visible:
            self.scroll_to(x=max(0, column - width // 3), animate=False, immediate=True, force=True)


def no_match(text: str, forward: bool | None = None) -> str:
    """What to say when a search finds nothing (newer, older, or at all when ``forward`` is
    None)."""
    way = "" if forward is None else "newer " if forward else "older "
    return f"no {way}match for {text!r}"


def _find(
    lines: deque[tuple[Kind, str]], index: int, column: int, query: str, forward: bool
) -> tuple[int, int] | None:
    """The first match after (or before) a position: (line index, column), or None."""
    line = printable(lines[index][1]).lower()
    if forward:
        found = line.find(query, column + 1)
        if found >= 0:
            return index, found
        for later, (_, text) in enumerate(islice(lines, index + 1, None), index + 1):
            found = printable(text).lower().find(query)
            if found >= 0:
                return later, found
        return None
    found = line.rfind(query, 0, max(column - 1 + len(query), 0))
    if found >= 0:
        return index, found
    older = reversed(lines)
    for earlier, (_, text) in zip(range(len(lines) - 1, -1, -1), older, strict=True):
        if earlier >= index:
            continue
        found = printable(text).lower().rfind(query)
        if found >= 0:
            return earlier, found
    return None
