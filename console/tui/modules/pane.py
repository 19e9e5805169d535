"""The Modules pane: the agent's queue and pool of modules, and the selected one's live parameters.

Each list is a ResourceTable fed by its service's watch() (a snapshot on every add,
remove, move or end; a module's parameters on each change). From 110 columns the queue
and the pool sit side by side, else one shows at a time (q, p); the parameters of the
module under the cursor fill the rest. Parts are mounted when the pane is first shown.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable

from console.models import ModuleInfo, ModuleSnapshot
from console.tui.kit.keys import focus_now
from console.tui.kit.pane import Command, HelpSection, hidden
from console.tui.kit.resource_pane import ResourcePane
from console.tui.modules import operator_requests
from console.tui.modules.lists import SERVICES, ModuleList
from console.tui.modules.operator_requests import service_backend
from console.tui.modules.parameters import ModuleParameters

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.changes import Change
    from console.adapters.fleet import Fleet
    from console.models import AgentInfo
    from console.tui.kit.resource_table import ResourceTable
    from console.tui.modules.fleet_modules import FleetModules

WIDE = 110
"""From this many columns, the queue and the pool sit side by side."""


class ModulesPane(ResourcePane[ModuleInfo]):
    """Watch the queue and the pool; add, remove, reorder modules, tell them, set a background."""

    TITLE = "Modules"
    ON_SELECTED = frozenset({"tell", "to_front", "move", "remove"})

    DEFAULT_CSS = """
    ModulesPane {
        #module-lists { height: auto; }
        ModuleList { display: none; height: auto; }
        ModuleList DataTable { height: auto; max-height: 9; }
        ModuleList.-shown { display: block; }
        ModuleParameters { border-top: solid $panel-lighten-2; }
        &.-wide {
            ModuleList { display: block; width: 1fr; }
            ModuleList DataTable { max-height: 16; }
            #pool-list { border-left: solid $panel-lighten-2; }
        }
        &.-fleet > #module-lists, &.-fleet > ModuleParameters { display: none; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "add", "Add", tooltip="add a module: its type, JSON args"),
        Binding("t", "tell", "Tell", tooltip="send the selected module a command"),
        Binding("m", "to_front", "Front", tooltip="move the selected module to the front"),
        hidden("K,shift+up", "move(-1)", "Up", "move the selected module up", "K / ⇧↑"),
        hidden("J,shift+down", "move(1)", "Down", "move the selected module down", "J / ⇧↓"),
        Binding("ctrl+d,delete", "remove", "Remove", tooltip="remove the selected module (asks)"),
        Binding("b", "background", "Bg", tooltip="set the background module (asks to replace)"),
        hidden("q", "show_service('queue')", "Queue", "go to the queue, or to the pool", "q / p"),
        Binding("p", "show_service('pool')", "Pool", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.service = "queue"
        """The list the actions apply to: the one shown, or focused last when both are."""
        self._select_when_seen: tuple[str, str] | None = None
        self._moves = asyncio.Lock()
        self._add_args: dict[str, str] = {}
        self._tells: dict[str, str] = {}
        self._lists = {service: ModuleList(service, id=f"{service}-list") for service in SERVICES}
        self._parameters = ModuleParameters()
        self._building = False
        self._built = False
        self.fleet: Fleet | None = None
        """Every agent at once while the scope is "all" (shown by ``fleet_view``)."""

    def compose(self) -> ComposeResult:
        # Nothing until first shown (see _build).
        yield from ()

    async def _build(self) -> None:
        """Mount the lists and the parameters view, then put the cursor in the list."""
        await self.mount(Horizontal(*self._lists.values(), id="module-lists"), self._parameters)
        self._built = True
        self._selected_changed()
        focus_now(self.active.table)

    def on_mount(self) -> None:
        self._mark_active()

    def on_resize(self, event: events.Resize) -> None:
        wide = event.size.width >= WIDE
        self.set_class(wide, "-wide")
        for module_list in self.lists.values():
            module_list.narrow = not wide
            module_list.update_title()

    @property
    def lists(self) -> dict[str, ModuleList]:
        return self._lists

    @property
    def active(self) -> ModuleList:
        return self._lists[self.service]

    @property
    def resource_table(self) -> ModuleList:
        return self.active

    @property
    def parameters(self) -> ModuleParameters:
        return self._parameters

    # -- the feeds ------------------------------------------------------------------------

    def set_client(self, client: AgentClient | None, info: AgentInfo | None) -> None:
        if self.fleet is not None:
            if client is None:
                return  # "all" scope: the fleet's rows stay
            self.set_fleet(None)
        super().set_client(client, info)

    def set_fleet(self, fleet: Fleet | None) -> None:
        """In "all" scope: every agent's queue and pool (``FleetModules``), each row acted on
        through its agent; None: back to one context (``set_client`` follows)."""
        from console.tui.modules.fleet_modules import FleetModules

        self.workers.cancel_group(self, "feed")
        self.fleet, self.client, self.live = fleet, None, False
        for service, module_list in self.lists.items():
            module_list.show_snapshot(ModuleSnapshot(service, []))
        self.query(FleetModules).remove()
        self.set_class(fleet is not None, "-fleet")
        if fleet is not None:
            self.mount(FleetModules(fleet, self))

    @property
    def fleet_view(self) -> FleetModules | None:
        """The "all" scope's view, while the scope is "all"."""
        from console.tui.modules.fleet_modules import FleetModules

        found = self.query(FleetModules)
        return found.first() if self.fleet is not None and found else None

    def feed_tables(self) -> list[ResourceTable[Any]]:
        return list(self._lists.values())

    def watch_feed(
        self, client: AgentClient, table: ResourceTable[Any]
    ) -> AsyncIterator[Change[Any]]:
        assert isinstance(table, ModuleList)
        return service_backend(client, table.service).watch()

    def watch_fleet(self, fleet: Fleet, table: ResourceTable[Any]) -> AsyncIterator[Change[Any]]:
        from console.tui.modules.fleet_modules import watch

        return watch(fleet, getattr(table, "service", "queue"))

    def resync(self, items: Sequence[Any], table: ResourceTable[Any]) -> None:
        if self.fleet is not None:  # a FleetModuleTable: rows of every agent
            table.show(items)
            return
        for snapshot in items:
            self.apply_snapshot(snapshot)

    def apply(self, item: Any, table: ResourceTable[Any] | None = None) -> None:
        if self.fleet is not None and table is not None:
            table.upsert(item)
        elif isinstance(table, ModuleList):
            self.apply_module(table.service, item)

    def focus_default(self) -> None:
        if (fleet_view := self.fleet_view) is not None:
            fleet_view.focus_default()
        elif self._built:
            focus_now(self.active.table)
        elif not self._building:
            self._building = True
            self.call_next(self._build)

    def describe(self, item: ModuleInfo) -> str:
        return f"#{item.uid} {item.type}"

    def more_commands(self) -> Iterator[Command]:
        """Palette entries: adding to either list, the queue's background."""
        if (fleet_view := self.fleet_view) is not None:
            yield from fleet_view.commands()
            return
        for service in SERVICES:
            add = partial(self.add_module, service)
            yield (f"Modules: add to the {service}", "Choose a type, give JSON args (n)", add)
        background = partial(self.set_background, "queue")
        yield ("Modules: set the queue's background", "Plays when it is empty (b)", background)

    def help_sections(self) -> list[HelpSection]:
        sections = super().help_sections()
        return [
            *sections,
            (
                "Lists and forms",
                [
                    ("enter", "from a list: to the module's parameters"),
                    ("tab", "between the lists and the parameters"),
                    ("^s", "in a form: add, or send"),
                ],
            ),
        ]

    def apply_snapshot(self, snapshot: ModuleSnapshot) -> None:
        """A service as it stands now: order, who plays, every parameter."""
        module_list = self.lists.get(snapshot.service)
        if module_list is None:
            return
        module_list.show_snapshot(snapshot)
        wanted = self._select_when_seen
        if (
            wanted is not None
            and wanted[0] == snapshot.service
            and wanted[1] in module_list.modules
        ):
            self._select_when_seen = None
            module_list.move_to(wanted[1])
        self._selected_changed()

    def apply_module(self, service: str, module: ModuleInfo) -> None:
        """One module's parameters changed: its row and, when it is shown, its parameters."""
        module_list = self.lists.get(service)
        if module_list is None or not module_list.update(module):
            return
        shown = self.parameters.module
        if module_list is self.active and shown is not None and shown.uid == module.uid:
            self.parameters.show(module, module_list.describe(module))

    def changed(self, key: str | None) -> None:
        self._selected_changed()

    def _selected_changed(self) -> None:
        active = self.active
        selected = active.selected
        self.parameters.show(selected, "" if selected is None else active.describe(selected))
        # The footer offers only what applies to the module under the cursor.
        self.refresh_bindings()

    @on(DataTable.RowHighlighted)
    def _list_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self.active.table:
            self._selected_changed()

    async def open(self, key: str) -> None:
        """Enter on a module: to its parameters."""
        focus_now(self.parameters.table)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        # Tab (or a click) onto the other list makes it the one the keys act on.
        if not self._built:
            return  # the focus is in the "all" scope's view: its lists are not built
        for service, module_list in self.lists.items():
            if event.widget is module_list.table and service != self.service:
                self.service = service
                self._mark_active()
                self._selected_changed()

    def on_module_list_switch_wanted(self, event: ModuleList.SwitchWanted) -> None:
        event.stop()
        self.action_show_service(event.service)

    def _mark_active(self) -> None:
        for service, module_list in self.lists.items():
            module_list.set_class(service == self.service, "-shown")
            module_list.set_class(service == self.service, "-active")

    # -- keys ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.fleet is not None:
            return False  # "all" scope: FleetModules has the keys that apply there
        if self.service == "pool" and action in ("to_front", "move", "background"):
            return False  # a pool plays every module: no order, no background
        selected = self.selected
        if action in ("tell", "remove"):
            return selected is not None
        if action in ("to_front", "move"):
            # A pool has no order (shmooze's pool has no mv): only a queue's modules move.
            if selected is None or self.service != "queue":
                return False
            if self.active.is_background(selected.uid):
                return False
            order = self.active.order
            index = order.index(selected.uid) if selected.uid in order else -1
            if action == "to_front":
                return index > 0 or None
            step = parameters[0] if parameters and isinstance(parameters[0], int) else 0
            return 0 <= index + step < len(order) or None
        return True

    def action_show_service(self, service: str) -> None:
        """Make a list the one shown (narrow) and acted on, with the cursor in it."""
        if service not in SERVICES:
            return
        self.service = service
        self._mark_active()
        self._selected_changed()
        self.action_back()

    def action_back(self) -> None:
        if self._built:
            super().action_back()

    def action_filter(self) -> None:
        if self._built:
            super().action_filter()

    def action_add(self) -> None:
        self.add_module(self.service)

    def add_module(self, service: str, background: bool = False) -> None:
        """Open the form that adds a module (or the background) to a service; select the new
        one once it is seen."""
        operator_requests.add(self, service, background)

    def action_background(self) -> None:
        self.set_background(self.service)

    def set_background(self, service: str) -> None:
        """Open the form that sets a service's background; replacing one asks first."""
        operator_requests.set_background(self, service)

    def action_tell(self) -> None:
        operator_requests.tell(self)

    def action_remove(self) -> None:
        """Remove the selected module, once the operator confirms."""
        operator_requests.remove(self)

    def action_to_front(self) -> None:
        selected = self.selected
        if selected is not None and self.check_action("to_front", ()):
            order = self.active.order
            self._reorder([selected.uid, *(uid for uid in order if uid != selected.uid)], 1)

    def action_move(self, step: int) -> None:
        """Swap the selected module with its neighbour (mv of the new order up to the first)."""
        selected = self.selected
        if selected is None or not self.check_action("move", (step,)):
            return
        order = list(self.active.order)
        index = order.index(selected.uid)
        other = index + step
        order[index], order[other] = order[other], order[index]
        # mv puts the uids given first, the rest keep their order: the prefix is enough.
        self._reorder(order, min(index, other) + 1)

    def _reorder(self, order: list[str], prefix: int) -> None:
        """Show the new order now (the next key sees it), and have the agent make it so."""
        client = self.connected()
        if client is None:
            return
        module_list, service = self.active, self.service
        snapshot = module_list.snapshot
        by_uid = {module.uid: module for module in snapshot.modules}
        moved = [by_uid[uid] for uid in order]
        module_list.show_snapshot(ModuleSnapshot(service, moved, snapshot.background))
        self._selected_changed()
        front = partial(service_backend(client, service).move_to_front, *order[:prefix])
        self._move(client, front)

    @work(group="module-moves", exit_on_error=False)
    async def _move(self, client: AgentClient, front: Callable[[], Awaitable[object]]) -> None:
        """Moves are whole prefixes of an order: sent in the order pressed, the last wins;
        a failure is a notification and the lists are read again."""
        async with self._moves:
            if not await self.call_now("Move", front) or not self.live:
                self.action_reload()
