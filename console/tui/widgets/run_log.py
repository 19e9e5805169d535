"""A run's output, fed line by line but painted at most once a frame."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.timer import Timer
from textual.widgets import RichLog

from console.models import Stream
from console.tui.widgets.ansi_line import styled_line

FRAME = 1 / 30
"""Lines that arrive within one frame are written to the log together."""

MAX_LINES = 10_000


class RunLog(RichLog):
    """Scrolling output of one script: stdout plain, stderr in the error colour, notes dimmed.

    ``append`` only queues a line; a one-shot timer writes everything queued
    as one renderable, so a chatty script costs one widget update per frame
    instead of one per line.
    """

    COMPONENT_CLASSES = {"run-log--stderr", "run-log--note"}

    DEFAULT_CSS = """
    RunLog {
        background: $surface;
        overflow: auto auto;
        padding: 0 1;
        scrollbar-size-vertical: 1;
        & > .run-log--stderr { color: $error; }
        & > .run-log--note { color: $foreground-muted; text-style: italic; }
        &:focus { background-tint: $foreground 4%; }
    }
    """

    def __init__(
        self,
        max_lines: int = MAX_LINES,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(max_lines=max_lines, wrap=False, name=name, id=id, classes=classes)
        self._pending: list[tuple[str, str]] = []
        self._flush_timer: Timer | None = None
        self.written = 0
        """How many lines were ever added (the log itself keeps at most ``max_lines``)."""

    @property
    def text_lines(self) -> list[str]:
        """The plain text of the lines the log holds now."""
        return [strip.text.rstrip() for strip in self.lines]

    def append(self, stream: Stream, text: str) -> None:
        """Queue one line of the script's output."""
        self._queue("stderr" if stream is Stream.STDERR else "", text)

    def note(self, text: str) -> None:
        """Queue a line that is ours (waiting, exit code, errors), not the script's."""
        self._queue("note", text)

    def _queue(self, kind: str, text: str) -> None:
        self._pending.append((kind, text))
        self.written += 1
        if self.max_lines and len(self._pending) > self.max_lines:
            # A burst bigger than the log keeps only what the log would keep.
            del self._pending[: len(self._pending) - self.max_lines]
        if self._flush_timer is None:
            self._flush_timer = self.set_timer(FRAME, self.flush)

    def flush(self) -> None:
        """Write every queued line now, as one renderable."""
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        styles = {
            "": Style(),
            "stderr": self._line_style("run-log--stderr"),
            "note": self._line_style("run-log--note"),
        }
        text = Text(no_wrap=True, overflow="ignore", end="")
        for index, (kind, line) in enumerate(pending):
            if index:
                text.append("\n")
            # Colours rendered; other control codes never reach the operator's terminal.
            text.append_text(styled_line(line, styles[kind]))
        self.write(text, shrink=False)

    def _line_style(self, component: str) -> Style:
        # Rich styles have no alpha: blend a translucent colour (a muted one) onto our background.
        styles = self.get_component_styles(component)
        colour = self.background_colors[1] + styles.color
        return Style(
            color=colour.rich_color,
            bold=styles.text_style.bold,
            italic=styles.text_style.italic,
        )

    def reset(self) -> None:
        """Forget every line, queued or shown."""
        self._pending.clear()
        self.written = 0
        self.clear()
