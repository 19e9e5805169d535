"""One script run on many hosts at once: each host's lines after its name, a result per host.

The page of a script in "all" scope: the same details, params form and run bar as
``ScriptView``, with the output of the Hosts pane's commands (``HostOutput``: one
view, every line after its host's name) instead of one agent's log.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Button, Static

from console.adapters.errors import BackendError
from console.adapters.fleet_actions import HostResult
from console.models import RunFinished, RunOutput, RunWaiting
from console.tui.hosts.output import HostOutput
from console.tui.kit.messages import BackendFailed
from console.tui.scripts.params_form import ParamsForm
from console.tui.scripts.view import ScriptView, format_duration, script_details

if TYPE_CHECKING:
    from console.adapters.fleet import Fleet
    from console.models import Script


class FleetScriptView(ScriptView):
    """A script's page in "all" scope: a run goes to the hosts chosen (``run_on``)."""

    DEFAULT_CSS = """
    FleetScriptView {
        & > .hosts { height: auto; padding: 0 1; color: $text-secondary; }
        & > HostOutput { height: 1fr; min-height: 4; }
    }
    """

    def __init__(self, script: Script, *, id: str | None = None) -> None:
        super().__init__(script, id=id)
        self.results: dict[str, HostResult[int]] = {}
        """The last run's result per host: its exit status, or why it failed."""

    def compose(self) -> ComposeResult:
        yield Static(script_details(self.script), classes="details")
        yield ParamsForm(self.script)
        yield Static("", classes="hosts")
        with Horizontal(classes="run-bar"):
            yield Button("Run", id="run", variant="primary", compact=True)
            yield Static(classes="status")
        yield HostOutput([], id="fleet-output")

    @property
    def output(self) -> HostOutput:
        return self.query_one(HostOutput)

    def show_hosts(self, hosts: list[str]) -> None:
        """Say where a run would go now (space marks other hosts' rows of this script)."""
        where = ", ".join(hosts) or "no host"
        self.query_one(".hosts", Static).update(f"runs on: {where}  (space marks rows)")

    def run_on(self, fleet: Fleet, hosts: list[str]) -> None:
        """Run the script with the params as typed on each of ``hosts`` at once."""
        self.running = True
        self._run_on(fleet, hosts, self.form.values())

    @work(exclusive=True, group="run", exit_on_error=False)
    async def _run_on(self, fleet: Fleet, hosts: list[str], params: dict[str, str]) -> None:
        output = self.output
        output.clear()
        output.width = min(max(len(host) for host in hosts), 16)
        shown = " ".join(f"{k}={v!r}" for k, v in self.script.mask(params).items())
        output.note(f"$ {self.script.name} {shown}".rstrip() + f"  on {', '.join(hosts)}")
        self.results = {}
        self.status = Content.styled(f"running on {len(hosts)}…", "$text-accent")
        try:
            results = await asyncio.gather(*(self._one(fleet, h, params) for h in hosts))
        finally:
            self.running = False
        self.results = {result.context: result for result in results}
        self.last_retcode = max((r.value or 0 for r in results if r.ok), default=None)
        self.status = results_content(results)
        output.flush()
        self.post_message(self.RunEnded(self))

    async def _one(self, fleet: Fleet, host: str, params: dict[str, str]) -> HostResult[int]:
        """One host's run, streamed into the output after its name."""
        output = self.output
        try:
            scripts = fleet.client(host).scripts
            async for event in scripts.stream_run(self.script.name, params):
                match event:
                    case RunOutput(stream, text):
                        output.line(host, stream, text)
                    case RunWaiting():
                        output.note("waiting for the lock: another run is going", host)
                    case RunFinished(_, retcode, duration):
                        output.note(f"exit {retcode} after {format_duration(duration)}", host)
                        return HostResult(host, value=retcode)
        except BackendError as exc:
            output.note(f"failed: {exc.message}", host)
            self.post_message(BackendFailed(exc, f"Run {self.script.name} on {host}"))
            return HostResult(host, error=exc.message)
        output.note("the run ended without an exit status", host)
        return HostResult(host, error="no exit status")


def results_content(results: list[HostResult[int]]) -> Content:
    """Each host's end on one line: ``web1 exit 0 · db1 exit 3 · web2 failed``."""
    parts = []
    for result in results:
        if not result.ok:
            parts.append(Content.styled(f"{result.context} failed", "bold $text-error"))
        else:
            style = "bold $text-success" if result.value == 0 else "bold $text-error"
            parts.append(Content.styled(f"{result.context} exit {result.value}", style))
    return Content(" · ").join(parts)
