"""The Processes pane: the agent's processes as a live table (k9s-like), and one process's log.

The table follows the agent's events stream, so it changes as the processes
do, with no polling; it is listed again whenever that stream (re)connects.
The log view takes the table's place; from 32 rows the table stays above it.
Only the table is built at start: the log side is built the first time it is opened.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable

from console.models import AgentInfo, ProcessState, ProcessStatus
from console.tui.keyboard import focus_now
from console.tui.messages import BackendFailed
from console.tui.pane import Command, HelpSection, key_rows
from console.tui.widgets.process_table import ProcessTable

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.tui.widgets.process_log import ProcessLog

TALL = 32
"""From this many rows, the table stays in view above an open log."""

STARTABLE = frozenset({ProcessState.STOPPED, ProcessState.FATAL})
"""States that ``s`` starts from; from any other it stops."""

_CONTROL_VERBS = {"restart": "Restart", "stop": "Stop", "start": "Start"}


class ProcessesPane(Vertical):
    """Watch the agent's processes, restart, stop, start, delete or create one, read its log."""

    DEFAULT_CSS = """
    ProcessesPane {
        ProcessTable { height: 1fr; }
        ProcessLog { display: none; }
        &.-log-open {
            ProcessTable { display: none; }
            ProcessLog { display: block; }
        }
        &.-log-open.-tall {
            ProcessTable { display: block; height: auto; max-height: 35%; }
            ProcessTable DataTable { height: auto; max-height: 12; }
            ProcessLog { border-top: solid $panel-lighten-2; }
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        # Not in the footer: the filter line above the table says "/ filter" already.
        Binding(
            "slash",
            "filter",
            "Filter",
            show=False,
            key_display="/",
            tooltip="filter by name, state or message",
        ),
        Binding(
            "l",
            "open_log",
            "Log",
            show=False,
            key_display="enter / l",
            tooltip="show the selected process's log",
        ),
        Binding("r", "control('restart')", "Restart", tooltip="restart the selected process"),
        Binding(
            "A",
            "restart_app",
            "Restart app",
            show=False,
            tooltip="restart every process of the selected one's app, in one call",
        ),
        Binding("s", "control('stop')", "Stop", tooltip="stop the selected process"),
        Binding("s", "control('start')", "Start", tooltip="start it again when stopped or fatal"),
        Binding("ctrl+d", "delete", "Delete", tooltip="stop the selected process and forget it"),
        Binding("n", "create", "New", tooltip="create a process: a form"),
        Binding(
            "R,ctrl+l",
            "reload",
            "Reload",
            show=False,
            key_display="R / ^l",
            tooltip="list the processes again",
        ),
        Binding("escape", "back", "Back", show=False, tooltip="clear the filter"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.client: AgentClient | None = None
        self.info: AgentInfo | None = None
        self.live = False
        """True while the table follows the agent's events stream."""
        self._select_when_seen: str | None = None
        self._log: ProcessLog | None = None

    def compose(self) -> ComposeResult:
        yield ProcessTable()

    def on_mount(self) -> None:
        self.process_table.set_note("connecting…")

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.height >= TALL, "-tall")
        self.refresh_bindings()

    @property
    def process_table(self) -> ProcessTable:
        return self.query_one(ProcessTable)

    @property
    def table(self) -> DataTable:
        return self.process_table.table

    @property
    def statuses(self) -> dict[str, ProcessStatus]:
        return self.process_table.statuses

    @property
    def log_open(self) -> bool:
        return self.has_class("-log-open")

    @property
    def process_log(self) -> ProcessLog | None:
        """The log side, once it has been opened."""
        return self._log

    # -- the pane protocol ---------------------------------------------------------

    def set_client(self, client: AgentClient | None, info: AgentInfo | None) -> None:
        """The app's agent changed (connected, or gone when None): follow its processes."""
        self.client = client
        self.info = info
        self.live = False
        self.workers.cancel_group(self, "events")
        log = self.process_log
        if log is not None and log.tailing:
            log.detach("the agent connection changed: press escape, then enter to attach again")
        if client is None:
            self.process_table.set_note("offline")
            return
        self.process_table.set_note("loading…")
        self.follow_events(client)

    def focus_default(self) -> None:
        """The log when one is open, else the table."""
        log = self.process_log
        if self.log_open and log is not None:
            focus_now(log.view)
        else:
            focus_now(self.table)

    def commands(self) -> Iterator[Command]:
        """Palette entries: the table's actions, the open log's, and one per process's log."""
        yield ("Processes: filter", "Filter by name, state or message (/)", self.action_filter)
        yield ("Processes: new process", "Create a process from a form (n)", self.action_create)
        yield ("Processes: list again", "Ask the agent for its processes (R)", self.action_reload)
        selected = self.process_table.selected
        if selected is not None:
            slug = selected.slug
            for action, verb in _CONTROL_VERBS.items():
                if self.check_action("control", (action,)) is not False:
                    run = partial(self.action_control, action)
                    yield (f"Processes: {verb.lower()} {slug}", f"{verb} (asks first)", run)
            yield (f"Processes: delete {slug}", "Stop and forget (asks first)", self.action_delete)
            yield (
                f"Processes: restart all of app {selected.app}",
                "Restart every process of the app in one call (A, asks first)",
                self.action_restart_app,
            )
        log = self.process_log
        if self.log_open and log is not None:
            view = log.view
            yield ("Log: follow on/off", "Follow new lines or pause (f)", view.action_toggle_follow)
            yield ("Log: wrap on/off", "Wrap long lines (w)", view.action_toggle_wrap)
            yield ("Log: search", "Search the lines kept (/)", log.action_search)
            yield ("Log: save to a file", "Save the lines kept (s)", log.action_save)
            yield ("Log: clear", "Clear the view (c)", view.action_clear)
            yield ("Log: back to the table", "Close the log (escape)", self.close_log)
        for slug in sorted(self.statuses):
            yield (f"Open log of {slug}", "Show the process's log", partial(self.open_log, slug))

    def help_sections(self) -> list[HelpSection]:
        """The keys of what is shown: the table, the log, or both (to fit at 80x24)."""
        from console.tui.widgets.log_view import LogView
        from console.tui.widgets.process_log import ProcessLog

        table = ("Processes table", key_rows(self.app, self.BINDINGS))
        log_rows = key_rows(self.app, [*ProcessLog.BINDINGS, *LogView.BINDINGS])
        log_rows.append(("↑ ↓ pgup pgdn", "scroll; moving up pauses following"))
        log = ("Log view", log_rows)
        if self.has_class("-tall"):
            return [log, table] if self.log_open else [table, log]
        if self.log_open:
            return [log]
        table[1].append(("", "the log has its own keys: ? there"))
        return [table]

    # -- the table, live ----------------------------------------------------------------

    @work(group="events", exclusive=True, exit_on_error=False)
    async def follow_events(self, client: AgentClient) -> None:
        """Apply the agent's process events to the table, for as long as the client is ours."""
        from console.adapters.errors import BackendError, NotFound

        try:
            async for event in client.events(("process",)):
                if client is not self.client:
                    return
                if event.topic in ("hello", "lost"):
                    self.live = True
                    await self._list(client)
                elif event.topic == "process":
                    self.apply(ProcessStatus.from_wire(event.data))
                elif event.topic == "process.deleted":
                    self.forget(str(event.data.get("slug", "")))
        except NotFound:
            # An older agent has no events stream: list once; R lists again.
            self.live = False
            await self._list(client)
        except BackendError as exc:
            self.live = False
            self.process_table.set_note("not live")
            self.post_message(BackendFailed(exc, "Process events"))

    async def _list(self, client: AgentClient) -> None:
        from console.adapters.errors import BackendError

        try:
            statuses = await client.processes.list()
        except BackendError as exc:
            self.process_table.set_note("unavailable")
            self.post_message(BackendFailed(exc, "List processes"))
            return
        if client is not self.client:
            return
        table = self.process_table
        table.show(statuses)
        table.set_note("" if self.live else "not live: R lists again")
        log = self.process_log
        if log is not None and log.slug in table.statuses:
            log.status = table.statuses[log.slug]
        self._selected_changed()

    def apply(self, status: ProcessStatus) -> None:
        """Show a process's new status, in the table and in its log's header."""
        self.process_table.upsert(status)
        log = self.process_log
        if log is not None and log.slug == status.slug:
            log.status = status
        if self._select_when_seen == status.slug:
            self._select_when_seen = None
            self.process_table.move_to(status.slug)
        self._selected_changed()

    def forget(self, slug: str) -> None:
        """A process was deleted: its row goes (an open log says so by itself)."""
        self.process_table.remove(slug)
        self._selected_changed()

    def _selected_changed(self) -> None:
        # The footer's s says Stop or Start by the selected process's state.
        self.refresh_bindings()

    @on(DataTable.RowHighlighted, "#process-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._selected_changed()

    @on(DataTable.RowSelected, "#process-table")
    async def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            await self.open_log(str(event.row_key.value))

    # -- the log --------------------------------------------------------------------------

    async def open_log(self, slug: str) -> None:
        """Show a process's log (made on first use), following from its recent history."""
        from console.tui.widgets.process_log import ProcessLog

        status = self.statuses.get(slug)
        if status is None:
            self.notify(f"no process named {slug!r}", severity="error")
            return
        if self.client is None:
            self.notify("Not connected to an agent.", severity="error")
            return
        log = self._log
        if log is None:
            log = self._log = ProcessLog()
            await self.mount(log)
        self.process_table.move_to(slug)
        self.add_class("-log-open")
        log.attach(self.client.processes, status)
        focus_now(log.view)
        self.refresh_bindings()

    def close_log(self) -> None:
        """Back to the table; the tail stops (re-opening the same process resumes it)."""
        log = self.process_log
        if log is not None:
            log.detach()
        self.remove_class("-log-open")
        focus_now(self.table)
        self.refresh_bindings()

    def on_process_log_closed(self, event: ProcessLog.Closed) -> None:
        event.stop()
        self.close_log()

    # -- keys ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.log_open and not self.has_class("-tall"):
            # The table is hidden: its keys are the log's now.
            return False
        selected = self.process_table.selected
        if action == "control":
            if parameters == ("start",):
                return selected is not None and selected.state in STARTABLE
            if parameters == ("stop",):
                return None if selected is None else selected.state not in STARTABLE
            return selected is not None
        if action in ("delete", "restart_app"):
            return selected is not None
        return True

    def action_filter(self) -> None:
        if self.log_open and not self.has_class("-tall"):
            self.close_log()
        focus_now(self.process_table.filter_input)

    def action_back(self) -> None:
        filter_input = self.process_table.filter_input
        if filter_input.value:
            filter_input.value = ""
        focus_now(self.table)

    def action_reload(self) -> None:
        if self.client is None:
            self.notify("Not connected to an agent.", severity="error")
            return
        self._reload(self.client)

    @work(group="list", exclusive=True, exit_on_error=False)
    async def _reload(self, client: AgentClient) -> None:
        await self._list(client)

    async def action_open_log(self) -> None:
        selected = self.process_table.selected
        if selected is not None:
            await self.open_log(selected.slug)

    def action_control(self, action: str) -> None:
        """Restart, stop or start the selected process, once the operator confirms."""
        from console.tui.widgets.confirm_dialog import ConfirmDialog

        selected = self.process_table.selected
        client = self.client
        if selected is None or client is None:
            self.notify("Not connected to an agent.", severity="error")
            return
        verb = _CONTROL_VERBS[action]
        if not client.processes.controllable:
            self.notify(
                f"This agent cannot {action} processes: it has no control routes.",
                title=f"{verb} {selected.slug}",
                severity="warning",
            )
            return
        slug = selected.slug
        question = f"{verb} {slug}? It is {selected.state.value} now."

        def answered(yes: bool | None) -> None:
            if yes:
                self._control(client, action, slug)

        dialog = ConfirmDialog(question, title=f"{verb} process", yes_label=verb)
        self.app.push_screen(dialog, answered)

    @work(group="control", exit_on_error=False)
    async def _control(self, client: AgentClient, action: str, slug: str) -> None:
        from console.adapters.errors import BackendError

        processes = client.processes
        calls = {"restart": processes.restart, "stop": processes.stop, "start": processes.start}
        try:
            status = await calls[action](slug)
        except BackendError as exc:
            self.post_message(BackendFailed(exc, f"{_CONTROL_VERBS[action]} {slug}"))
            return
        # Live, the events say what happened, in order; an answer applied late could undo one.
        if not self.live:
            self.apply(status)

    def action_restart_app(self) -> None:
        """Restart every process of the selected process's app, once the operator confirms."""
        from console.tui.widgets.confirm_dialog import ConfirmDialog

        selected = self.process_table.selected
        client = self.client
        if selected is None or client is None:
            self.notify("Not connected to an agent.", severity="error")
            return
        app_name = selected.app
        if "processes.bulk" not in client.processes.features:
            self.notify(
                "This agent cannot restart many processes at once: it has no bulk routes.",
                title=f"Restart app {app_name}",
                severity="warning",
            )
            return
        count = sum(status.app == app_name for status in self.statuses.values())
        question = f"Restart all {count} processes of app {app_name}?"

        def answered(yes: bool | None) -> None:
            if yes:
                self._restart_app(client, app_name)

        dialog = ConfirmDialog(question, title="Restart app", yes_label="Restart all")
        self.app.push_screen(dialog, answered)

    @work(group="control", exit_on_error=False)
    async def _restart_app(self, client: AgentClient, app_name: str) -> None:
        from console.adapters.errors import BackendError

        try:
            statuses = await client.processes.control_many("restart", app=app_name)
        except BackendError as exc:
            self.post_message(BackendFailed(exc, f"Restart app {app_name}"))
            return
        if not self.live:
            for status in statuses:
                self.apply(status)

    def action_delete(self) -> None:
        from console.tui.widgets.confirm_dialog import ConfirmDialog

        selected = self.process_table.selected
        client = self.client
        if selected is None or client is None:
            self.notify("Not connected to an agent.", severity="error")
            return
        slug = selected.slug
        question = f"Delete {slug}? It is stopped and forgotten, its log with it."

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(client, slug)

        dialog = ConfirmDialog(question, title="Delete process", yes_label="Delete")
        self.app.push_screen(dialog, answered)

    @work(group="control", exit_on_error=False)
    async def _delete(self, client: AgentClient, slug: str) -> None:
        from console.adapters.errors import BackendError

        try:
            await client.processes.delete(slug)
        except BackendError as exc:
            self.post_message(BackendFailed(exc, f"Delete {slug}"))
            return
        if not self.live:
            self.forget(slug)
        self.notify(slug, title="Process deleted", timeout=3)

    def action_create(self) -> None:
        from console.tui.widgets.create_process_form import CreateProcessForm

        client = self.client
        if client is None:
            self.notify("Not connected to an agent.", severity="error")
            return
        selected = self.process_table.selected
        # Most new processes join an app already there: start from the selected one's app.
        defaults = {"app": selected.app} if selected is not None else {}

        def created(status: ProcessStatus | None) -> None:
            if status is None:
                return
            self.notify(f"{status.slug}: {status.state.value}", title="Process created", timeout=3)
            if status.slug in self.statuses:
                self.process_table.move_to(status.slug)
            else:
                self._select_when_seen = status.slug
            if not self.live:
                self.apply(status)

        self.app.push_screen(CreateProcessForm(client.processes, defaults), created)
