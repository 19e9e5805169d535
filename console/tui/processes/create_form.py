"""The form that creates a process: app, node, process type, source, env; checked before sending."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Input, Label, Static, TextArea

from console.models import ProcessStatus
from console.tui.kit.form_frame import FormScreen, dialog_box, form_buttons, form_frame_css
from console.tui.kit.keys import focus_now
from console.tui.kit.messages import BackendFailed

if TYPE_CHECKING:
    from console.adapters.protocols import ProcessesBackend
    from console.tui.processes.pane import ProcessesPane

# The agent checks again and has the last word; these catch typos before a round trip.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

FIELDS = {
    "app": ("app", "shop"),
    "node": ("node", "web.1"),
    "process_type": ("process type", "web (a line of the Procfile)"),
    "source_url": ("source", "https://…/app.tar.gz, or /path/to/app"),
}
"""Input name → (label, placeholder)."""


@dataclass(frozen=True)
class ProcessRequest:
    """What the form asks the agent to create."""

    app: str
    node: str
    process_type: str
    source_url: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return f"{self.app}.{self.node}"


def check(values: dict[str, str], env_text: str) -> tuple[ProcessRequest | None, list[str]]:
    """The request the form's values make, or the problems with them, one line each."""
    problems: list[str] = []
    for name, (label, _) in FIELDS.items():
        value = values.get(name, "").strip()
        if not value:
            problems.append(f"{label}: required")
        elif name in ("app", "node") and not _NAME.match(value):
            problems.append(f"{label}: only letters, digits, '_', '.' and '-'")
    env: dict[str, str] = {}
    for number, line in enumerate(env_text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, equals, value = line.partition("=")
        key = key.strip()
        if not equals or not _ENV_KEY.match(key):
            problems.append(f"env line {number}: expected KEY=VALUE")
        else:
            env[key] = value
    if problems:
        return None, problems
    fields = {name: values[name].strip() for name in FIELDS}
    return ProcessRequest(env=env, **fields), []


class CreateProcessForm(FormScreen[ProcessStatus]):
    """Asks for a new process; creates it on the agent and dismisses with its status.

    Problems with the values are listed in the form; an agent's refusal is a
    notification, and the form stays open with the values so they can be fixed.
    """

    DEFAULT_CSS = f"""
    CreateProcessForm {{
    {form_frame_css(72)}
        .field {{ height: 1; margin-bottom: 1; }}
        .field Label {{ width: 14; color: $text-secondary; }}
        .field Input {{ width: 1fr; }}
        .field Input.-invalid {{ background-tint: $error 25%; }}
        #env-row {{ height: 5; }}
        #env-row Label {{ width: 14; color: $text-secondary; }}
        TextArea {{ width: 1fr; height: 5; border: none; padding: 0; }}
        TextArea.-invalid {{ background-tint: $error 25%; }}
        #problems {{ color: $text-error; height: auto; margin-top: 1; }}
        #problems.-empty {{ display: none; }}
        #buttons {{ height: 1; margin-top: 1; align-horizontal: right; }}
        Button {{ margin-left: 2; }}
        Button.-textual-compact:focus {{ text-style: bold; tint: $foreground 25%; }}
    }}
    """

    SUBMIT_ID = "create"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Create", priority=True),
    ]

    def __init__(self, backend: ProcessesBackend, defaults: dict[str, str] | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.defaults = defaults or {}

    def compose(self) -> ComposeResult:
        with dialog_box("New process", "enter: next field · ctrl+s creates · escape cancels"):
            for name, (label, placeholder) in FIELDS.items():
                with Horizontal(classes="field"):
                    yield Label(label)
                    yield Input(
                        self.defaults.get(name, ""),
                        placeholder=placeholder,
                        name=name,
                        id=f"field-{name}",
                        compact=True,
                    )
            with Horizontal(id="env-row"):
                yield Label("env\nKEY=VALUE\none a line")
                yield TextArea(id="env", soft_wrap=False, compact=True)
            yield Static("", id="problems", classes="-empty", markup=False)
            yield form_buttons("Create (^s)", "create")

    def on_mount(self) -> None:
        first_empty = next((i for i in self.inputs if not i.value), self.inputs[0])
        focus_now(first_empty)

    @property
    def inputs(self) -> list[Input]:
        return list(self.query(".field Input").results(Input))

    def values(self) -> dict[str, str]:
        return {field.name: field.value for field in self.inputs if field.name is not None}

    def fields(self) -> list[Widget]:
        return [*self.inputs, self.query_one(TextArea)]

    def submit(self) -> None:
        env_area = self.query_one(TextArea)
        request, problems = check(self.values(), env_area.text)
        labels = {label: name for name, (label, _) in FIELDS.items()}
        wrong = {problem.split(":", 1)[0] for problem in problems}
        for field_input in self.inputs:
            label = FIELDS[field_input.name or ""][0]
            field_input.set_class(label in wrong and label in labels, "-invalid")
        env_area.set_class(any(p.startswith("env") for p in problems), "-invalid")
        shown = self.query_one("#problems", Static)
        shown.update("\n".join(problems))
        shown.set_class(not problems, "-empty")
        if request is not None:
            self._create(request)

    @work(group="create", exclusive=True, exit_on_error=False)
    async def _create(self, request: ProcessRequest) -> None:
        from console.adapters.errors import BackendError

        try:
            status = await self.backend.create(
                request.app, request.node, request.process_type, request.source_url, request.env
            )
        except BackendError as exc:
            self.post_message(BackendFailed(exc, f"Create {request.slug}"))
            return
        self.dismiss(status)


def create_process(pane: ProcessesPane) -> None:
    """The pane's ``n``: the form, prefilled with the selected process's app; the new
    process is selected once its row is there."""
    client = pane.connected()
    if client is None:
        return
    selected = pane.selected_status
    # Most new processes join an app already there: start from the selected one's app.
    defaults = {"app": selected.app} if selected is not None else {}

    def created(status: ProcessStatus | None) -> None:
        if status is None:
            return
        pane.notify(f"{status.slug}: {status.state.value}", title="Process created", timeout=3)
        if status.slug in pane.statuses:
            pane.process_table.move_to(status.slug)
        else:
            pane.select_when_seen = status.slug
        if not pane.live:
            pane.apply(status)

    pane.app.push_screen(CreateProcessForm(client.processes, defaults), created)
