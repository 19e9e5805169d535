"""The script catalog as a table, with a filter line above it that narrows the rows as you type."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Static

from console.models import Script
from console.tui.kit.keys import focus_now

# Description last: it is the one that gets cut, or left out, when the table is narrow.
COLUMNS = ("name", "flags", "tags", "description")
MIN_DESCRIPTION = 16

Row = tuple[Text, Text, Text, Text]


class ScriptCatalog(Vertical):
    """Rows keyed by script name; every word typed in the filter must match name, text or tag."""

    DEFAULT_CSS = """
    ScriptCatalog {
        & > Horizontal { height: 1; background: $boost; }
        #filter { width: 1fr; }
        #catalog-count { width: auto; padding: 0 1; color: $text-muted; }
        DataTable { height: 1fr; scrollbar-size-vertical: 1; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.scripts: dict[str, Script] = {}

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Input(
                placeholder="/ filter by name, description or tag", id="filter", compact=True
            )
            yield Static("", id="catalog-count")
        yield DataTable(id="catalog-table", cursor_type="row", zebra_stripes=True)

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#catalog-table", DataTable)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#filter", Input)

    @property
    def shown(self) -> list[str]:
        """The names in the table, top to bottom."""
        table = self.table
        return [
            str(table.coordinate_to_cell_key((r, 0)).row_key.value) for r in range(table.row_count)
        ]

    def show(self, scripts: dict[str, Script]) -> None:
        """Replace the catalog (the filter stays as typed)."""
        self.scripts = scripts
        self.refill()

    def set_status(self, text: str) -> None:
        """Say something where the count goes: loading, offline, ..."""
        self.query_one("#catalog-count", Static).update(text)

    def move_to(self, name: str) -> None:
        if name in self.table.rows:
            self.table.move_cursor(row=self.table.get_row_index(name))

    def refill(self) -> None:
        """Rebuild the rows from the catalog, the filter and the table's width."""
        table = self.table
        selected = self._cursor_script()
        words = self.filter_input.value.lower().split()
        shown = [s for s in self.scripts.values() if _matches(s, words)]
        rows = [_row(script) for script in shown]
        room = _description_room(table.scrollable_content_region.width, rows)
        # Too narrow for a useful description: the script page shows it anyway.
        columns = COLUMNS if room >= MIN_DESCRIPTION else COLUMNS[:-1]
        table.clear(columns=True)
        for column in columns:
            table.add_column(column, key=column)
        for script, row in zip(shown, rows, strict=True):
            cells = [*row[:-1], _shorten(row[-1], max(room, 1))]
            table.add_row(*cells[: len(columns)], key=script.name)
        if selected is not None:
            self.move_to(selected)
        total = len(self.scripts)
        self.set_status(f"{len(shown)}/{total}" if words else f"{total} scripts")

    def _cursor_script(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value

    def on_resize(self) -> None:
        # The description column is cut to the table's width, so a new width means new rows.
        if self.scripts:
            self.call_after_refresh(self.refill)

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self.refill()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.screen.focused is self.table:
            # Keys reach the input before it hands focus over: an enter typed right after
            # the one that left the filter was meant for the table ("/echo⏎⏎" opens echo).
            self.table.action_select_cursor()
        else:
            focus_now(self.table)


def _matches(script: Script, words: list[str]) -> bool:
    haystack = " ".join([script.name, script.description or "", *script.tags]).lower()
    return all(word in haystack for word in words)


def _row(script: Script) -> Row:
    # Text, not str: DataTable would read square brackets in a description as markup.
    flags = " ".join(
        flag for flag, is_set in (("lock", script.lock), ("ask", script.confirm)) if is_set
    )
    return (
        Text(script.name, style="bold"),
        Text(flags),
        Text(", ".join(script.tags)),
        Text(script.description or ""),
    )


def _description_room(table_width: int, rows: list[Row]) -> int:
    """Cells left for the description once name, flags and tags have what they need."""
    if table_width <= 0:
        return 60
    used = sum(
        max([len(header), *(row[column].cell_len for row in rows)])
        for column, header in enumerate(COLUMNS[:-1])
    )
    return table_width - used - 2 * len(COLUMNS) - 1


def _shorten(text: Text, room: int) -> Text:
    if text.cell_len <= room:
        return text
    text = text.copy()
    text.truncate(room - 1)
    text.append("…")
    return text
