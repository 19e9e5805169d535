"""A live log as a scrolling view: bounded, painted at most once a frame, searchable, following.

Lines are kept as plain strings and only the rows on screen are ever styled,
so a flood costs one append per batch and one repaint per frame, whatever
the rate. When more lines arrive in one frame than the view keeps, only the
newest are queued: the older ones would be pruned before anyone saw them.
"""

from __future__ import annotations

from collections import deque
from itertools import islice, repeat
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.reactive import reactive, var
from textual.strip import Strip

from console.models import Stream
from console.tui.kit.ansi_line import printable, styled_line
from console.tui.kit.log_rows import SequenceNumbers, WrappedRows, line_cells, plain_lines
from console.tui.kit.log_search import LogSearch
from console.tui.kit.pane import hidden
from console.tui.kit.rich_style import StyleCache
from console.tui.kit.soon import Soon

FRAME = 1 / 30
"""Lines that arrive within one frame are added to the view together."""

MAX_LINES = 10_000

Kind = Stream | None
"""Which stream a line came from; None for the view's own notes (gaps, endings)."""


class LogView(LogSearch, can_focus=True):
    """Lines of stdout, stderr (in the error colour) and notes (dim), newest at the bottom.

    While ``follow`` is on, new lines scroll into view; scrolling up turns it
    off, ``G`` or ``end`` turns it back on. ``search`` highlights every match
    and ``n`` / ``N`` move to the next newer / older one.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "log-view--stderr",
        "log-view--note",
        "log-view--match",
        "log-view--current-match",
    }

    DEFAULT_CSS = """
    LogView {
        background: $surface;
        padding: 0 0 0 1;
        scrollbar-size-vertical: 1;
        scrollbar-gutter: stable;
        & > .log-view--stderr { color: $text-error; }
        & > .log-view--note { color: $foreground-muted; text-style: italic; }
        & > .log-view--match { background: $warning 40%; }
        & > .log-view--current-match {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: bold;
        }
        &:focus { background-tint: $foreground 4%; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "toggle_follow", "Follow", tooltip="follow new lines, or pause"),
        hidden("G,end", "follow_end", "End", "newest line, following again (g: oldest)"),
        Binding("g,home", "scroll_home", "Top", show=False),
        # vi's keys beside the arrows, as in the tables (help lists them with the arrows).
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
        hidden("w", "toggle_wrap", "Wrap", "wrap long lines, or scroll sideways"),
        Binding("n", "find(True)", "Next", tooltip="next (newer) match; N: previous (older)"),
        Binding("N", "find(False)", "Prev", show=False),
        hidden("c", "clear", "Clear", "clear the view (not the process's log)"),
    ]

    follow: reactive[bool] = reactive(True, init=False)
    wrap: reactive[bool] = reactive(False, init=False)
    search: reactive[str] = reactive("", init=False)
    """Text to highlight, matched without regard to case."""
    kept: var[int] = var(0)
    """How many lines the view holds now (at most ``max_lines``)."""
    held: var[int] = var(0)
    """Lines that arrived while paused, held (in order) until following resumes."""

    def __init__(
        self,
        max_lines: int = MAX_LINES,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.max_lines = max_lines
        self._lines: deque[tuple[Kind, str]] = deque(maxlen=max_lines)
        self._first = 0
        """The number of the first line held: lines keep their number while older ones go."""
        self._pending: list[tuple[Kind, list[str], int | None]] = []
        """Batches to add with the next frame: their stream, lines, and first line's seq."""
        self._pending_count = 0
        self._flush_soon = Soon(self, FRAME, self.flush)
        self._width = 0
        self._rows = WrappedRows()
        """With wrap on: the rows each held line takes."""
        self._seqs = SequenceNumbers()
        self._wrapping = False
        """Whether the rows above are in use: ``wrap`` as it was before its watcher ran."""
        self._strips: LRUCache[int, Strip] = LRUCache(1024)
        self._style = StyleCache(self)
        self._match: tuple[int, int] | None = None
        """(line number, column) of the current search match."""
        self.received = 0
        """Lines of output ever added (the view keeps at most ``max_lines``)."""
        self._dropped_held = 0
        self._partials: dict[Stream, str] = {}
        """Lines still being written, shown last until their complete line comes."""
        self._partials_shown = 0
        self._partials_changed = False

    # -- adding lines -----------------------------------------------------------

    def add_lines(self, stream: Stream, lines: list[str], seq: int | None = None) -> None:
        """Queue a batch of one stream's lines (the first one's sequence number in the agent's
        log, when it has one: searches go on there); they are shown with the next frame."""
        self.received += len(lines)
        if self._partials.pop(stream, None) is not None:
            self._partials_changed = True
        self._queue(stream, lines, seq)

    def set_partial(self, stream: Stream, text: str) -> None:
        """Show ``text`` as the line ``stream`` is still writing, below the others.

        Its complete line (the next batch of ``stream``) or a newer partial replaces
        it; ``""`` takes it away. It never counts as a line received.
        """
        if text:
            self._partials[stream] = text
        else:
            self._partials.pop(stream, None)
        self._partials_changed = True
        self._flush_soon.ask()

    def add_gap(self, count: int) -> None:
        """Say that ``count`` lines were dropped before they reached us."""
        self.note(f"… {count:,} lines dropped …")

    def note(self, text: str) -> None:
        """Queue a line that is ours (a gap, an ending, an error), not the process's."""
        self._queue(None, [text])

    def _queue(self, kind: Kind, lines: list[str], seq: int | None = None) -> None:
        if not lines:
            return
        self._pending.append((kind, lines, seq))
        self._pending_count += len(lines)
        excess = self._pending_count - self.max_lines
        while excess > 0:
            oldest_kind, oldest, oldest_seq = self._pending[0]
            if len(oldest) <= excess:
                del self._pending[0]
                cut = len(oldest)
            else:
                moved = None if oldest_seq is None else oldest_seq + excess
                self._pending[0] = (oldest_kind, oldest[excess:], moved)
                cut = excess
            self._pending_count -= cut
            excess -= cut
            self._dropped_held += cut if not self.follow else 0
        self.held = self._pending_count if not self.follow else 0
        self._flush_soon.ask()

    def flush(self) -> None:
        """Add every queued line now, in one update of the view; while paused (and once
        there is something to read) they are held, in order, until following resumes."""
        self._flush_soon.done()
        if not self._pending and not self._partials_changed:
            return
        if not self.follow and self._lines:
            return
        if self._dropped_held:
            # More arrived while paused than the view keeps: say how many never showed.
            gap = f"… {self._dropped_held:,} lines dropped while paused …"
            self._pending.insert(0, (None, [gap], None))
            self._pending_count += 1
            self._dropped_held = 0
        pending, self._pending = self._pending, []
        self.held = 0
        added, self._pending_count = self._pending_count, 0
        lines = self._lines
        if self._partials_changed or self._partials_shown:
            # Partial lines stay last: they go, the new lines come, they come back (or not).
            self._drop_newest(self._partials_shown)
            pending += [(kind, [text], None) for kind, text in self._partials.items()]
            added += len(self._partials)
            self._partials_shown, self._partials_changed = len(self._partials), False
        overflow = max(0, len(lines) + added - self.max_lines)
        number = self._first + len(lines)
        for kind, batch, seq in pending:
            if seq is not None:
                self._seqs.add(number, seq, len(batch))
            number += len(batch)
            lines.extend(zip(repeat(kind), batch))
            widest = max(map(len, batch)) if plain_lines(batch) else max(map(line_cells, batch))
            self._width = max(self._width, widest)
        self._first += overflow
        self._seqs.prune(self._first)
        removed_rows = overflow
        if self._wrapping:
            new = islice(lines, len(lines) - added, None)
            removed_rows = self._rows.add((line for _, line in new), overflow)
        self._resized(removed_rows)
        self.kept = len(lines) - self._partials_shown

    def _drop_newest(self, count: int) -> None:
        for _ in range(min(count, len(self._lines))):
            self._lines.pop()
            self._strips.discard(self._first + len(self._lines))
            if self._wrapping:
                self._rows.drop_newest()

    def _rewrap(self) -> None:
        """Measure every held line's rows again (wrap turned on, or a new width)."""
        width = self.scrollable_content_region.width
        self._rows.measure((line for _, line in self._lines), width)

    def _resized(self, removed_rows: int = 0) -> None:
        """Tell the scroll machinery the new size, and keep the view where it should be."""
        if self._wrapping:
            self.virtual_size = Size(self._rows.width, self._rows.height)
        else:
            self.virtual_size = Size(self._width, len(self._lines))
        if self.follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        elif removed_rows:
            # Paused: the lines on screen stay on screen while older ones are pruned above.
            self.scroll_to(
                y=max(0, self.scroll_y - removed_rows), animate=False, immediate=True, force=True
            )
        self.refresh()

    def clear(self) -> None:
        """Forget every line, queued or shown."""
        self._pending.clear()
        self._pending_count = self._dropped_held = self.held = 0
        self._partials.clear()
        self._partials_shown, self._partials_changed = 0, False
        self._first += len(self._lines)
        self._lines.clear()
        self._seqs.clear()
        self._width = 0
        self._rows.clear()
        self._strips.clear()
        self._match = None
        self.kept = 0
        self._resized()
        self.scroll_to(0, 0, animate=False, immediate=True, force=True)

    # -- reading back -------------------------------------------------------------

    @property
    def text_lines(self) -> list[str]:
        """The lines held now, as shown (notes included)."""
        return [printable(line) for _, line in self._lines]

    @property
    def entries(self) -> list[tuple[Kind, str]]:
        """The lines held now with the stream each came from (None for notes)."""
        return list(self._lines)

    # -- keys -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "find":
            return bool(self.search)
        return True

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow

    def action_follow_end(self) -> None:
        if self.follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)
        self.follow = True

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap

    def action_clear(self) -> None:
        self.clear()

    # -- following, wrapping, searching ------------------------------------------------

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # Only a move up that leaves the end pauses: a shrinking view clamps to the end.
        if self.follow and new_value < old_value and round(new_value) < self.max_scroll_y:
            self.follow = False

    def watch_show_horizontal_scrollbar(self) -> None:
        # The scrollbar row appearing (a long line) takes the last row: the end moves down.
        if self.follow:
            self.call_after_refresh(self._to_end)

    def _to_end(self) -> None:
        if self.follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    def watch_follow(self, follow: bool) -> None:
        if follow:
            self.flush()
            self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    def watch_wrap(self, wrap: bool) -> None:
        top = self._locate(round(self.scroll_y))
        self._wrapping = wrap
        if wrap:
            self._rewrap()
            self.scroll_to(x=0, animate=False, immediate=True, force=True)
        self._resized()
        if top is not None and not self.follow:
            self.scroll_to(y=self._row_of(top[0]), animate=False, immediate=True, force=True)

    def on_resize(self) -> None:
        if self._wrapping and self.scrollable_content_region.width != self._rows.width:
            self._rewrap()
        # Lines added while the view had no size (hidden, or not laid out) scrolled nowhere.
        self._resized()

    # -- rows and painting --------------------------------------------------------------

    def _row_of(self, index: int) -> int:
        return self._rows.row_of(index) if self._wrapping else index

    def _locate(self, row: int) -> tuple[int, int] | None:
        """The held line (index) a row of the view shows, and which wrapped part of it."""
        if row < 0:
            return None
        if not self._wrapping:
            return (row, 0) if row < len(self._lines) else None
        return self._rows.locate(row)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        located = self._locate(scroll_y + y)
        if located is None:
            return Strip.blank(width, base)
        index, part = located
        strip = self._line_strip(index)
        start = part * width if self._wrapping else scroll_x
        return strip.crop_extend(start, start + width, base)

    def _line_strip(self, index: int) -> Strip:
        number = self._first + index
        cached = self._strips.get(number)
        if cached is not None:
            return cached
        kind, raw = self._lines[index]
        shown = printable(raw)
        style = self.rich_style
        if kind is Stream.STDERR:
            style += self._style("log-view--stderr")
        elif kind is None:
            style += self._style("log-view--note")
        # Spans, not Text(style=...): render() paints spans only. Colour codes go over the base.
        text = styled_line(raw, style)
        query = self.search.lower()
        if query:
            lowered = shown.lower()
            start = lowered.find(query)
            while start >= 0:
                current = self._match == (number, start)
                name = "log-view--current-match" if current else "log-view--match"
                text.stylize(self._style(name), start, start + len(query))
                start = lowered.find(query, start + len(query))
        strip = Strip(text.render(self.app.console), text.cell_len)
        self._strips[number] = strip
        return strip

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style.clear()
        self._strips.clear()
