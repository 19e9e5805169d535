"""The configured hosts as a table: name, address, connection state and last exit, in colour."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rich.text import Text

from console.tui.kit.resource_table import ResourceTable

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


class HostTable(ResourceTable[HostRow]):
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
        & > Horizontal > .resource-count { width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
        & > Horizontal > Input { width: 16; }
        & > DataTable { height: auto; max-height: 100%; }
        & > .host-table--ok { color: $text-success; }
        & > .host-table--warning { color: $text-warning; }
        & > .host-table--error { color: $text-error; text-style: bold; }
        & > .host-table--muted { color: $text-muted; }
        & > .host-table--mark { color: $text-accent; text-style: bold; }
    }
    """
    COLUMNS = COLUMNS
    NOUN = "hosts"
    NOUN_ONE = "host"
    PLACEHOLDER = "/ filter"
    STYLE_PREFIX = "host-table"
    FILTER_ID = "host-filter"
    COUNT_ID = "hosts-title"
    GRID_ID = "host-table"

    def __init__(self, rows: Iterable[HostRow], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items = {row.name: row for row in rows}
        self.order = list(self.items)
        self.marked: set[str] = set()

    @property
    def rows(self) -> dict[str, HostRow]:
        return self.items

    @property
    def cursor_name(self) -> str | None:
        """The host under the cursor."""
        return self.selected_key

    @property
    def targets(self) -> list[str]:
        """The marked hosts in table order, or else the one under the cursor."""
        if self.marked:
            return [name for name in self.items if name in self.marked]
        name = self.cursor_name
        return [name] if name is not None else []

    # -- the resource ----------------------------------------------------------------------

    def key_of(self, item: HostRow) -> str:
        return item.name

    def sort_key(self, item: HostRow) -> int:
        return self.order.index(item.name)

    def haystack(self, item: HostRow) -> str:
        return f"{item.name} {item.address} {item.state.value}"

    def header(self, column: str) -> Text:
        return Text("" if column == "mark" else column)

    def count_text(self, shown: int, total: int, filtered: bool) -> str:
        """Counts, then why the host under the cursor failed, or else the keys to start with."""
        parts = [f"{shown}/{total}" if filtered else f"{total} host{'s' * (total != 1)}"]
        if self.marked:
            parts.append(f"{len(self.marked)} selected")
        running = sum(row.running for row in self.items.values())
        if running:
            parts.append(f"{running} running")
        name = self.cursor_name
        error = self.items[name].error if name is not None else ""
        parts.append(f"{name}: {error}" if error else "space selects · r runs a command")
        return " · ".join(parts)

    def cells(self, item: HostRow) -> dict[str, Text]:
        if item.running:
            last = Text("running…", self.style("warning"))
        elif item.exit_status is None:
            last = Text("-", self.style("muted"))
        else:
            group = "ok" if item.exit_status == 0 else "error"
            last = Text(f"exit {item.exit_status}", self.style(group))
        return {
            "mark": Text(MARK if item.name in self.marked else " ", self.style("mark")),
            "host": Text(item.name, style="bold"),
            "address": Text(address_text(item.address)),
            "state": Text(item.state.value, self.style(_STATE_GROUP[item.state])),
            "last run": last,
        }

    # -- changing what is shown ---------------------------------------------------------

    def update(self, name: str, **changes: object) -> None:
        """Change some of a host's fields and show them."""
        row = self.items[name]
        for field, value in changes.items():
            setattr(row, field, value)
        self.upsert(row)

    def toggle_mark(self, name: str) -> None:
        self.marked ^= {name}
        self.upsert(self.items[name])

    def mark_all(self) -> None:
        """Mark every host, or none when all are marked already."""
        everything = set(self.items)
        self.marked = set() if self.marked == everything else everything
        self.refill()

    def clear_marks(self) -> None:
        self.marked = set()
        self.refill()

    def on_data_table_row_highlighted(self) -> None:
        self.update_count()
