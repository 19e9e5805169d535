"""The configured hosts as a table: name, address, connection state and last exit, in colour."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from console.tui.widgets.rich_style import component_style

COLUMNS = ("mark", "host", "address", "state", "last run")
MARK = "●"
"""Shown in the first column of a selected host."""


class HostState(StrEnum):
    """How the console stands with a host, as far as it has tried."""

    NOT_TRIED = "not tried"
    CONNECTING = "connecting…"
    CONNECTED = "connected"
    HOST_KEY_UNKNOWN = "host key unknown"
    AUTH_FAILED = "auth failed"
    UNREACHABLE = "unreachable"
    BAD_ADDRESS = "bad address"


_STATE_GROUP = {
    HostState.NOT_TRIED: "muted",
    HostState.CONNECTING: "warning",
    HostState.CONNECTED: "ok",
    HostState.HOST_KEY_UNKNOWN: "warning",
    HostState.AUTH_FAILED: "error",
    HostState.UNREACHABLE: "error",
    HostState.BAD_ADDRESS: "error",
}


def address_text(address: str) -> str:
    """An address as the table shows it: OpenSSH's default port goes without saying."""
    return address.strip().removesuffix(":22")


def state_of(error: Exception) -> HostState:
    """The state a failure to reach a host leaves it in."""
    from console.adapters.errors import AuthError

    # Not imported here: an error before the adapter was ever loaded cannot be one of its own.
    ssh = sys.modules.get("console.adapters.ssh")
    if ssh is not None and isinstance(error, ssh.HostKeyRefused):
        return HostState.HOST_KEY_UNKNOWN
    if isinstance(error, AuthError):
        return HostState.AUTH_FAILED
    if isinstance(error, ValueError):
        return HostState.BAD_ADDRESS
    return HostState.UNREACHABLE


def failure_text(error: Exception, host: str) -> str:
    """What went wrong, in the adapter's words, without the host's name (the table shows it)."""
    # A refused key's summary leaves out the shell command: here a key accepts it.
    text = str(
        getattr(error, "summary", None) or getattr(error, "message", None) or error or repr(error)
    )
    return text.removeprefix(f"{host}: ")


@dataclass
class HostRow:
    """What the table knows of one configured host."""

    name: str
    address: str
    state: HostState = HostState.NOT_TRIED
    running: bool = False
    exit_status: int | None = None
    """Of the last command that finished on the host."""
    error: str = ""
    """Why the last attempt failed, in the adapter's words."""


class HostTable(Vertical):
    """Rows keyed by host name, in config order; ``space`` marks several, else the cursor's row."""

    COMPONENT_CLASSES = {
        "host-table--ok",
        "host-table--warning",
        "host-table--error",
        "host-table--muted",
        "host-table--mark",
    }

    DEFAULT_CSS = """
    HostTable {
        height: auto;
        max-height: 50%;
        #hosts-title {
            height: 1;
            padding: 0 1;
            background: $boost;
            color: $text-muted;
            text-wrap: nowrap;
            text-overflow: ellipsis;
        }
        DataTable { height: auto; max-height: 100%; scrollbar-size-vertical: 1; }
        & > .host-table--ok { color: $text-success; }
        & > .host-table--warning { color: $text-warning; }
        & > .host-table--error { color: $text-error; text-style: bold; }
        & > .host-table--muted { color: $text-muted; }
        & > .host-table--mark { color: $text-accent; text-style: bold; }
    }
    """

    def __init__(self, rows: Iterable[HostRow], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows = {row.name: row for row in rows}
        self.marked: set[str] = set()
        self._styles: dict[str, Style] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="hosts-title", markup=False)
        yield DataTable(id="host-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        # Cells hold Rich styles resolved from the theme: a new theme needs new cells.
        self.watch(self.app, "theme", lambda: self.call_after_refresh(self.refill), init=False)
        self.refill()

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#host-table", DataTable)

    @property
    def cursor_name(self) -> str | None:
        """The host under the cursor."""
        table = self.table
        if table.row_count == 0:
            return None
        return str(table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value)

    @property
    def targets(self) -> list[str]:
        """The marked hosts in table order, or else the one under the cursor."""
        if self.marked:
            return [name for name in self.rows if name in self.marked]
        name = self.cursor_name
        return [name] if name is not None else []

    # -- changing what is shown ---------------------------------------------------------

    def refill(self) -> None:
        """Rebuild every row (on mount, and when the theme's colours change)."""
        table = self.table
        cursor = table.cursor_row
        table.clear(columns=True)
        for column in COLUMNS:
            table.add_column("" if column == "mark" else column, key=column)
        for row in self.rows.values():
            table.add_row(*self._cells(row), key=row.name)
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))
        self._update_title()

    def update(self, name: str, **changes: object) -> None:
        """Change some of a host's fields and show them."""
        row = self.rows[name]
        for field, value in changes.items():
            setattr(row, field, value)
        self._show(row)

    def toggle_mark(self, name: str) -> None:
        self.marked ^= {name}
        self._show(self.rows[name])

    def mark_all(self) -> None:
        """Mark every host, or none when all are marked already."""
        everything = set(self.rows)
        self.marked = set() if self.marked == everything else everything
        for row in self.rows.values():
            self._show(row)

    def clear_marks(self) -> None:
        marked, self.marked = self.marked, set()
        for name in marked:
            self._show(self.rows[name])

    def _show(self, row: HostRow) -> None:
        for column, cell in zip(COLUMNS, self._cells(row), strict=True):
            self.table.update_cell(row.name, column, cell, update_width=True)
        self._update_title()

    def _update_title(self) -> None:
        """Counts, then why the host under the cursor failed, or else the keys to start with."""
        total = len(self.rows)
        parts = [f"{total} host{'s' * (total != 1)}"]
        if self.marked:
            parts.append(f"{len(self.marked)} selected")
        running = sum(row.running for row in self.rows.values())
        if running:
            parts.append(f"{running} running")
        name = self.cursor_name
        error = self.rows[name].error if name is not None else ""
        parts.append(f"{name}: {error}" if error else "space selects · r runs a command")
        self.query_one("#hosts-title", Static).update(" · ".join(parts))

    def on_data_table_row_highlighted(self) -> None:
        self._update_title()

    # -- cells -----------------------------------------------------------------------------

    def _cells(self, row: HostRow) -> list[Text]:
        if row.running:
            last = Text("running…", self._style("warning"))
        elif row.exit_status is None:
            last = Text("-", self._style("muted"))
        else:
            group = "ok" if row.exit_status == 0 else "error"
            last = Text(f"exit {row.exit_status}", self._style(group))
        return [
            Text(MARK if row.name in self.marked else " ", self._style("mark")),
            Text(row.name, style="bold"),
            Text(address_text(row.address)),
            Text(row.state.value, self._style(_STATE_GROUP[row.state])),
            last,
        ]

    def _style(self, group: str) -> Style:
        style = self._styles.get(group)
        if style is None:
            style = self._styles[group] = component_style(self, f"host-table--{group}")
        return style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
