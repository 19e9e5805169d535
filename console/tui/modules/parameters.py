"""One module's parameters as a table, key → JSON value, changed cell by cell as they change."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Static

from console.models import ModuleInfo
from console.tui.kit.rich_style import StyleCache

MIN_VALUE_ROOM = 12


def value_text(value: Any) -> str:
    """A parameter's value as one line of JSON (non-ASCII kept: it is for reading)."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # the wire is JSON, so only a bug gets here; show it anyway
        return repr(value)


def value_kind(value: Any) -> str:
    """How a value is coloured: string, number, literal (true, false, null) or nested."""
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool) or value is None:
        return "literal"
    if isinstance(value, int | float):
        return "number"
    return "nested"


class ModuleParameters(Vertical):
    """The parameters of the module shown, sorted by name; a new value changes only its cell."""

    COMPONENT_CLASSES = {
        "module-parameters--string",
        "module-parameters--number",
        "module-parameters--literal",
        "module-parameters--nested",
    }

    DEFAULT_CSS = """
    ModuleParameters {
        height: 1fr;
        #parameters-title { height: 1; padding: 0 1; background: $boost; }
        #parameters-table { height: 1fr; scrollbar-size-vertical: 1; overflow-x: hidden; }
        & > .module-parameters--string { color: $text-success; }
        & > .module-parameters--number { color: $text-accent; }
        & > .module-parameters--literal { color: $text-warning; }
        & > .module-parameters--nested { color: $foreground; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.module: ModuleInfo | None = None
        self.where = ""
        self._style = StyleCache(self, "module-parameters--")
        self._room = 40
        self._ready = False
        """Mounted: until then only the module is kept."""

    def compose(self) -> ComposeResult:
        yield Static("", id="parameters-title")
        yield DataTable(id="parameters-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self._ready = True
        self.refill()
        self._update_title()
        # Cells hold Rich styles resolved from the theme: a new theme needs new cells.
        self.watch(self.app, "theme", lambda: self.call_after_refresh(self.refill), init=False)

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#parameters-table", DataTable)

    @property
    def shown(self) -> dict[str, str]:
        """Parameter name → the value text in its cell, top to bottom."""
        if not self._ready:
            return {}
        table = self.table
        return {
            str(row.value): str(table.get_cell(row, "value"))
            for row in table.rows
            if row.value is not None
        }

    def show(self, module: ModuleInfo | None, where: str = "") -> None:
        """Show a module (None: nothing selected); the same one again changes only what changed."""
        before = self.module
        self.module, self.where = module, where
        if not self._ready:
            return
        self._update_title()
        if module is None or before is None or before.uid != module.uid:
            self.refill()
            return
        if sorted(before.parameters) != sorted(module.parameters):
            self.refill()
            return
        table = self.table
        for name, value in module.parameters.items():
            if before.parameters.get(name) != value or name not in table.rows:
                table.update_cell(name, "value", self._cell(value), update_width=False)

    def refill(self) -> None:
        """Rebuild the rows for the module and the table's width; the cursor stays on its name."""
        if not self._ready:
            return
        table = self.table
        current = None
        if table.row_count:
            current = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        table.clear(columns=True)
        module = self.module
        names = sorted(module.parameters) if module is not None else []
        key_width = max([9, *(len(name) for name in names)])
        width = table.scrollable_content_region.width
        # Two cells of padding per column, one spare for the cursor's edge.
        self._room = max(width - key_width - 5, MIN_VALUE_ROOM) if width else 40
        table.add_column("parameter", key="name", width=key_width)
        table.add_column("value", key="value", width=self._room)
        if module is None:
            return
        for name in names:
            table.add_row(Text(name, style="bold"), self._cell(module.parameters[name]), key=name)
        if current is not None and current in table.rows:
            table.move_cursor(row=table.get_row_index(current))

    def _cell(self, value: Any) -> Text:
        text = Text(value_text(value), style=self._style(value_kind(value)), no_wrap=True)
        text.truncate(self._room, overflow="ellipsis")
        return text

    def _update_title(self) -> None:
        module = self.module
        title = self.query_one("#parameters-title", Static)
        if module is None:
            title.update(Content.styled("Parameters · no module selected", "$text-muted"))
            return
        count = len(module.parameters)
        title.update(
            Content.assemble(
                ("Parameters of ", "$text-secondary"),
                (f"#{module.uid} {module.type}", "bold"),
                (f" · {self.where}" if self.where else "", "$text-secondary"),
                (f" · {count} {'parameter' if count == 1 else 'parameters'}", "$text-muted"),
            )
        )

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style.clear()

    def on_resize(self) -> None:
        # Values are cut to the table's width, so a new width means new cells.
        self.call_after_refresh(self.refill)
