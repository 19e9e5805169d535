"""The Modules pane: the agent's queue and pool of modules, and the selected one's live parameters.

Both lists follow the agent's events stream (a full snapshot on every add, remove,
move or end; one module's parameters on each change), so nothing polls; they are
listed again whenever that stream (re)connects. From 110 columns the queue and the
pool sit side by side; below that one shows at a time (q, p). The parameters of the
module under the cursor fill the rest of the pane. The parts are mounted the first
time the pane is shown, so startup stays cheap; until then the data is only kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable

from console.models import AgentInfo, ModuleInfo, ModuleSnapshot
from console.tui.keyboard import focus_now
from console.tui.messages import BackendFailed
from console.tui.pane import Command, HelpSection, key_rows
from console.tui.widgets.module_list import SERVICES, ModuleList
from console.tui.widgets.module_parameters import ModuleParameters

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.shmooze import ShmoozeModules

WIDE = 110
"""From this many columns, the queue and the pool sit side by side."""


class ModulesPane(Vertical):
    """Watch the queue and the pool; add, remove, reorder modules, tell them, set a background."""

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
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "add", "Add", tooltip="add a module: its type, JSON args"),
        Binding("t", "tell", "Tell", tooltip="send the selected module a command"),
        Binding("m", "to_front", "Front", tooltip="move the selected module to the front"),
        Binding(
            "K,shift+up",
            "move(-1)",
            "Up",
            show=False,
            key_display="K / ⇧↑",
            tooltip="move the selected module up",
        ),
        Binding(
            "J,shift+down",
            "move(1)",
            "Down",
            show=False,
            key_display="J / ⇧↓",
            tooltip="move the selected module down",
        ),
        Binding("ctrl+d,delete", "remove", "Remove", tooltip="remove the selected module (asks)"),
        Binding("b", "background", "Bg", tooltip="set the background module (asks to replace)"),
        Binding(
            "q",
            "show_service('queue')",
            "Queue",
            show=False,
            key_display="q / p",
            tooltip="go to the queue, or to the pool",
        ),
        Binding("p", "show_service('pool')", "Pool", show=False),
        Binding(
            "R,ctrl+l",
            "reload",
            "Reload",
            show=False,
            key_display="R / ^l",
            tooltip="list the modules again",
        ),
        Binding("escape", "back", "Back", show=False, tooltip="from the parameters to the list"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.client: AgentClient | None = None
        self.info: AgentInfo | None = None
        self.live = False
        """True while the lists follow the agent's events stream."""
        self.service = "queue"
        """The list the actions apply to: the one shown, or focused last when both are."""
        self._select_when_seen: tuple[str, int] | None = None
        self._moves = asyncio.Lock()
        self._add_args: dict[str, str] = {}
        self._tells: dict[str, str] = {}
        self._lists = {service: ModuleList(service, id=f"{service}-list") for service in SERVICES}
        self._parameters = ModuleParameters()
        self._building = False
        self._built = False

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
        for module_list in self.lists.values():
            module_list.set_note("connecting…")
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
    def parameters(self) -> ModuleParameters:
        return self._parameters

    @property
    def selected(self) -> ModuleInfo | None:
        return self.active.selected

    # -- the pane protocol ---------------------------------------------------------

    def set_client(self, client: AgentClient | None, info: AgentInfo | None) -> None:
        """The app's agent changed (connected, or gone when None): follow its modules."""
        self.client = client
        self.info = info
        self.live = False
        self.workers.cancel_group(self, "events")
        note = "offline" if client is None else "loading…"
        for module_list in self.lists.values():
            module_list.set_note(note)
        if client is not None:
            self.follow_events(client)

    def focus_default(self) -> None:
        if self._built:
            focus_now(self.active.table)
        elif not self._building:
            self._building = True
            self.call_next(self._build)

    def commands(self) -> Iterator[Command]:
        """Palette entries: each list's and the selected module's actions."""
        for service in SERVICES:
            add = partial(self.add_module, service)
            yield (f"Modules: add to the {service}", "Choose a type, give JSON args (n)", add)
        background = partial(self.set_background, "queue")
        yield ("Modules: set the queue's background", "Plays when it is empty (b)", background)
        yield ("Modules: list again", "Ask the agent for its modules (R)", self.action_reload)
        selected = self.selected
        if selected is None:
            return
        name = f"#{selected.uid} {selected.type}"
        yield (f"Modules: tell {name}", "Send it a command (t)", self.action_tell)
        if self.check_action("to_front", ()):
            yield (f"Modules: move {name} to the front", "First in line (m)", self.action_to_front)
        for step, way, key in ((-1, "up", "K"), (1, "down", "J")):
            if self.check_action("move", (step,)):
                yield (f"Modules: move {name} {way}", f"({key})", partial(self.action_move, step))
        yield (f"Modules: remove {name}", "Stop it (asks first)", self.action_remove)

    def help_sections(self) -> list[HelpSection]:
        return [
            ("Modules pane", key_rows(self.app, self.BINDINGS)),
            (
                "Lists and forms",
                [
                    ("enter", "from a list: to the module's parameters"),
                    ("tab", "between the lists and the parameters"),
                    ("^s", "in a form: add, or send"),
                ],
            ),
        ]

    # -- the lists, live ----------------------------------------------------------------

    @work(group="events", exclusive=True, exit_on_error=False)
    async def follow_events(self, client: AgentClient) -> None:
        """Apply the agent's module events to the lists, for as long as the client is ours."""
        from console.adapters.errors import BackendError, NotFound

        try:
            async for event in client.events(("module", "modules")):
                if client is not self.client:
                    return
                if event.topic in ("hello", "lost"):
                    self.live = True
                    await self._snapshot(client, *SERVICES)
                elif event.topic == "modules":
                    self.apply_snapshot(ModuleSnapshot.from_wire(event.data))
                elif event.topic == "module":
                    service = str(event.data.get("service", ""))
                    self.apply_module(service, ModuleInfo.from_wire(event.data))
        except NotFound:
            # An older agent has no events stream: list once; R lists again.
            self.live = False
            await self._snapshot(client, *SERVICES)
        except BackendError as exc:
            self.live = False
            for module_list in self.lists.values():
                module_list.set_note("not live")
            self.post_message(BackendFailed(exc, "Module events"))

    async def _snapshot(self, client: AgentClient, *services: str) -> None:
        from console.adapters.errors import BackendError, NotFound

        for service in services:
            module_list = self.lists[service]
            try:
                snapshot = await _backend(client, service).snapshot()
            except NotFound:
                # Not an error worth a notification: this agent serves no such service.
                module_list.set_note(f"this agent has no {service}")
                continue
            except BackendError as exc:
                module_list.set_note("unavailable")
                self.post_message(BackendFailed(exc, f"List the {service}"))
                continue
            if client is not self.client:
                return
            self.apply_snapshot(snapshot)
            module_list.set_note("" if self.live else "not live: R lists again")

    def apply_snapshot(self, snapshot: ModuleSnapshot) -> None:
        """A service as it stands now: order, who plays, every parameter."""
        module_list = self.lists.get(snapshot.service)
        if module_list is None:
            return
        module_list.show(snapshot)
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

    def _selected_changed(self) -> None:
        active = self.active
        selected = active.selected
        self.parameters.show(selected, "" if selected is None else active.describe(selected))
        # The footer offers only what applies to the module under the cursor.
        self.refresh_bindings()

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self.active.table:
            event.stop()
            self._selected_changed()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table is self.active.table:
            event.stop()
            focus_now(self.parameters.table)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        # Tab (or a click) onto the other list makes it the one the keys act on.
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
            focus_now(self.active.table)

    def action_reload(self) -> None:
        client = self._client()
        if client is not None:
            self._reload(client)

    @work(group="list", exclusive=True, exit_on_error=False)
    async def _reload(self, client: AgentClient) -> None:
        await self._snapshot(client, *SERVICES)

    def _client(self) -> AgentClient | None:
        if self.client is None:
            self.notify("Not connected to an agent.", severity="error")
        return self.client

    def action_add(self) -> None:
        self.add_module(self.service)

    def add_module(self, service: str) -> None:
        """Open the form that adds a module to a service; select the new one once it is seen."""
        from console.tui.widgets.module_forms import AddModuleForm

        client = self._client()
        if client is None:
            return

        def added(uid: str | None) -> None:
            if uid is not None:
                self._started(client, service, uid, "Module added")

        form = AddModuleForm(_backend(client, service), remembered=self._add_args)
        self.app.push_screen(form, added)

    def action_background(self) -> None:
        self.set_background(self.service)

    def set_background(self, service: str) -> None:
        """Open the form that sets a service's background; replacing one asks first."""
        from console.tui.widgets.confirm_dialog import ConfirmDialog
        from console.tui.widgets.module_forms import AddModuleForm

        client = self._client()
        if client is None:
            return

        def added(uid: str | None) -> None:
            if uid is not None:
                self._started(client, service, uid, "Background set")

        def open_form(yes: bool | None = True) -> None:
            if yes:
                backend = _backend(client, service)
                form = AddModuleForm(backend, background=True, remembered=self._add_args)
                self.app.push_screen(form, added)

        old = self.lists[service].snapshot.background
        if old is None:
            open_form()
            return
        question = f"Replace the {service}'s background, #{old.uid} {old.type}? It is stopped."
        dialog = ConfirmDialog(question, title="Set background", yes_label="Replace")
        self.app.push_screen(dialog, open_form)

    def _started(self, client: AgentClient, service: str, uid: str, title: str) -> None:
        module_list = self.lists[service]
        if uid in module_list.modules:
            module_list.move_to(uid)
        else:
            self._select_when_seen = (service, uid)
        self.notify(f"#{uid} in the {service}", title=title, timeout=3)
        if not self.live:
            self._reload(client)

    def action_tell(self) -> None:
        from console.tui.widgets.module_forms import TellModuleForm

        client, selected = self._client(), self.selected
        if client is None or selected is None:
            return
        form = TellModuleForm(
            _backend(client, self.service),
            selected,
            background=self.active.is_background(selected.uid),
            remembered=self._tells,
        )
        self.app.push_screen(form)

    def action_remove(self) -> None:
        """Remove the selected module, once the operator confirms."""
        from console.tui.widgets.confirm_dialog import ConfirmDialog

        client, selected, service = self._client(), self.selected, self.service
        if client is None or selected is None:
            return
        uid = selected.uid
        name = f"#{uid} {selected.type}"
        question = f"Remove {name} from the {service}? The module is stopped."
        if selected.playing and service == "queue" and not self.active.is_background(uid):
            question += " It is playing: the next one plays instead."

        def answered(yes: bool | None) -> None:
            if yes:
                remove = partial(_backend(client, service).remove, uid)
                self._call(client, service, f"Remove {name}", remove, done=f"{name} removed")

        self.app.push_screen(
            ConfirmDialog(question, title="Remove module", yes_label="Remove"), answered
        )

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
        client = self._client()
        if client is None:
            return
        module_list, service = self.active, self.service
        snapshot = module_list.snapshot
        by_uid = {module.uid: module for module in snapshot.modules}
        moved = [by_uid[uid] for uid in order]
        module_list.show(ModuleSnapshot(service, moved, snapshot.background))
        self._selected_changed()
        front = partial(_backend(client, service).move_to_front, *order[:prefix])
        self._call(client, service, "Move", front, in_order=True)

    @work(group="module-actions", exit_on_error=False)
    async def _call(
        self,
        client: AgentClient,
        service: str,
        doing: str,
        call: Callable[[], Awaitable[object]],
        done: str = "",
        in_order: bool = False,
    ) -> None:
        """One command to a service; a failure is a notification and the list is read again."""
        from console.adapters.errors import BackendError

        try:
            if in_order:
                # Moves are whole prefixes of an order: sent in the order pressed, the last wins.
                async with self._moves:
                    await call()
            else:
                await call()
        except BackendError as exc:
            self.post_message(BackendFailed(exc, doing))
            await self._snapshot(client, service)
            return
        if done:
            self.notify(done, title=doing, timeout=3)
        if not self.live:
            await self._snapshot(client, service)


def _backend(client: AgentClient, service: str) -> ShmoozeModules:
    return client.queue if service == "queue" else client.pool
