"""Output of commands on hosts, each line after its host's name, fed to a log view per frame."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from itertools import groupby
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from console.tui.kit.log_view import FRAME, MAX_LINES, Kind, LogView
from console.tui.kit.soon import Soon

if TYPE_CHECKING:
    from console.models import Stream

NAME_WIDTH = 16
"""Host names longer than this are cut in the prefix, so the output keeps its room."""


class HostOutput(Vertical):
    """A header and a LogView: stdout plain, stderr in the error colour, our notes dimmed.

    Lines of every host running at once go to the same view, each after its
    host's name. They are queued and handed over once a frame, in batches of
    one stream, and the queue keeps at most what the view would.
    """

    DEFAULT_CSS = """
    HostOutput {
        height: 1fr;
        LogView { height: 1fr; }
    }
    """

    def __init__(self, names: Iterable[str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.width = min(max((len(name) for name in names), default=0), NAME_WIDTH)
        self._queue: deque[tuple[Kind, str]] = deque(maxlen=MAX_LINES)
        self._flush_soon = Soon(self, FRAME, self.flush)

    def compose(self) -> ComposeResult:
        yield Static(id="output-header", classes="header-line")
        yield LogView(id="host-lines")

    def on_mount(self) -> None:
        view = self.view
        for attribute in ("follow", "kept"):
            self.watch(view, attribute, self._update_header, init=False)
        self._update_header()

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    def line(self, host: str, stream: Stream, text: str) -> None:
        """Queue one line a command printed on ``host``."""
        self._add(stream, f"{self.prefix(host)}{text}")

    def note(self, text: str, host: str | None = None) -> None:
        """Queue a line of ours (the command, an exit status, an error), after ``host``'s name."""
        self._add(None, f"{self.prefix(host)}{text}" if host else text)

    def prefix(self, host: str) -> str:
        return f"{host[: self.width]:<{self.width}} │ "

    def _add(self, kind: Kind, text: str) -> None:
        self._queue.append((kind, text))
        self._flush_soon.ask()

    def flush(self) -> None:
        """Hand every queued line to the view now, one batch per run of a stream."""
        self._flush_soon.done()
        queued, self._queue = self._queue, deque(maxlen=MAX_LINES)
        view = self.view
        for kind, group in groupby(queued, key=lambda item: item[0]):
            lines = [text for _, text in group]
            if kind is None:
                for text in lines:
                    view.note(text)
            else:
                view.add_lines(kind, lines)
        view.flush()

    def clear(self) -> None:
        """Forget every line, queued or shown."""
        self._queue.clear()
        self.view.clear()

    def _update_header(self, *_: object) -> None:
        view = self.view
        muted = "$foreground-muted"
        parts = [Content.styled("Output", "bold")]
        if view.follow:
            parts.append(Content.styled("following", "$text-success"))
        else:
            parts.append(Content.styled("paused · G follows", "$text-warning"))
        kept = view.kept
        parts.append(Content.styled(f"{kept:,} line{'s' * (kept != 1)}", muted))
        # A legend: which colour is which stream.
        parts.append(Content.assemble("stdout ", ("stderr", "$text-error")))
        self.query_one("#output-header", Static).update(Content("  ").join(parts))
