"""Everything about one script: what it is, its params form, and its run's live output."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Button, Static

from console.models import RunFinished, RunOutput, RunStarted, RunWaiting, Script
from console.tui.kit.log_view import LogView
from console.tui.kit.messages import BackendFailed
from console.tui.kit.screen_turn import ScreenTurn
from console.tui.scripts.params_form import ParamsForm

if TYPE_CHECKING:
    from console.adapters.base import ScriptsBackend


class ScriptView(Vertical):
    """One script's page; it keeps its typed params and last output while others are shown."""

    DEFAULT_CSS = """
    ScriptView {
        height: 1fr;
        & > .details { height: auto; padding: 0 1; margin-bottom: 1; }
        & > ParamsForm { padding: 0 1; }
        & > .run-bar { height: 1; margin-top: 1; padding: 0 1; }
        & > .run-bar > Button { margin-right: 2; min-width: 9; }
        & > .run-bar > Button.-textual-compact:focus { text-style: bold; tint: $foreground 25%; }
        & > .run-bar > .status { width: 1fr; }
        & > LogView { height: 1fr; min-height: 3; }
    }
    """

    running: reactive[bool] = reactive(False)
    status: reactive[Content] = reactive(Content(""))
    """One line on the run bar: ready, waiting for the lock, running, or how the last run ended."""

    class RunEnded(Message):
        """A run of this view's script is over (finished, failed or dropped)."""

        def __init__(self, view: ScriptView) -> None:
            super().__init__()
            self.view = view

        @property
        def control(self) -> ScriptView:
            return self.view

    class RunAsked(Message):
        """Run was pressed, or enter in the last param: the operator wants the script run."""

    def __init__(self, script: Script, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.script = script
        self.last_retcode: int | None = None

    def compose(self) -> ComposeResult:
        yield Static(script_details(self.script), classes="details")
        yield ParamsForm(self.script)
        with Horizontal(classes="run-bar"):
            yield Button("Run", id="run", variant="primary", compact=True)
            yield Static(classes="status")
        yield LogView()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "run":
            event.stop()
            self.post_message(self.RunAsked())

    def on_params_form_submitted(self, event: ParamsForm.Submitted) -> None:
        event.stop()
        self.post_message(self.RunAsked())

    def on_mount(self) -> None:
        self.status = Content.styled("ready", "$foreground-muted")

    def watch_status(self, status: Content) -> None:
        self.query_one(".status", Static).update(status)

    def watch_running(self, running: bool) -> None:
        # Not disabled while running: a disabled button would drop the focus, and keys with it.
        self.query_one("#run", Button).variant = "default" if running else "primary"

    @property
    def form(self) -> ParamsForm:
        return self.query_one(ParamsForm)

    @property
    def log_view(self) -> LogView:
        return self.query_one(LogView)

    def focus_form(self) -> None:
        """Focus the first param, or the Run button when the script takes none."""
        if not self.form.focus_first():
            self.query_one("#run", Button).focus()

    def start_run(self, backend: ScriptsBackend) -> None:
        """Run the script with the params as typed, streaming its output here."""
        self.running = True
        self._stream(backend, self.form.values())

    @work(exclusive=True, group="run", exit_on_error=False)
    async def _stream(self, backend: ScriptsBackend, params: dict[str, str]) -> None:
        from console.adapters.errors import BackendError

        log = self.log_view
        log.clear()
        shown = " ".join(f"{k}={v!r}" for k, v in self.script.mask(params).items())
        log.note(f"$ {self.script.name} {shown}".rstrip())
        self.status = Content.styled("starting…", "$text-accent")
        turn = ScreenTurn()
        try:
            async for event in backend.stream_run(self.script.name, params):
                await turn.take()  # a flood of buffered lines never suspends the stream
                match event:
                    case RunOutput(stream, text):
                        log.add_lines(stream, [text])
                    case RunWaiting():
                        log.note("waiting for the lock: another run of this script is going")
                        self.status = Content.styled("waiting for lock…", "$text-warning")
                    case RunStarted():
                        self.status = Content.styled("running…", "$text-accent")
                    case RunFinished(_, retcode, duration):
                        self._finished(retcode, duration)
        except BackendError as exc:
            self._failed(exc, exc.message)
        except Exception as exc:  # an adapter bug must not take the console down
            self._failed(exc, f"{type(exc).__name__}: {exc}")
        finally:
            self.running = False
        log.flush()
        self.post_message(self.RunEnded(self))

    def _finished(self, retcode: int, duration: float) -> None:
        self.last_retcode = retcode
        self.status = retcode_content(retcode, duration)
        self.log_view.note(f"exit {retcode} after {format_duration(duration)}")

    def _failed(self, error: Exception, message: str) -> None:
        self.status = Content.styled(f"failed: {message}", "$text-error")
        self.log_view.note(f"failed: {message}")
        self.post_message(BackendFailed(error, f"Run {self.script.name}"))


def script_details(script: Script) -> Content:
    """Name and tags, description, then how it runs (method, output, lock, timeout)."""
    title = Content.styled(script.name, "bold $text-primary")
    if script.tags:
        title += Content.styled("  " + " ".join(f"#{tag}" for tag in script.tags), "$text-accent")
    description = Content.styled(script.description or "no description", "")
    facts = [script.http_method.value.upper(), f"{script.output.value} output"]
    if script.lock:
        facts.append("locked: one run at a time")
    if script.timeout is not None:
        facts.append(f"timeout {format_duration(script.timeout)}")
    if script.confirm:
        facts.append("asks to confirm")
    how = Content.styled(" · ".join(facts), "$foreground-muted")
    return Content("\n").join([title, description, how])


def retcode_content(retcode: int, duration: float) -> Content:
    style = "bold $text-success" if retcode == 0 else "bold $text-error"
    return Content.assemble(
        (f"exit {retcode}", style), (f"  in {format_duration(duration)}", "$foreground-muted")
    )


def format_duration(seconds: float) -> str:
    """Seconds as an operator reads them: 0.42 s, 12.3 s, 4m 05s, 2h 03m."""
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"
