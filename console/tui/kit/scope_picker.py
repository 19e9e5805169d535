"""The scope picker (``:``): every context the console knows, with its state, and "all"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from console.models import ConnectionState
from console.tui.kit.connection_indicator import STATE_STYLE
from console.tui.kit.form_frame import dialog_box, form_frame_css

ALL = "all"
"""The scope of every context at once (no context may take this name)."""

LINE_WIDTH = 64
"""Cells of a picker line (the frame's 70 less its border and padding)."""


@dataclass(frozen=True)
class ScopeEntry:
    """One line of the picker: a context (or ``ALL``), its state (None: not reached yet),
    where it is (or why it is not reached), and whether it is the scope now."""

    name: str
    state: ConnectionState | None
    where: str
    current: bool = False


class ScopeList(OptionList):
    """The picker's lines, with vi's keys beside the arrows, as in every table."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "first", "First", show=False),
        Binding("G", "last", "Last", show=False),
    ]


class ScopePicker(ModalScreen[str | None]):
    """Dismisses with the chosen context's name, ``ALL``, or None (escape)."""

    DEFAULT_CSS = f"""
    ScopePicker {{
    {form_frame_css(LINE_WIDTH + 6)}
        OptionList, OptionList:focus {{
            height: auto; max-height: 18; border: none; padding: 0; background: $panel;
        }}
    }}
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,colon", "cancel", "Cancel"),
    ]

    def __init__(self, entries: list[ScopeEntry]) -> None:
        super().__init__()
        self.entries = entries

    def compose(self) -> ComposeResult:
        width = max(len(entry.name) for entry in self.entries)
        options = [Option(_line(entry, width), id=entry.name) for entry in self.entries]
        picker = ScopeList(*options)
        # On the current scope from the start, not at mount: keys that came in the write
        # of the ``:`` (``:G`` enter) are handled after the mount and would be undone.
        current = [i for i, entry in enumerate(self.entries) if entry.current]
        picker.highlighted = current[0] if current else 0
        with dialog_box("Scope: one context, or all", "enter chooses · escape closes"):
            yield picker

    def on_mount(self) -> None:
        self.query_one(ScopeList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


def _line(entry: ScopeEntry, width: int) -> Content:
    mark = "▸ " if entry.current else "  "
    if entry.state is None and entry.name == ALL:
        state = Content(" " * 13)
    elif entry.state is None:
        state = Content.styled("○ not reached".ljust(13), "$text-muted")
    else:
        state = Content.styled(f"● {entry.state.value}".ljust(13), STATE_STYLE[entry.state])
    line = Content.assemble(
        mark, (entry.name.ljust(width), "bold"), "  ", state, " ", (entry.where, "$text-muted")
    )
    # One line each: a long reason (an error) is cut, not wrapped.
    return line.truncate(LINE_WIDTH, ellipsis=True)
