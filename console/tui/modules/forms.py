"""The forms that add a module (or set a background) and tell one a command, with JSON args.

Args are checked as they are typed, so a stray comma is seen before a round trip;
the agent and the module still have the last word, and their refusals are notifications.
Each form keeps the cursor in its one text field (↑ ↓ choose the type): keys that
arrive together over SSH then all land where they were typed, in order.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Label, OptionList, Static

from console.models import ModuleInfo
from console.tui.kit.form_frame import Answer, FormScreen, dialog_box, form_buttons, form_frame_css
from console.tui.kit.keys import focus_now
from console.tui.kit.messages import BackendFailed

if TYPE_CHECKING:
    from console.adapters.protocols import ModulesBackend

_TELL = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(.*)$", re.DOTALL)
"""A command word (the module's do_<word>), then its JSON args if any."""


def parse_json_object(text: str) -> tuple[dict[str, Any] | None, str]:
    """The args a text makes (blank is ``{}``), or None and what is wrong, in one line."""
    if not text.strip():
        return {}, ""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"not JSON: {exc.msg} (column {exc.colno})"
    if not isinstance(value, dict):
        return None, f"args must be a JSON object {{...}}, not {type(value).__name__}"
    return value, ""


def parse_tell(text: str) -> tuple[str, dict[str, Any] | None, str]:
    """``add {"seconds": 5}`` → the command, its args, or what is wrong, in one line."""
    match = _TELL.match(text)
    if match is None:
        return "", None, 'a command first (letters, digits, _), then its args: add {"seconds": 5}'
    command, rest = match.groups()
    args, problem = parse_json_object(rest)
    return command, args, problem


class JsonObject(Validator):
    """Accepts a JSON object, or nothing at all."""

    def validate(self, value: str) -> ValidationResult:
        _, problem = parse_json_object(value)
        return self.failure(problem) if problem else self.success()


class TellLine(Validator):
    """Accepts a command word followed by a JSON object, or by nothing."""

    def validate(self, value: str) -> ValidationResult:
        _, _, problem = parse_tell(value)
        return self.failure(problem) if problem else self.success()


_FORM_CSS = f"""
    {form_frame_css(72)}
    .field {{ height: 1; margin-top: 1; }}
    .field Label {{ width: 10; color: $text-secondary; }}
    .field Input {{ width: 1fr; }}
    Input.-invalid {{ background-tint: $error 25%; }}
    #problem {{ color: $text-error; height: auto; padding-left: 10; }}
    #problem.-empty {{ display: none; }}
    #buttons {{ height: 1; margin-top: 1; align-horizontal: right; }}
    Button {{ margin-left: 2; }}
    Button.-textual-compact:focus {{ text-style: bold; tint: $foreground 25%; }}
"""


def _field(value: str, placeholder: str, validator: Validator) -> Input:
    return Input(
        value,
        placeholder=placeholder,
        id="field",
        validators=[validator],
        validate_on=["changed", "submitted"],
        compact=True,
    )


def _show_problem(screen: ModalScreen[Any], event: Input.Changed) -> None:
    result = event.validation_result
    problem = "" if result is None else " ".join(result.failure_descriptions)
    _set_problem(screen, problem)


def _set_problem(screen: ModalScreen[Any], problem: str) -> None:
    shown = screen.query_one("#problem", Static)
    shown.update(problem)
    shown.set_class(not problem, "-empty")


class OneFieldForm(FormScreen[Answer]):
    """A form of one field (``#field``) checked as it is typed, acted on by enter or ctrl+s."""

    @on(Input.Changed, "#field")
    def _field_changed(self, event: Input.Changed) -> None:
        _show_problem(self, event)

    def submit(self) -> None:
        self.check_and_act(self.query_one("#field", Input).value)

    def check_and_act(self, text: str) -> None:
        """Check the field's text; act on it, or say what is wrong."""
        raise NotImplementedError


class AddModuleForm(OneFieldForm[str]):
    """Picks a type from what the service has and takes JSON args; dismisses with the new uid."""

    DEFAULT_CSS = f"""
    AddModuleForm {{
        {_FORM_CSS}
        #types-label {{ color: $text-secondary; margin-top: 1; }}
        #types {{ height: auto; max-height: 8; border: none; padding: 0; }}
    }}
    """

    SUBMIT_ID = "add"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Add", priority=True),
        Binding("up", "choose(-1)", "Previous type", show=False),
        Binding("down", "choose(1)", "Next type", show=False),
    ]

    def __init__(
        self, backend: ModulesBackend, *, background: bool = False, remembered: dict[str, str]
    ) -> None:
        super().__init__()
        self.backend = backend
        self.background = background
        self.remembered = remembered
        """Type → the args last sent for it (kept by the pane, so they come back next time)."""
        self.types: list[str] = []
        self._filled = ""
        """The args the form put in the field; anything else the operator typed, and stays."""

    def compose(self) -> ComposeResult:
        service = self.backend.service
        verb = "Set the background of the" if self.background else "Add a module to the"
        with dialog_box(f"{verb} {service}", "↑ ↓ type · enter adds · escape cancels"):
            yield Label("type (↑ ↓)", id="types-label")
            yield OptionList(id="types", compact=True)
            with Horizontal(classes="field"):
                yield Label("args")
                yield _field("", '{"name": value, ...} or nothing', JsonObject())
            yield Static("", id="problem", classes="-empty", markup=False)
            yield form_buttons("Set (^s)" if self.background else "Add (^s)", "add")

    def on_mount(self) -> None:
        types = self.query_one("#types", OptionList)
        types.can_focus = False
        types.add_option("loading types…")
        focus_now(self.query_one("#field", Input))
        self._load_types()

    @work(exclusive=True, exit_on_error=False)
    async def _load_types(self) -> None:
        from console.adapters.errors import BackendError

        try:
            modules, backgrounds = await self.backend.available()
        except BackendError as exc:
            self.post_message(BackendFailed(exc, f"Types of the {self.backend.service}"))
            self.dismiss(None)
            return
        self.types = backgrounds if self.background else modules
        options = self.query_one("#types", OptionList)
        options.clear_options()
        if not self.types:
            kind = "backgrounds" if self.background else "modules"
            options.add_option(f"none: the agent's config has no [{self.backend.service}.{kind}]")
            return
        options.add_options(self.types)
        options.highlighted = 0
        self._fill()

    @property
    def chosen(self) -> str | None:
        index = self.query_one("#types", OptionList).highlighted
        if not self.types or index is None:
            return None
        return self.types[index]

    def action_choose(self, step: int) -> None:
        options = self.query_one("#types", OptionList)
        if self.types and options.highlighted is not None:
            options.highlighted = (options.highlighted + step) % len(self.types)
            self._fill()

    @on(OptionList.OptionHighlighted, "#types")
    def _type_clicked(self) -> None:
        self._fill()

    def _fill(self) -> None:
        """Put the chosen type's remembered args in the field, unless the operator typed some."""
        field = self.query_one("#field", Input)
        chosen = self.chosen
        if chosen is None or field.value != self._filled:
            return
        self._filled = field.value = self.remembered.get(chosen, "")
        # Selected, so typing replaces them and an arrow key keeps them to edit.
        field.select_all()

    def check_and_act(self, text: str) -> None:
        chosen = self.chosen
        args, problem = parse_json_object(text)
        if chosen is None:
            problem = "choose a type first" if self.types else "there is no type to add"
        _set_problem(self, problem)
        if args is not None and chosen is not None and not problem:
            self._add(chosen, args, text.strip())

    @work(group="add", exclusive=True, exit_on_error=False)
    async def _add(self, type_name: str, args: dict[str, Any], text: str) -> None:
        from console.adapters.errors import BackendError

        start = self.backend.set_background if self.background else self.backend.add
        try:
            uid = await start(type_name, args)
        except BackendError as exc:
            self.post_message(BackendFailed(exc, f"Add {type_name}"))
            return
        self.remembered[type_name] = text
        self.dismiss(uid)


class TellModuleForm(OneFieldForm[None]):
    """Sends a module a command with JSON args; its answer shows in the form, to tell again."""

    DEFAULT_CSS = f"""
    TellModuleForm {{
        {_FORM_CSS}
        #answer {{
            height: auto;
            max-height: 12;
            overflow-y: auto;
            margin-top: 1;
            padding: 0 1;
            border: round $panel-lighten-2;
            border-title-color: $text-secondary;
        }}
        #answer.-empty {{ display: none; }}
        #answer.-error {{ border: round $error; color: $text-error; }}
    }}
    """

    SUBMIT_ID = "send"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Send", priority=True),
    ]

    def __init__(
        self,
        backend: ModulesBackend,
        module: ModuleInfo,
        *,
        background: bool = False,
        remembered: dict[str, str],
    ) -> None:
        super().__init__()
        self.backend = backend
        self.module = module
        self.background = background
        self.remembered = remembered
        """Module type → the line last sent to one of its kind."""
        self.answer: Any = None
        self.answered = False

    def compose(self) -> ComposeResult:
        title = f"Tell #{self.module.uid} {self.module.type}"
        with dialog_box(title, "enter sends · escape closes"):
            with Horizontal(classes="field"):
                yield Label("command")
                yield _field(
                    self.remembered.get(self.module.type, ""),
                    'add {"seconds": 10}: runs do_add with these args',
                    TellLine(),
                )
            yield Static("", id="problem", classes="-empty", markup=False)
            yield Static("", id="answer", classes="-empty", markup=False)
            yield form_buttons("Send (^s)", "send", "Close")

    def on_mount(self) -> None:
        focus_now(self.query_one("#field", Input))

    def check_and_act(self, line: str) -> None:
        command, args, problem = parse_tell(line)
        _set_problem(self, problem)
        if args is not None and not problem:
            self.remembered[self.module.type] = line.strip()
            self._send(command, args)

    @work(group="tell", exclusive=True, exit_on_error=False)
    async def _send(self, command: str, args: dict[str, Any]) -> None:
        from console.adapters.errors import BackendError

        uid = self.module.uid
        try:
            if self.background:
                # The adapter's tell is for the modules in order; the background has its own.
                answer = await self.backend.command(
                    "tell_background", {"uid": uid, "cmd": command, "args": args}
                )
            else:
                answer = await self.backend.tell(uid, command, args)
        except BackendError as exc:
            self._show_answer(f"{command}: {exc.message}", error=True)
            self.post_message(BackendFailed(exc, f"Tell #{uid} {command}"))
            return
        self.answer, self.answered = answer, True
        text = "done (no answer)" if answer is None else json.dumps(answer, indent=2)
        self._show_answer(text, title=f"{command} → answer")

    def _show_answer(self, text: str, *, title: str = "error", error: bool = False) -> None:
        panel = self.query_one("#answer", Static)
        panel.border_title = title
        panel.update(text)
        panel.set_class(False, "-empty")
        panel.set_class(error, "-error")
