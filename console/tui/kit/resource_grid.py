"""The rows and the filter line of a ResourceTable: vi's keys beside the arrows, a filter
reached by ``/`` or a click."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input


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


class FilterInput(Input):
    """The filter line: reached by ``/`` or a click, not by tab (tab moves between tables)."""

    def __init__(self, *, placeholder: str, id: str) -> None:
        super().__init__(placeholder=placeholder, id=id, compact=True)
        self.wanted = False

    def allow_focus(self) -> bool:
        return super().allow_focus() and (self.wanted or self.has_focus)

    def on_mouse_down(self) -> None:
        self.wanted = True

    def on_blur(self) -> None:
        self.wanted = False
