"""The `?` screen: every key of the current pane and of the console, in one list."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

KeyRow = tuple[str, str]
"""(key as shown, what it does)"""


class HelpScreen(ModalScreen[None]):
    """Lists keys in sections (the pane's own first); any of escape, q or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        background: $background 60%;
        & > VerticalScroll {
            width: 64;
            max-width: 100%;
            height: auto;
            max-height: 100%;
            padding: 0 2;
            border: round $primary;
            border-title-color: $primary;
            border-title-style: bold;
            border-subtitle-color: $text-muted;
            background: $panel;
        }
        Static { margin-bottom: 1; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close"),
    ]

    def __init__(self, title: str, sections: Iterable[tuple[str, list[KeyRow]]]) -> None:
        super().__init__()
        self.help_title = title
        self.sections = [(heading, rows) for heading, rows in sections if rows]

    def compose(self) -> ComposeResult:
        with VerticalScroll() as body:
            body.border_title = self.help_title
            body.border_subtitle = "escape closes"
            width = max(len(key) for _, rows in self.sections for key, _ in rows) + 2
            for heading, rows in self.sections:
                yield Static(_section(heading, rows, width))

    def action_close(self) -> None:
        self.dismiss(None)


def _section(heading: str, rows: list[KeyRow], width: int) -> Content:
    lines = [Content.styled(heading, "bold $accent")]
    lines.extend(
        Content.assemble((key.ljust(width), "bold $primary"), description)
        for key, description in rows
    )
    return Content("\n").join(lines)
