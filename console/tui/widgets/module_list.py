"""One queue or pool as a table: its modules in order, ▶ on those playing, its background last."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import DataTable, Static

from console.models import ModuleInfo, ModuleSnapshot
from console.tui.widgets.module_parameters import value_text
from console.tui.widgets.rich_style import component_style

SERVICES = {"queue": ("Queue", "q"), "pool": ("Pool", "p")}
"""Service → (title, the key that shows it)."""

# Parameters last: they are what gets cut to the table's width.
COLUMNS = ("play", "position", "uid", "type", "parameters")
_LABELS = {"play": "", "position": "#", "uid": "uid", "type": "type", "parameters": "parameters"}
BACKGROUND = "bg"
"""What the position column says for the background module."""


def summary(module: ModuleInfo) -> str:
    """The parameters on one line, ``name=value`` (strings bare), in the module's order."""
    return " ".join(
        f"{name}={value if isinstance(value, str) else value_text(value)}"
        for name, value in module.parameters.items()
    )


class ModuleList(Vertical):
    """The modules of one service, rows keyed by uid; a title line says how many and how live."""

    COMPONENT_CLASSES = {"module-list--playing", "module-list--background"}

    DEFAULT_CSS = """
    ModuleList {
        height: 1fr;
        .module-list-title { height: 1; padding: 0 1; background: $boost; }
        &.-active .module-list-title { background: $primary 25%; }
        DataTable { height: 1fr; scrollbar-size-vertical: 1; overflow-x: hidden; }
        & > .module-list--playing { color: $text-success; text-style: bold; }
        & > .module-list--background { color: $text-muted; }
    }
    """

    class SwitchWanted(Message):
        """The other service was clicked in a narrow list's title: show that one."""

        def __init__(self, service: str) -> None:
            super().__init__()
            self.service = service

    def __init__(self, service: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.service = service
        self.snapshot = ModuleSnapshot(service, [])
        self.note = ""
        """Said after the count: connecting, offline, not live."""
        self.narrow = False
        """One list at a time: the title names the other one too, to say how to reach it."""
        self._styles: dict[str, Style] = {}
        self._room = 40
        self._ready = False
        """Mounted: until then (the pane builds its parts when first shown) data is only kept."""

    def compose(self) -> ComposeResult:
        yield Static("", classes="module-list-title")
        yield DataTable(id=f"{self.service}-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self._ready = True
        self.refill()
        self.update_title()
        self.watch(self.app, "theme", lambda: self.call_after_refresh(self.refill), init=False)

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one(DataTable)

    @property
    def modules(self) -> dict[str, ModuleInfo]:
        """Every module shown by uid, the background included."""
        snapshot = self.snapshot
        everyone = [*snapshot.modules, *([snapshot.background] if snapshot.background else [])]
        return {module.uid: module for module in everyone}

    @property
    def order(self) -> list[str]:
        """The uids in the service's order (the background is not in it)."""
        return [module.uid for module in self.snapshot.modules]

    @property
    def shown(self) -> list[str]:
        """The uids in the table, top to bottom."""
        if not self._ready:
            return []
        return [str(row.value) for row in self.table.rows]

    @property
    def selected(self) -> ModuleInfo | None:
        """The module under the cursor."""
        if not self._ready:
            return None
        table = self.table
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        return self.modules.get(str(key))

    def is_background(self, uid: str) -> bool:
        background = self.snapshot.background
        return background is not None and background.uid == uid

    def describe(self, module: ModuleInfo) -> str:
        """Where a module is and what it does, for titles: "queue 2 of 3, suspended"."""
        state = {True: "▶ playing", False: "suspended", None: ""}[module.playing]
        if self.is_background(module.uid):
            where = f"{self.service} background"
        elif module.uid in self.order:
            where = f"{self.service} {self.order.index(module.uid) + 1} of {len(self.order)}"
        else:
            where = self.service
        return f"{where}, {state}" if state else where

    # -- what is shown --------------------------------------------------------------

    def show(self, snapshot: ModuleSnapshot) -> None:
        """Replace everything; when the same modules are in the same order only cells change."""
        self.snapshot = snapshot
        if not self._ready:
            return
        if self.shown == list(self.modules):
            for module in self.modules.values():
                self._update_row(module)
        else:
            self.refill()
        self.update_title()

    def update(self, module: ModuleInfo) -> bool:
        """One module's new parameters (and playing); False when it is not in this list."""
        snapshot = self.snapshot
        if snapshot.background is not None and snapshot.background.uid == module.uid:
            self.snapshot = ModuleSnapshot(snapshot.service, snapshot.modules, module)
        elif module.uid in self.order:
            modules = [module if m.uid == module.uid else m for m in snapshot.modules]
            self.snapshot = ModuleSnapshot(snapshot.service, modules, snapshot.background)
        else:
            return False
        if self._ready:
            self._update_row(module)
        return True

    def set_note(self, note: str) -> None:
        self.note = note
        self.update_title()

    def move_to(self, uid: str) -> None:
        key = str(uid)
        if self._ready and key in self.table.rows:
            self.table.move_cursor(row=self.table.get_row_index(key))

    def refill(self) -> None:
        """Rebuild the rows for the snapshot and the table's width; the cursor stays on its uid."""
        if not self._ready:
            return
        table = self.table
        current = self.selected
        everyone = list(self.modules.values())
        rows = [self._cells(module) for module in everyone]
        self._room = _parameters_room(table.scrollable_content_region.width, rows)
        table.clear(columns=True)
        for column in COLUMNS:
            justify = "right" if column in ("position", "uid") else "left"
            # The parameters get a fixed width: a longer value must not widen the table.
            width = self._room if column == "parameters" else None
            table.add_column(Text(_LABELS[column], justify=justify), key=column, width=width)
        for module, cells in zip(everyone, rows, strict=True):
            cells[-1].truncate(self._room, overflow="ellipsis")
            table.add_row(*cells, key=str(module.uid))
        if current is not None:
            self.move_to(current.uid)

    def update_title(self) -> None:
        if not self._ready:
            return
        title, key = SERVICES.get(self.service, (self.service.title(), ""))
        count = len(self.snapshot.modules)
        what = f"{count} {'module' if count == 1 else 'modules'}" if count else "empty · n adds one"
        parts: list[tuple[str, str] | str] = [(title, "bold")]
        if self.narrow:
            other_title, other_key = SERVICES[self.other]
            parts += ["  ", (f"{other_title} ({other_key})", "$text-muted")]
        elif key:
            parts.append((f" ({key})", "$text-muted"))
        parts.append((f" · {what}", "$text-secondary"))
        if self.note:
            parts.append((f" · {self.note}", "$text-muted"))
        self.query_one(".module-list-title", Static).update(Content.assemble(*parts))

    @property
    def other(self) -> str:
        """The service shown instead of this one, when only one is."""
        return next(service for service in SERVICES if service != self.service)

    def on_click(self, event: events.Click) -> None:
        if self.narrow and event.widget is self.query_one(".module-list-title"):
            self.post_message(self.SwitchWanted(self.other))

    def _update_row(self, module: ModuleInfo) -> None:
        key = str(module.uid)
        table = self.table
        if key not in table.rows:
            self.refill()
            return
        cells = self._cells(module)
        cells[-1].truncate(self._room, overflow="ellipsis")
        for column, cell in zip(COLUMNS, cells, strict=True):
            table.update_cell(key, column, cell, update_width=column not in ("play", "parameters"))

    def _cells(self, module: ModuleInfo) -> list[Text]:
        """The row of one module; its parameters whole (callers cut them to the room left)."""
        background = self.is_background(module.uid)
        order = self.order
        position = BACKGROUND if background else str(order.index(module.uid) + 1)
        muted = self._style("background") if background and not module.playing else Style()
        return [
            Text("▶" if module.playing else " ", style=self._style("playing")),
            Text(position, style=muted, justify="right"),
            Text(str(module.uid), style=muted, justify="right"),
            Text(module.type, style=muted + Style(bold=not background)),
            Text(summary(module), style=muted, no_wrap=True),
        ]

    def _style(self, kind: str) -> Style:
        style = self._styles.get(kind)
        if style is None:
            style = self._styles[kind] = component_style(self, f"module-list--{kind}")
        return style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def on_resize(self) -> None:
        # The parameters column is cut to the table's width, so a new width means new rows.
        self.call_after_refresh(self.refill)


def _parameters_room(table_width: int, rows: list[list[Text]]) -> int:
    """Cells left for the parameters once the other columns have what they need."""
    if table_width <= 0:
        return 40
    used = sum(
        max([len(_LABELS[column]), *(row[index].cell_len for row in rows)])
        for index, column in enumerate(COLUMNS[:-1])
    )
    return max(table_width - used - 2 * len(COLUMNS) - 1, 8)
