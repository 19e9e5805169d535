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
from console.tui.kit.fleet_rows import CONTEXT, STALE, greyed
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
        cells = {CONTEXT: Text(row.context), **super().cells(row.status)}
        if not row.online:
            cells = greyed(cells)
            cells["uptime"] = Text("-", style=STALE, justify="right")
            # Said in words too: a greyed "running" could still be read as running.
            cells["message"] = Text("agent offline: last seen so", style=STALE)
        return cells
