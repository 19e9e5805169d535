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
