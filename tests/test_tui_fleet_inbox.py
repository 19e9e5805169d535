"""The Inbox pane in "all" scope: every agent's messages in the real app, over real agents."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.message import Message
from textual.widgets import Input

from console.adapters.fleet import Fleet, fleet_key
from console.models import MessageStatus
from console.tui.app import OpsConsoleApp
from console.tui.inbox.pane import InboxPane
from console.tui.inbox.push_form import PushMessageForm
from console.tui.kit.confirm_dialog import ConfirmDialog
from console.tui.kit.fleet_rows import STALE
from tests.conftest import AgentProcess
from tests.fleet_helpers import connectors, counts_reach, start_fleet_agents
from tests.tui_helpers import make_catalog, record_notifications, spawned_agent, wait_for

NAMES = ("web1", "web2", "db1")
SIZE = (100, 30)


@pytest.fixture
def agents(agent_factory: Callable[..., AgentProcess], tmp_path: Path) -> dict[str, AgentProcess]:
    started = start_fleet_agents(agent_factory, len(NAMES), tmp_path)
    return dict(zip(NAMES, started, strict=True))


@pytest.fixture
def app(tmp_path: Path) -> OpsConsoleApp:
    return OpsConsoleApp(spawned_agent(tmp_path, make_catalog(tmp_path / "scripts")))


async def push_to_each(fleet: Fleet, topic: str) -> dict[str, str]:
    """One message to each agent's own node (as a monitor there would); their row keys."""
    keys = {}
    for name in NAMES:
        inbox = fleet.client(name).inbox
        message = await inbox.push(inbox.node_id, {"host": name}, topic=f"{topic}.{name}")
        keys[name] = fleet_key(name, message.id)
    return keys


def cell(inbox: InboxPane, key: str, column: str) -> str:
    return str(inbox.table.get_cell(key, column))


async def test_all_scope_rows_filter_actions_and_a_dead_agent(
    app: OpsConsoleApp, agents: dict[str, AgentProcess]
) -> None:
    posted: list[int | None] = []
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.client is not None, "the app's own agent")
        await pilot.press("4")
        inbox = app.query_one(InboxPane)
        post = inbox.post_message

        def recording(message: Message) -> bool:
            if isinstance(message, InboxPane.UnackedChanged):
                posted.append(message.count)
            return post(message)

        inbox.post_message = recording  # type: ignore[method-assign]
        async with Fleet(connectors(agents)) as fleet:
            await counts_reach(fleet, lambda c: c.connected == 3)
            keys = await push_to_each(fleet, "deploy")
            inbox.set_fleet(fleet)
            posted.clear()
            table = inbox.message_table
            await wait_for(pilot, lambda: set(table.shown) == set(keys.values()), "all rows")
            # Rows from every agent, each saying whose it is, with its payload fetched.
            for name, key in keys.items():
                assert cell(inbox, key, "context") == name
                assert cell(inbox, key, "preview") == f'{{"host":"{name}"}}'
            assert table.columns_for([])[0] == "context"
            assert "3 messages on 3 agents" in str(table.query_one("#message-count").render())

            # The filter matches the context column.
            await pilot.press("slash", *"web2", "enter")
            await wait_for(pilot, lambda: table.shown == [keys["web2"]], "only web2's row")
            await pilot.press("escape")
            await wait_for(pilot, lambda: len(table.shown) == 3, "the filter cleared")

            # Pull and ack go to the row's own agent: web2's message is processed there only.
            table.move_to(keys["web2"])
            await pilot.press("p")
            await wait_for(
                pilot,
                lambda: table.messages[keys["web2"]].status is MessageStatus.PROCESSING,
                "web2's message pulled",
            )
            assert cell(inbox, keys["web2"], "ack") == "[Ack]"
            await pilot.press("a")
            await wait_for(
                pilot,
                lambda: table.messages[keys["web2"]].status is MessageStatus.PROCESSED,
                "web2's message acked",
            )
            web2 = fleet.client("web2").inbox
            stored = await web2.get(keys["web2"].split("/", 1)[1])
            assert stored.status is MessageStatus.PROCESSED
            for name in ("web1", "db1"):
                assert table.messages[keys[name]].status is MessageStatus.PENDING
            await counts_reach(fleet, lambda c: c.waiting == 2)

            # Delete asks, naming the agent, and deletes on that agent only.
            table.move_to(keys["web1"])
            await pilot.press("ctrl+d")
            assert isinstance(app.screen, ConfirmDialog)
            assert "on web1" in app.screen.question
            await pilot.press("y")
            await wait_for(pilot, lambda: keys["web1"] not in table.shown, "web1's row deleted")
            assert len(await fleet.client("web1").inbox.list()) == 0

            # Push on behalf of the row's agent: from db1's node, to it; its row comes in.
            table.move_to(keys["db1"])
            await pilot.press("n")
            await wait_for(pilot, lambda: isinstance(app.screen, PushMessageForm), "the form")
            form = app.screen
            assert isinstance(form, PushMessageForm)
            db1 = fleet.client("db1").inbox
            assert form.inbox is db1 and form.values()["destination"] == db1.node_id
            form.payload_area.text = '{"via": "db1"}'
            form.query_one("#field-topic", Input).value = "pushed.db1"
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: not isinstance(app.screen, PushMessageForm), "pushed")

            def pushed() -> str | None:
                return next((k for k, m in table.messages.items() if m.topic == "pushed.db1"), None)

            await wait_for(pilot, lambda: pushed() is not None, "the pushed row")
            assert table.contexts[str(pushed())] == "db1"
            assert [m.topic for m in await db1.list()].count("pushed.db1") == 1
            for name in ("web1", "web2"):
                topics = [m.topic for m in await fleet.client(name).inbox.list()]
                assert "pushed.db1" not in topics

            # One agent killed: its rows greyed (not ackable), the others live, and no
            # errors shown for the payloads of its stale rows (they are not fetched again).
            notices = record_notifications(app)
            agents["db1"].stop(signal.SIGKILL)
            await wait_for(pilot, lambda: table.offline == {"db1"}, "db1's rows stale")
            assert keys["db1"] in table.shown
            await wait_for(
                pilot,
                lambda: "offline: db1" in str(table.query_one("#message-count").render()),
                "the note names the dead agent",
            )
            stale = table.table.get_cell(keys["db1"], "topic")
            assert STALE in [span.style for span in stale.spans]
            later = await fleet.client("web2").inbox.push(
                fleet.client("web2").inbox.node_id, "still here", topic="later"
            )
            await wait_for(
                pilot, lambda: fleet_key("web2", later.id) in table.shown, "web2 still live"
            )
            await wait_for(
                pilot,
                lambda: cell(inbox, fleet_key("web2", later.id), "preview") == "still here",
                "web2's new payload fetched",
            )
            assert [n for n in notices if "db1" in f"{n.title} {n.message}"] == []
            assert cell(inbox, keys["db1"], "preview") == '{"host":"db1"}', "kept, greyed"
            # In "all" scope the tab's count is the fleet's: the pane posts none of its own.
            assert posted == [] and inbox.unacked is None

            # Back to one context: the app's agent's inbox again, without context column.
            inbox.set_fleet(None)
            assert app.client is not None
            inbox.set_client(app.client, app.agent_info)
            await wait_for(pilot, lambda: inbox.unacked == 0, "the app's own inbox")
            assert table.shown == [] and "context" not in table.shown_columns
