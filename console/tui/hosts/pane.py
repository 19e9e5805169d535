"""The Hosts pane: the configured hosts over SSH, a command line that runs a shell line on the
selected ones with their output live, unknown host keys accepted on sight, and the console's
context switched to the agent on a host.

Nothing SSH is imported until the pane first needs a host (``reach.py`` says why).
Hosts are tried only when the operator asks (``t``, a run, ``k``, ``c``): the state column
says how far that got. Failures are notes in the output and notifications, never the app's
agent going offline: a host down says nothing about the agent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import aclosing
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable
from textual.worker import Worker

from console.config import default_config_file
from console.models import AgentInfo
from console.tui.hosts.command import HostCommand
from console.tui.hosts.empty import NoHosts
from console.tui.hosts.host_keys import home_relative
from console.tui.hosts.output import HostOutput
from console.tui.hosts.reach import HostReach, HostsConfig
from console.tui.hosts.table import HostRow, HostState, HostTable, failure_text, state_of
from console.tui.kit.keys import focus_now
from console.tui.kit.pane import Command, HelpSection, hidden, pane_help
from console.tui.kit.screen_turn import ScreenTurn

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.connect import AgentConnector
    from console.adapters.fleet import Fleet
    from console.adapters.ssh import SshHosts


class HostsPane(Vertical):
    """Run shell lines on configured hosts, watch their output, accept keys, reach their agents."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r,colon", "command", "Run", tooltip="type a shell line for the selected hosts"),
        hidden("slash", "filter", "Filter", "filter by name, address or state", "/"),
        # Not in the footer: the line above the table says "space selects" already.
        hidden("space", "mark", "Select", "select a host (several); none: the cursor's"),
        hidden("a", "mark_all", "All", "select all hosts, or none"),
        Binding("t", "try", "Try", tooltip="connect, to see the hosts' state"),
        # K, not k: k moves up in every table.
        Binding("K", "accept_key", "Key", tooltip="show an unknown host key; yes accepts it"),
        Binding("c", "context", "Context", tooltip="switch the console to the host's agent"),
        Binding("x", "stop", "Stop", tooltip="stop the commands running"),
        hidden("ctrl+l", "clear", "Clear", "clear the output", "^l"),
        # In the footer only when it does something (check_action).
        Binding("escape", "back", "Back", tooltip="leave the command line; unselect all"),
    ]

    class ContextChosen(Message):
        """The operator chose the agent on a host: the app drives it through ``connector``."""

        def __init__(self, connector: AgentConnector, host: str) -> None:
            super().__init__()
            self.connector = connector
            self.host = host

    def __init__(
        self,
        hosts: HostsConfig | None = None,
        ssh: SshHosts | None = None,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.config = {name: dict(table) for name, table in (hosts or {}).items()}
        self._reach = HostReach(self.config, ssh)
        self._runs: dict[str, Worker[None]] = {}

    def compose(self) -> ComposeResult:
        if not self.config:
            yield NoHosts(home_relative(default_config_file()), id="no-hosts")
            return
        rows = [
            HostRow(name, str(table.get("address", name))) for name, table in self.config.items()
        ]
        yield HostTable(rows)
        # Below the output, like a shell's prompt.
        yield HostOutput(self.config)
        yield HostCommand()

    def on_mount(self) -> None:
        if self.config:
            self._targets_changed()

    async def on_unmount(self) -> None:
        # The connections (and the forwards on them) close with the console.
        await self._reach.close()

    @property
    def host_table(self) -> HostTable:
        return self.query_one(HostTable)

    @property
    def command_line(self) -> HostCommand:
        return self.query_one(HostCommand)

    @property
    def output(self) -> HostOutput:
        return self.query_one(HostOutput)

    @property
    def rows(self) -> dict[str, HostRow]:
        return self.host_table.rows if self.config else {}

    # -- the pane protocol ------------------------------------------------------------------

    def set_client(self, client: AgentClient | None, info: AgentInfo | None) -> None:
        """Hosts are reached over SSH, whichever agent the console drives: nothing to do."""

    def set_fleet(self, fleet: Fleet | None) -> None:
        """Hosts are reached over SSH, whatever the scope: nothing to do."""

    def focus_default(self) -> None:
        """The hosts table (or the how-to when there are none)."""
        if self.config:
            focus_now(self.host_table.table)
        else:
            focus_now(self.query_one("#no-hosts"))

    def commands(self) -> Iterator[Command]:
        """Palette entries: the pane's actions, then each host's key and agent."""
        if not self.config:
            return
        yield (
            "Hosts: run a command",
            "Type a shell line for the selected hosts (r)",
            self.action_command,
        )
        yield ("Hosts: try connecting", "Connect to the selected hosts (t)", self.action_try)
        yield ("Hosts: select all or none", "Select every host, or none (a)", self.action_mark_all)
        yield ("Hosts: stop the commands", "Stop what runs on the hosts (x)", self.action_stop)
        yield ("Hosts: clear the output", "Forget the output shown (^l)", self.action_clear)
        for name, row in self.rows.items():
            if row.state is HostState.HOST_KEY_UNKNOWN:
                ask = partial(self.accept_keys, [name])
                yield (f"Hosts: accept the key of {name}", "Show its fingerprint, ask (K)", ask)
            switch = partial(self.choose_context, name)
            yield (f"Hosts: switch the console to {name}'s agent", "Asks first (c)", switch)

    def help_sections(self) -> list[HelpSection]:
        """The pane's keys, then the command line's."""
        return pane_help(
            self,
            "Hosts pane",
            "Command line",
            [
                ("enter", "run it on each selected host at once"),
                ("", "a raw shell line, run as typed"),
                ("↑ ↓", "older and newer lines run before"),
                ("tab", "to the output: scroll; G follows, w wraps"),
            ],
        )

    # -- targets and keys ------------------------------------------------------------------

    def _targets_changed(self) -> None:
        self.command_line.set_targets(self.host_table.targets)
        self.refresh_bindings()

    @on(DataTable.RowHighlighted, "#host-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._targets_changed()

    @on(DataTable.RowSelected, "#host-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_command()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.config:
            return False
        targets = self.host_table.targets
        rows = self.rows
        if action == "accept_key":
            return any(rows[n].state is HostState.HOST_KEY_UNKNOWN for n in targets) or None
        if action == "stop":
            return any(row.running for row in rows.values()) or None
        if action == "back":
            return self.command_line.input.has_focus or bool(self.host_table.marked)
        return True

    def action_filter(self) -> None:
        self.host_table.focus_filter()

    def action_command(self) -> None:
        focus_now(self.command_line.input)

    def action_mark(self) -> None:
        name = self.host_table.cursor_name
        if name is not None:
            self.host_table.toggle_mark(name)
            self._targets_changed()

    def action_mark_all(self) -> None:
        self.host_table.mark_all()
        self._targets_changed()

    def action_back(self) -> None:
        if self.command_line.input.has_focus:
            focus_now(self.host_table.table)
        else:
            self.host_table.clear_marks()
            self._targets_changed()

    def action_clear(self) -> None:
        self.output.clear()

    # -- trying hosts ----------------------------------------------------------------------

    def _failed(self, name: str, error: Exception, doing: str) -> None:
        """Say why something failed on a host: in the table, the output and a notification."""
        state = state_of(error)
        text = failure_text(error, name)
        if not self.is_attached:
            return
        self.host_table.update(name, state=state, error=text)
        self.output.note(f"{state.value}: {text}", name)
        self.refresh_bindings()
        hint = (
            "\nK (on the table) shows its key, to accept it."
            if state is HostState.HOST_KEY_UNKNOWN
            else ""
        )
        # The adapter's words may hold brackets ("[Errno 111]"): never markup.
        title = f"{doing} on {name}: {state.value}"
        self.notify(f"{text}{hint}", title=title, severity="error", markup=False)

    def action_try(self) -> None:
        for name in self.host_table.targets:
            self._try(name)

    @work(group="try", exit_on_error=False)
    async def _try(self, name: str) -> None:
        try:
            await self._reach.connect(name, self.host_table)
        except Exception as exc:
            self._failed(name, exc, "Connect")
        self.refresh_bindings()

    # -- running commands ------------------------------------------------------------------

    @on(HostCommand.Submitted)
    def _command_submitted(self, event: HostCommand.Submitted) -> None:
        event.stop()
        self.run_command(event.line)

    def run_command(self, line: str, names: list[str] | None = None) -> None:
        """Run a raw shell line on each host (the targets by default), all at once."""
        names = names if names is not None else self.host_table.targets
        rows = self.rows
        busy = [name for name in names if rows[name].running]
        if busy:
            self.notify(
                f"Still running on {', '.join(busy)}: x stops it.",
                title="Run",
                severity="warning",
                markup=False,
            )
        names = [name for name in names if name not in busy]
        if not names:
            return
        self.output.note(f"$ {line}   ({', '.join(names)})")
        for name in names:
            self.host_table.update(name, running=True)
            self._runs[name] = self._run_on(name, line)
        self.refresh_bindings()

    @work(group="run", exit_on_error=False)
    async def _run_on(self, name: str, line: str) -> None:
        """Stream one host's output into the view as it comes; its exit status at the end."""
        output = self.output
        status: int | None = None
        try:
            ssh, host = await self._reach.connect(name, self.host_table)
            turn = ScreenTurn()
            async with aclosing(ssh.stream(host, line)) as items:
                async for item in items:
                    await turn.take()  # a flood arrives without the stream ever waiting
                    if isinstance(item, int):
                        status = item
                    else:
                        output.line(name, *item)
            output.note(f"exit {status}", name)
        except asyncio.CancelledError:
            if self.is_attached:
                output.note("stopped", name)
            raise
        except Exception as exc:
            self._failed(name, exc, "Run")
        finally:
            self._runs.pop(name, None)
            if self.is_attached:
                self.host_table.update(name, running=False, exit_status=status)
                self.refresh_bindings()

    def action_stop(self) -> None:
        for worker in list(self._runs.values()):
            worker.cancel()

    # -- host keys -------------------------------------------------------------------------

    def action_accept_key(self) -> None:
        rows = self.rows
        unknown = [
            n for n in self.host_table.targets if rows[n].state is HostState.HOST_KEY_UNKNOWN
        ]
        if not unknown:
            self.notify("No selected host has an unknown key (t tries them).", severity="warning")
            return
        self.accept_keys(unknown)

    @work(group="keys", exclusive=True, exit_on_error=False)
    async def accept_keys(self, names: list[str]) -> None:
        """For each host, show the key it offers now and record it only if the operator says yes."""
        from console.tui.hosts.host_keys import key_question
        from console.tui.kit.confirm_dialog import ConfirmDialog

        for name in names:
            try:
                ssh, host = await self._reach.host(name)
                offered = await ssh.host_key(host)
            except Exception as exc:
                self._failed(name, exc, "Host key")
                continue
            fingerprint = offered.fingerprint
            question = key_question(name, host, offered)
            dialog = ConfirmDialog(question, title="Unknown host key", yes_label="Accept")
            if not await self.app.push_screen_wait(dialog):
                self.notify(f"{name}: nothing recorded.", title="Host key", timeout=3, markup=False)
                continue
            try:
                await ssh.accept_host_key(host, fingerprint)
            except Exception as exc:
                self._failed(name, exc, "Host key")
                continue
            self.notify(
                f"{name}: {fingerprint} recorded.", title="Host key", timeout=3, markup=False
            )
            self.host_table.update(name, state=HostState.NOT_TRIED, error="")
            self._try(name)

    # -- the console's context -------------------------------------------------------------

    def action_context(self) -> None:
        name = self.host_table.cursor_name
        if name is not None:
            self.choose_context(name)

    @work(group="context", exclusive=True, exit_on_error=False)
    async def choose_context(self, name: str) -> None:
        """On the operator's yes, have the app drive the agent on ``name`` (started if none)."""
        from console.tui.hosts.agent import agent_options, host_agent, switch_question
        from console.tui.kit.confirm_dialog import ConfirmDialog

        try:
            options = agent_options(name, self.config[name])
        except ValueError as exc:
            self.notify(str(exc), title="Switch context", severity="error", markup=False)
            return
        try:
            ssh, host = await self._reach.host(name)
        except Exception as exc:
            self._failed(name, exc, "Switch context")
            return
        dialog = ConfirmDialog(
            switch_question(host, options), title="Switch context", yes_label="Switch"
        )
        if await self.app.push_screen_wait(dialog):
            progress = partial(self._agent_progress, name)
            self.post_message(self.ContextChosen(host_agent(ssh, host, options, progress), name))

    def _agent_progress(self, name: str, step: str) -> None:
        """A step of reaching the agent on ``name``, in the output (the app reports failures)."""
        if self.is_attached:
            first, *more = step.splitlines() or [""]
            self.output.note(f"agent: {first}", name)
            for line in more:  # a log's last lines, one note each (a note is one line)
                self.output.note(f"  {line}", name)
