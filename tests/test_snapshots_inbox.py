"""Screenshots of the Inbox pane at 80x24 and 120x40, compared with tests/snapshots/.

The app runs against a real agent; the messages are pushed by the test from
fixed nodes with fixed payloads, then pulled and acked to a fixed mix of
statuses. Pinned before the shot: the agent's URL, the node id (given), the
times (formatted as fixed text) and the message ids shown in the detail.
Update with ``pytest tests/test_snapshots_inbox.py --snapshot-update`` and
look at the SVGs before committing them.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_textual_snapshot
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from console.adapters.agent import AgentClient
from console.adapters.base import Endpoint
from console.models import MessageStatus
from console.tui.app import OpsConsoleApp
from console.tui.inbox import detail as message_detail
from console.tui.inbox import table as message_table
from console.tui.inbox.pane import InboxPane
from tests.test_snapshots import NARROW, WIDE, Before, _SnapshotsDirectory, steady
from tests.tui_helpers import make_catalog, settled, spawned_agent, wait_for

NODE = "ops-1"
PINNED_ID = "5f0c2d9e8b7a41c3a6e1d2f3b4c5d6e7"

MESSAGES: list[tuple[str, str, object]] = [
    ("ci.internal", "deploy", {"service": "shop-web", "version": "1.4.2", "status": "succeeded"}),
    ("monitor.internal", "alert.disk", {"host": "db1", "mount": "/var/lib/pg", "used": 91}),
    ("oncall-bot", "handover", "Handover: the flaky worker is known; ticket OPS-1234.\nThanks!"),
    ("backup.internal", "backup.manifest", bytes(range(256))),
    ("opsconsole-agent", "alert.process.fatal", {"summary": "shop.flaky.0 is fatal", "exit": 3}),
]
"""(source, topic, payload) pushed in this order; then a reminder scheduled an hour ahead."""


@pytest.fixture(autouse=True)
def pinned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything time- or machine-dependent, made the same on every run."""
    monkeypatch.setattr(pytest_textual_snapshot, "SVGImageExtension", _SnapshotsDirectory)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no user themes
    monkeypatch.setattr(
        message_table, "time_text", lambda epoch, now, wide: "12:00:00" if wide else "12:00"
    )
    monkeypatch.setattr(message_detail, "moment_text", lambda epoch: "2025-06-01 12:00:00")


def inbox_app(tmp_path: Path) -> OpsConsoleApp:
    catalog = make_catalog(tmp_path / "scripts")
    return OpsConsoleApp(spawned_agent(tmp_path, catalog, "--node-id", NODE))


async def settled_inbox(pilot: Pilot[object]) -> None:
    """The messages pushed, deploy acked, alert.disk processing, the rest pending or scheduled."""
    app = pilot.app
    assert isinstance(app, OpsConsoleApp) and app.client is not None
    endpoint = app.client.endpoint
    ids = []
    for source, topic, payload in MESSAGES:
        async with AgentClient(
            Endpoint(endpoint.url, token=endpoint.token, agent_token=endpoint.agent_token)
        ) as other:
            other.inbox.node_id = source
            ids.append((await other.inbox.push(NODE, payload, topic)).id)
    reminder = "Reminder: change freeze starts at noon."
    await app.client.inbox.push(NODE, reminder, "reminder", scheduled_time=time.time() + 3600)
    for _ in range(2):
        await app.client.inbox.pull()
    await app.client.inbox.ack(ids[0])
    await pilot.press("4")
    table = app.query_one(InboxPane).message_table

    def arrived() -> bool:
        statuses = [m.status for m in table.messages.values()]
        return (
            len(table.shown) == 6
            and not table.unfetched
            and statuses.count(MessageStatus.PROCESSED) == 1
            and statuses.count(MessageStatus.PROCESSING) == 1
        )

    await wait_for(pilot, arrived, "the messages settle")
    await settled(pilot)
    # Rows came in any order of events: the cursor goes where the shot wants it.
    processing = next(m for m in table.messages.values() if m.topic == "alert.disk")
    table.move_to(processing.id)
    await settled(pilot)


def open_message(topic: str) -> Before:
    """Open the message of ``topic``, its id pinned."""

    async def open_it(pilot: Pilot[object]) -> None:
        app = pilot.app
        assert isinstance(app, OpsConsoleApp)
        pane = app.query_one(InboxPane)
        message = next(m for m in pane.messages.values() if m.topic == topic)
        pane.message_table.move_to(message.id)
        await pilot.press("enter")
        await wait_for(pilot, lambda: pane.detail is not None and pane.detail_open, "the detail")
        detail = pane.detail
        assert detail is not None
        ackable = pane.message_table.is_ackable(message)
        detail.show(replace(message, id=PINNED_ID), ackable=ackable, fetched=True)
        await settled(pilot)

    return open_it


async def fill_push_form(pilot: Pilot[object]) -> None:
    """A push with a payload that is not JSON and a time that does not parse: both flagged."""
    await pilot.press("n")
    await settled(pilot)
    await pilot.press(*'{"deploy": web}')
    app = pilot.app
    app.screen.query_one("#field-topic", Input).value = "deploy.later"
    app.screen.query_one("#field-when", Input).value = "+soon"
    app.screen.query_one(TextArea).cursor_blink = False
    await pilot.press("ctrl+s")
    await settled(pilot)


def test_inbox_narrow(snap_compare, tmp_path: Path) -> None:
    before = steady(settled_inbox)
    assert snap_compare(inbox_app(tmp_path), terminal_size=NARROW, run_before=before)


def test_inbox_wide(snap_compare, tmp_path: Path) -> None:
    before = steady(settled_inbox)
    assert snap_compare(inbox_app(tmp_path), terminal_size=WIDE, run_before=before)


def test_message_hex_dump_narrow(snap_compare, tmp_path: Path) -> None:
    before = steady(settled_inbox, open_message("backup.manifest"))
    assert snap_compare(inbox_app(tmp_path), terminal_size=NARROW, run_before=before)


def test_message_json_processing_wide(snap_compare, tmp_path: Path) -> None:
    before = steady(settled_inbox, open_message("alert.disk"))
    assert snap_compare(inbox_app(tmp_path), terminal_size=WIDE, run_before=before)


def test_push_form_problems_narrow(snap_compare, tmp_path: Path) -> None:
    before = steady(settled_inbox, fill_push_form)
    assert snap_compare(inbox_app(tmp_path), terminal_size=NARROW, run_before=before)
