"""The form that pushes a message: destination, payload type and payload, topic, when; checked
as it is filled in, before anything is sent."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime
from datetime import time as clock_time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, TextArea

from console.models import Message
from console.tui.kit.form_frame import FormScreen, dialog_box, form_buttons, form_frame_css
from console.tui.kit.keys import focus_now
from console.tui.kit.messages import BackendFailed

if TYPE_CHECKING:
    from console.adapters.protocols import InboxBackend

KINDS = {
    "json": ("JSON", '{"key": "value"}  (any JSON but a bare string)'),
    "text": ("text", "any text, as many lines as needed"),
    "hex": ("binary: hex", "de ad be ef  (spaces and 0x allowed)"),
    "file": ("binary: file", "/path/to/a/file  (its bytes are sent)"),
}
"""Payload type → (as listed, what the payload box takes)."""

MAX_PAYLOAD = 8 << 20
"""The agent's limit on a payload: a bigger file is refused here, before it is read."""

_RELATIVE = re.compile(r"^\+?\s*(\d+(?:\.\d+)?)\s*([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
# Header values travel as ASCII: anything else could not be sent at all.
_HEADER_SAFE = re.compile(r"^[\x21-\x7e]+$")
_TOPIC_SAFE = re.compile(r"^[\x20-\x7e]+$")
WHEN_HELP = "+30s, +5m, +2h, 14:30 or 2025-06-01T09:00 (local time)"


@dataclass(frozen=True)
class PushRequest:
    """What the form asks the agent to push; a file's bytes are read when it is sent."""

    destination: str
    content: Any
    topic: str | None = None
    scheduled_time: float | None = None
    file: Path | None = None


def parse_when(text: str, now: float) -> float | None:
    """When to deliver: None for now, else epoch seconds; ValueError says what is wrong."""
    text = text.strip()
    if not text or text.lower() == "now":
        return None
    relative = _RELATIVE.match(text.lower())
    if relative is not None:
        return now + float(relative[1]) * _UNITS[relative[2]]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            at = clock_time.fromisoformat(text)
        except ValueError:
            raise ValueError(f"expected {WHEN_HELP}") from None
        moment = datetime.combine(datetime.fromtimestamp(now).date(), at)
    # A time without a zone is the operator's own local time.
    return moment.astimezone().timestamp()


def parse_payload(kind: str, text: str) -> tuple[Any, Path | None]:
    """The content to push for a payload type (or the file to read); ValueError says why not."""
    if kind == "json":
        try:
            content = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not JSON: {exc}") from None
        if isinstance(content, str):
            # The inbox client sends a str as text: say so rather than change the type silently.
            raise ValueError("a bare JSON string goes as text: choose text, or wrap it in [ ]")
        return content, None
    if kind == "text":
        return text, None
    if kind == "hex":
        digits = re.sub(r"0x|[\s,:]", "", text, flags=re.IGNORECASE)
        try:
            return bytes.fromhex(digits), None
        except ValueError:
            raise ValueError("hex digits in pairs, like de ad be ef") from None
    path = Path(text.strip()).expanduser()
    if not text.strip():
        raise ValueError("a file path is required")
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    if path.stat().st_size > MAX_PAYLOAD:
        raise ValueError(f"{path} is bigger than the agent takes ({MAX_PAYLOAD} bytes)")
    return None, path


def check(
    values: dict[str, str], kind: str, payload: str, now: float
) -> tuple[PushRequest | None, list[str]]:
    """The request the form's values make, or the problems with them, one line each."""
    problems: list[str] = []
    destination = values.get("destination", "").strip()
    if not destination:
        problems.append("to: required")
    elif not _HEADER_SAFE.match(destination):
        problems.append("to: letters, digits and punctuation only (no spaces)")
    topic = values.get("topic", "").strip()
    if topic and not _TOPIC_SAFE.match(topic):
        problems.append("topic: printable ASCII only")
    scheduled = None
    try:
        scheduled = parse_when(values.get("when", ""), now)
    except ValueError as exc:
        problems.append(f"when: {exc}")
    if scheduled is not None and scheduled <= now:
        problems.append("when: that time has passed")
    content: Any = None
    file = None
    try:
        content, file = parse_payload(kind, payload)
    except ValueError as exc:
        problems.append(f"payload: {exc}")
    if problems:
        return None, problems
    return PushRequest(destination, content, topic or None, scheduled, file), []


class PushMessageForm(FormScreen[Message]):
    """Asks for a message; pushes it and dismisses with it as the agent stored it.

    Problems are listed in the form once a push was tried, and kept up to date
    as the fields change; an agent's refusal is a notification, and the form
    stays open with the values so they can be fixed.
    """

    DEFAULT_CSS = f"""
    PushMessageForm {{
    {form_frame_css(76)}
        .field {{ height: 1; margin-bottom: 1; }}
        .field Label, #payload-row Label {{ width: 10; color: $text-secondary; }}
        .field Input {{ width: 1fr; }}
        .field Select {{ width: 24; }}
        .-invalid {{ background-tint: $error 25%; }}
        #when-hint {{ width: auto; max-width: 30; color: $text-muted; }}
        #payload-row {{ height: 5; }}
        TextArea {{ width: 1fr; height: 5; border: none; padding: 0; }}
        #problems {{ color: $text-error; height: auto; margin-top: 1; }}
        #problems.-empty {{ display: none; }}
        #buttons {{ height: 1; margin-top: 1; align-horizontal: right; }}
        Button {{ margin-left: 2; }}
        Button.-textual-compact:focus {{ text-style: bold; tint: $foreground 25%; }}
    }}
    """

    SUBMIT_ID = "push"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Push", priority=True),
    ]

    def __init__(self, inbox: InboxBackend, destination: str) -> None:
        super().__init__()
        self.inbox = inbox
        self.destination = destination
        self._tried = False

    def compose(self) -> ComposeResult:
        with dialog_box("Push a message", "ctrl+s pushes · escape cancels"):
            with Horizontal(classes="field"):
                yield Label("to")
                yield Input(self.destination, name="destination", id="field-to", compact=True)
            with Horizontal(classes="field"):
                yield Label("type")
                options = [(label, kind) for kind, (label, _) in KINDS.items()]
                yield Select(
                    options, value="json", allow_blank=False, id="field-kind", compact=True
                )
            with Horizontal(classes="field"):
                yield Label("topic")
                yield Input(
                    placeholder="optional, e.g. deploy",
                    name="topic",
                    id="field-topic",
                    compact=True,
                )
            with Horizontal(classes="field"):
                yield Label("when")
                yield Input(
                    placeholder="now, or " + WHEN_HELP, name="when", id="field-when", compact=True
                )
                yield Static("", id="when-hint")
            with Horizontal(id="payload-row"):
                yield Label("payload\n\nJSON", id="payload-label")
                yield TextArea(
                    id="payload", soft_wrap=True, compact=True, placeholder=KINDS["json"][1]
                )
            yield Static("", id="problems", classes="-empty", markup=False)
            yield form_buttons("Push (^s)", "push")

    def on_mount(self) -> None:
        focus_now(self.query_one("#payload", TextArea))

    @property
    def inputs(self) -> list[Input]:
        return list(self.query(".field Input").results(Input))

    @property
    def kind(self) -> str:
        return str(self.query_one("#field-kind", Select).value)

    @property
    def payload_area(self) -> TextArea:
        return self.query_one("#payload", TextArea)

    def values(self) -> dict[str, str]:
        return {field.name: field.value for field in self.inputs if field.name is not None}

    def fields(self) -> list[Widget]:
        return [*self.inputs, self.payload_area]

    @on(Select.Changed, "#field-kind")
    def _kind_changed(self) -> None:
        label, hint = KINDS[self.kind]
        self.query_one("#payload-label", Label).update(f"payload\n\n{label.split(': ')[-1]}")
        self.payload_area.placeholder = hint
        self._recheck()

    @on(Input.Changed)
    @on(TextArea.Changed)
    def _changed(self) -> None:
        self._recheck()

    def _recheck(self) -> tuple[PushRequest | None, list[str]]:
        """Check the values; once a push was tried, show the problems as they come and go."""
        now = time.time()
        values = self.values()
        request, problems = check(values, self.kind, self.payload_area.text, now)
        hint = self.query_one("#when-hint", Static)
        try:
            when = parse_when(values.get("when", ""), now)
        except ValueError:
            when = None
        hint.update(
            "" if when is None else " at " + time.strftime("%H:%M:%S", time.localtime(when))
        )
        if self._tried:
            wrong = {problem.split(":", 1)[0] for problem in problems}
            for field in self.inputs:
                label = {"destination": "to"}.get(field.name or "", field.name)
                field.set_class(label in wrong, "-invalid")
            self.payload_area.set_class("payload" in wrong, "-invalid")
            shown = self.query_one("#problems", Static)
            shown.update("\n".join(problems))
            shown.set_class(not problems, "-empty")
        return request, problems

    def submit(self) -> None:
        self._tried = True
        request, _ = self._recheck()
        if request is not None:
            self._push(request)

    @work(group="push", exclusive=True, exit_on_error=False)
    async def _push(self, request: PushRequest) -> None:
        from console.adapters.errors import BackendError

        content = request.content
        if request.file is not None:
            try:
                content = await asyncio.to_thread(request.file.read_bytes)
            except OSError as exc:
                self.notify(f"{request.file}: {exc.strerror}", title="Push", severity="error")
                return
        try:
            message = await self.inbox.push(
                request.destination, content, request.topic, request.scheduled_time
            )
        except BackendError as exc:
            self.post_message(BackendFailed(exc, f"Push to {request.destination}"))
            return
        self.dismiss(message)
