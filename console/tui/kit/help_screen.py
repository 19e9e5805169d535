"""The `?` screen: every key of the current pane and of the console, in one list."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import ClassVar

from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

KeyRow = tuple[str, str]
"""(key as shown, what it does)"""


class KeyList(VerticalScroll):
    """The help's scrolling body, whose line and page keys add up when they come in one write.

    Textual's own ``scroll_down`` moves from the line shown after the next refresh, so keys
    of one write (a paste, an SSH link) all started from the same line and moved it once;
    here each starts from where the one before is headed (``scroll_target_y``).
    """

    def action_scroll_down(self) -> None:
        self.scroll_by_rows(1)

    def action_scroll_up(self) -> None:
        self.scroll_by_rows(-1)

    def action_page_down(self) -> None:
        self.scroll_by_rows(self.scrollable_content_region.height)

    def action_page_up(self) -> None:
        self.scroll_by_rows(-self.scrollable_content_region.height)

    def scroll_by_rows(self, rows: int) -> None:
        """Move ``rows`` lines (negative: up) from where the list is headed, kept within it.

        Raises SkipAction when the list does not scroll (shorter than the screen)."""
        if not self.allow_vertical_scroll:
            raise SkipAction()
        target = min(max(self.scroll_target_y + rows, 0), self.max_scroll_y)
        self.scroll_to(y=target, immediate=True)


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
        # The list scrolls (the arrows, pgup/pgdn, home/end: the body's own keys) and, as
        # in the tables and logs, with j / k and g / G.
        Binding("j", "scroll('scroll_down')", "Down", show=False),
        Binding("k", "scroll('scroll_up')", "Up", show=False),
        Binding("g", "scroll('scroll_home')", "Top", show=False),
        Binding("G", "scroll('scroll_end')", "Bottom", show=False),
    ]

    def __init__(self, title: str, sections: Iterable[tuple[str, list[KeyRow]]]) -> None:
        super().__init__()
        self.help_title = title
        self.sections = [(heading, once(rows)) for heading, rows in sections if rows]

    def compose(self) -> ComposeResult:
        with KeyList() as body:
            body.border_title = self.help_title
            body.border_subtitle = "escape closes"
            width = max(len(key) for _, rows in self.sections for key, _ in rows) + 2
            for heading, rows in self.sections:
                yield Static(_section(heading, rows, width))

    def on_mount(self) -> None:
        # The body takes the scrolling keys only when focused, and a screen focuses nothing
        # by itself before its first layout (the body is not scrollable until then).
        self.body.focus()

    def on_resize(self) -> None:
        body = self.body
        body.border_subtitle = (
            "↑↓ j k pgup pgdn scroll · escape closes" if body.max_scroll_y else "escape closes"
        )

    @property
    def body(self) -> KeyList:
        """The scrolling list of sections."""
        return self.query_one(KeyList)

    def action_scroll(self, action: str) -> None:
        getattr(self.body, f"action_{action}")()

    def action_close(self) -> None:
        self.dismiss(None)


def once(rows: list[KeyRow]) -> list[KeyRow]:
    """``rows`` with each key listed once: a row for a key listed above (alone or among
    others, "enter / l") moves under that row, its key left blank; a row with no key stays
    under the one above it (a second line of its description)."""
    # Each entry: the keys as shown (more than one when a later row adds keys), its lines.
    kept: list[tuple[list[str], list[str]]] = []
    row_of_key: dict[str, tuple[list[str], list[str]]] = {}
    previous: tuple[list[str], list[str]] | None = None
    for shown, description in rows:
        keys = _keys(shown)
        earlier = (
            previous
            if not keys
            else next((row_of_key[key] for key in keys if key in row_of_key), None)
        )
        if earlier is None:
            earlier = ([shown], [])
            kept.append(earlier)
        elif new := [key for key in keys if key not in row_of_key]:
            earlier[0].extend(new)
        row_of_key.update(dict.fromkeys(keys, earlier))
        if description not in earlier[1]:
            earlier[1].append(description)
        previous = earlier
    return [
        (" / ".join(shown) if index == 0 else "", line)
        for shown, lines in kept
        for index, line in enumerate(lines)
    ]


def _keys(shown: str) -> list[str]:
    """The keys a help row names: "enter / l" is enter and l; "j / k  g / G" four keys; "/" one."""
    return [key for key in re.split(r" / |\s{2,}", shown.strip()) if key]


def _section(heading: str, rows: list[KeyRow], width: int) -> Content:
    lines = [Content.styled(heading, "bold $accent")]
    lines.extend(
        Content.assemble((key.ljust(width), "bold $primary"), description)
        for key, description in rows
    )
    return Content("\n").join(lines)
