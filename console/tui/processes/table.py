"""The processes as a table under a filter line; uptimes tick once a second, one timer for all."""

from __future__ import annotations

import time

from rich.style import Style
from rich.text import Text

from console.models import ProcessState, ProcessStatus
from console.tui.kit.resource_table import ResourceTable

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


class ProcessTable(ResourceTable[ProcessStatus]):
    """Rows keyed by slug, in order; each word of the filter must match slug, state or message."""

    COMPONENT_CLASSES = {
        "process-table--running",
        "process-table--waiting",
        "process-table--failed",
        "process-table--stopped",
    }
    DEFAULT_CSS = """
    ProcessTable {
        & > .process-table--running { color: $text-success; }
        & > .process-table--waiting { color: $text-warning; }
        & > .process-table--failed { color: $text-error; text-style: bold; }
        & > .process-table--stopped { color: $text-muted; }
    }
    """
    COLUMNS = COLUMNS
    RIGHT_ALIGNED = _NUMBERS
    FIXED_WIDTHS = FIXED_WIDTHS
    NOUN = "processes"
    NOUN_ONE = "process"
    EMPTY_HINT = "n creates one"
    PLACEHOLDER = "/ filter by name, state or message"
    STYLE_PREFIX = "process-table"
    REFILL_DELAY = REFILL_DELAY
    FILTER_ID = "process-filter"
    COUNT_ID = "process-count"
    GRID_ID = "process-table"

    def on_mount(self) -> None:
        # ResourceTable's on_mount runs too (Textual calls each class's handler).
        self.set_interval(1.0, self._tick)

    @property
    def statuses(self) -> dict[str, ProcessStatus]:
        return self.items

    def key_of(self, item: ProcessStatus) -> str:
        return item.slug

    def haystack(self, item: ProcessStatus) -> str:
        return " ".join([item.slug, item.state.value, item.message or ""])

    def cells(self, item: ProcessStatus) -> dict[str, Text]:
        group = state_group(item.state)
        # A process the operator stopped exits by a signal: not a failure, so not in red.
        failed_exit = item.last_exit and item.state is not ProcessState.STOPPED
        exit_style = self.style("failed") if failed_exit else Style()
        return {
            "process": Text(item.slug, style="bold"),
            "state": Text(item.state.value, style=self.style(group)),
            "pid": Text(str(item.pid) if item.pid else "-", justify="right"),
            "uptime": Text(uptime_text(item, time.time()), justify="right"),
            "restarts": Text(str(item.restarts), justify="right"),
            "exit": Text(
                "-" if item.last_exit is None else str(item.last_exit), exit_style, justify="right"
            ),
            "message": Text(
                item.message or "", style=self.style("failed") if group == "failed" else Style()
            ),
        }

    def status_of(self, item: ProcessStatus) -> ProcessStatus | None:
        """A row's status while it is live (None: stale, its uptime stands still)."""
        return item

    def _tick(self) -> None:
        # Only the rows in view: each cell update redraws the table, and a row scrolled
        # into view gets its uptime at the next tick (1,000 rows cost seconds a tick).
        now = time.time()
        table = self.table
        top = table.scroll_offset.y
        for row in table.ordered_rows[top : top + table.size.height]:
            key = str(row.key.value)
            status = self.status_of(self.items[key]) if key in self.items else None
            if status is not None and status.state is ProcessState.RUNNING:
                cell = Text(uptime_text(status, now), justify="right")
                table.update_cell(key, "uptime", cell)
                self.kept_cells.set_cell(key, "uptime", cell)
