"""Screenshots of the Modules pane at 80x24 and 120x40, compared with tests/snapshots/.

The agent runs modules whose parameters are set once and never change
(tests/modules/fixed_params.py), added in one order so their uids are the same
every run; the shot is taken once who plays has settled. The agent's port is
masked and the input cursor does not blink. Update with ``pytest
tests/test_snapshots_modules.py --snapshot-update`` and look at the SVGs first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import pytest_textual_snapshot
from textual.pilot import Pilot
from textual.widgets import Input

from console.tui.app import OpsConsoleApp
from console.tui.kit.connection_indicator import ConnectionIndicator
from console.tui.modules.forms import AddModuleForm, TellModuleForm
from console.tui.modules.pane import ModulesPane
from tests.test_snapshots import _SnapshotsDirectory
from tests.test_tui_modules import modules_agent, playing
from tests.tui_helpers import settled as screen_settled
from tests.tui_helpers import wait_for

NARROW = (80, 24)
WIDE = (120, 40)

Before = Callable[[Pilot[object]], Awaitable[None]]

QUEUE = [
    {
        "label": "nightly backup",
        "progress": 0.42,
        "steps": ["dump", "compress", "upload"],
        "retries": 0,
        "dry_run": False,
        "owner": None,
        "target": {"bucket": "ops-backups", "region": "eu-west-1"},
    },
    {"label": "rotate logs", "state": "waiting"},
    {"label": "reindex search", "state": "waiting", "shards": 12},
]
BACKGROUND = {"message": "queue is empty", "state": "idle"}
POOL = [{"symbol": "OPS", "price": 142.5}, {"symbol": "SRE", "price": 87.25}]


@pytest.fixture(autouse=True)
def pinned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytest_textual_snapshot, "SVGImageExtension", _SnapshotsDirectory)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no user themes


def settled(*steps: Before) -> Before:
    """Fill the queue and the pool, show the pane once who plays has settled, do the steps."""

    async def before(pilot: Pilot[object]) -> None:
        app = pilot.app
        assert isinstance(app, OpsConsoleApp)
        await wait_for(pilot, lambda: app.client is not None, "the agent is reached")
        client = app.client
        assert client is not None
        queued = [await client.queue.add("fixed", args) for args in QUEUE]
        await client.queue.set_background("fixed", BACKGROUND)
        pooled = [await client.pool.add("fixed", args) for args in POOL]
        await pilot.press("3")
        pane = app.query_one(ModulesPane)
        queue, pool = pane.lists["queue"], pane.lists["pool"]
        await wait_for(pilot, lambda: playing(queue) == queued[:1], "the first plays")
        await wait_for(pilot, lambda: playing(pool) == pooled, "the pool plays")
        await wait_for(pilot, lambda: "target" in pane.parameters.shown, "its parameters")
        for step in steps:
            await step(pilot)
        app.query_one(ConnectionIndicator).url = "http://127.0.0.1:8470"
        for field in app.screen.query(Input):
            field.cursor_blink = False
        await screen_settled(pilot)

    return before


async def add_form_with_a_typo(pilot: Pilot[object]) -> None:
    await pilot.press("n")
    form = pilot.app.screen
    assert isinstance(form, AddModuleForm)
    await wait_for(pilot, lambda: form.types, "the types")
    await pilot.press("down", *'{"label": "x",')


async def tell_answered(pilot: Pilot[object]) -> None:
    await pilot.press("t")
    form = pilot.app.screen
    assert isinstance(form, TellModuleForm)
    await pilot.press(*'echo {"ok": true, "items": [1, 2]}', "enter")
    await wait_for(pilot, lambda: form.answered, "the answer")


def test_modules_narrow(snap_compare, tmp_path: Path) -> None:
    app = OpsConsoleApp(modules_agent(tmp_path))
    assert snap_compare(app, terminal_size=NARROW, run_before=settled())


def test_modules_wide(snap_compare, tmp_path: Path) -> None:
    app = OpsConsoleApp(modules_agent(tmp_path))
    assert snap_compare(app, terminal_size=WIDE, run_before=settled())


def test_add_module_form_narrow(snap_compare, tmp_path: Path) -> None:
    app = OpsConsoleApp(modules_agent(tmp_path))
    before = settled(add_form_with_a_typo)
    assert snap_compare(app, terminal_size=NARROW, run_before=before)


def test_tell_answer_narrow(snap_compare, tmp_path: Path) -> None:
    app = OpsConsoleApp(modules_agent(tmp_path))
    assert snap_compare(app, terminal_size=NARROW, run_before=settled(tell_answered))
