"""The form dialog every form shares: its frame, and what enter, ctrl+s and escape mean in it.

Enter means the same in every form (and in a script's params): the next field,
and on the last one, submit. ``ctrl+s`` submits from anywhere, escape cancels,
the button whose id is ``SUBMIT_ID`` submits and any other cancels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

from textual import on
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input

from console.tui.kit.keys import focus_now

Answer = TypeVar("Answer")


def dialog_box(title: str, keys: str | None = None) -> Vertical:
    """A dialog's framed box (``form_frame_css`` styles it): ``title`` on its top border,
    ``keys`` (what enter, escape... do in it) on the bottom one."""
    box = Vertical()
    box.border_title = title
    box.border_subtitle = keys
    return box


def form_frame_css(width: int, padding: str = "0 1", colour: str = "$primary") -> str:
    """CSS rules to nest in a dialog screen's own block: the box is ``width`` columns wide,
    with ``padding`` inside and its border and title in ``colour``."""
    return f"""
    align: center middle;
    background: $background 60%;
    & > Vertical {{
        width: {width};
        max-width: 100%;
        height: auto;
        max-height: 100%;
        padding: {padding};
        border: round {colour};
        background: $panel;
        border-title-color: {colour};
        border-title-style: bold;
        border-subtitle-color: $text-muted;
    }}
"""


def next_field_or(fields: Sequence[Widget], current: Widget, last: Callable[[], object]) -> None:
    """Enter in ``current``: focus the field after it, or call ``last`` on the last one."""
    index = fields.index(current) if current in fields else len(fields) - 1
    if index + 1 < len(fields):
        focus_now(fields[index + 1])
    else:
        last()


def after_typed(screen: ModalScreen[Any], callback: Callable[[], object]) -> None:
    """Run ``callback`` once the focused field has handled the keys already sent to it."""
    # ctrl+s is a priority key, handled as it arrives; the keys typed just before it
    # (one packet over SSH) may still wait in the field's queue.
    focused = screen.focused
    if focused is None:
        callback()
    else:
        focused.call_later(callback)


def form_buttons(submit: str, submit_id: str, cancel: str = "Cancel") -> Horizontal:
    """The row of a form's two buttons, right-aligned: ``submit`` (primary) and ``cancel``."""
    return Horizontal(
        Button(submit, variant="primary", id=submit_id, compact=True),
        Button(cancel, id="cancel", compact=True),
        id="buttons",
    )


class FormScreen(ModalScreen[Answer | None]):
    """A form over the pane; subclasses give ``submit`` and, if not just Inputs, ``fields``."""

    SUBMIT_ID: ClassVar[str] = "submit"

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def fields(self) -> list[Widget]:
        """The fields enter moves through, in order."""
        return list(self.query(Input).results(Input))

    def submit(self) -> None:
        """Check what was typed and act on it (or say what is wrong)."""
        raise NotImplementedError

    def action_submit(self) -> None:
        # After the keys typed before ctrl+s have reached their field.
        after_typed(self, self.submit)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == self.SUBMIT_ID:
            self.submit()
        else:
            self.dismiss(None)

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        event.stop()
        next_field_or(self.fields(), event.input, self.submit)
