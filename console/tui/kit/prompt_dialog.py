"""One line of text asked for in a modal dialog (a file name, say), with a default to accept."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from console.tui.kit.form_frame import dialog_box, form_frame_css


class PromptDialog(ModalScreen[str | None]):
    """Dismisses with the text typed (stripped) on enter, or None on escape or when empty."""

    DEFAULT_CSS = f"""
    PromptDialog {{
    {form_frame_css(70, "1 2")}
        #prompt {{ margin-bottom: 1; }}
    }}
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, value: str = "", *, title: str = "") -> None:
        super().__init__()
        self.prompt = prompt
        self.value = value
        self.dialog_title = title

    def compose(self) -> ComposeResult:
        with dialog_box(self.dialog_title, "enter accepts · escape cancels"):
            yield Static(self.prompt, id="prompt", markup=False)
            yield Input(self.value, id="answer", select_on_focus=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
