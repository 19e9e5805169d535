"""The Processes pane: the agent's processes as a live table (k9s-like), and one process's log.

What is particular to processes: restart, stop and start (a start asks nothing,
the others ask first), the create form, and the log that opens on enter (built
the first time, in the detail's place; from 32 rows the table stays above it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual.binding import Binding, BindingType
from textual.widget import Widget

from console.models import ProcessState, ProcessStatus
from console.tui.kit.keys import focus_now
from console.tui.kit.pane import Command, HelpSection, hidden, key_rows
from console.tui.kit.resource_pane import ResourcePane
from console.tui.processes.table import ProcessTable

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.watch import Change
    from console.models import AgentInfo
    from console.tui.kit.resource_table import ResourceTable
    from console.tui.processes.log_panel import ProcessLogPanel

STARTABLE = frozenset({ProcessState.STOPPED, ProcessState.FATAL})
"""States that ``s`` starts from; from any other it stops."""

_CONTROL_VERBS = {"restart": "Restart", "stop": "Stop", "start": "Start"}


class ProcessesPane(ResourcePane[ProcessStatus]):
    """Watch the agent's processes, restart, stop, start, delete or create one, read its log."""

    TITLE = "Processes"
    ON_SELECTED = frozenset({"control", "delete", "open_log", "restart_app"})

    BINDINGS: ClassVar[list[BindingType]] = [
        hidden("l", "open_log", "Log", "show the selected process's log", "enter / l"),
        Binding("r", "control('restart')", "Restart", tooltip="restart the selected process"),
        hidden(
            "A", "restart_app", "Restart app", "restart every process of the selected one's app"
        ),
        Binding("s", "control('stop')", "Stop", tooltip="stop the selected process"),
        Binding("s", "control('start')", "Start", tooltip="start it again when stopped or fatal"),
        Binding("ctrl+d", "delete", "Delete", tooltip="stop the selected process and forget it"),
        Binding("n", "create", "New", tooltip="create a process: a form"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._select_when_seen: str | None = None

    TABLE = ProcessTable

    @property
    def process_table(self) -> ProcessTable:
        return self.resource_table  # type: ignore[return-value]

    @property
    def statuses(self) -> dict[str, ProcessStatus]:
        return self.process_table.items

    @property
    def log_open(self) -> bool:
        return self.detail_open

    @property
    def process_log(self) -> ProcessLogPanel | None:
        """The log side, once it has been opened."""
        return self._detail  # type: ignore[return-value]

    # -- what is particular to processes ------------------------------------------------

    def watch_feed(
        self, client: AgentClient, table: ResourceTable[Any]
    ) -> AsyncIterator[Change[ProcessStatus]]:
        return client.processes.watch()

    def set_client(self, client: AgentClient | None, info: AgentInfo | None) -> None:
        log = self.process_log
        if log is not None and log.tailing:
            log.detach("the agent connection changed: press escape, then enter to attach again")
        super().set_client(client, info)

    def focus_detail(self, detail: Widget) -> None:
        focus_now(detail.view)  # type: ignore[attr-defined]

    def resynced(self) -> None:
        log = self.process_log
        if log is not None and log.slug in self.statuses:
            log.status = self.statuses[log.slug]

    def apply(self, item: ProcessStatus, table: ResourceTable[Any] | None = None) -> None:
        """Show a process's new status, in the table and in its log's header; a process that
        turns fatal is said out loud, whichever pane is shown."""
        before = self.statuses.get(item.slug)
        if (
            item.state is ProcessState.FATAL
            and before is not None
            and before.state is not item.state
        ):
            self.notify(
                item.message or "it keeps failing: s starts it again",
                title=f"{item.slug} is fatal",
                severity="error",
            )
        super().apply(item, table)
        log = self.process_log
        if log is not None and log.slug == item.slug:
            log.status = item
        if self._select_when_seen == item.slug:
            self._select_when_seen = None
            self.process_table.move_to(item.slug)

    def more_commands(self) -> Iterator[Command]:
        """The open log's actions, and one entry per process's log."""
        log = self.process_log
        if self.log_open and log is not None:
            view = log.view
            yield ("Log: follow on/off", "Follow new lines or pause (f)", view.action_toggle_follow)
            yield ("Log: wrap on/off", "Wrap long lines (w)", view.action_toggle_wrap)
            yield ("Log: search", "Search the log, past the lines kept (/)", log.action_search)
            yield ("Log: save to a file", "Save the lines kept (s)", log.action_save)
            yield ("Log: clear", "Clear the view (c)", view.action_clear)
            yield ("Log: back to the table", "Close the log (escape)", self.close_detail)
        for slug in sorted(self.statuses):
            yield (f"Open log of {slug}", "Show the process's log", partial(self.open, slug))

    def help_sections(self) -> list[HelpSection]:
        """The keys of what is shown: the table, the log, or both (to fit at 80x24)."""
        from console.tui.kit.log_view import LogView
        from console.tui.processes.log_panel import ProcessLogPanel

        table = super().help_sections()
        log_rows = key_rows(self.app, [*ProcessLogPanel.BINDINGS, *LogView.BINDINGS])
        log_rows.append(("↑ ↓ pgup pgdn", "scroll; moving up pauses following"))
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

        status = self.statuses.get(key)
        if status is None:
            self.notify(f"no process named {key!r}", severity="error")
            return
        client = self.connected()
        if client is None:
            return
        log = await self.ensure_detail(ProcessLogPanel)
        self.process_table.move_to(key)
        log.attach(client.processes, status)
        self.show_detail()

    async def open_log(self, slug: str) -> None:
        await self.open(slug)

    def close_detail(self) -> None:
        """Back to the table; the tail stops (re-opening the same process resumes it)."""
        log = self.process_log
        if log is not None:
            log.detach()
        super().close_detail()

    def close_log(self) -> None:
        self.close_detail()

    def on_process_log_panel_closed(self, event: ProcessLogPanel.Closed) -> None:
        event.stop()
        self.close_detail()

    # -- keys ---------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.narrow_detail and action not in ("filter", "back", "reload"):
            # The table is hidden: its keys are the log's now.
            return False
        selected = self.selected
        if action == "control":
            if parameters == ("start",):
                return selected is not None and selected.state in STARTABLE
            if parameters == ("stop",):
                return None if selected is None else selected.state not in STARTABLE
            return selected is not None
        if action in ("delete", "open_log", "restart_app"):
            return selected is not None
        return True

    async def action_open_log(self) -> None:
        selected = self.selected
        if selected is not None:
            await self.open(selected.slug)

    def action_control(self, action: str) -> None:
        """Restart or stop the selected process once the operator confirms; start at once."""
        selected, client = self.selected, self.connected()
        if selected is None or client is None:
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
        call = getattr(client.processes, action)
        # Live, the events say what happened, in order; an answer applied late could undo one.
        done = None if self.live else self.apply
        if action == "start":
            # Starting what is stopped loses nothing: no question.
            self.call(f"{verb} {slug}", partial(call, slug), done)
            return
        question = f"{verb} {slug}? It is {selected.state.value} now."
        self.confirm_call(question, verb, f"{verb} {slug}", partial(call, slug), done)

    def command_title(self, action: str, title: str) -> str:
        selected = self.selected
        if action == "restart_app" and selected is not None:
            return f"Processes: restart all of app {selected.app}"
        return title

    def action_restart_app(self) -> None:
        """Restart every process of the selected process's app (one question, one call)."""
        selected, client = self.selected, self.connected()
        if selected is None or client is None:
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

        def restarted(statuses: list[ProcessStatus]) -> None:
            if not self.live:
                for status in statuses:
                    self.apply(status)

        restart = partial(client.processes.control_many, "restart", app=app_name)
        question = f"Restart all {count} processes of app {app_name}?"
        self.confirm_call(question, "Restart all", f"Restart app {app_name}", restart, restarted)

    def action_delete(self) -> None:
        selected, client = self.selected, self.connected()
        if selected is None or client is None:
            return
        slug = selected.slug
        question = f"Delete {slug}? It is stopped and forgotten, its log with it."
        delete = partial(client.processes.delete, slug)
        deleted = partial(self.notify, slug, title="Process deleted", timeout=3)
        self.confirm_delete(slug, question, f"Delete {slug}", delete, deleted)

    def action_create(self) -> None:
        from console.tui.processes.create_form import CreateProcessForm

        client = self.connected()
        if client is None:
            return
        selected = self.selected
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
