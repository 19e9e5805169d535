"""One input per declared parameter of a script; enter moves on, and on the last one submits."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, Label

from console.models import Script
from console.tui.kit.form_frame import next_field_or


class ParamsForm(Vertical):
    """The parameters of one script as inputs; filtered ones are typed like passwords."""

    DEFAULT_CSS = """
    ParamsForm {
        height: auto;
        & > Horizontal { height: 1; margin-bottom: 0; }
        .param-name { padding-right: 1; color: $text-secondary; }
        Input { width: 1fr; }
        .no-params { color: $text-muted; height: 1; }
    }
    """

    class Submitted(Message):
        """Enter was pressed in the last input: the operator wants to run."""

        def __init__(self, form: ParamsForm) -> None:
            super().__init__()
            self.form = form

        @property
        def control(self) -> ParamsForm:
            return self.form

    def __init__(
        self, script: Script, *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.script = script

    def compose(self) -> ComposeResult:
        if not self.script.params:
            yield Label("no parameters", classes="no-params")
            return
        width = max(len(_label_text(self.script, p.name)) for p in self.script.params) + 1
        for param in self.script.params:
            filtered = self.script.is_filtered(param.name)
            with Horizontal():
                label = Label(_label(self.script, param.name), classes="param-name")
                label.styles.width = width
                yield label
                yield Input(
                    placeholder=param.description or "",
                    password=filtered,
                    name=param.name,
                    compact=True,
                    tooltip=param.description,
                )

    @property
    def inputs(self) -> list[Input]:
        return list(self.query(Input))

    def values(self) -> dict[str, str]:
        """The params as typed, keyed by name (an empty input sends an empty string)."""
        return {field.name: field.value for field in self.inputs if field.name is not None}

    def focus_first(self) -> bool:
        """Put the cursor in the first input; False when there is none."""
        inputs = self.inputs
        if inputs:
            inputs[0].focus()
        return bool(inputs)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        next_field_or(self.inputs, event.input, lambda: self.post_message(self.Submitted(self)))


def _label_text(script: Script, name: str) -> str:
    return f"{name} (filtered)" if script.is_filtered(name) else name


def _label(script: Script, name: str) -> Content:
    if script.is_filtered(name):
        return Content.assemble((name, "bold"), (" (filtered)", "$foreground-muted"))
    return Content.styled(name, "bold")
