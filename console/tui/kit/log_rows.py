"""Measuring a log's lines: how many cells wide each is, and the rows they take when wrapped.

LogView keeps its lines as plain strings; this is the geometry it scrolls by. Rows are
numbered from the first line ever measured, so pruning old lines moves the origin
instead of renumbering every row.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

from rich.cells import cell_len

from console.tui.kit.ansi_line import printable


def line_cells(line: str) -> int:
    """The cells ``line`` takes on screen (tabs expanded, colour codes taking none)."""
    if line.isascii() and "\t" not in line and "\x1b" not in line:
        return len(line)
    return cell_len(printable(line))


def plain_lines(lines: list[str]) -> bool:
    """True when every line is as wide as it is long (ASCII, no tabs, no colour codes): fast."""
    joined = "".join(lines)
    return joined.isascii() and "\t" not in joined and "\x1b" not in joined


class WrappedRows:
    """The row each held line starts on once wrapped at ``width`` cells, and the row after."""

    def __init__(self) -> None:
        self.width = 0
        """The width (cells) the rows were measured at."""
        self._starts: list[int] = []
        self._origin = 0
        self._end = 0

    @property
    def height(self) -> int:
        """Rows the held lines take."""
        return self._end - self._origin

    def clear(self) -> None:
        """Forget every line (the width stays)."""
        self._starts = []
        self._origin = self._end = 0

    def measure(self, lines: Iterable[str], width: int) -> None:
        """Measure every held line's rows again (wrap turned on, or a new width)."""
        self.clear()
        self.width = width
        self.add(lines, 0)

    def add(self, new: Iterable[str], dropped: int) -> int:
        """Extend the rows by the new lines, forget the ``dropped`` oldest; rows removed."""
        width = max(self.width, 1)
        starts = self._starts
        end = self._end
        for line in new:
            starts.append(end)
            end += max(1, -(-line_cells(line) // width))
        self._end = end
        if not dropped:
            return 0
        origin = starts[dropped] if dropped < len(starts) else end
        del starts[:dropped]
        removed, self._origin = origin - self._origin, origin
        return removed

    def drop_newest(self) -> None:
        """Forget the newest line's rows."""
        if self._starts:
            self._end = self._starts.pop()

    def row_of(self, index: int) -> int:
        """The first row of held line ``index`` (``index`` itself past the lines measured)."""
        if index < len(self._starts):
            return self._starts[index] - self._origin
        return index

    def locate(self, row: int) -> tuple[int, int] | None:
        """The held line (index) a row shows, and which wrapped part of it; None past the end."""
        target = row + self._origin
        if target >= self._end or not self._starts:
            return None
        index = bisect_right(self._starts, target) - 1
        return index, target - self._starts[index]


class SequenceNumbers:
    """The agent's sequence number of each held line that has one (our notes have none).

    Kept as runs ``(line number, sequence number, count)``, one per batch, so a flood
    costs one entry per batch; line numbers are LogView's (they survive pruning).
    """

    def __init__(self) -> None:
        self._runs: list[tuple[int, int, int]] = []

    def clear(self) -> None:
        self._runs = []

    def add(self, number: int, seq: int, count: int) -> None:
        """Lines ``number`` .. ``number + count - 1`` are sequence ``seq`` on."""
        if count:
            self._runs.append((number, seq, count))

    def prune(self, first: int) -> None:
        """Forget the runs of lines before line ``first`` (pruned from the view)."""
        gone = 0
        for start, _, count in self._runs:
            if start + count > first:
                break
            gone += 1
        del self._runs[:gone]

    def seq_of(self, number: int) -> int | None:
        """Line ``number``'s sequence number, or None (a note, or not held)."""
        at = bisect_right(self._runs, (number, float("inf"))) - 1
        if at < 0:
            return None
        start, seq, count = self._runs[at]
        return seq + number - start if number < start + count else None

    def number_of(self, seq: int) -> int | None:
        """The line number of sequence ``seq``, or None when no held line has it."""
        for start, first_seq, count in reversed(self._runs):
            if first_seq <= seq < first_seq + count:
                return start + seq - first_seq
        return None

    def span(self, first: int) -> tuple[int, int] | None:
        """The oldest and newest sequence numbers held (from line ``first`` on), or None."""
        if not self._runs:
            return None
        start, seq, _ = self._runs[0]
        _, last_seq, last_count = self._runs[-1]
        return seq + max(0, first - start), last_seq + last_count - 1
