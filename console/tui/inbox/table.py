"""The inbox's messages as a table under a filter line, newest first, with clickable [Ack] cells."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.content import Content
from textual.message import Message as UiMessage
from textual.widgets import Static

from console.models import Message, MessageStatus
from console.tui.kit.fleet_rows import CONTEXT, greyed, offline_note
from console.tui.kit.resource_table import ResourceGrid, ResourceTable

if TYPE_CHECKING:
    from console.adapters.scirocco import MessageSeen

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


class MessageGrid(ResourceGrid):
    """The rows; a click on a row's [Ack] cell acks that message instead of selecting the row."""

    class AckClicked(UiMessage):
        """The [Ack] cell of a message was clicked."""

        def __init__(self, message_id: str) -> None:
            super().__init__()
            self.message_id = message_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
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


class MessageTable(ResourceTable[Message]):
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
        #message-status { width: auto; padding: 0 1; color: $text-secondary; }
        & > .message-table--pending { color: $text-warning; text-style: bold; }
        & > .message-table--processing { color: $text-accent; text-style: bold; }
        & > .message-table--processed { color: $text-success; }
        & > .message-table--scheduled { color: $text-muted; }
        & > .message-table--error { color: $text-error; text-style: bold; }
        & > .message-table--ack { color: $text-accent; background: $accent 20%; text-style: bold; }
        & > .message-table--done { color: $text-muted; }
    }
    """
    COLUMNS = COLUMNS
    NOUN = "messages"
    NOUN_ONE = "message"
    EMPTY_HINT = "n pushes one"
    PLACEHOLDER = "/ filter by from, topic or payload"
    STYLE_PREFIX = "message-table"
    REFILL_DELAY = REFILL_DELAY
    FILTER_ID = "message-filter"
    COUNT_ID = "message-count"
    GRID_ID = "message-table"
    SORT_REVERSE = True

    class StatusCycled(UiMessage):
        """The status shown changed (``s`` or a click on the switch)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.unfetched: dict[str, int] = {}
        """Ids whose payload is not here yet (known from an event), with its size."""
        self.node = ""
        """The node this console acts as: only its processing messages can be acked."""
        self.status: MessageStatus | None = None
        """Only messages in this status are shown; all when None."""
        self.contexts: dict[str, str] = {}
        """In "all" scope: each row's agent, by row key (the message's ``CONTEXT/ID``)."""
        self.nodes: dict[str, str] = {}
        """In "all" scope: the node each agent's console acts as, by context."""
        self.offline: set[str] = set()
        """In "all" scope: the contexts whose rows are stale (greyed)."""

    @property
    def messages(self) -> dict[str, Message]:
        return self.items

    @property
    def _columns(self) -> tuple[str, ...]:
        return self.shown_columns

    def compose_status(self) -> ComposeResult:
        yield StatusSwitch("", id="message-status")

    def make_grid(self) -> MessageGrid:
        return MessageGrid(id=self.GRID_ID)

    @property
    def table(self) -> MessageGrid:
        return self.query_one(MessageGrid)

    # -- the resource ----------------------------------------------------------------------

    def key_of(self, item: Message) -> str:
        return item.id

    def sort_key(self, item: Message) -> tuple[float, str]:
        return (item.created_time, item.id)

    def admits(self, item: Message) -> bool:
        return self.status is None or item.status is self.status

    def haystack(self, item: Message) -> str:
        preview = preview_text(item, self.unfetched.get(item.id))
        words = [item.id, item.node_source, item.topic or "", item.status.value, preview]
        return " ".join([self.contexts.get(item.id, ""), *words])

    def columns_for(self, shown: list[Message]) -> tuple[str, ...]:
        self.table.ackable = {m.id for m in shown if self.is_ackable(m)}
        # The [Ack] column is there only while a row has one: at 80 columns the preview needs it.
        columns = COLUMNS if self.table.ackable else tuple(c for c in COLUMNS if c != "ack")
        return (CONTEXT, *columns) if self.nodes else columns

    def header(self, column: str) -> Text:
        return Text("" if column == "ack" else column)

    def count_text(self, shown: int, total: int, filtered: bool) -> str:
        text = super().count_text(shown, total, filtered)
        if self.nodes:
            agents = len(self.nodes)
            note = offline_note(self.offline)
            return f"{text} on {agents} agent{'s' * (agents != 1)}" + (f" · {note}" if note else "")
        return f"{text} for {self.node}" if self.node and (total or filtered) else text

    def update_count(self) -> None:
        status = self.status.value if self.status is not None else "all"
        self.query_one(StatusSwitch).update(
            Content.assemble(("s", "bold $accent"), f" status: {status}")
        )
        super().update_count()

    def cells(self, item: Message) -> dict[str, Text]:
        wide = self.size.width >= WIDE
        caps = WIDE_CAPS if wide else NARROW_CAPS
        done = item.status is MessageStatus.PROCESSED
        muted = self.style("done") if done else Style()
        source = Text(item.node_source, style=muted)
        source.truncate(caps["from"], overflow="ellipsis")
        topic = Text(item.topic or "-", style=muted if done else Style(bold=True))
        topic.truncate(caps["topic"], overflow="ellipsis")
        ack = ACK_LABEL if self.is_ackable(item) else ""
        preview = preview_text(item, self.unfetched.get(item.id))
        cells = {
            "time": Text(time_text(item.created_time, time.time(), wide), style=muted),
            "from": source,
            "topic": topic,
            "status": Text(item.status.value, style=self.style(item.status.value)),
            "ack": Text(ack, style=self.style("ack")),
            "preview": Text(preview, style=muted, no_wrap=True),
        }
        context = self.contexts.get(item.id)
        if context is None:
            return cells
        cells[CONTEXT] = Text(context, style=Style(bold=True))
        return greyed(cells) if context in self.offline else cells

    # -- what is shown ---------------------------------------------------------------------

    def show(self, items: Iterable[Message]) -> None:
        """Replace every message (the filters stay as they are)."""
        self.unfetched.clear()
        super().show(items)

    def upsert_seen(self, seen: MessageSeen) -> bool:
        """Show a message as a watch saw it, keeping the payload here if it is still the
        same; True when the payload must be fetched."""
        message, size = seen.message, seen.payload_size
        old = self.items.get(message.id)
        if size is None:
            self.unfetched.pop(message.id, None)
            self.upsert(message)
            return False
        kept = old is not None and message.id not in self.unfetched
        if kept and _same_payload(old, message, size):  # type: ignore[arg-type]
            self.upsert(replace(message, payload=old.payload))
            return False
        self.unfetched[message.id] = size
        self.upsert(message)
        return True

    def set_payload(self, message_id: str, payload: bytes, payload_type: str) -> Message | None:
        """A fetched payload arrived: keep it (with the metadata as it is now) and show it."""
        message = self.items.get(message_id)
        if message is None:
            return None
        message = replace(message, payload=payload, payload_type=payload_type)
        self.unfetched.pop(message_id, None)
        self.upsert(message)
        return message

    def update_row(self, item: Message) -> None:
        if self.is_ackable(item):
            self.table.ackable.add(item.id)
        else:
            self.table.ackable.discard(item.id)
        super().update_row(item)

    def remove(self, key: str) -> None:
        self.unfetched.pop(key, None)
        super().remove(key)

    def cycle_status(self) -> None:
        """Show the next status of the cycle (all, pending, processing, ...)."""
        index = STATUS_CYCLE.index(self.status)
        self.status = STATUS_CYCLE[(index + 1) % len(STATUS_CYCLE)]
        self.refill()

    def is_ackable(self, message: Message) -> bool:
        """Processing, and addressed to this node (in "all" scope: to the node of the console
        on its agent): the agent takes an ack for nothing else."""
        processing = message.status is MessageStatus.PROCESSING
        stale = self.contexts.get(message.id) in self.offline
        return processing and not stale and self.is_addressed(message)

    def is_addressed(self, message: Message) -> bool:
        """To this node (in "all" scope: to the node of the console on its agent)."""
        context = self.contexts.get(message.id)
        return message.node_destination == (
            self.node if context is None else self.nodes.get(context)
        )

    @on(StatusSwitch.Clicked)
    def _status_clicked(self, event: StatusSwitch.Clicked) -> None:
        event.stop()
        self.cycle_status()
        self.post_message(self.StatusCycled())
