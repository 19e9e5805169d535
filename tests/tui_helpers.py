"""What the TUI tests share: a small fixed script catalog, a real spawned agent, bounded waits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from console.adapters.connect import SpawnedAgent
from console.tui.app import OpsConsoleApp
from tests.conftest import write_script

POLL = 0.05
MAX_POLLS = 400
"""Bounded waits: a broken feature fails the test instead of hanging it."""


def make_catalog(directory: Path) -> Path:
    """Five scripts with fixed content: every case the Scripts pane shows differently."""
    write_script(
        directory,
        "hello.sh",
        """
        description: Say hello to someone
        param: name - who to greet
        tags: greet, basic
        """,
        'echo "hello $NAME"; echo "greeted on stderr" >&2',
    )
    write_script(
        directory,
        "gated.sh",
        """
        description: Print a line, then wait for a file before the last one
        param: gate - the file to wait for
        tags: streaming
        """,
        'echo "first line"; while [ ! -e "$GATE" ]; do sleep 0.05; done; echo "last line"',
    )
    write_script(
        directory,
        "fail.sh",
        """
        description: A check that fails with exit 3
        tags: health
        """,
        # The pause keeps the two streams in one order, for the snapshots.
        'echo "checking"; sleep 0.3; echo "disk is full" >&2; exit 3',
    )
    write_script(
        directory,
        "rotate_key.sh",
        """
        description: Store a new key [never logged]
        param: service - which service
        param: token - the new key
        filtered_params: token
        tags: secrets
        lock: True
        confirm: True
        http_method: put
        """,
        'echo "stored ${#TOKEN} characters for $SERVICE"',
    )
    write_script(
        directory,
        "deploy/web.sh",
        """
        description: Roll out the web tier, one run at a time
        param: gate - the file to wait for
        tags: deploy
        lock: True
        """,
        'echo "deploying"; while [ ! -e "$GATE" ]; do sleep 0.05; done; echo "deployed"',
    )
    return directory


def spawned_agent(tmp_path: Path, scripts: Path, *extra: str) -> SpawnedAgent:
    """A real agent process on a free port, with its own data dir (so history starts empty)."""
    return SpawnedAgent(
        ["--scripts", str(scripts), "--data-dir", str(tmp_path / "agent-data"), *extra],
        log_file=tmp_path / "agent.log",
    )


async def wait_for(pilot: Pilot[object], condition: Callable[[], object], what: str) -> None:
    """Let the app run until ``condition()`` is true; fail (not hang) if it never is."""
    for _ in range(MAX_POLLS):
        if condition():
            return
        await pilot.pause(POLL)
    raise AssertionError(f"never happened: {what}")


async def select_row(pilot: Pilot[object], table: Any, key: str) -> None:
    """Put ``table``'s (a ``ResourceTable``) cursor on row ``key``, once that row is in it
    (a feed's rows reach the grid a refresh after the pane holds them)."""

    def on_it() -> bool:
        table.move_to(key)
        return table.selected_key == key

    await wait_for(pilot, on_it, f"the cursor on {key}")


async def wait_for_catalog(pilot: Pilot[object]) -> None:
    app = pilot.app
    assert isinstance(app, OpsConsoleApp)
    await wait_for(pilot, lambda: app.scripts_pane.scripts, "the catalog loads")
    await pilot.pause()


def table_keys(app: OpsConsoleApp) -> list[str]:
    """The script names in the catalog table, top to bottom."""
    return app.scripts_pane.catalog.shown


@dataclass
class Notice:
    title: str
    message: str
    severity: str

    def __str__(self) -> str:
        return f"{self.severity} {self.title}: {self.message}"


def record_notifications(app: OpsConsoleApp) -> list[Notice]:
    """Keep every notification the app shows (toasts expire; the list does not)."""
    seen: list[Notice] = []
    notify = app.notify

    def recording(
        message: str, *, title: str = "", severity: str = "information", **kw: Any
    ) -> None:
        seen.append(Notice(title, str(message), severity))
        notify(message, title=title, severity=severity, **kw)  # type: ignore[arg-type]

    app.notify = recording  # type: ignore[method-assign]
    return seen


# -- the Processes pane ---------------------------------------------------------------

QUIET = """
[agent]
alerts = false
"""
"""No alerts into the inbox: its count in the tab would change screens at a random moment."""

FAST_RESTARTS = (
    QUIET
    + """
[agent.restart]
first_delay = 0.05
max_delay = 0.2
stable_after = 9.0
max_quick_failures = 3
stop_grace = 0.5
"""
)
"""A crash loop that turns fatal in a fraction of a second, and stops that never wait long.

A run counts as a quick failure up to ``stable_after``: generous, as on a loaded machine
starting ``echo boom; exit 1`` took over a second (and the loop never turned fatal)."""

LONG_LINE = "long: " + " ".join(f"word{n:02d}" for n in range(1, 31))

_PROCESS_SCRIPTS = {
    # The pauses keep stdout and stderr in one order, for the snapshots.
    "steady.sh": "echo alpha; echo beta; sleep 0.2; echo 'warning: disk 91% full' >&2; "
    f"sleep 0.2; echo gamma; echo '{LONG_LINE}'; exec sleep 1000",
    "numbers.sh": "seq -f 'line %g' 1 300; exec sleep 1000",
    "ticker.sh": 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.01; done',
    "flood.sh": 'while [ ! -e "$GATE" ]; do sleep 0.05; done; seq 1 30000; exec sleep 1000',
}

PROCFILE = {
    "steady": "exec sh ./steady.sh",
    "quiet": "exec sleep 1000",
    "crash": "echo boom; exit 1",
    "numbers": "exec sh ./numbers.sh",
    "ticker": "exec sh ./ticker.sh",
    "flood": "exec sh ./flood.sh",
    "greet": 'echo "hello $GREETING"; exec sleep 1000',
}
"""Process types of the test app, each printing fixed text (or counting) the same way every run."""


def make_procfile_app(directory: Path) -> Path:
    """A local Procfile app (a folder is a valid source) with the process types of PROCFILE."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [f"{kind}: {command}" for kind, command in PROCFILE.items()]
    (directory / "Procfile").write_text("\n".join(lines) + "\n")
    for name, body in _PROCESS_SCRIPTS.items():
        (directory / name).write_text(body + "\n")
    return directory


def processes_agent(tmp_path: Path) -> SpawnedAgent:
    """A real agent whose crash loops turn fatal fast, with the small script catalog too."""
    config = tmp_path / "agent.toml"
    config.write_text(FAST_RESTARTS)
    catalog = make_catalog(tmp_path / "scripts")
    return spawned_agent(tmp_path, catalog, "--node-id", "ops-1", "--config", str(config))


async def create_processes(
    pilot: Pilot[object], source: Path, *kinds: str, env: dict[str, str] | None = None
) -> list[str]:
    """Create ``shop.<kind>.0`` processes through the app's own adapter; their slugs."""
    app = pilot.app
    assert isinstance(app, OpsConsoleApp)
    await wait_for(pilot, lambda: app.client is not None, "the agent is reached")
    assert app.client is not None
    slugs = []
    for kind in kinds:
        status = await app.client.processes.create("shop", f"{kind}.0", kind, str(source), env)
        slugs.append(status.slug)
    return slugs


def process_state(app: OpsConsoleApp, slug: str) -> str | None:
    """The state the table shows for a process (None when it has no row)."""
    status = app.processes_pane.statuses.get(slug)
    if status is None or slug not in app.processes_pane.table.rows:
        return None
    return str(app.processes_pane.table.get_cell(slug, "state"))


async def settled(pilot: Pilot[object]) -> None:
    """Let the app run until its screen stops changing (two looks alike, a poll apart), so a
    snapshot shows a finished frame; fail (not hang) if it never settles.

    Each look follows a full layout: Textual sizes a horizontal scrollbar's thumb one cell
    apart on a layout and on a size change (with ``scrollbar-gutter: stable``), so without
    one the thumb depended on whether anything (a usage sample) laid the screen out after
    the last line came (a log snapshot once differed by that one glyph)."""
    app = pilot.app
    before = ""
    for _ in range(MAX_POLLS):
        app.screen.refresh(layout=True)
        await pilot.pause(POLL)
        now = app.export_screenshot()
        if now == before:
            return
        before = now
    raise AssertionError("the screen never settled")
