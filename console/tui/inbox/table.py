"""The inbox's messages as a table under a filter line, newest first, with clickable [Ack] cells."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message as UiMessage
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from console.models import Message, MessageStatus
from console.tui.kit.keys import focus_now
from console.tui.kit.rich_style import component_style

COLUMNS = ("time", "from", "topic", "status", "ack", "preview")
"""Preview last: it is the one cut to the table's width."""
ACK_LABEL = "[Ack]"
STATUS_CYCLE: tuple[MessageStatus | None, ...] = (
    None,
    MessageStatus.PENDING,
    MessageStatus.PROCESSING,
    MessageStatus.SCHEDULED,
    MessageStatus.PROCESSED,
    MessageStatus.ERROR,
)
"""What ``s`` steps through: every status, then each one alone."""
REFILL_DELAY = 0.05
"""Seconds a new row waits, so that a burst of pushes rebuilds the table once, not per message."""
NARROW_CAPS = {"from": 12, "topic": 19}
WIDE_CAPS = {"from": 20, "topic": 26}
WIDE = 110
"""From this many columns the from and topic columns may be wider."""


def time_text(epoch: float, now: float, wide: bool) -> str:
    """When a message was pushed: the time today, else the date; to the minute when narrow."""
    moment, today = time.localtime(epoch), time.localtime(now)
    if moment[:3] == today[:3]:
        return time.strftime("%H:%M:%S" if wide else "%H:%M", moment)
    return time.strftime("%b %d" if wide else "%m-%d", moment)


def preview_text(message: Message, size: int | None = None) -> str:
    """One line about the payload: compact JSON, the first line of text, or its size in bytes.

    ``size`` is given while the payload is not fetched yet (events carry only its size).
    """
    if size is not None:
        return f"{size} bytes" if _is_binary(message) else "…"
    content = message.content
    if isinstance(content, bytes):
        return f"{len(content)} bytes"
    if isinstance(content, str):
        lines = content.strip().splitlines()
        if not lines:
            return "(empty)"
        return lines[0] + (" …" if len(lines) > 1 else "")
    return json.dumps(content, separators=(",", ":"), ensure_ascii=False)


def message_from_event(data: dict[str, Any]) -> tuple[Message, int]:
    """The message an event describes (metadata only: an empty payload) and its payload's size."""
    message = Message.from_wire({**data, "payload": None})
    return replace(message, payload=b""), int(data.get("size") or 0)


def _same_payload(old: Message, new: Message, size: int) -> bool:
    """Whether an event's message still has the payload kept: a payload update changes neither
    status nor tries, yet moves update_time (a pull, ack or release changes the status)."""
    if old.payload_type != new.payload_type or len(old.payload) != size:
        return False
    touched = old.update_time != new.update_time
    return not (touched and old.status is new.status and old.tries == new.tries)


def _is_binary(message: Message) -> bool:
    return message.payload_type != "application/json" and not message.payload_type.startswith(
        "text/"
    )


class MessageGrid(DataTable[Text]):
    """The rows; a click on a row's [Ack] cell acks that message instead of selecting the row."""

    class AckClicked(UiMessage):
        """The [Ack] cell of a message was clicked."""

        def __init__(self, message_id: str) -> None:
            super().__init__()
            self.message_id = message_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.ackable: set[str] = set()
        """Ids of the rows whose ack cell says [Ack]."""

    async def _on_click(self, event: events.Click) -> None:
        meta = event.style.meta
        row, column = meta.get("row"), meta.get("column")
        if not isinstance(row, int) or not isinstance(column, int) or row < 0 or column < 0:
            return
        if row >= self.row_count or self.ordered_columns[column].key.value != "ack":
            return
        key = str(self.ordered_rows[row].key.value)
        if key not in self.ackable:
            return
        # The table's own click would select the row, and a second click would open it.
        event.prevent_default()
        event.stop()
        self.move_cursor(row=row)
        self.post_message(self.AckClicked(key))


class StatusSwitch(Static):
    """Says which status is shown; a click steps to the next, as ``s`` does."""

    class Clicked(UiMessage):
        """The status switch was clicked."""

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(self.Clicked())


class MessageTable(Vertical):
    """Rows keyed by message id, newest first, narrowed by a status and by the filter's words."""

    COMPONENT_CLASSES = {
        "message-table--pending",
        "message-table--processing",
        "message-table--processed",
        "message-table--scheduled",
        "message-table--error",
        "message-table--ack",
        "message-table--done",
    }

    DEFAULT_CSS = """
    MessageTable {
        & > Horizontal { height: 1; background: $boost; }
        #message-filter { width: 1fr; }
        #message-status { width: auto; padding: 0 1; color: $text-secondary; }
        #message-count { width: auto; padding: 0 1; color: $text-muted; }
        DataTable { height: 1fr; scrollbar-size-vertical: 1; }
        & > .message-table--pending { color: $text-warning; text-style: bold; }
        & > .message-table--processing { color: $text-accent; text-style: bold; }
        & > .message-table--processed { color: $text-success; }
        & > .message-table--scheduled { color: $text-muted; }
        & > .message-table--error { color: $text-error; text-style: bold; }
        & > .message-table--ack { color: $text-accent; background: $accent 20%; text-style: bold; }
        & > .message-table--done { color: $text-muted; }
    }
    """

    class StatusCycled(UiMessage):
        """The status shown changed (``s`` or a click on the switch)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.messages: dict[str, Message] = {}
        self.unfetched: dict[str, int] = {}
        """Ids whose payload is not here yet (known from an event), with its size."""
        self.node = ""
        """The node this console acts as: only its processing messages can be acked."""
        self.status: MessageStatus | None = None
        """Only messages in this status are shown; all when None."""
        self.note = ""
        """Said after the count: loading, offline, not live."""
        self._select_when_shown: str | None = None
        self._preview_room = 40
        self._columns: tuple[str, ...] = COLUMNS
        self._styles: dict[str, Style] = {}
        self._refill_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Input(
                placeholder="/ filter by from, topic or payload", id="message-filter", compact=True
            )
            yield StatusSwitch("", id="message-status")
            yield Static("", id="message-count")
        yield MessageGrid(id="message-table")

    def on_mount(self) -> None:
        self._update_count()
        # Cells hold Rich styles resolved from the theme: a new theme needs new cells.
        self.watch(self.app, "theme", lambda: self.call_after_refresh(self.refill), init=False)

    @property
    def table(self) -> MessageGrid:
        return self.query_one(MessageGrid)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#message-filter", Input)

    @property
    def shown(self) -> list[str]:
        """The ids in the table, top to bottom."""
        return [str(row.key.value) for row in self.table.ordered_rows]

    @property
    def selected(self) -> Message | None:
        """The message under the cursor."""
        table = self.table
        if table.row_count == 0:
            return None
        return self.messages.get(str(table.ordered_rows[table.cursor_row].key.value))

    # -- what is shown -------------------------------------------------------------------

    def show(self, messages: Iterable[Message]) -> None:
        """Replace every message (the filters stay as they are)."""
        self.messages = {message.id: message for message in messages}
        self.unfetched.clear()
        self.refill()

    def upsert(self, message: Message, unfetched_size: int | None = None) -> None:
        """Show a message's new state; ``unfetched_size`` says its payload is still to come."""
        known = message.id in self.messages
        self.messages[message.id] = message
        if unfetched_size is None:
            self.unfetched.pop(message.id, None)
        else:
            self.unfetched[message.id] = unfetched_size
        if known and message.id in self.table.rows and self._matches(message):
            self._update_row(message)
        elif known or self._matches(message):
            self._refill_soon()

    def upsert_metadata(self, message: Message, size: int) -> bool:
        """Show a message's new metadata (from an event), keeping the payload here if it is
        still the same; True when the payload must be fetched."""
        old = self.messages.get(message.id)
        if (
            old is not None
            and message.id not in self.unfetched
            and _same_payload(old, message, size)
        ):
            self.upsert(replace(message, payload=old.payload))
            return False
        self.upsert(message, unfetched_size=size)
        return True

    def set_payload(self, message_id: str, payload: bytes, payload_type: str) -> Message | None:
        """A fetched payload arrived: keep it (with the metadata as it is now) and show it."""
        message = self.messages.get(message_id)
        if message is None:
            return None
        message = replace(message, payload=payload, payload_type=payload_type)
        self.upsert(message)
        return message

    def remove(self, message_id: str) -> None:
        self.unfetched.pop(message_id, None)
        if self.messages.pop(message_id, None) is not None:
            self.refill()

    def set_note(self, note: str) -> None:
        self.note = note
        self._update_count()

    def select_when_shown(self, message_id: str) -> None:
        """Put the cursor on a message now, or as soon as its row is made."""
        if message_id in self.table.rows:
            self.move_to(message_id)
        else:
            self._select_when_shown = message_id

    def move_to(self, message_id: str) -> None:
        if message_id in self.table.rows:
            self.table.move_cursor(row=self.table.get_row_index(message_id))

    def cycle_status(self) -> None:
        """Show the next status of the cycle (all, pending, processing, ...)."""
        index = STATUS_CYCLE.index(self.status)
        self.status = STATUS_CYCLE[(index + 1) % len(STATUS_CYCLE)]
        self.refill()

    def refill(self) -> None:
        """Rebuild the rows from the messages, the filters and the table's width."""
        if self._refill_timer is not None:
            self._refill_timer.stop()
            self._refill_timer = None
        table = self.table
        current = self.selected
        cursor_row = table.cursor_row
        shown = sorted(
            (m for m in self.messages.values() if self._matches(m)),
            key=lambda m: (m.created_time, m.id),
            reverse=True,
        )
        table.ackable = {m.id for m in shown if self.is_ackable(m)}
        # The [Ack] column is there only while a row has one: at 80 columns the preview needs it.
        self._columns = COLUMNS if table.ackable else tuple(c for c in COLUMNS if c != "ack")
        rows = [self._cells(message) for message in shown]
        widths = self._widths(rows)
        used = sum(widths[:-1]) + 2 * len(widths) + 1
        table_width = table.scrollable_content_region.width
        # Hidden, the table has no width: any guess does, as being shown resizes and refills.
        self._preview_room = max(table_width - used if table_width > 0 else 60, 8)
        widths[-1] = min(widths[-1], self._preview_room)
        table.clear(columns=True)
        # Widths given, not measured: a table painted before it measures new rows (on idle)
        # could otherwise keep rows cut to the headers' widths.
        for column, width in zip(self._columns, widths, strict=True):
            table.add_column("" if column == "ack" else column, key=column, width=width)
        for message, cells in zip(shown, rows, strict=True):
            cells[-1].truncate(self._preview_room, overflow="ellipsis")
            table.add_row(*cells, key=message.id)
        wanted = self._select_when_shown
        if wanted is not None and wanted in table.rows:
            self._select_when_shown = None
            self.move_to(wanted)
        elif current is not None and current.id in table.rows:
            self.move_to(current.id)
        elif table.row_count:
            # The selected message went (acked out of a status filter, deleted): stay in place.
            table.move_cursor(row=min(cursor_row, table.row_count - 1))
        self._update_count()

    def is_ackable(self, message: Message) -> bool:
        """Processing, and addressed to this node: the agent takes an ack for nothing else."""
        return message.status is MessageStatus.PROCESSING and message.node_destination == self.node

    def _refill_soon(self) -> None:
        if self._refill_timer is None:
            self._refill_timer = self.set_timer(REFILL_DELAY, self.refill)

    def _update_row(self, message: Message) -> None:
        """Its cells change now; the layout (column widths, the [Ack] column) soon after."""
        table = self.table
        if self.is_ackable(message):
            table.ackable.add(message.id)
        else:
            table.ackable.discard(message.id)
        cells = self._cells(message)
        cells[-1].truncate(self._preview_room, overflow="ellipsis")
        for column, cell in zip(self._columns, cells, strict=True):
            table.update_cell(message.id, column, cell)
        self._update_count()
        self._refill_soon()

    def _matches(self, message: Message) -> bool:
        if self.status is not None and message.status is not self.status:
            return False
        words = self.filter_input.value.lower().split()
        if not words:
            return True
        haystack = " ".join(
            [
                message.id,
                message.node_source,
                message.topic or "",
                message.status.value,
                preview_text(message, self.unfetched.get(message.id)),
            ]
        ).lower()
        return all(word in haystack for word in words)

    def _update_count(self) -> None:
        total = len(self.messages)
        status = self.status.value if self.status is not None else "all"
        self.query_one(StatusSwitch).update(
            Content.assemble(("s", "bold $accent"), f" status: {status}")
        )
        filtered = self.status is not None or bool(self.filter_input.value.strip())
        count = f"{self.table.row_count}/{total}" if filtered else f"{total} messages"
        if total == 0 and not filtered:
            count = "no messages · n pushes one"
        elif self.node:
            count += f" for {self.node}"
        text = f"{count} · {self.note}" if self.note else count
        self.query_one("#message-count", Static).update(text)

    def _cells(self, message: Message) -> list[Text]:
        """The row of one message; its preview is whole (callers cut it to the room left)."""
        wide = self.size.width >= WIDE
        caps = WIDE_CAPS if wide else NARROW_CAPS
        done = message.status is MessageStatus.PROCESSED
        muted = self._style("done") if done else Style()
        source = Text(message.node_source, style=muted)
        source.truncate(caps["from"], overflow="ellipsis")
        topic = Text(message.topic or "-", style=muted if done else Style(bold=True))
        topic.truncate(caps["topic"], overflow="ellipsis")
        ack = ACK_LABEL if self.is_ackable(message) else ""
        preview = preview_text(message, self.unfetched.get(message.id))
        cells = {
            "time": Text(time_text(message.created_time, time.time(), wide), style=muted),
            "from": source,
            "topic": topic,
            "status": Text(message.status.value, style=self._style(message.status.value)),
            "ack": Text(ack, style=self._style("ack")),
            "preview": Text(preview, style=muted, no_wrap=True),
        }
        return [cells[column] for column in self._columns]

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = component_style(self, f"message-table--{name}")
        return style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()

    def _widths(self, rows: list[list[Text]]) -> list[int]:
        """Each column's width: its widest cell or its header (the preview is cut later)."""
        return [
            max([len(header) if header != "ack" else 0, *(row[i].cell_len for row in rows)])
            for i, header in enumerate(self._columns)
        ]

    def on_resize(self) -> None:
        # The preview is cut to the table's width, so a new width means new rows.
        if self.messages:
            self.call_after_refresh(self.refill)

    @on(StatusSwitch.Clicked)
    def _status_clicked(self, event: StatusSwitch.Clicked) -> None:
        event.stop()
        self.cycle_status()
        self.post_message(self.StatusCycled())

    @on(Input.Changed, "#message-filter")
    def _filter_changed(self) -> None:
        self.refill()

    @on(Input.Submitted, "#message-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        focus_now(self.table)
