"""One process described (``d`` on a row): command, PID, app and type, when it started, its
restarts, how its last runs ended, its environment (secrets masked by the agent), CPU and memory.

A lazy detail of the Processes pane (made the first time, in the log's place): it
reloads every ``REFRESH`` seconds while shown; ``l`` opens the process's log,
escape goes back to the table. Also here, the pane's sampling of CPU and memory
for its table's columns (``sample_usage``).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from console.adapters.fleet_model import fleet_key
from console.models import (
    FILTERED,
    ProcessDetails,
    ProcessExit,
    ProcessState,
    ProcessStatus,
    ProcessUsage,
)
from console.tui.processes.fleet_bulk import status_of
from console.tui.processes.table import (
    REQUESTED_EXIT,
    backoff_text,
    cpu_text,
    mem_text,
    state_style,
    uptime_text,
)

if TYPE_CHECKING:
    from console.adapters.fleet import Fleet
    from console.adapters.protocols import ProcessesBackend
    from console.tui.processes.pane import ProcessesPane

REFRESH = 2.0
"""Seconds between two looks at the agent while the details are shown."""
USAGE_EVERY = 2.0
"""Seconds between two CPU and memory samples of the table, while the pane is on screen."""
LABEL = 10
"""Cells of the label column."""
MUTED = "$foreground-muted"


class ProcessDetailsPanel(Vertical):
    """One process's details, read from its agent; reloads itself while shown."""

    DEFAULT_CSS = """
    ProcessDetailsPanel {
        height: 1fr;
        #details-body { height: 1fr; padding: 0 1; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "open_log", "Log", tooltip="show this process's log"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.key: str | None = None
        """The pane's row key of the process shown (``CONTEXT/SLUG`` in "all" scope)."""
        self.details: ProcessDetails | None = None
        self._backend: ProcessesBackend | None = None
        self._slug = ""

    def compose(self) -> ComposeResult:
        yield Static(id="details-header", classes="header-line")
        with VerticalScroll(id="details-body"):
            yield Static(id="details-text")

    def on_mount(self) -> None:
        self.set_interval(REFRESH, self._reload)

    @property
    def view(self) -> VerticalScroll:
        """What takes the focus: the scrolling body."""
        return self.query_one("#details-body", VerticalScroll)

    def show(self, backend: ProcessesBackend, key: str, status: ProcessStatus) -> None:
        """Describe ``status``'s process: at once from the status, in full once loaded."""
        if key != self.key:
            self.details = None
        self._backend, self.key, self._slug = backend, key, status.slug
        self._paint(status)
        self._load()

    @property
    def shown(self) -> bool:
        return not self.has_class("-shelved") and self.is_on_screen

    def _reload(self) -> None:
        if self._backend is not None and self.shown:
            self._load()

    @work(group="details", exclusive=True, exit_on_error=False)
    async def _load(self) -> None:
        from console.adapters.errors import BackendError

        backend, slug = self._backend, self._slug
        if backend is None:
            return
        try:
            details = await backend.details(slug)
        except BackendError as exc:
            self.query_one("#details-header", Static).update(
                Content.styled(f"{slug}: {exc.message}", "$text-error")
            )
            return
        if slug == self._slug:
            self.details = details
            self._paint(details.status)

    class OpenLog(Message):
        """The operator wants the log of the process described (``l``)."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def action_open_log(self) -> None:
        if self.key is not None:
            self.post_message(self.OpenLog(self.key))

    # -- what is shown ------------------------------------------------------------------

    def _paint(self, status: ProcessStatus) -> None:
        now = time.time()
        header = [
            Content.styled(status.slug, "bold"),
            Content.styled(status.state.value, state_style(status.state)),
            Content.styled(backoff_text(status, now) or status.message or "", MUTED),
            Content.styled("l log · esc back", MUTED),
        ]
        self.query_one("#details-header", Static).update(Content("  ").join(header))
        self.query_one("#details-text", Static).update(describe(status, self.details, now))


def describe(status: ProcessStatus, details: ProcessDetails | None, now: float) -> Content:
    """The body: facts, then the exits (newest first), then the environment."""
    started = "-"
    if status.started_at is not None:
        started = _clock(status.started_at)
        if status.state is ProcessState.RUNNING:
            started += f"  (up {uptime_text(status, now)})"
    usage = None if details is None else details.usage
    failures = f"{status.failures} quick failure{'s' * (status.failures != 1)} in a row"
    facts = [
        ("command", "…" if details is None else details.command or "-"),
        ("workdir", "…" if details is None else details.workdir or "-"),
        ("app/type", f"{status.app} / {status.process_type or '-'}"),
        ("pid", str(status.pid) if status.pid else "-"),
        ("started", started),
        ("restarts", f"{status.restarts}  ({failures})"),
        ("cpu / mem", f"{cpu_text(usage)} / {mem_text(usage)}"),
    ]
    lines = [_row(label, Content(value)) for label, value in facts]
    if details is not None:
        lines += ["", _title(f"Exits, newest first (last {len(details.exits)})")]
        lines += [_exit_row(end) for end in reversed(details.exits)] or [_muted("none yet")]
        hidden = f", {len(details.masked)} masked" if details.masked else ""
        lines += ["", _title(f"Environment it was given ({len(details.env)}{hidden})")]
        lines += [_env_row(name, value) for name, value in details.env.items()]
        lines += [_muted("plus the agent's own environment")]
    return Content("\n").join(Content(line) if isinstance(line, str) else line for line in lines)


def _exit_row(end: ProcessExit) -> Content:
    if end.request is not None:
        asked = REQUESTED_EXIT.get(end.request, end.request)
        why = Content.styled(f"{asked} by the operator", MUTED)
    elif end.code == 0:
        why = Content("exited by itself")
    else:
        why = Content.styled("failed", "$text-error")
    outcome = Content.styled(f"{end.outcome:<8}", MUTED if end.request else "")
    ran = Content.styled(f"ran {_duration(end.ran_for)}", MUTED)
    return Content("  ").join([Content(_clock(end.at)), outcome, why, ran])


def _env_row(name: str, value: str) -> Content:
    if value == FILTERED:
        return _row(name, Content.styled("•••••• (masked)", MUTED))
    return _row(name, Content(value))


def _row(label: str, value: Content) -> Content:
    return Content.assemble(Content.styled(f"{label:<{LABEL}}", MUTED), " ", value)


def _title(text: str) -> Content:
    return Content.styled(text, "bold")


def _muted(text: str) -> Content:
    return Content.styled(text, MUTED)


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return (
        f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
    )


# -- what the pane calls -----------------------------------------------------------------


async def open_details(pane: ProcessesPane, key: str) -> None:
    """Describe the process of row ``key`` in the pane's detail (made on first use)."""
    found = pane.row_and_client(key)
    if found is None:
        return
    item, client = found
    if "processes.details" not in client.processes.features:
        pane.notify("This agent gives no process details.", severity="warning")
        return
    log = pane.process_log
    if log is not None:
        log.detach()
    panel = await pane.ensure_detail(ProcessDetailsPanel)
    pane.resource_table.move_to(key)
    panel.show(client.processes, key, status_of(item))
    pane.show_detail()


def sample_usage(pane: ProcessesPane) -> None:
    """Fetch CPU and memory for the table's columns, while the pane is on screen: from the
    one agent, or in "all" scope from every live agent at once (keyed ``CONTEXT/SLUG``)."""
    if not pane.is_on_screen:
        return
    if pane.fleet is not None:
        pane.run_worker(
            _fleet_usage(pane, pane.fleet), group="usage", exclusive=True, exit_on_error=False
        )
        return
    client = pane.client
    if client is None or "processes.usage" not in client.processes.features:
        return

    async def fetch() -> None:
        from console.adapters.errors import BackendError

        try:
            usage = await client.processes.usage()
        except BackendError:
            return  # the feed says when the agent is gone; a missed sample is no news
        if client is pane.client:
            pane.process_table.set_usage(usage)

    pane.run_worker(fetch(), group="usage", exclusive=True, exit_on_error=False)


async def _fleet_usage(pane: ProcessesPane, fleet: Fleet) -> None:
    """One sample from each agent that is up, asked concurrently (an agent that does not
    answer costs its own rows their figures, never the others')."""
    from console.adapters.errors import BackendError

    async def one(context: str) -> dict[str, ProcessUsage]:
        try:
            usage = await fleet.client(context).processes.usage()
        except BackendError:
            return {}
        return {fleet_key(context, slug): found for slug, found in usage.items()}

    samples = await asyncio.gather(*(one(context) for context in fleet.select()))
    if fleet is pane.fleet:
        pane.resource_table.set_usage({k: u for sample in samples for k, u in sample.items()})
