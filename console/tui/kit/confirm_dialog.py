"""A yes/no question in a modal dialog, for any action that deserves a second thought."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from console.tui.kit.form_frame import dialog_box, form_frame_css


class ConfirmDialog(ModalScreen[bool]):
    """Asks a question; dismisses with True for yes, False for no or escape."""

    DEFAULT_CSS = f"""
    ConfirmDialog {{
    {form_frame_css(60, "1 2", "$warning")}
        #question {{ margin-bottom: 1; }}
        Horizontal {{ height: auto; align-horizontal: right; }}
        Button {{ margin-left: 2; }}
        Button.-textual-compact:focus {{ text-style: bold; tint: $foreground 25%; }}
    }}
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
        Binding("left,right", "switch_button", "Switch", show=False),
    ]

    def __init__(self, question: str, *, title: str = "Confirm", yes_label: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.dialog_title = title
        self.yes_label = yes_label

    def compose(self) -> ComposeResult:
        with dialog_box(self.dialog_title):
            yield Static(self.question, id="question", markup=False)
            with Horizontal():
                yield Button(f"{self.yes_label} (y)", variant="warning", id="yes", compact=True)
                yield Button("No (n)", id="no", compact=True)

    def on_mount(self) -> None:
        # "No" has the focus, so a stray enter never runs anything.
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def action_switch_button(self) -> None:
        target = "#yes" if self.focused is not None and self.focused.id == "no" else "#no"
        self.query_one(target, Button).focus()
