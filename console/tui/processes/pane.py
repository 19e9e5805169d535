"""The Processes pane: the agent's processes as a live table (k9s-like), and one process's log.

What is particular to processes: restart, stop and start (a start asks nothing,
the others ask first), the create form, the log that opens on enter and the
details on ``d`` (each built the first time, in the detail's place; from 32 rows
the table stays above it), and CPU and memory sampled while the pane is shown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual.binding import Binding, BindingType
from textual.widget import Widget

from console.adapters.fleet import FleetProcess
from console.models import ProcessState, ProcessStatus
from console.tui.kit.keys import focus_now
from console.tui.kit.messages import LinkChanged
from console.tui.kit.pane import Command, HelpSection, hidden, key_rows
from console.tui.kit.resource_pane import ResourcePane
from console.tui.processes.fleet_bulk import fleet_commands, status_of, where_of
from console.tui.processes.fleet_table import FleetProcessTable
from console.tui.processes.table import ProcessTable

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.changes import Change
    from console.adapters.fleet import Fleet
    from console.models import AgentInfo
    from console.tui.kit.resource_table import ResourceTable
    from console.tui.processes.details import ProcessDetailsPanel
    from console.tui.processes.log_panel import ProcessLogPanel

STARTABLE = frozenset({ProcessState.STOPPED, ProcessState.FATAL})
"""States that ``s`` starts from; from any other it stops."""

_CONTROL_VERBS = {"restart": "Restart", "stop": "Stop", "start": "Start"}


class ProcessesPane(ResourcePane[ProcessStatus]):
    """Watch the agent's processes, restart, stop, start, delete or create one, read its log."""

    TITLE = "Processes"
    DEFAULT_CSS = """
    ProcessesPane {
        & > FleetProcessTable { display: none; }
        &.-fleet > ProcessTable { display: none; }
        &.-fleet > FleetProcessTable { display: block; }
        &.-fleet.-detail-open > FleetProcessTable { display: none; }
        &.-fleet.-detail-open.-tall > FleetProcessTable { display: block; }
    }
    """
    ON_SELECTED = frozenset({"control", "delete", "open_log", "restart_app", "details"})

    BINDINGS: ClassVar[list[BindingType]] = [
        hidden("l", "open_log", "Log", "show the selected process's log", "enter / l"),
        hidden("d", "details", "Details", "the selected process: command, exits, env, CPU, memory"),
        Binding("r", "control('restart')", "Restart", tooltip="restart the selected process"),
        hidden(
            "A", "restart_app", "Restart app", "restart every process of the selected one's app"
        ),
        Binding("s", "control('stop')", "Stop", tooltip="stop the selected process"),
        Binding("s", "control('start')", "Start", tooltip="start it again when stopped or fatal"),
        Binding("ctrl+d", "delete", "Delete", tooltip="stop the selected process and forget it"),
        Binding("n", "create", "New", tooltip="create a process: a form"),
        # In the footer only in "all" scope (check_action).
        Binding(
            "B", "restart_type", "Restart type", tooltip="all scope: restart its type on every host"
        ),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.select_when_seen: str | None = None
        """A new process's row key: the cursor goes there once its row is made."""
        self._log_key: str | None = None
        """The row key of the process whose log is open (``CONTEXT/SLUG`` in "all" scope)."""

    TABLE = ProcessTable

    @property
    def process_table(self) -> ProcessTable:
        """The one-context table (composed first, so before a fleet table)."""
        return self.query_one(ProcessTable)

    @property
    def resource_table(self) -> ProcessTable:
        """The table shown: the fleet's in "all" scope, else the one context's."""
        if self.fleet is not None:
            return self.query_one(FleetProcessTable)
        return self.process_table

    @property
    def statuses(self) -> dict[str, ProcessStatus]:
        return self.process_table.items

    @property
    def log_open(self) -> bool:
        return self.detail_open and self._detail is self.process_log

    @property
    def process_log(self) -> ProcessLogPanel | None:
        """The log side, once it has been opened."""
        # By its type's name: asking imports nothing before the log is first opened.
        return next(iter(self.query_children("ProcessLogPanel")), None)  # type: ignore[return-value]

    def on_mount(self) -> None:
        from console.tui.processes.details import USAGE_EVERY, sample_usage

        self.set_interval(USAGE_EVERY, partial(sample_usage, self))

    # -- what is particular to processes ------------------------------------------------

    def watch_feed(
        self, client: AgentClient, table: ResourceTable[Any]
    ) -> AsyncIterator[Change[ProcessStatus]]:
        return client.processes.watch()

    def watch_fleet(
        self, fleet: Fleet, table: ResourceTable[Any]
    ) -> AsyncIterator[Change[FleetProcess]]:
        return fleet.watch()

    def set_client(self, client: AgentClient | None, info: AgentInfo | None) -> None:
        self._detach_log()
        super().set_client(client, info)

    def set_fleet(self, fleet: Fleet | None) -> None:
        """In "all" scope (``fleet``) the fleet's table, following every agent, replaces the
        one context's; None puts it back (``set_client`` then follows the one agent)."""
        self._detach_log()
        if self.detail_open:
            self.close_detail()
        self.workers.cancel_group(self, "feed")
        self.fleet, self.live = fleet, False
        if fleet is None:
            for table in self.query(FleetProcessTable):
                table.show([])
            self.remove_class("-fleet")
            return
        self.client = self.info = None
        self.process_table.show([])
        if not self.query(FleetProcessTable):
            self.mount(FleetProcessTable())
        self.add_class("-fleet")
        self.resource_table.set_note("connecting…")
        self.follow_fleet(fleet, self.resource_table)

    def _detach_log(self) -> None:
        log = self.process_log
        if log is not None and log.tailing:
            log.detach("the agent connection changed: press escape, then enter to attach again")

    def focus_detail(self, detail: Widget) -> None:
        focus_now(detail.view)  # type: ignore[attr-defined]

    def resynced(self) -> None:
        log, items = self.process_log, self.resource_table.items
        if log is not None and self._log_key in items:
            log.show_row(items[self._log_key])

    def apply(
        self, item: ProcessStatus | FleetProcess, table: ResourceTable[Any] | None = None
    ) -> None:
        """Show a process's new status, in the table and in its log's header; a process that
        turns fatal is said out loud, whichever pane is shown."""
        table = table or self.resource_table
        key, status = table.key_of(item), status_of(item)
        before = table.items.get(key)
        if (
            status.state is ProcessState.FATAL
            and before is not None
            and status_of(before).state is not status.state
        ):
            where = f"{item.context}: " if isinstance(item, FleetProcess) else ""
            self.notify(
                status.message or "it keeps failing: s starts it again",
                title=f"{where}{status.slug} is fatal",
                severity="error",
            )
        super().apply(item, table)
        log = self.process_log
        if log is not None and self._log_key == key:
            log.show_row(item)
        if self.select_when_seen == key:
            self.select_when_seen = None
            table.move_to(key)

    def more_commands(self) -> Iterator[Command]:
        """The open log's actions, and one entry per process's log."""
        if self.log_open and (log := self.process_log) is not None:
            yield from log.commands(self.close_detail)
        yield from fleet_commands(self)
        for key in sorted(self.resource_table.items):
            yield (f"Open log of {key}", "Show the process's log", partial(self.open, key))

    def help_sections(self) -> list[HelpSection]:
        """The keys of what is shown: the table, the log, or both (to fit at 80x24)."""
        from console.tui.kit.log_view import LogView
        from console.tui.processes.log_panel import ProcessLogPanel

        table = super().help_sections()
        log_rows = key_rows(self.app, [*ProcessLogPanel.BINDINGS, *LogView.BINDINGS])
        log_rows.append(("↑ ↓ j k pgup pgdn", "scroll; moving up pauses following"))
        log = ("Log view", log_rows)
        if self.has_class("-tall"):
            return [log, *table] if self.log_open else [*table, log]
        if self.log_open:
            return [log]
        return table

    # -- the log ----------------------------------------------------------------------------

    async def open(self, key: str) -> None:
        """Show a process's log (made on first use), following from its recent history."""
        from console.tui.processes.log_panel import ProcessLogPanel

        found = self.row_and_client(key)
        if found is None:
            return
        item, client = found
        log = await self.ensure_detail(ProcessLogPanel)
        self.resource_table.move_to(key)
        self._log_key = key
        log.attach(client.processes, status_of(item))
        self.show_detail()

    def close_detail(self) -> None:
        """Back to the table; the tail stops (re-opening the same process resumes it)."""
        log = self.process_log
        if log is not None:
            log.detach()
        super().close_detail()

    def on_link_changed(self, message: LinkChanged) -> None:
        # Not stopped: the app's header says it too. In "all" scope each row says its own.
        if (log := self.process_log) is not None and self.fleet is None:
            log.stale = not message.alive

    def on_process_log_panel_closed(self, event: ProcessLogPanel.Closed) -> None:
        event.stop()
        self.close_detail()

    async def on_process_details_panel_open_log(self, event: ProcessDetailsPanel.OpenLog) -> None:
        event.stop()
        await self.open(event.key)

    # -- the selected row, in either scope ---------------------------------------------------

    @property
    def selected_status(self) -> ProcessStatus | None:
        selected = self.selected
        return None if selected is None else status_of(selected)

    def row_and_client(self, key: str) -> tuple[ProcessStatus | FleetProcess, AgentClient] | None:
        """Row ``key``'s item and the agent it belongs to, or None after saying why not."""
        item = self.resource_table.items.get(key)
        if item is None:
            self.notify(f"no process named {key!r}", severity="error")
            return None
        client = self.client_of(item)
        return None if client is None else (item, client)

    def client_of(self, item: ProcessStatus | FleetProcess) -> AgentClient | None:
        """The agent a row belongs to (its own in "all" scope), or None after saying why not."""
        if not isinstance(item, FleetProcess) or self.fleet is None:
            return self.connected()
        from console.adapters.errors import BackendError

        try:
            return self.fleet.client(item.context)
        except BackendError as exc:
            self.notify(exc.message, title=item.context, severity="error")
            return None

    # -- keys ---------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.narrow_detail and action not in ("filter", "back", "reload"):
            # The table is hidden: its keys are the log's now.
            return False
        selected = self.selected_status
        if action == "control":
            if parameters == ("start",):
                return selected is not None and selected.state in STARTABLE
            if parameters == ("stop",):
                return None if selected is None else selected.state not in STARTABLE
            return selected is not None
        if action in ("delete", "open_log", "restart_app", "details"):
            return selected is not None
        if action == "restart_type":
            return self.fleet is not None and selected is not None
        if action == "create":
            # A new process goes to one agent: choose it first (:).
            return self.fleet is None
        return True

    async def action_open_log(self) -> None:
        selected = self.selected
        if selected is not None:
            await self.open(self.resource_table.key_of(selected))

    async def action_details(self) -> None:
        from console.tui.processes.details import open_details

        if (selected := self.selected) is not None:
            await open_details(self, self.resource_table.key_of(selected))

    def action_control(self, action: str) -> None:
        """Restart or stop the selected process once the operator confirms; start at once.
        In "all" scope the call goes to the row's own agent."""
        selected = self.selected
        client = None if selected is None else self.client_of(selected)
        if selected is None or client is None:
            return
        status, where = status_of(selected), where_of(selected)
        verb, slug = _CONTROL_VERBS[action], status.slug
        if not client.processes.controllable:
            self.notify(
                f"This agent cannot {action} processes: it has no control routes.",
                title=f"{verb} {where}{slug}",
                severity="warning",
            )
            return
        call = getattr(client.processes, action)
        # Live, the events say what happened, in order; an answer applied late could undo one.
        done = None if self.live or self.fleet is not None else self.apply
        if action == "start":
            # Starting what is stopped loses nothing: no question.
            self.call(f"{verb} {where}{slug}", partial(call, slug), done)
            return
        question = f"{verb} {where}{slug}? It is {status.state.value} now."
        self.confirm_call(question, verb, f"{verb} {where}{slug}", partial(call, slug), done)

    def command_title(self, action: str, title: str) -> str:
        selected = self.selected_status
        if action == "restart_app" and selected is not None:
            return f"Processes: restart all of app {selected.app}"
        return title

    def action_restart_app(self) -> None:
        """Restart every process of the selected process's app on its agent (one question,
        one call)."""
        selected = self.selected
        client = None if selected is None else self.client_of(selected)
        if selected is None or client is None:
            return
        app_name, where = status_of(selected).app, where_of(selected)
        if "processes.bulk" not in client.processes.features:
            self.notify(
                "This agent cannot restart many processes at once: it has no bulk routes.",
                title=f"Restart app {app_name}",
                severity="warning",
            )
            return
        context = getattr(selected, "context", None)
        count = sum(
            status_of(item).app == app_name and getattr(item, "context", None) == context
            for item in self.resource_table.items.values()
        )

        def restarted(statuses: list[ProcessStatus]) -> None:
            if not self.live and self.fleet is None:
                for status in statuses:
                    self.apply(status)

        restart = partial(client.processes.control_many, "restart", app=app_name)
        on_host = f" on {where[:-2]}" if where else ""
        question = f"Restart all {count} processes of app {app_name}{on_host}?"
        self.confirm_call(question, "Restart all", f"Restart app {app_name}", restart, restarted)

    def action_restart_type(self) -> None:
        """Restart every process of the selected one's type on every host: one question
        listing them, one bulk call per host, each host's result reported."""
        from console.tui.processes.fleet_bulk import restart_type_everywhere

        selected = self.selected_status
        if self.fleet is not None and selected is not None:
            restart_type_everywhere(self, self.fleet, selected.process_type)

    def action_delete(self) -> None:
        selected = self.selected
        client = None if selected is None else self.client_of(selected)
        if selected is None or client is None:
            return
        key, slug = self.resource_table.key_of(selected), status_of(selected).slug
        where = where_of(selected)
        question = f"Delete {where}{slug}? It is stopped and forgotten, its log with it."
        delete = partial(client.processes.delete, slug)
        deleted = partial(self.notify, f"{where}{slug}", title="Process deleted", timeout=3)
        self.confirm_delete(key, question, f"Delete {where}{slug}", delete, deleted)

    def action_create(self) -> None:
        from console.tui.processes.create_form import create_process

        create_process(self)
