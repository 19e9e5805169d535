"""The processes as a table under a filter line; uptimes tick once a second, one timer for all."""

from __future__ import annotations

import math
import time

from rich.style import Style
from rich.text import Text

from console.models import ProcessState, ProcessStatus, ProcessUsage
from console.models.processes import REQUESTED_EXIT
from console.tui.kit.resource_table import ResourceTable

# Message last: it is the one that gets cut to the table's width.
COLUMNS = ("process", "state", "pid", "uptime", "cpu", "mem", "restarts", "exit", "message")
_NUMBERS = frozenset({"pid", "uptime", "cpu", "mem", "restarts", "exit"})
"""Columns right-aligned, header and all."""
REFILL_DELAY = 0.1
"""Seconds between a status change and the table's new layout (its cells change at once)."""

FIXED_WIDTHS = {"pid": 7, "uptime": 6, "cpu": 5, "mem": 5}
"""Wide enough for any pid (Linux's limit has 7 digits), every uptime_text, cpu_text and
mem_text, so a restart or a tick never changes the layout."""
DROP_FIRST = ("pid", "exit", "mem", "restarts", "cpu", "uptime")
"""At 80 columns what does not fit goes in this order; the name and state always stay."""
MESSAGE_ROOM = 24
"""Cells the message keeps before columns are dropped for it."""

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


def backoff_text(status: ProcessStatus, now: float) -> str | None:
    """``restarting in 7s``, counting down to the agent's ``retry_at``; None outside backoff."""
    if status.state is not ProcessState.BACKOFF or status.retry_at is None:
        return None
    left = math.ceil(status.retry_at - now)
    return f"restarting in {left}s" if left > 0 else "restarting…"


def cpu_text(usage: ProcessUsage | None) -> str:
    """Percent of one core in at most five cells: 0.4%, 37%, 1200%."""
    if usage is None:
        return "-"
    return f"{usage.cpu:.1f}%" if usage.cpu < 10 else f"{usage.cpu:.0f}%"


def mem_text(usage: ProcessUsage | None) -> str:
    """Resident memory in at most five cells, binary units: 812K, 23M, 1.5G."""
    if usage is None:
        return "-"
    size = float(usage.rss)
    for unit in ("B", "K", "M", "G"):
        if size < 1000:
            return f"{size:.1f}{unit}" if size < 10 and unit != "B" else f"{size:.0f}{unit}"
        size /= 1024
    return f"{size:.1f}T"


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
    DROP_FIRST = DROP_FIRST
    LAST_ROOM = MESSAGE_ROOM
    NOUN = "processes"
    NOUN_ONE = "process"
    EMPTY_HINT = "n creates one"
    PLACEHOLDER = "/ filter by name, state or message"
    STYLE_PREFIX = "process-table"
    REFILL_DELAY = REFILL_DELAY
    FILTER_ID = "process-filter"
    COUNT_ID = "process-count"
    GRID_ID = "process-table"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.usage: dict[str, ProcessUsage] = {}
        """The last CPU and memory sample, by row key (only running processes have one)."""

    def on_mount(self) -> None:
        # ResourceTable's on_mount runs too (Textual calls each class's handler).
        self.set_interval(1.0, self._tick)

    def set_usage(self, usage: dict[str, ProcessUsage]) -> None:
        """Show a new CPU and memory sample, by row key, in the rows now (widths are fixed:
        no relayout)."""
        self.usage = usage
        in_view = set(self.keys_in_view())
        for key, item in self.items.items():
            status = self.status_of(item)
            if status is None:
                continue
            found = usage.get(key) if status.state is ProcessState.RUNNING else None
            for column, text in (("cpu", cpu_text(found)), ("mem", mem_text(found))):
                cell = Text(text, justify="right")
                if key in in_view:
                    self._set_cell(key, column, cell)
                else:  # drawn when it scrolls into view or the table is refilled
                    self.kept_cells.set_cell(key, column, cell)

    @property
    def statuses(self) -> dict[str, ProcessStatus]:
        return self.items

    def key_of(self, item: ProcessStatus) -> str:
        return item.slug

    def haystack(self, item: ProcessStatus) -> str:
        return " ".join([item.slug, item.state.value, item.message or ""])

    def cells(self, item: ProcessStatus) -> dict[str, Text]:
        return self.status_cells(item, self.usage.get(item.slug))

    def status_cells(self, item: ProcessStatus, usage: ProcessUsage | None) -> dict[str, Text]:
        """A process's row by column, with ``usage`` (its last sample, if any) shown while
        it runs."""
        group = state_group(item.state)
        # A process the operator stopped exits by a signal: not a failure, so not in red.
        failed_exit = item.last_exit and item.state is not ProcessState.STOPPED
        exit_style = self.style("failed") if failed_exit else Style()
        exit_text = "-" if item.last_exit is None else str(item.last_exit)
        if item.last_exit_request in REQUESTED_EXIT:
            exit_text, exit_style = REQUESTED_EXIT[item.last_exit_request], self.style("stopped")
        usage = usage if item.state is ProcessState.RUNNING else None
        message = Text(backoff_text(item, time.time()) or item.message or "")
        if group == "failed":
            message.stylize(self.style("failed"))
        elif not message and item.last_exit_request in REQUESTED_EXIT:
            message = Text(f"{exit_text} on request", self.style("stopped"))
        return {
            "process": Text(item.slug, style="bold"),
            "state": Text(item.state.value, style=self.style(group)),
            "pid": Text(str(item.pid) if item.pid else "-", justify="right"),
            "uptime": Text(uptime_text(item, time.time()), justify="right"),
            "cpu": Text(cpu_text(usage), justify="right"),
            "mem": Text(mem_text(usage), justify="right"),
            "restarts": Text(str(item.restarts), justify="right"),
            "exit": Text(exit_text, exit_style, justify="right"),
            "message": message,
        }

    def status_of(self, item: ProcessStatus) -> ProcessStatus | None:
        """A row's status while it is live (None: stale, its uptime stands still)."""
        return item

    def _tick(self) -> None:
        # Only the rows in view: each cell update redraws the table, and a row scrolled
        # into view gets its uptime at the next tick (1,000 rows cost seconds a tick).
        now = time.time()
        for key in self.keys_in_view():
            status = self.status_of(self.items[key]) if key in self.items else None
            if status is None:
                continue
            if status.state is ProcessState.RUNNING:
                self._set_cell(key, "uptime", Text(uptime_text(status, now), justify="right"))
            countdown = backoff_text(status, now)
            if countdown is not None:
                self._set_cell(key, "message", Text(countdown))

    def keys_in_view(self) -> list[str]:
        """The keys of the rows on screen (a cell update redraws the table: only these)."""
        table = self.table
        top = table.scroll_offset.y
        return [str(row.key.value) for row in table.ordered_rows[top : top + table.size.height]]

    def _set_cell(self, key: str, column: str, cell: Text) -> None:
        """Change a cell in the table (when its column is shown) and in the kept cells (a
        refill reuses those)."""
        if column in self.shown_columns:
            self.table.update_cell(key, column, cell)
        self.kept_cells.set_cell(key, column, cell)
