"""The processes of every agent in one table ("all" scope): a context column, stale rows greyed.

Rows are ``FleetProcess``es keyed ``CONTEXT/SLUG``; the cells are the one-context table's
with the context first. A row of an agent the console cannot reach stays, dimmed, its
uptime stopped: the last thing seen, not vouched for.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from console.adapters.fleet import FleetProcess
from console.models import ProcessStatus
from console.tui.kit.fleet_rows import CONTEXT, OFFLINE_WORDS, STALE, greyed
from console.tui.processes.table import COLUMNS, ProcessTable

FLEET_COLUMNS = (CONTEXT, *COLUMNS)


class FleetProcessTable(ProcessTable):
    """``ProcessTable`` over ``FleetProcess`` rows; the filter's words match the context too
    (``/web1 fatal``)."""

    COLUMNS = FLEET_COLUMNS
    EMPTY_HINT = ""
    PLACEHOLDER = "/ filter by context, name, state or message"
    FILTER_ID = "fleet-process-filter"
    COUNT_ID = "fleet-process-count"
    GRID_ID = "fleet-process-table"

    def key_of(self, item: Any) -> str:
        row: FleetProcess = item
        return row.key

    def status_of(self, item: Any) -> ProcessStatus | None:
        row: FleetProcess = item
        return row.status if row.online else None

    def haystack(self, item: Any) -> str:
        row: FleetProcess = item
        return f"{row.context} {super().haystack(row.status)}"

    def sort_key(self, item: Any) -> tuple[str, str]:
        row: FleetProcess = item
        return (row.context, row.status.slug)

    def cells(self, item: Any) -> dict[str, Text]:
        row: FleetProcess = item
        usage = self.usage.get(row.key)
        cells = {CONTEXT: Text(row.context), **self.status_cells(row.status, usage)}
        if not row.online:
            cells = greyed(cells)
            cells["uptime"] = Text("-", style=STALE, justify="right")
            cells["message"] = Text(OFFLINE_WORDS, style=STALE)
        return cells
