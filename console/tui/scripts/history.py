"""Past runs of one script, newest first; selecting a row asks for that run's output."""

from __future__ import annotations

import time
from datetime import datetime

from rich.text import Text
from textual.widgets import DataTable

from console.models import RunRecord
from console.tui.scripts.view import format_duration


class RunHistoryTable(DataTable[Text]):
    """A table of RunRecords keyed by run id (the row key is the id as a string)."""

    DEFAULT_CSS = """
    RunHistoryTable {
        height: 1fr;
        background: $surface;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self.records: list[RunRecord] = []

    def on_mount(self) -> None:
        self.add_column("run", key="run")
        self.add_column("started", key="started")
        self.add_column("result", key="result")
        self.add_column("took", key="took")
        self.add_column("params", key="params")

    def show_records(self, records: list[RunRecord]) -> None:
        """Replace the rows with these records, keeping the cursor on the same run."""
        selected = self.selected_run_id
        self.records = records
        self.clear()
        for record in records:
            self.add_row(
                Text(str(record.id)),
                Text(started_text(record.started_at)),
                self._result(record),
                Text(format_duration(record.duration) if record.retcode is not None else ""),
                Text(" ".join(f"{k}={v}" for k, v in record.params.items())),
                key=str(record.id),
            )
        if selected is not None and str(selected) in self.rows:
            self.move_cursor(row=self.get_row_index(str(selected)))

    def _result(self, record: RunRecord) -> Text:
        # DataTable paints Rich renderables, which cannot read theme variables: look them up.
        colours = self.app.theme_variables
        if record.retcode is not None:
            if record.retcode == 0:
                return Text(f"exit {record.retcode}", style=colours.get("success", "green"))
            return Text(f"exit {record.retcode}", style=f"bold {colours.get('error', 'red')}")
        if record.interrupted:
            return Text("interrupted", style=colours.get("warning", "yellow"))
        return Text("running", style=colours.get("accent", "cyan"))

    @property
    def selected_run_id(self) -> int | None:
        if not self.records or self.cursor_row >= self.row_count:
            return None
        key = self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
        return int(key) if key is not None else None


def started_text(started_at: float, now: float | None = None) -> str:
    """Time of day for today's runs, the date too for older ones."""
    moment = datetime.fromtimestamp(started_at)
    today = datetime.fromtimestamp(time.time() if now is None else now).date()
    return moment.strftime("%H:%M:%S" if moment.date() == today else "%m-%d %H:%M")
