"""The Modules pane in "all" scope: every agent's queue and pool, each row acted on via its agent.

Two tables (the queues above, the pools below), rows ``CONTEXT/UID`` with the agent
in the context column, followed live from each agent's services. ``t`` tells the
selected module, ``ctrl+d`` removes it (asking first, naming its agent), ``n`` adds
a module to the service of the selected row's agent: each through that row's agent.
An agent that drops keeps its rows, greyed, until it is back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable

from console.adapters.changes import Resync, Upsert
from console.adapters.errors import BackendError, NotFound
from console.adapters.fleet_feed import FleetItem, fleet_watch
from console.models import ModuleInfo
from console.tui.kit.fleet_rows import CONTEXT, FleetRows
from console.tui.kit.keys import focus_now
from console.tui.kit.messages import BackendFailed
from console.tui.kit.pane import Command
from console.tui.kit.resource_table import ResourceTable
from console.tui.modules.lists import BACKGROUND, SERVICES, summary
from console.tui.modules.operator_requests import service_backend

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.changes import Change
    from console.adapters.fleet import Fleet
    from console.adapters.protocols import ModulesBackend
    from console.tui.kit.resource_pane import ResourcePane


@dataclass(frozen=True)
class PlacedModule:
    """A module and where it stands in its service: ``position`` from 1 in the order, None
    for the service's background."""

    module: ModuleInfo
    position: int | None


async def placed(backend: ModulesBackend) -> AsyncIterator[Change[PlacedModule]]:
    """One service's ``watch()`` as rows with their places; an agent that serves no such
    service (NotFound) has none, not live. Raises BackendError."""
    where: dict[str, int | None] = {}
    try:
        async for change in backend.watch():
            match change:
                case Resync(snapshots, live):
                    rows = [
                        PlacedModule(module, index)
                        for snapshot in snapshots
                        for index, module in enumerate(snapshot.modules, start=1)
                    ]
                    rows += [PlacedModule(s.background, None) for s in snapshots if s.background]
                    where = {row.module.uid: row.position for row in rows}
                    yield Resync(rows, live)
                case Upsert(ModuleInfo() as module) if module.uid in where:
                    yield Upsert(PlacedModule(module, where[module.uid]))
                case Upsert():
                    continue  # a module not in the last snapshot: the next snapshot has it
                case _:
                    yield change
    except NotFound:
        yield Resync([], live=False)


def watch(fleet: Fleet, service: str) -> AsyncIterator[Change[FleetItem[PlacedModule]]]:
    """Service ``service`` (queue, pool) of every agent, merged."""

    def watch_of(client: AgentClient) -> AsyncIterator[Change[PlacedModule]]:
        return placed(service_backend(client, service))

    return fleet_watch(fleet, watch_of, _uid_of)


def _uid_of(row: PlacedModule) -> str:
    return row.module.uid


UID_SHOWN = 8
"""Characters of a uid shown (shmooze's are uuid4s); the filter matches the whole one."""


def short_uid(uid: str) -> str:
    """A uid as the table shows it: ``df6815c9…`` for a uuid4, a short one whole."""
    return uid if len(uid) <= UID_SHOWN else f"{uid[:UID_SHOWN]}…"


class FleetModuleTable(FleetRows, ResourceTable[FleetItem[PlacedModule]]):
    """One service of every agent: rows ``CONTEXT/UID``, by agent then place."""

    COLUMNS = (CONTEXT, "play", "position", "uid", "type", "parameters")
    RIGHT_ALIGNED = frozenset({"position"})
    NOUN = "modules"
    NOUN_ONE = "module"
    STYLE_PREFIX = "fleet-modules"
    COMPONENT_CLASSES: ClassVar[set[str]] = {"fleet-modules--playing"}
    DEFAULT_CSS = """
    FleetModuleTable {
        height: 1fr;
        & > .fleet-modules--playing { color: $text-success; text-style: bold; }
        &.-active > Horizontal { background: $primary 25%; }
    }
    """

    def __init__(self, service: str) -> None:
        self.FILTER_ID = f"fleet-{service}-filter"
        self.COUNT_ID = f"fleet-{service}-count"
        self.GRID_ID = f"fleet-{service}-table"
        self.PLACEHOLDER = f"/ filter the {service}s by agent, type, parameters"
        super().__init__(id=f"fleet-{service}")
        self.service = service

    def sort_key(self, item: FleetItem[PlacedModule]) -> tuple[str, int]:
        position = item.item.position
        return (item.context, position if position is not None else 1 << 30)

    def item_words(self, item: PlacedModule) -> str:
        module = item.module
        return f"{module.uid} {module.type} {summary(module)}"

    def header(self, column: str) -> Text:
        label = {"play": "", "position": "#"}.get(column, column)
        return Text(label, justify="right" if column in self.RIGHT_ALIGNED else "left")

    def count_text(self, shown: int, total: int, filtered: bool) -> str:
        title = SERVICES.get(self.service, (self.service,))[0]
        return f"{title}s: {super().count_text(shown, total, filtered)}"

    def item_cells(self, item: PlacedModule) -> dict[str, Text]:
        module, position = item.module, item.position
        return {
            "play": Text("▶" if module.playing else " ", style=self.style("playing")),
            "position": Text(BACKGROUND if position is None else str(position), justify="right"),
            "uid": Text(short_uid(module.uid)),
            "type": Text(module.type, style=Style(bold=True)),
            "parameters": Text(summary(module), no_wrap=True),
        }


class FleetModules(Vertical):
    """Every agent's queues and pools, in "all" scope; the keys act on the selected row."""

    DEFAULT_CSS = """
    FleetModules { height: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "add", "Add", tooltip="add a module to the selected row's agent's service"),
        Binding("t", "tell", "Tell", tooltip="send the selected module a command (its agent)"),
        Binding("ctrl+d,delete", "remove", "Remove", tooltip="remove the selected module (asks)"),
        Binding("slash", "filter", "Filter", show=False, tooltip="filter by agent, type, params"),
        Binding("R,ctrl+l", "reload", "Reload", show=False, tooltip="list every agent again"),
        Binding("escape", "back", "Back", show=False, tooltip="clear the filter"),
    ]

    def __init__(self, fleet: Fleet, pane: ResourcePane[Any]) -> None:
        super().__init__(id="fleet-modules")
        self.fleet: Fleet | None = fleet
        self.pane = pane
        """The Modules pane: its confirm-call-report helper makes the calls."""
        self.service = "queue"
        """The table the keys act on: the one focused last."""
        self._add_args: dict[str, str] = {}
        self._tells: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        for service in SERVICES:
            yield FleetModuleTable(service)

    def on_mount(self) -> None:
        self.action_reload()
        self._mark_active()

    @property
    def tables(self) -> dict[str, FleetModuleTable]:
        return {table.service: table for table in self.query(FleetModuleTable)}

    @property
    def active(self) -> FleetModuleTable:
        return self.tables[self.service]

    @property
    def selected(self) -> FleetItem[PlacedModule] | None:
        return self.active.selected

    # -- the feeds ------------------------------------------------------------------------

    def action_reload(self) -> None:
        """Follow every agent's queue and pool (again): the pane's ``follow_fleet``."""
        fleet = self.fleet
        if fleet is None:
            return
        self.pane.workers.cancel_group(self.pane, "feed")
        for table in self.tables.values():
            table.set_note("loading…")
            self.pane.follow_fleet(fleet, table)

    # -- which table -----------------------------------------------------------------------

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        for service, table in self.tables.items():
            if event.widget is table.table and service != self.service:
                self.service = service
                self._mark_active()
                self.refresh_bindings()

    def _mark_active(self) -> None:
        for service, table in self.tables.items():
            table.set_class(service == self.service, "-active")

    def focus_default(self) -> None:
        focus_now(self.active.table)

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()  # the pane's own lists are not shown: theirs are not these rows
        self.refresh_bindings()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()

    # -- the keys ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("tell", "remove", "add"):
            return self.selected is not None
        return True

    def action_filter(self) -> None:
        self.active.focus_filter()

    def action_back(self) -> None:
        self.active.filter_input.value = ""
        focus_now(self.active.table)

    def _agent(self, row: FleetItem[PlacedModule], doing: str) -> ModulesBackend | None:
        """The service of the row's own agent; None after saying why not."""
        if self.fleet is None:
            return None
        try:
            return service_backend(self.fleet.client(row.context), self.service)
        except BackendError as exc:
            self.post_message(BackendFailed(exc, doing))
            return None

    def action_tell(self) -> None:
        from console.tui.modules.forms import TellModuleForm

        row = self.selected
        backend = None if row is None else self._agent(row, "Tell")
        if row is None or backend is None:
            return
        background = row.item.position is None
        form = TellModuleForm(
            backend, row.item.module, background=background, remembered=self._tells
        )
        self.app.push_screen(form)

    def action_add(self) -> None:
        """Add a module to the service of the selected row's agent."""
        from console.tui.modules.forms import AddModuleForm

        row = self.selected
        backend = None if row is None else self._agent(row, "Add")
        if row is None or backend is None:
            return
        service, context = self.service, row.context

        def added(uid: str | None) -> None:
            if uid is not None:
                self.notify(f"#{uid} in {context}'s {service}", title="Module added", timeout=3)

        self.app.push_screen(AddModuleForm(backend, remembered=self._add_args), added)

    def action_remove(self) -> None:
        """Remove the selected module from its agent, once the operator confirms."""
        row = self.selected
        backend = None if row is None else self._agent(row, "Remove")
        if row is None or backend is None:
            return
        module = row.item.module
        name = f"#{module.uid} {module.type}"
        question = f"Remove {name} from {row.context}'s {self.service}? The module is stopped."

        def removed(_: object) -> None:
            self.notify(f"{name} removed", title=f"Remove {name}", timeout=3)

        remove = partial(backend.remove, module.uid)
        self.pane.confirm_call(question, "Remove", f"Remove {name}", remove, removed)

    def commands(self) -> Iterator[Command]:
        """Palette entries of "all" scope: the keys that apply now."""
        row = self.selected
        if row is not None:
            what = f"#{row.item.module.uid} on {row.context}"
            yield (f"Modules: tell {what}", "Send it a command (t)", self.action_tell)
            yield (f"Modules: remove {what}", "Stop and remove it (asks)", self.action_remove)
            yield (f"Modules: add on {row.context}", "To its " + self.service, self.action_add)
        yield ("Modules: reload every agent", "List the queues and pools again", self.action_reload)
