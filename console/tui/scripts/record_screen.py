"""A past run's output, over the pane, until escape."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from console.models import RunRecord
from console.tui.kit.form_frame import dialog_box
from console.tui.kit.log_view import LogView
from console.tui.scripts.view import retcode_content


class RunRecordScreen(ModalScreen[None]):
    """Shows one RunRecord: when, with what params (masked), how it ended, and its output."""

    DEFAULT_CSS = """
    RunRecordScreen {
        align: center middle;
        background: $background 60%;
        & > Vertical {
            width: 100%;
            max-width: 120;
            height: 100%;
            max-height: 40;
            border: round $primary;
            border-title-color: $primary;
            border-title-style: bold;
            border-subtitle-color: $text-muted;
            background: $panel;
        }
        .summary { height: auto; padding: 0 1; margin-bottom: 1; }
        LogView { height: 1fr; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "close", "Close")]

    def __init__(self, record: RunRecord) -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        with dialog_box(f"{self.record.script} · run {self.record.id}", "escape closes"):
            yield Static(record_summary(self.record), classes="summary")
            yield LogView()

    def on_mount(self) -> None:
        log = self.query_one(LogView)
        for stream, text in self.record.output:
            log.add_lines(stream, [text])
        if not self.record.output:
            log.note("no output")
        log.flush()
        log.focus()

    def action_close(self) -> None:
        self.dismiss(None)


def record_result(record: RunRecord) -> Content:
    """How a recorded run ended: exit code and time, still running, or cut short."""
    if record.retcode is not None:
        return retcode_content(record.retcode, record.duration)
    if record.interrupted:
        return Content.styled("interrupted", "bold $text-warning")
    return Content.styled("running", "$text-accent")


def record_summary(record: RunRecord) -> Content:
    started = datetime.fromtimestamp(record.started_at).strftime("%Y-%m-%d %H:%M:%S")
    params = " ".join(f"{k}={v!r}" for k, v in record.params.items()) or "no params"
    muted = "$foreground-muted"
    return Content("\n").join(
        [
            Content.assemble(("started ", muted), started, "  ", record_result(record)),
            Content.assemble(("params  ", muted), params),
        ]
    )
