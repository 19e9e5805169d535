"""The rows and the filter line of a ResourceTable: vi's keys beside the arrows, a filter
reached by ``/`` or a click."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.widgets import DataTable, Input
from textual.widgets.data_table import CellKey, RowKey


class ResourceGrid(DataTable[Text]):
    """The rows: a row cursor, zebra stripes, and vi's keys beside the arrows."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g,home", "scroll_top", "Top", show=False),
        Binding("G,end", "scroll_bottom", "Bottom", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    # Textual measures every cell of each new row, and a whole column again when an updated
    # cell got narrower, for columns that fit their content. ResourceTable gives every
    # column its width and every row one line, so measuring changes nothing: a filter
    # keystroke (all rows re-added) over 1,000 rows spent most of its time there. These two
    # overrides of DataTable's private hooks (Textual 8.2) measure only what can change.

    def _fits_content(self) -> bool:
        return any(column.auto_width for column in self.columns.values())

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        if self._fits_content() or any(
            self.rows[key].auto_height or self.rows[key].label is not None
            for key in new_rows
            if key in self.rows
        ):
            super()._update_dimensions(new_rows)
            return
        width = sum(column.get_render_width(self) for column in self.columns.values())
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(
            width + self._row_label_column_width, self._total_row_height + header
        )

    def _update_column_widths(self, updated_cells: set[CellKey]) -> None:
        fitted = {cell for cell in updated_cells if self._auto_width(cell)}
        if fitted:
            super()._update_column_widths(fitted)

    def _auto_width(self, cell: CellKey) -> bool:
        column = self.columns.get(cell.column_key)
        return column is not None and column.auto_width

    @property
    def keys(self) -> list[str]:
        """The row keys, top to bottom."""
        return [str(row.key.value) for row in self.ordered_rows]

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor; None when the table is empty."""
        if self.row_count == 0:
            return None
        return str(self.ordered_rows[self.cursor_row].key.value)


SHORT_PLACEHOLDER = "/ filter"
"""Said instead of a table's placeholder when the line is too narrow for all of it."""


class FilterInput(Input):
    """The filter line: reached by ``/`` or a click, not by tab (tab moves between tables).
    Its placeholder is said whole or, on a line too narrow for it, as ``/ filter``
    (never cut mid-word)."""

    def __init__(self, *, placeholder: str, id: str) -> None:
        super().__init__(placeholder=placeholder, id=id, compact=True)
        self.wanted = False
        self.wording = placeholder
        """The whole placeholder; ``placeholder`` is what the line's width lets it say."""

    def say(self, wording: str) -> None:
        """Use ``wording`` as the placeholder (whole when it fits)."""
        self.wording = wording
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        room = self.content_region.width
        fits = room <= 0 or len(self.wording) <= room
        self.placeholder = self.wording if fits else SHORT_PLACEHOLDER

    def allow_focus(self) -> bool:
        return super().allow_focus() and (self.wanted or self.has_focus)

    def on_mouse_down(self) -> None:
        self.wanted = True

    def on_blur(self) -> None:
        self.wanted = False
