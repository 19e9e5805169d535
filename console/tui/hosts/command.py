"""The Hosts pane's command line: which hosts it runs on, what to run, and the lines run before."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static

HISTORY = 100
"""Command lines kept for up / down, newest last."""


class HostCommand(Horizontal):
    """A prompt naming the target hosts and an Input; enter posts ``Submitted``, up/down recall."""

    DEFAULT_CSS = """
    HostCommand {
        height: 1;
        background: $boost;
        #command-prompt {
            width: auto;
            max-width: 40%;
            padding: 0 0 0 1;
            color: $text-accent;
            text-style: bold;
            text-wrap: nowrap;
            text-overflow: ellipsis;
        }
        #command { width: 1fr; background: transparent; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "recall(-1)", "Previous", show=False),
        Binding("down", "recall(1)", "Next", show=False),
    ]

    class Submitted(Message):
        """The operator pressed enter on a command line (never an empty one)."""

        def __init__(self, line: str) -> None:
            super().__init__()
            self.line = line

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.history: list[str] = []
        self._recalled = 0
        """How far back up / down has gone; 0 is the line being typed."""
        self._typed = ""

    def compose(self) -> ComposeResult:
        yield Static("$", id="command-prompt", markup=False)
        yield Input(
            placeholder="r or : types a shell command for the host(s); enter runs it",
            id="command",
            compact=True,
            select_on_focus=False,
        )

    @property
    def input(self) -> Input:
        return self.query_one("#command", Input)

    def set_targets(self, names: list[str]) -> None:
        """Say on which hosts enter would run the line."""
        if not names:
            where = "no host"
        elif len(names) == 1:
            where = names[0]
        else:
            where = f"{len(names)} hosts"
        self.query_one("#command-prompt", Static).update(f"{where} $ ")

    @on(Input.Submitted, "#command")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        line = event.value.strip()
        if not line:
            return
        if not self.history or self.history[-1] != line:
            self.history = [*self.history, line][-HISTORY:]
        self._recalled = 0
        self.input.value = ""
        self.post_message(self.Submitted(line))

    def action_recall(self, step: int) -> None:
        """Show an older (-1) or newer (1) command line in the input."""
        wanted = self._recalled - step
        if not 0 <= wanted <= len(self.history):
            return
        if self._recalled == 0:
            self._typed = self.input.value
        self._recalled = wanted
        self.input.value = self.history[-wanted] if wanted else self._typed
        self.input.cursor_position = len(self.input.value)
