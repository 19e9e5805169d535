"""The processes as a table under a filter line; uptimes tick once a second, one timer for all."""

from __future__ import annotations

import time
from collections.abc import Iterable

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from console.models import ProcessState, ProcessStatus
from console.tui.kit.keys import focus_now
from console.tui.kit.rich_style import component_style

# Message last: it is the one that gets cut to the table's width.
COLUMNS = ("process", "state", "pid", "uptime", "restarts", "exit", "message")
_NUMBERS = frozenset({"pid", "uptime", "restarts", "exit"})
"""Columns right-aligned, header and all."""
REFILL_DELAY = 0.1
"""Seconds between a status change and the table's new layout (its cells change at once)."""

FIXED_WIDTHS = {"pid": 7, "uptime": 6}
"""Wide enough for any pid (Linux's limit has 7 digits) and every uptime_text, so a
restart or a tick never changes the layout."""

_STATE_GROUP_STYLE = {
    "running": "$text-success",
    "waiting": "$text-warning",
    "failed": "$text-error",
    "stopped": "$text-muted",
}


def state_group(state: ProcessState) -> str:
    """How a state is coloured: running, waiting (starting, backoff, ...), failed, stopped."""
    if state is ProcessState.RUNNING:
        return "running"
    if state.failed:
        return "failed"
    if state is ProcessState.STOPPED:
        return "stopped"
    return "waiting"


def state_style(state: ProcessState) -> str:
    """The state's colour as a Content style (for text outside the table)."""
    return _STATE_GROUP_STYLE[state_group(state)]


def uptime_text(status: ProcessStatus, now: float) -> str:
    """How long a running process has been up, in at most six cells: 45s, 4m05s, 2h03m, 3d04h."""
    if status.state is not ProcessState.RUNNING or status.started_at is None:
        return "-"
    seconds = max(0, int(now - status.started_at))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


class ProcessTable(Vertical):
    """Rows keyed by slug, in order; each word of the filter must match slug, state or message."""

    COMPONENT_CLASSES = {
        "process-table--running",
        "process-table--waiting",
        "process-table--failed",
        "process-table--stopped",
    }

    DEFAULT_CSS = """
    ProcessTable {
        & > Horizontal { height: 1; background: $boost; }
        #process-filter { width: 1fr; }
        #process-count { width: auto; padding: 0 1; color: $text-muted; }
        DataTable { height: 1fr; scrollbar-size-vertical: 1; }
        & > .process-table--running { color: $text-success; }
        & > .process-table--waiting { color: $text-warning; }
        & > .process-table--failed { color: $text-error; text-style: bold; }
        & > .process-table--stopped { color: $text-muted; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.statuses: dict[str, ProcessStatus] = {}
        self.note = ""
        """Said after the count: loading, offline, not live."""
        self._message_room = 40
        self._styles: dict[str, Style] = {}
        self._refill_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Input(
                placeholder="/ filter by name, state or message", id="process-filter", compact=True
            )
            yield Static("", id="process-count")
        yield DataTable(id="process-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)
        # Cells hold Rich styles resolved from the theme: a new theme needs new cells.
        self.watch(self.app, "theme", lambda: self.call_after_refresh(self.refill), init=False)

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#process-table", DataTable)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#process-filter", Input)

    @property
    def shown(self) -> list[str]:
        """The slugs in the table, top to bottom."""
        table = self.table
        return [
            str(table.coordinate_to_cell_key((r, 0)).row_key.value) for r in range(table.row_count)
        ]

    @property
    def selected(self) -> ProcessStatus | None:
        """The process under the cursor."""
        table = self.table
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        return self.statuses.get(str(key))

    # -- what is shown --------------------------------------------------------------

    def show(self, statuses: Iterable[ProcessStatus]) -> None:
        """Replace every row (the filter stays as typed)."""
        self.statuses = {status.slug: status for status in statuses}
        self.refill()

    def upsert(self, status: ProcessStatus) -> None:
        """Show one process's new status: its cells change now, the layout soon after."""
        self.statuses[status.slug] = status
        table = self.table
        if status.slug not in table.rows or not _matches(status, self._words):
            self.refill()
            return
        cells = self._cells(status, time.time())
        cells[-1].truncate(self._message_room, overflow="ellipsis")
        for column, cell in zip(COLUMNS, cells, strict=True):
            table.update_cell(status.slug, column, cell, update_width=column != "message")
        # A state wider or narrower than before changes every row's room for its message;
        # rebuilding once after a burst of events keeps the table tidy without the churn.
        if self._refill_timer is None:
            self._refill_timer = self.set_timer(REFILL_DELAY, self.refill)

    def remove(self, slug: str) -> None:
        if self.statuses.pop(slug, None) is not None:
            self.refill()

    def set_note(self, note: str) -> None:
        self.note = note
        self._update_count()

    def move_to(self, slug: str) -> None:
        if slug in self.table.rows:
            self.table.move_cursor(row=self.table.get_row_index(slug))

    def refill(self) -> None:
        """Rebuild the rows from the statuses, the filter and the table's width."""
        if self._refill_timer is not None:
            self._refill_timer.stop()
            self._refill_timer = None
        table = self.table
        current = self.selected
        words = self._words
        shown = sorted((s for s in self.statuses.values() if _matches(s, words)), key=_slug)
        now = time.time()
        rows = [self._cells(status, now) for status in shown]
        self._message_room = max(_message_room(table.scrollable_content_region.width, rows), 8)
        table.clear(columns=True)
        for column in COLUMNS:
            label = Text(column, justify="right" if column in _NUMBERS else "left")
            table.add_column(label, key=column, width=FIXED_WIDTHS.get(column))
        for status, cells in zip(shown, rows, strict=True):
            message = cells[-1]
            message.truncate(self._message_room, overflow="ellipsis")
            table.add_row(*cells, key=status.slug)
        if current is not None:
            self.move_to(current.slug)
        self._update_count()

    @property
    def _words(self) -> list[str]:
        return self.filter_input.value.lower().split()

    def _update_count(self) -> None:
        total = len(self.statuses)
        words = self._words
        count = f"{self.table.row_count}/{total}" if words else f"{total} processes"
        if total == 0 and not words:
            count = "no processes · n creates one"
        text = f"{count} · {self.note}" if self.note else count
        self.query_one("#process-count", Static).update(text)

    def _cells(self, status: ProcessStatus, now: float) -> list[Text]:
        """The row of one process; its message is whole (callers cut it to the room left)."""
        group = state_group(status.state)
        # A process the operator stopped exits by a signal: not a failure, so not in red.
        failed_exit = status.last_exit and status.state is not ProcessState.STOPPED
        exit_style = self._style("failed") if failed_exit else Style()
        message_style = self._style("failed") if group == "failed" else Style()
        return [
            Text(status.slug, style="bold"),
            Text(status.state.value, style=self._style(group)),
            Text(str(status.pid) if status.pid else "-", justify="right"),
            Text(uptime_text(status, now), justify="right"),
            Text(str(status.restarts), justify="right"),
            Text(
                "-" if status.last_exit is None else str(status.last_exit),
                exit_style,
                justify="right",
            ),
            Text(status.message or "", style=message_style),
        ]

    def _style(self, group: str) -> Style:
        style = self._styles.get(group)
        if style is None:
            style = self._styles[group] = component_style(self, f"process-table--{group}")
        return style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def _tick(self) -> None:
        now = time.time()
        table = self.table
        for slug, status in self.statuses.items():
            if status.state is ProcessState.RUNNING and slug in table.rows:
                table.update_cell(slug, "uptime", Text(uptime_text(status, now), justify="right"))

    def on_resize(self) -> None:
        # The message column is cut to the table's width, so a new width means new rows.
        if self.statuses:
            self.call_after_refresh(self.refill)

    @on(Input.Changed, "#process-filter")
    def _filter_changed(self) -> None:
        self.refill()

    @on(Input.Submitted, "#process-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        focus_now(self.table)


def _slug(status: ProcessStatus) -> str:
    return status.slug


def _matches(status: ProcessStatus, words: list[str]) -> bool:
    haystack = " ".join([status.slug, status.state.value, status.message or ""]).lower()
    return all(word in haystack for word in words)


def _message_room(table_width: int, rows: list[list[Text]]) -> int:
    """Cells left for the message once the other columns have what they need."""
    if table_width <= 0:
        return 60
    used = sum(
        FIXED_WIDTHS.get(header) or max([len(header), *(row[column].cell_len for row in rows)])
        for column, header in enumerate(COLUMNS[:-1])
    )
    return table_width - used - 2 * len(COLUMNS) - 1
