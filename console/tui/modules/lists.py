"""One queue or pool as a table: its modules in order, ▶ on those playing, its background last."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from console.models import ModuleInfo, ModuleSnapshot
from console.tui.kit.resource_table import ResourceTable
from console.tui.modules.parameters import value_text

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


class ModuleList(ResourceTable[ModuleInfo]):
    """The modules of one service, rows keyed by uid; its title says which, how many, how live."""

    COMPONENT_CLASSES = {"module-list--playing", "module-list--background"}

    DEFAULT_CSS = """
    ModuleList {
        height: 1fr;
        .module-list-title { width: auto; padding: 0 1; }
        &.-active > Horizontal { background: $primary 25%; }
        & > DataTable { overflow-x: hidden; }
        & > .module-list--playing { color: $text-success; text-style: bold; }
        & > .module-list--background { color: $text-muted; }
    }
    """
    COLUMNS = COLUMNS
    RIGHT_ALIGNED = frozenset({"position", "uid"})
    NOUN = "modules"
    NOUN_ONE = "module"
    EMPTY_HINT = "n adds one"
    PLACEHOLDER = "/ filter"
    STYLE_PREFIX = "module-list"

    class SwitchWanted(Message):
        """The other service was clicked in a narrow list's title: show that one."""

        def __init__(self, service: str) -> None:
            super().__init__()
            self.service = service

    def __init__(self, service: str, *, id: str | None = None) -> None:
        self.FILTER_ID = f"{service}-filter"
        self.COUNT_ID = f"{service}-count"
        self.GRID_ID = f"{service}-table"
        super().__init__(id=id)
        self.service = service
        self.snapshot = ModuleSnapshot(service, [])
        self.narrow = False
        """One list at a time: the title names the other one too, to say how to reach it."""

    def compose_status(self) -> ComposeResult:
        yield Static("", classes="module-list-title")

    # -- the resource ---------------------------------------------------------------------

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

    def is_background(self, uid: str) -> bool:
        background = self.snapshot.background
        return background is not None and background.uid == uid

    def key_of(self, item: ModuleInfo) -> str:
        return str(item.uid)

    def sort_key(self, item: ModuleInfo) -> int:
        # The service's order, the background last.
        order = self.order
        return order.index(item.uid) if item.uid in order else len(order)

    def haystack(self, item: ModuleInfo) -> str:
        return f"{item.uid} {item.type} {summary(item)}"

    def header(self, column: str) -> Text:
        return Text(_LABELS[column], justify="right" if column in self.RIGHT_ALIGNED else "left")

    def count_text(self, shown: int, total: int, filtered: bool) -> str:
        count = len(self.snapshot.modules)
        if filtered:
            return f"{shown}/{total}"
        return f"{count} {'module' if count == 1 else 'modules'}" if count else "empty · n adds one"

    def cells(self, item: ModuleInfo) -> dict[str, Text]:
        background = self.is_background(item.uid)
        order = self.order
        position = BACKGROUND if background else str(order.index(item.uid) + 1)
        muted = self.style("background") if background and not item.playing else Style()
        return {
            "play": Text("▶" if item.playing else " ", style=self.style("playing")),
            "position": Text(position, style=muted, justify="right"),
            "uid": Text(str(item.uid), style=muted, justify="right"),
            "type": Text(item.type, style=muted + Style(bold=not background)),
            "parameters": Text(summary(item), style=muted, no_wrap=True),
        }

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

    # -- what is shown --------------------------------------------------------------------

    def show_snapshot(self, snapshot: ModuleSnapshot) -> None:
        """Replace everything: the order, who plays, every parameter."""
        self.snapshot = snapshot
        self.show(self.modules.values())

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
        self.upsert(module)
        return True

    def update_count(self) -> None:
        super().update_count()
        self.update_title()

    def update_title(self) -> None:
        if not self.ready:
            return
        title, key = SERVICES.get(self.service, (self.service.title(), ""))
        parts: list[tuple[str, str] | str] = [(title, "bold")]
        if self.narrow:
            other_title, other_key = SERVICES[self.other]
            parts += ["  ", (f"{other_title} ({other_key})", "$text-muted")]
        elif key:
            parts.append((f" ({key})", "$text-muted"))
        self.query_one(".module-list-title", Static).update(Content.assemble(*parts))

    @property
    def other(self) -> str:
        """The service shown instead of this one, when only one is."""
        return next(service for service in SERVICES if service != self.service)

    def on_click(self, event: events.Click) -> None:
        if self.narrow and event.widget is self.query_one(".module-list-title"):
            self.post_message(self.SwitchWanted(self.other))
