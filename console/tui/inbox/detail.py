"""One message: its metadata, an Ack button while it is processing, its payload pretty-printed."""

from __future__ import annotations

import json
import time
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message as UiMessage
from textual.widgets import Button, Static

from console.models import JSON_TYPE, Message, MessageStatus

HEX_LIMIT = 64 * 1024
"""Bytes of a binary payload dumped (4096 lines); the rest is only counted."""
TEXT_LIMIT = 200_000
"""Characters of a text or JSON payload shown; the rest is only counted."""

STATUS_STYLE = {
    MessageStatus.PENDING: "bold $text-warning",
    MessageStatus.PROCESSING: "bold $text-accent",
    MessageStatus.PROCESSED: "$text-success",
    MessageStatus.SCHEDULED: "$text-muted",
    MessageStatus.ERROR: "bold $text-error",
}

_TIMES = (
    ("scheduled", "scheduled_time"),
    ("pulled", "processing_time"),
    ("acked", "processed_time"),
    ("failed", "error_time"),
)
"""Label and field of the times shown when set, after "created"."""


def moment_text(epoch: float) -> str:
    """A time in the detail: local date and time to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def kind_text(message: Message) -> str:
    """What the payload is, for people: JSON, text, binary."""
    if message.payload_type == JSON_TYPE:
        return "JSON"
    if message.payload_type.startswith("text/"):
        return "text"
    return "binary"


def hex_dump(data: bytes, limit: int = HEX_LIMIT) -> Content:
    """Sixteen bytes a line: offset, the bytes in hex (two groups of eight), then as ASCII."""
    lines: list[Content] = []
    for offset in range(0, min(len(data), limit), 16):
        chunk = data[offset : offset + 16]
        first = " ".join(f"{byte:02x}" for byte in chunk[:8])
        second = " ".join(f"{byte:02x}" for byte in chunk[8:])
        printable = "".join(chr(byte) if 32 <= byte < 127 else "." for byte in chunk)
        lines.append(
            Content.assemble(
                (f"{offset:06x}", "$text-muted"),
                f"  {first:<23}  {second:<23}  ",
                ("|", "$text-muted"),
                (printable, "$text-secondary"),
                ("|", "$text-muted"),
            )
        )
    return Content("\n").join(lines)


def payload_content(message: Message) -> tuple[Content, str]:
    """The payload pretty-printed (JSON indented, text as is, bytes as a hex dump), and a note
    on what was left out."""
    content = message.content
    size = len(message.payload)
    if isinstance(content, bytes):
        note = f"first {HEX_LIMIT} bytes shown" if size > HEX_LIMIT else ""
        return hex_dump(content), note
    if message.payload_type == JSON_TYPE and not isinstance(content, str):
        from textual.highlight import highlight

        pretty = json.dumps(content, indent=2, ensure_ascii=False)
        if len(pretty) <= TEXT_LIMIT:
            return highlight(pretty, language="json"), ""
        return Content(pretty[:TEXT_LIMIT]), f"first {TEXT_LIMIT} characters shown"
    text = str(content)
    note = f"first {TEXT_LIMIT} characters shown" if len(text) > TEXT_LIMIT else ""
    return Content(text[:TEXT_LIMIT] or "(empty)"), note


class MessageDetail(Vertical):
    """Shows one message; the pane feeds it each new state of that message."""

    DEFAULT_CSS = """
    MessageDetail {
        #detail-bar { height: 1; background: $boost; }
        #detail-title { width: 1fr; padding: 0 1; }
        #detail-ack { margin: 0 1; }
        #detail-ack.-hidden { display: none; }
        Button.-textual-compact:focus { text-style: bold; tint: $foreground 25%; }
        #detail-meta { height: auto; padding: 0 1; }
        #payload-title { height: 1; padding: 0 1; background: $boost; color: $text-secondary; }
        #payload-scroll { height: 1fr; scrollbar-size-vertical: 1; }
        #payload-scroll:focus { background-tint: $foreground 3%; }
        #payload { padding: 0 1; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", tooltip="back to the table"),
    ]

    class Closed(UiMessage):
        """The operator is done with the message (escape)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.message: Message | None = None
        self.deleted = False
        self._shown_payload: tuple[str, str, bytes] | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="detail-bar"):
            yield Static("", id="detail-title")
            yield Button("Ack (a)", id="detail-ack", variant="primary", compact=True)
        yield Static("", id="detail-meta")
        yield Static("", id="payload-title")
        with VerticalScroll(id="payload-scroll"):
            yield Static("", id="payload")

    @property
    def scroll_view(self) -> VerticalScroll:
        return self.query_one("#payload-scroll", VerticalScroll)

    @property
    def payload_text(self) -> str:
        """The payload as shown, without styles."""
        return str(self.query_one("#payload", Static).content)

    def show(
        self, message: Message, *, ackable: bool, fetched: bool, deleted: bool = False
    ) -> None:
        """Show ``message``: its payload only once ``fetched`` (events carry none)."""
        self.message = message
        self.deleted = deleted
        status = Content.styled(message.status.value, STATUS_STYLE[message.status])
        title = Content.assemble(
            (message.topic or "(no topic)", "bold"),
            "  ",
            status,
            (f"  tries {message.tries}" if message.tries else "", "$text-muted"),
            ("  deleted" if deleted else "", "bold $text-error"),
        )
        self.query_one("#detail-title", Static).update(title)
        self.query_one("#detail-ack", Button).set_class(not ackable or deleted, "-hidden")
        self.query_one("#detail-meta", Static).update(self._metadata(message))
        size = len(message.payload)
        heading = f"payload · {kind_text(message)} · {size} bytes"
        payload = self.query_one("#payload", Static)
        if not fetched:
            self.query_one("#payload-title", Static).update("payload · loading…")
            payload.update("")
            self._shown_payload = None
            return
        key = (message.id, message.payload_type, message.payload)
        if key == self._shown_payload:
            return
        # Pretty-printing a big payload costs: only when it (or the message) changed.
        content, note = payload_content(message)
        self.query_one("#payload-title", Static).update(f"{heading} · {note}" if note else heading)
        payload.update(content)
        self._shown_payload = key
        self.scroll_view.scroll_home(animate=False)

    def action_close(self) -> None:
        self.post_message(self.Closed())

    def _metadata(self, message: Message) -> Content:
        rows: list[tuple[str, str]] = [
            ("from", f"{message.node_source} → {message.node_destination}"),
            ("created", moment_text(message.created_time)),
        ]
        if message.accepted_by:  # many agents share the inbox: which one took it
            rows.insert(1, ("agent", message.accepted_by))
        for label, field in _TIMES:
            moment = getattr(message, field)
            if moment is not None:
                rows.append((label, moment_text(moment)))
        rows.append(("id", message.id))
        return Content("\n").join(
            Content.assemble((label.ljust(10), "$text-secondary"), value) for label, value in rows
        )
