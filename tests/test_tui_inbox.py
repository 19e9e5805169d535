"""The Inbox pane, driven by keys and clicks in the real app against a real spawned agent."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from passlib.hash import bcrypt
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static, Tab

from console.adapters.agent import AgentClient
from console.adapters.base import Endpoint
from console.adapters.connect import SpawnedAgent
from console.models import Message, MessageStatus
from console.tui.app import OpsConsoleApp
from console.tui.inbox.pane import InboxPane
from console.tui.inbox.push_form import PushMessageForm, parse_payload, parse_when
from console.tui.kit.confirm_dialog import ConfirmDialog
from console.tui.kit.help_screen import HelpScreen
from tests.tui_helpers import make_catalog, record_notifications, spawned_agent, wait_for

SIZE = (80, 24)
NODE = "ops-1"


@pytest.fixture
def app(tmp_path: Path) -> OpsConsoleApp:
    return OpsConsoleApp(
        spawned_agent(tmp_path, make_catalog(tmp_path / "scripts"), "--node-id", NODE)
    )


def pane(app: OpsConsoleApp) -> InboxPane:
    return app.query_one(InboxPane)


def tab_label(app: OpsConsoleApp) -> str:
    return app.query_one("#tab-inbox", Tab).label.plain


def ack_cell_offset(table: DataTable[Any], message_id: str) -> tuple[int, int]:
    """Where a row's [Ack] cell is, relative to the table (not scrolled)."""
    columns = table.ordered_columns
    index = [column.key.value for column in columns].index("ack")
    x = sum(column.get_render_width(table) for column in columns[:index]) + 2
    return x, table.header_height + table.get_row_index(message_id)


def cell(app: OpsConsoleApp, message_id: str, column: str) -> str:
    return str(pane(app).table.get_cell(message_id, column))


@asynccontextmanager
async def sender(app: OpsConsoleApp, node: str) -> AsyncIterator[AgentClient]:
    """Another node of the same agent (same token), pushing to this console's node."""
    assert app.client is not None
    endpoint = app.client.endpoint
    async with AgentClient(
        Endpoint(endpoint.url, token=endpoint.token, agent_token=endpoint.agent_token)
    ) as other:
        other.inbox.node_id = node
        yield other


async def show_inbox(pilot: Pilot[object], app: OpsConsoleApp) -> InboxPane:
    await wait_for(pilot, lambda: app.client is not None, "the agent is reached")
    await pilot.press("4")
    inbox = pane(app)
    await wait_for(pilot, lambda: inbox.unacked is not None, "the first listing")
    return inbox


async def push_seen(
    pilot: Pilot[object], app: OpsConsoleApp, node: str, *contents: Any
) -> list[str]:
    """Push from ``node`` to this console; the ids, once every row shows its payload."""
    ids = []
    async with sender(app, node) as other:
        for number, content in enumerate(contents):
            message = await other.inbox.push(NODE, content, topic=f"topic.{number}")
            ids.append(message.id)
    table = pane(app).message_table

    def shown() -> bool:
        return set(ids) <= set(table.shown) and not set(ids) & set(table.unfetched)

    await wait_for(pilot, shown, "the pushed rows with their payloads")
    return ids


async def test_rows_follow_the_inbox_live_and_the_tab_counts_the_unacked(
    app: OpsConsoleApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        inbox = await show_inbox(pilot, app)
        assert tab_label(app) == "4 Inbox" and inbox.unacked == 0
        assert app.focused is inbox.table
        ids = await push_seen(
            pilot, app, "ci", {"deploy": "web", "ok": True}, "line one\nline two", bytes(300)
        )
        # Newest first; each kind of payload previewed its own way.
        assert inbox.message_table.shown == ids[::-1]
        assert cell(app, ids[0], "preview") == '{"deploy":"web","ok":true}'
        assert cell(app, ids[1], "preview") == "line one …"
        assert cell(app, ids[2], "preview") == "300 bytes"
        assert cell(app, ids[0], "from") == "ci" and cell(app, ids[0], "status") == "pending"
        await wait_for(pilot, lambda: tab_label(app) == "4 Inbox (3)", "the count in the tab")
        # Somebody else deletes one: its row goes and the count follows, with no key pressed.
        async with sender(app, "ci") as other:
            await other.inbox.delete(ids[1])
        await wait_for(pilot, lambda: tab_label(app) == "4 Inbox (2)", "the count goes down")
        assert inbox.message_table.shown == [ids[2], ids[0]]
        # ctrl+d asks first: no keeps it, yes deletes it.
        inbox.message_table.move_to(ids[0])
        await pilot.press("ctrl+d")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        assert len(inbox.message_table.shown) == 2
        await pilot.press("ctrl+d", "y")
        await wait_for(pilot, lambda: inbox.message_table.shown == [ids[2]], "deleted")
        assert tab_label(app) == "4 Inbox (1)"
        # The header's count agrees with its number: "1 message", not "1 messages".
        count = inbox.message_table.query_one("#message-count", Static)
        await wait_for(pilot, lambda: "1 message" in str(count.render()), "the count")
        assert "1 messages" not in str(count.render())


async def test_pull_next_selects_it_and_a_click_on_its_ack_cell_acks_it(app: OpsConsoleApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        seen = record_notifications(app)
        inbox = await show_inbox(pilot, app)
        first, second, third = await push_seen(pilot, app, "monitor", {"n": 1}, {"n": 2}, {"n": 3})
        await wait_for(pilot, lambda: tab_label(app) == "4 Inbox (3)", "three unacked")
        inbox.message_table.move_to(third)
        await pilot.press("p")  # the oldest pending one, whichever row is selected
        await wait_for(pilot, lambda: cell(app, first, "status") == "processing", "pulled")
        await wait_for(
            pilot, lambda: inbox.current is not None and inbox.current.id == first, "sel"
        )
        await wait_for(pilot, lambda: first in inbox.message_table.table.ackable, "an [Ack] cell")
        await wait_for(pilot, lambda: "ack" in inbox.message_table._columns, "the ack column")
        await wait_for(pilot, lambda: cell(app, first, "ack") == "[Ack]", "the [Ack] cell drawn")
        assert cell(app, second, "ack") == ""
        assert tab_label(app) == "4 Inbox (3)"  # processing is still unacked
        # Select another row, then click the first one's [Ack]: that one is acked, and opened not.
        inbox.message_table.move_to(third)
        await pilot.pause()
        assert await pilot.click(inbox.table, offset=ack_cell_offset(inbox.table, first))
        await wait_for(pilot, lambda: cell(app, first, "status") == "processed", "acked by click")
        await wait_for(pilot, lambda: tab_label(app) == "4 Inbox (2)", "the count goes down")
        assert not inbox.detail_open and inbox.current is not None
        assert inbox.current.id == first  # the click moved the cursor there
        # The keyboard way: p, then a.
        await pilot.press("p")
        await wait_for(pilot, lambda: cell(app, second, "status") == "processing", "pulled")
        await wait_for(
            pilot, lambda: inbox.current is not None and inbox.current.id == second, "sel"
        )
        await pilot.press("a")
        await wait_for(pilot, lambda: cell(app, second, "status") == "processed", "acked by key")
        await wait_for(pilot, lambda: tab_label(app) == "4 Inbox (1)", "one left")
        # a on a pending message says why not; p with nothing pending says so.
        inbox.message_table.move_to(third)
        await pilot.pause()
        await pilot.press("a")
        assert seen[-1].title == "Ack" and "pending" in seen[-1].message
        await pilot.press("p")
        await wait_for(pilot, lambda: cell(app, third, "status") == "processing", "pulled")
        await pilot.press("p")
        await wait_for(pilot, lambda: seen[-1].title == "Pull", "nothing pending")
        assert "Nothing pending" in seen[-1].message


async def test_push_form_checks_inline_and_the_pushed_message_appears(
    app: OpsConsoleApp, tmp_path: Path
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        seen = record_notifications(app)
        inbox = await show_inbox(pilot, app)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, PushMessageForm), "the form")
        form = app.screen
        assert isinstance(form, PushMessageForm)
        assert form.values()["destination"] == NODE  # this node by default
        assert app.focused is form.payload_area
        await pilot.press(*"{oops")
        form.query_one("#field-when", Input).value = "+soon"
        await pilot.press("ctrl+s")
        problems = lambda: str(form.query_one("#problems", Static).render())  # noqa: E731
        assert "payload: not JSON" in problems() and "when: expected" in problems()
        assert form.payload_area.has_class("-invalid")
        assert not seen  # nothing was sent
        # Fixed as typed: the problems go as they are fixed.
        form.payload_area.text = '{"deploy": "web", "version": 7}'
        await pilot.pause()
        assert "payload" not in problems() and "when: expected" in problems()
        form.query_one("#field-when", Input).value = "+30s"
        form.query_one("#field-topic", Input).value = "deploy.later"
        await pilot.pause()
        assert str(form.query_one("#when-hint", Static).render()).strip().startswith("at ")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, PushMessageForm), "pushed")
        assert seen[-1].title == "Pushed" and "scheduled" in seen[-1].message
        table = inbox.message_table

        def scheduled() -> Message | None:
            return next((m for m in table.messages.values() if m.topic == "deploy.later"), None)

        await wait_for(pilot, lambda: scheduled() is not None, "the new row")
        message = scheduled()
        assert message is not None and message.status is MessageStatus.SCHEDULED
        assert message.scheduled_time is not None and message.scheduled_time > time.time() + 20
        await wait_for(pilot, lambda: table.selected == scheduled(), "the new row is selected")
        assert cell(app, message.id, "preview") == '{"deploy":"web","version":7}'
        assert inbox.unacked == 0  # a scheduled message waits for nobody yet
        # A binary payload from a file, to another node: pushed, and said so.
        payload = tmp_path / "blob.bin"
        payload.write_bytes(b"\x00\x01binary")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, PushMessageForm), "the form")
        form = app.screen
        assert isinstance(form, PushMessageForm)
        form.query_one("#field-kind").value = "file"
        form.query_one("#field-to", Input).value = "web1"
        form.payload_area.text = str(payload)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not isinstance(app.screen, PushMessageForm), "pushed")
        assert seen[-1].title == "Pushed" and "to web1" in seen[-1].message
        assert app.client is not None
        sent = await app.client.inbox.list(destination="web1")
        assert [m.payload for m in sent] == [b"\x00\x01binary"]


def test_push_form_reads_times_and_payloads_as_typed() -> None:
    now = 1_750_000_000.0
    assert parse_when("", now) is None and parse_when("now", now) is None
    assert parse_when("+30s", now) == now + 30 and parse_when("5m", now) == now + 300
    assert parse_when("+1.5h", now) == now + 5400
    assert parse_when("2025-06-15T15:06:40+00:00", now) == now
    with pytest.raises(ValueError, match="expected"):
        parse_when("tomorrow", now)
    assert parse_payload("hex", "0xde ad:BE,ef") == (b"\xde\xad\xbe\xef", None)
    assert parse_payload("json", "[1, null]") == ([1, None], None)
    assert parse_payload("text", "  as is ") == ("  as is ", None)
    for kind, text, problem in [
        ("hex", "abc", "pairs"),
        ("json", '"bare"', "goes as text"),
        ("file", "/no/such/file", "no such file"),
    ]:
        with pytest.raises(ValueError, match=problem):
            parse_payload(kind, text)


async def test_enter_shows_a_binary_payload_as_a_hex_dump_and_json_indented(
    app: OpsConsoleApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        inbox = await show_inbox(pilot, app)
        blob, document = await push_seen(pilot, app, "backup", b"ABC\x00\xff" * 4, {"a": [1, 2]})
        inbox.message_table.move_to(blob)
        await pilot.press("enter")
        await wait_for(pilot, lambda: inbox.detail_open and inbox.detail is not None, "detail")
        detail = inbox.detail
        assert detail is not None and app.focused is detail.scroll_view
        assert not inbox.message_table.display  # at 80x24 it takes the table's place
        lines = detail.payload_text.splitlines()
        assert lines == [
            "000000  41 42 43 00 ff 41 42 43  00 ff 41 42 43 00 ff 41  |ABC..ABC..ABC..A|",
            "000010  42 43 00 ff                                       |BC..|",
        ]
        title = str(detail.query_one("#payload-title", Static).render())
        assert "binary · 20 bytes" in title
        meta = str(detail.query_one("#detail-meta", Static).render())
        assert f"backup → {NODE}" in meta and blob in meta
        await pilot.press("escape")
        assert not inbox.detail_open and app.focused is inbox.table
        inbox.message_table.move_to(document)
        await pilot.press("enter")
        await pilot.pause()
        assert detail.payload_text.splitlines() == ["{", '  "a": [', "    1,", "    2", "  ]", "}"]
        # Pulled while open: the view follows, and its Ack button acks it by click.
        await pilot.press("escape")
        await pilot.press("p")
        await wait_for(pilot, lambda: cell(app, blob, "status") == "processing", "pulled")
        await pilot.press("enter")
        ack_button = detail.query_one("#detail-ack")
        await wait_for(
            pilot, lambda: ack_button.display and not ack_button.has_class("-hidden"), ""
        )
        assert await pilot.click(ack_button)
        await wait_for(pilot, lambda: cell(app, blob, "status") == "processed", "acked")
        await wait_for(pilot, lambda: ack_button.has_class("-hidden"), "the button goes")
        assert "processed" in str(detail.query_one("#detail-title", Static).render())


async def test_p_in_the_message_view_shows_the_pulled_message_and_says_so(
    app: OpsConsoleApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        seen = record_notifications(app)
        inbox = await show_inbox(pilot, app)
        oldest, newest = await push_seen(pilot, app, "monitor", {"n": 1}, {"n": 2})
        inbox.message_table.move_to(newest)
        await pilot.press("enter")
        detail = inbox.detail
        await wait_for(pilot, lambda: inbox.detail_open and detail is not None, "detail")
        assert detail is not None and detail.message is not None and detail.message.id == newest

        def shown() -> str | None:
            return None if detail.message is None else detail.message.id

        # p pulls the oldest pending one (scirocco: no choosing): the view moves to it and a
        # notice names it as the message just pulled, not the one that was open.
        await pilot.press("p")
        await wait_for(pilot, lambda: cell(app, oldest, "status") == "processing", "pulled")
        await wait_for(pilot, lambda: shown() == oldest, "the pulled one shown")
        await wait_for(pilot, lambda: bool(seen) and seen[-1].title == "Pull", "the notice")
        notice = seen[-1].message
        assert oldest[:8] in notice and "topic.0 from monitor" in notice, notice
        assert cell(app, newest, "status") == "pending"
        # Pulled again with the pulled one open: the view moves to the next, said so too.
        await pilot.press("p")
        await wait_for(pilot, lambda: shown() == newest, "the next one shown")
        await wait_for(pilot, lambda: newest[:8] in seen[-1].message, "the second notice")


async def test_filter_by_text_and_by_status(app: OpsConsoleApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        inbox = await show_inbox(pilot, app)
        deploy, disk, note = await push_seen(
            pilot, app, "monitor", {"service": "shop-web"}, {"disk": 91}, "hand over"
        )
        table = inbox.message_table
        await pilot.press("slash", *"shop")
        assert table.shown == [deploy]
        await pilot.press("enter")
        assert app.focused is inbox.table
        await pilot.press("escape")
        assert len(table.shown) == 3
        await pilot.press("p")
        await wait_for(pilot, lambda: cell(app, deploy, "status") == "processing", "pulled")
        await pilot.press("s")  # pending
        assert table.status is MessageStatus.PENDING and table.shown == [note, disk]
        await pilot.press("s")  # processing
        assert table.shown == [deploy]
        await pilot.click("#message-status")  # the switch steps on by mouse too: scheduled
        assert table.status is MessageStatus.SCHEDULED and table.shown == []
        assert "0/3" in str(table.query_one("#message-count", Static).render())
        await pilot.press("escape")
        assert table.status is None and len(table.shown) == 3


async def test_an_ack_refused_by_the_agent_is_a_notification_and_help_lists_keys(
    app: OpsConsoleApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        seen = record_notifications(app)
        inbox = await show_inbox(pilot, app)
        (message_id,) = await push_seen(pilot, app, "ci", {"n": 1})
        await pilot.press("p")
        await wait_for(pilot, lambda: cell(app, message_id, "status") == "processing", "pulled")
        # Acked behind the console's back while it is not listening: the row still says processing.
        inbox.workers.cancel_group(inbox, "feed")
        assert app.client is not None
        await app.client.inbox.ack(message_id)
        await pilot.press("a")
        await wait_for(pilot, lambda: seen and seen[-1].severity == "error", "the error")
        assert seen[-1].title == "Ack" and "no message" in seen[-1].message.lower()
        assert app.is_running
        await check_help_and_palette(pilot, app)


class _NoInboxToken(SpawnedAgent):
    """A real spawned agent reached with Basic credentials only (which open every route but
    the inbox's), as a console given no inbox token would be."""

    async def connect(self) -> AgentClient:
        client = await super().connect()
        await client.aclose()
        self._client = AgentClient(Endpoint(client.endpoint.url, "ops", "ops-pw"))
        return self._client


async def test_no_inbox_token_is_a_notification_not_a_crash(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path / "scripts")
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"ops:{bcrypt.using(rounds=4).hash('ops-pw')}\n")
    connector = _NoInboxToken(
        [
            *("--scripts", str(catalog), "--data-dir", str(tmp_path / "data")),
            *("--htpasswd", str(htpasswd)),
        ]
    )
    app = OpsConsoleApp(connector)
    async with app.run_test(size=SIZE) as pilot:
        seen = record_notifications(app)
        await wait_for(pilot, lambda: any(n.title == "Inbox" for n in seen), "the refusal")
        notice = next(n for n in seen if n.title == "Inbox")
        assert notice.severity == "error" and "no inbox token" in notice.message
        await pilot.press("4", "p")
        await wait_for(pilot, lambda: seen[-1].title == "Pull", "the pull refused")
        assert "no inbox token" in seen[-1].message
        assert "no access" in str(pane(app).query_one("#message-count", Static).render())
        assert tab_label(app) == "4 Inbox" and app.is_running


async def check_help_and_palette(pilot: Pilot[object], app: OpsConsoleApp) -> None:
    """``?`` lists every key of the pane, the palette every action on the selected message."""
    await pilot.press("question_mark")
    assert isinstance(app.screen, HelpScreen)
    text = "\n".join(str(s.render()) for s in app.screen.query("Static"))
    for key, what in [
        ("p", "pull the next"),
        ("a", "ack the selected"),
        ("click [Ack]", "ack that message"),
        ("n", "push a message"),
        ("^d", "delete"),
        ("enter", "open the message"),
        ("/", "filter"),
        ("s", "one status"),
        ("tab (N)", "pending or processing"),  # what the count in the tab counts
        ("p", "never the one open"),  # in the message view
    ]:
        assert any(line.startswith(key) and what in line for line in text.splitlines()), key
    await pilot.press("escape")
    titles = {command.title for command in app.get_system_commands(app.screen)}
    assert {"Inbox: pull", "Inbox: push", "Inbox: filter"} <= titles
    assert {"Inbox: status", "Inbox: delete every message"} <= titles
    assert {"Inbox: open topic.0 from ci", "Inbox: delete topic.0 from ci"} <= titles
