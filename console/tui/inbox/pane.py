"""The Inbox pane: messages addressed to this node as a live table (k9s-like), one message's detail.

The table follows the agent's events stream (listed again whenever that stream
(re)connects); events carry a message's metadata only, so a payload is fetched
once, when a message first shows up, for its preview. Processing messages have
an [Ack] cell that a click acks, as ``a`` does. The detail takes the table's
place; from 32 rows the table stays above it. Only the table is built at start.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from inspect import isawaitable
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message as UiMessage
from textual.widgets import Button, DataTable

from console.models import AgentInfo, Message, MessageStatus
from console.tui.inbox.table import MessageGrid, MessageTable, message_from_event
from console.tui.kit.keys import focus_now
from console.tui.kit.messages import BackendFailed
from console.tui.kit.pane import Command, HelpSection, key_rows

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.tui.inbox.detail import MessageDetail

TALL = 32
"""From this many rows, the table stays in view above an open message."""
LIST_LIMIT = 1000
"""Newest messages listed; the unacked count is of these."""
FETCH_BATCH = 20
"""Past this many payloads to fetch at once, one listing is cheaper than a request each."""
UNACKED = frozenset({MessageStatus.PENDING, MessageStatus.PROCESSING})


class InboxPane(Vertical):
    """Watch this node's messages; pull, ack (key or click), push, delete, read one."""

    DEFAULT_CSS = """
    InboxPane {
        MessageTable { height: 1fr; }
        MessageDetail { display: none; }
        &.-detail-open {
            MessageTable { display: none; }
            MessageDetail { display: block; }
        }
        &.-detail-open.-tall {
            MessageTable { display: block; height: auto; max-height: 40%; }
            MessageTable DataTable { height: auto; max-height: 12; }
            MessageDetail { border-top: solid $panel-lighten-2; }
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pull", "Pull", tooltip="pull the next pending message (it turns processing)"),
        Binding("a", "ack", "Ack", tooltip="ack the selected processing message (or click [Ack])"),
        Binding("n", "push", "Push", tooltip="push a message: a form"),
        Binding("ctrl+d", "delete", "Delete", tooltip="delete the selected message (asks first)"),
        Binding(
            "enter",
            "open",
            "Open",
            show=False,
            key_display="enter",
            tooltip="open the message: metadata, payload",
        ),
        # Not in the footer: the line above the table says "/ filter" and "s status" already.
        Binding("slash", "filter", "Filter", show=False, key_display="/", tooltip="filter by text"),
        Binding(
            "s",
            "cycle_status",
            "Status",
            show=False,
            key_display="s",
            tooltip="show one status only: pending, processing, …, all (or click it)",
        ),
        Binding(
            "R,ctrl+l",
            "reload",
            "Reload",
            show=False,
            key_display="R / ^l",
            tooltip="list the messages again",
        ),
        Binding("escape", "back", "Back", show=False, tooltip="close the message, clear filters"),
    ]

    class UnackedChanged(UiMessage):
        """How many messages wait for this node (pending or processing); None when unknown."""

        def __init__(self, count: int | None) -> None:
            super().__init__()
            self.count = count

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.client: AgentClient | None = None
        self.info: AgentInfo | None = None
        self.live = False
        """True while the table follows the agent's events stream."""
        self.unacked: int | None = None
        self._listed = False
        self._to_fetch: set[str] = set()
        self._fetching = False
        self._detail: MessageDetail | None = None

    def compose(self) -> ComposeResult:
        yield MessageTable()

    def on_mount(self) -> None:
        self.message_table.set_note("connecting…")

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.height >= TALL, "-tall")

    @property
    def message_table(self) -> MessageTable:
        return self.query_one(MessageTable)

    @property
    def table(self) -> DataTable[Any]:
        return self.message_table.table

    @property
    def messages(self) -> dict[str, Message]:
        return self.message_table.messages

    @property
    def node(self) -> str:
        """The node this console acts as in the inbox."""
        return self.message_table.node

    @property
    def detail(self) -> MessageDetail | None:
        """The message view, once it has been opened."""
        return self._detail

    @property
    def detail_open(self) -> bool:
        return self.has_class("-detail-open")

    @property
    def _shown_id(self) -> str | None:
        """The id of the message in the view (open or not)."""
        detail = self._detail
        return None if detail is None or detail.message is None else detail.message.id

    @property
    def current(self) -> Message | None:
        """The message the keys act on: the open one, else the one under the cursor."""
        detail = self._detail
        if self.detail_open and detail is not None and detail.message is not None:
            return self.messages.get(detail.message.id)
        return self.message_table.selected

    # -- the pane protocol -------------------------------------------------------------

    def set_client(self, client: AgentClient | None, info: AgentInfo | None) -> None:
        """The app's agent changed (connected, or gone when None): follow its inbox."""
        self.client = client
        self.info = info
        self.live = False
        self._listed = False
        self.workers.cancel_group(self, "events")
        self.workers.cancel_group(self, "payloads")
        self._to_fetch.clear()
        self._fetching = False
        if client is None:
            self.message_table.set_note("offline")
            self._set_unacked(None)
            return
        self.message_table.node = client.inbox.node_id
        self.message_table.set_note("loading…")
        self.follow_events(client)

    def focus_default(self) -> None:
        """The open message's payload, else the table."""
        detail = self._detail
        if self.detail_open and detail is not None:
            focus_now(detail.scroll_view)
        else:
            focus_now(self.table)

    def commands(self) -> Iterator[Command]:
        """Palette entries: the table's actions, and the selected (or open) message's."""
        yield ("Inbox: pull next", "Pull the next pending message (p)", self.action_pull)
        yield ("Inbox: push a message", "Push a message from a form (n)", self.action_push)
        yield ("Inbox: filter", "Filter by source, topic or payload (/)", self.action_filter)
        yield (
            "Inbox: next status",
            "Show one status only, then the next (s)",
            self.action_cycle_status,
        )
        yield ("Inbox: list again", "Ask the agent for the messages (R)", self.action_reload)
        yield (
            "Inbox: delete every message",
            "Empty the inbox (asks first)",
            self.action_delete_all,
        )
        message = self.current
        if message is not None:
            about = f"{message.topic or 'message'} from {message.node_source}"
            yield (f"Inbox: open {about}", "Metadata and payload (enter)", self.action_open)
            if self.message_table.is_ackable(message):
                yield (f"Inbox: ack {about}", "Mark it processed (a)", self.action_ack)
            yield (f"Inbox: delete {about}", "Delete it (asks first)", self.action_delete)
        if self.detail_open:
            yield ("Inbox: back to the table", "Close the message (escape)", self.close_detail)

    def help_sections(self) -> list[HelpSection]:
        """The pane's keys, and how to read an open message."""
        rows = key_rows(self.app, self.BINDINGS)
        rows.append(("click [Ack]", "ack that message"))
        detail = [
            ("↑ ↓ pgup pgdn", "scroll the payload"),
            ("a / click Ack", "ack it while it is processing"),
            ("esc", "back to the table"),
        ]
        return [("Inbox", rows), ("Message view", detail)]

    # -- the table, live ----------------------------------------------------------------

    @work(group="events", exclusive=True, exit_on_error=False)
    async def follow_events(self, client: AgentClient) -> None:
        """Apply the agent's message events to the table, for as long as the client is ours."""
        from console.adapters.errors import AuthError, BackendError, NotFound

        try:
            async for event in client.events(("message",)):
                if client is not self.client:
                    return
                if event.topic in ("hello", "lost"):
                    self.live = True
                    if not await self._list(client):
                        return
                elif event.topic == "message" and self._listed:
                    self._apply_event(client, event.data)
                elif event.topic == "message.deleted" and self._listed:
                    self._apply_deleted(event.data)
        except NotFound:
            # An older agent has no events stream: list once; R lists again.
            self.live = False
            await self._list(client)
        except AuthError as exc:
            self.live = False
            self.message_table.set_note("refused")
            self.post_message(BackendFailed(exc, "Inbox events"))
        except BackendError as exc:
            self.live = False
            self.message_table.set_note("not live")
            self.post_message(BackendFailed(exc, "Inbox events"))

    async def _list(self, client: AgentClient) -> bool:
        """List this node's messages; False when the agent refuses (no use listening then)."""
        from console.adapters.errors import AuthError, BackendError

        try:
            messages = await client.inbox.list(destination=self.node or None, limit=LIST_LIMIT)
        except AuthError as exc:
            self.message_table.set_note("no access: R retries")
            self.post_message(BackendFailed(exc, "Inbox"))
            return False
        except BackendError as exc:
            self.message_table.set_note("unavailable")
            self.post_message(BackendFailed(exc, "List messages"))
            return True
        if client is not self.client:
            return False
        self._listed = True
        table = self.message_table
        table.show(messages)
        table.set_note("" if self.live else "not live: R lists again")
        self._changed()
        return True

    def _apply_event(self, client: AgentClient, data: dict[str, Any]) -> None:
        """A message changed: its metadata is in the event; its payload is kept, or fetched."""
        if data.get("node_destination") != self.node or "id" not in data:
            return
        incoming, size = message_from_event(data)
        if self.message_table.upsert_metadata(incoming, size):
            self._fetch(client, incoming.id)
        self._changed(incoming.id)

    def _apply_deleted(self, data: dict[str, Any]) -> None:
        if data.get("all"):
            self.message_table.show([])
            self._changed()
            return
        message_id = str(data.get("id", ""))
        self.message_table.remove(message_id)
        self._changed(message_id)

    def apply(self, message: Message) -> None:
        """An answer from the agent (push, pull, ack): kept whole when the events have not said
        more of that message already (they are in order; a late answer could undo one)."""
        if message.node_destination != self.node:
            return
        table = self.message_table
        if self.live and message.id in table.messages:
            table.set_payload(message.id, message.payload, message.payload_type)
        else:
            table.upsert(message)
        self._changed(message.id)

    def _fetch(self, client: AgentClient, message_id: str) -> None:
        self._to_fetch.add(message_id)
        if not self._fetching:
            self._fetching = True
            self._fetch_payloads(client)

    @work(group="payloads", exit_on_error=False)
    async def _fetch_payloads(self, client: AgentClient) -> None:
        """Fetch the payloads events announced, one request each, or one listing for many."""
        from console.adapters.errors import BackendError, NotFound

        try:
            while self._to_fetch and client is self.client:
                wanted, self._to_fetch = self._to_fetch, set()
                if len(wanted) > FETCH_BATCH:
                    listed = await client.inbox.list(destination=self.node, limit=LIST_LIMIT)
                    fetched = [m for m in listed if m.id in wanted]
                else:
                    fetched = []
                    for message_id in wanted:
                        try:
                            fetched.append(await client.inbox.get(message_id))
                        except NotFound:
                            continue  # deleted since: its deletion event removes the row
                if client is not self.client:
                    return
                for message in fetched:
                    self.message_table.set_payload(
                        message.id, message.payload, message.payload_type
                    )
                    self._changed(message.id)
        except BackendError as exc:
            self.post_message(BackendFailed(exc, "Read messages"))
        finally:
            self._fetching = False

    def _changed(self, message_id: str | None = None) -> None:
        """Something in the table changed: the count in the tab, the open message, the keys."""
        node = self.node
        count = sum(
            1 for m in self.messages.values() if m.status in UNACKED and m.node_destination == node
        )
        self._set_unacked(count if self._listed else None)
        shown = self._shown_id
        if shown is not None and message_id in (None, shown):
            self._show_in_detail(shown)
        self.refresh_bindings()

    def _set_unacked(self, count: int | None) -> None:
        if count != self.unacked:
            self.unacked = count
            self.post_message(self.UnackedChanged(count))

    @on(DataTable.RowHighlighted, "#message-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.refresh_bindings()

    @on(DataTable.RowSelected, "#message-table")
    async def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            await self.open_detail(str(event.row_key.value))

    @on(MessageGrid.AckClicked)
    def _ack_clicked(self, event: MessageGrid.AckClicked) -> None:
        event.stop()
        self.ack(event.message_id)

    @on(MessageTable.StatusCycled)
    def _status_cycled(self, event: MessageTable.StatusCycled) -> None:
        event.stop()
        self.refresh_bindings()

    # -- the message view ----------------------------------------------------------------

    async def open_detail(self, message_id: str) -> None:
        """Show a message (the view is made on first use); its payload is fetched if not here."""
        from console.tui.inbox.detail import MessageDetail

        if message_id not in self.messages:
            self.notify("That message is gone.", severity="warning")
            return
        detail = self._detail
        if detail is None:
            detail = self._detail = MessageDetail()
            await self.mount(detail)
        self.message_table.move_to(message_id)
        self.add_class("-detail-open")
        self._show_in_detail(message_id)
        focus_now(detail.scroll_view)
        self.refresh_bindings()

    def _show_in_detail(self, message_id: str) -> None:
        detail = self._detail
        if detail is None:
            return
        table = self.message_table
        message = table.messages.get(message_id)
        if message is None:
            if detail.message is not None and detail.message.id == message_id:
                detail.show(detail.message, ackable=False, fetched=True, deleted=True)
            return
        fetched = message_id not in table.unfetched
        detail.show(message, ackable=table.is_ackable(message), fetched=fetched)

    def close_detail(self) -> None:
        self.remove_class("-detail-open")
        focus_now(self.table)
        self.refresh_bindings()

    def on_message_detail_closed(self, event: MessageDetail.Closed) -> None:
        event.stop()
        self.close_detail()

    @on(Button.Pressed, "#detail-ack")
    def _detail_ack_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        message = self.current
        if message is not None:
            self.ack(message.id)

    # -- keys ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("ack", "delete", "open"):
            return self.current is not None
        return True

    def _narrow_detail(self) -> bool:
        return self.detail_open and not self.has_class("-tall")

    def action_filter(self) -> None:
        if self._narrow_detail():
            self.close_detail()
        focus_now(self.message_table.filter_input)

    def action_cycle_status(self) -> None:
        if self._narrow_detail():
            self.close_detail()
        self.message_table.cycle_status()
        self.refresh_bindings()

    def action_back(self) -> None:
        if self.detail_open:
            self.close_detail()
            return
        table = self.message_table
        if table.filter_input.value or table.status is not None:
            table.filter_input.value = ""
            table.status = None
            table.refill()
        focus_now(self.table)

    async def action_open(self) -> None:
        message = self.current
        if message is not None:
            await self.open_detail(message.id)

    def action_reload(self) -> None:
        client = self._connected()
        if client is not None:
            self.set_client(client, self.info)

    def action_ack(self) -> None:
        message = self.current
        if message is not None:
            self.ack(message.id)

    def ack(self, message_id: str) -> None:
        """Ack a processing message addressed to this node; say why not for any other."""
        client = self._connected()
        message = self.messages.get(message_id)
        if client is None or message is None:
            return
        if not self.message_table.is_ackable(message):
            hint = (
                "\np pulls the next pending one" if message.status is MessageStatus.PENDING else ""
            )
            status = message.status.value
            text = f"Only a processing message can be acked; this one is {status}.{hint}"
            self.notify(text, title="Ack", severity="warning")
            return
        self._run("Ack", partial(client.inbox.ack, message_id), partial(self._answered, client))

    def action_pull(self) -> None:
        client = self._connected()
        if client is not None:
            self._run("Pull", client.inbox.pull, partial(self._pulled, client))

    async def _pulled(self, client: AgentClient, message: Message | None) -> None:
        if client is not self.client:
            return
        if message is None:
            self.notify(f"Nothing pending for {self.node}.", title="Pull", timeout=3)
            return
        table = self.message_table
        if table.status not in (None, MessageStatus.PROCESSING):
            # The pulled message must be seen: show every status rather than hide it.
            table.status = None
            table.refill()
        self.apply(message)
        table.select_when_shown(message.id)
        if self.detail_open:
            await self.open_detail(message.id)

    def _answered(self, client: AgentClient, message: Message) -> None:
        if client is self.client:
            self.apply(message)

    def action_push(self) -> None:
        from console.tui.inbox.push_form import PushMessageForm

        client = self._connected()
        if client is None:
            return

        def pushed(message: Message | None) -> None:
            if message is None:
                return
            ours = message.node_destination == self.node
            where = "" if ours else f" to {message.node_destination}"
            text = f"{message.topic or 'message'}{where}: {message.status.value}"
            self.notify(text, title="Pushed", timeout=3)
            if ours:
                self.apply(message)
                self.message_table.select_when_shown(message.id)

        self.app.push_screen(PushMessageForm(client.inbox, self.node), pushed)

    def action_delete(self) -> None:
        message = self.current
        client = self._connected()
        if message is None or client is None:
            return
        message_id = message.id
        about = f"{message.topic or 'the message'} from {message.node_source}"
        question = f"Delete {about}? It is {message.status.value}; it cannot be brought back."

        def deleted(_: object) -> None:
            if not self.live:
                self.message_table.remove(message_id)
                self._changed(message_id)
            if self.detail_open and self._shown_id == message_id:
                self.close_detail()
            self.notify("Message deleted.", timeout=3)

        delete = partial(client.inbox.delete, message_id)
        self._confirm(question, "Delete message", "Delete", "Delete message", delete, deleted)

    def action_delete_all(self) -> None:
        client = self._connected()
        if client is None:
            return

        def deleted(count: int) -> None:
            if not self.live:
                self.message_table.show([])
                self._changed()
            self.notify(f"{count} messages deleted.", timeout=3)

        question = "Delete every message of the agent's inbox, for every node, acked or not?"
        doing = "Delete every message"
        self._confirm(
            question, "Empty the inbox", "Delete all", doing, client.inbox.delete_all, deleted
        )

    # -- calls to the agent ----------------------------------------------------------------

    def _connected(self) -> AgentClient | None:
        """The client, or None after telling the operator there is none."""
        if self.client is None:
            self.notify("Not connected to an agent.", severity="error")
        return self.client

    def _confirm(
        self,
        question: str,
        title: str,
        yes_label: str,
        doing: str,
        call: Callable[[], Awaitable[Any]],
        done: Callable[[Any], object],
    ) -> None:
        """Ask first; on yes, make the call."""
        from console.tui.kit.confirm_dialog import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                self._run(doing, call, done)

        self.app.push_screen(ConfirmDialog(question, title=title, yes_label=yes_label), answered)

    @work(group="calls", exit_on_error=False)
    async def _run(
        self, doing: str, call: Callable[[], Awaitable[Any]], done: Callable[[Any], object]
    ) -> None:
        """Make an adapter call: its answer goes to ``done``, a failure to a notification."""
        from console.adapters.errors import BackendError

        try:
            answer = await call()
        except BackendError as exc:
            self.post_message(BackendFailed(exc, doing))
            return
        result = done(answer)
        if isawaitable(result):
            await result
