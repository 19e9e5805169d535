"""The Inbox pane: messages addressed to this node as a live table (k9s-like), one message's detail.

What is particular to the inbox: events carry a message's metadata only, so
the adapter fetches a payload when a message first shows up; processing
messages have an [Ack] cell that a click acks, as ``a`` does; ``s`` shows one
status at a time; pull and ack run in the order pressed (an ack typed while a
pull is on its way acks the message pulled).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.message import Message as UiMessage
from textual.widget import Widget
from textual.widgets import Button

from console.models import Message, MessageStatus
from console.tui.inbox import fleet_scope, operator_requests
from console.tui.inbox.table import MessageGrid, MessageTable
from console.tui.kit.keys import focus_now
from console.tui.kit.messages import BackendFailed
from console.tui.kit.pane import Command, HelpSection, hidden
from console.tui.kit.resource_pane import ResourcePane

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.changes import Change
    from console.adapters.fleet import Fleet
    from console.adapters.fleet_feed import FleetItem
    from console.adapters.scirocco import MessageSeen
    from console.models import AgentInfo
    from console.tui.inbox.detail import MessageDetail
    from console.tui.kit.resource_table import ResourceTable

UNACKED = frozenset({MessageStatus.PENDING, MessageStatus.PROCESSING})
NOTICE_SECONDS = 4
"""Warnings of the inbox go soon: they cover the status column while they show."""


class InboxPane(ResourcePane[Message]):
    """Watch this node's messages; pull, ack (key or click), push, delete, read one."""

    TITLE = "Inbox"
    ON_SELECTED = frozenset({"ack", "delete", "open"})

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pull", "Pull", tooltip="pull the next pending message (it turns processing)"),
        Binding("a", "ack", "Ack", tooltip="ack the selected processing message (or click [Ack])"),
        Binding("n", "push", "Push", tooltip="push a message: a form"),
        Binding("ctrl+d", "delete", "Delete", tooltip="delete the selected message (asks first)"),
        hidden("enter", "open", "Open", "open the message: metadata, payload"),
        hidden(
            "s",
            "cycle_status",
            "Status",
            "show one status only: pending, processing, …, all (or click it)",
        ),
    ]

    class UnackedChanged(UiMessage):
        """How many messages wait for this node (pending or processing); None when unknown."""

        def __init__(self, count: int | None) -> None:
            super().__init__()
            self.count = count

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.unacked: int | None = None
        self._listed = False
        self._to_fetch: set[str] = set()
        self._fetching = False
        self._in_order = asyncio.Lock()  # pulls and acks, one at a time in the order pressed
        self._pulls_asked = 0  # pressed and not yet answered (their workers may not run yet)

    TABLE = MessageTable

    @property
    def message_table(self) -> MessageTable:
        return self.resource_table  # type: ignore[return-value]

    @property
    def messages(self) -> dict[str, Message]:
        return self.message_table.messages

    @property
    def node(self) -> str:
        """The node this console acts as in the inbox."""
        return self.message_table.node

    @property
    def detail_view(self) -> MessageDetail | None:
        """The message view, once it has been opened."""
        return self._detail  # type: ignore[return-value]

    @property
    def detail(self) -> MessageDetail | None:
        return self.detail_view

    @property
    def _shown_id(self) -> str | None:
        detail = self.detail_view
        return None if detail is None or detail.message is None else detail.message.id

    @property
    def current(self) -> Message | None:
        """The message the keys act on: the open one, else the one under the cursor."""
        shown = self._shown_id
        if self.detail_open and shown is not None:
            return self.messages.get(shown)
        return self.message_table.selected

    @property
    def selected(self) -> Message | None:
        return self.current

    def describe(self, item: Message) -> str:
        return f"{item.topic or 'message'} from {item.node_source}"

    # -- the feed ---------------------------------------------------------------------------

    def set_client(self, client: AgentClient | None, info: AgentInfo | None) -> None:
        if self.fleet is not None:
            if client is None:
                return  # "all" scope: the fleet's rows stay
            self.set_fleet(None)
        self._listed = False
        self.workers.cancel_group(self, "payloads")
        self._to_fetch.clear()
        self._fetching = False
        if client is not None:
            self.message_table.node = client.inbox.node_id
        else:
            self._set_unacked(None)
        super().set_client(client, info)

    def set_fleet(self, fleet: Fleet | None) -> None:
        """In "all" scope: every agent's messages, each row acted on through its own agent (the
        tab's count is then the fleet's); None: back to one context (``set_client`` follows)."""
        self.workers.cancel_group(self, "feed")
        self.workers.cancel_group(self, "payloads")
        self.fleet, self.client, self.live = fleet, None, False
        if fleet is None:
            fleet_scope.leave(self)
        else:
            self._set_unacked(None)
            fleet_scope.enter(self, fleet)

    def watch_feed(
        self, client: AgentClient, table: ResourceTable[Any]
    ) -> AsyncIterator[Change[MessageSeen]]:
        return client.inbox.watch()

    def watch_fleet(
        self, fleet: Fleet, table: ResourceTable[Any]
    ) -> AsyncIterator[Change[FleetItem[MessageSeen]]]:
        return fleet_scope.watch(fleet)

    def resync(self, items: Sequence[Any], table: ResourceTable[Any]) -> None:
        self._listed = True
        if self.fleet is not None:
            fleet_scope.resync(self, list(items))
        else:
            self.message_table.show(seen.message for seen in items)

    def apply(
        self, item: FleetItem[MessageSeen] | MessageSeen | Message, table: Any = None
    ) -> None:
        """A message as the feed saw it (its payload fetched if need be), or as an answer
        (push, pull, ack) says: kept whole when the events have not said more already."""
        from console.adapters.fleet_feed import FleetItem
        from console.adapters.scirocco import MessageSeen

        table = self.message_table
        if isinstance(item, FleetItem):
            fleet_scope.upsert(self, item)
            return
        if isinstance(item, MessageSeen):
            if table.upsert_seen(item) and self.client is not None:
                self._fetch(self.client, item.message.id)
            self.changed(item.message.id)
            return
        if not table.is_addressed(item):
            return
        known = table.messages.get(item.id)
        if self.live and known is not None and known.update_time > item.update_time:
            # The events have said more of it already: only the payload is news.
            table.set_payload(item.id, item.payload, item.payload_type)
        else:
            # As new as anything seen (a pull answered before its event): the answer whole,
            # so that an ack typed right after finds it processing.
            table.unfetched.pop(item.id, None)
            table.upsert(item)
        self.changed(item.id)

    def _fetch(self, client: AgentClient, message_id: str) -> None:
        self._to_fetch.add(message_id)
        if not self._fetching:
            self._fetching = True
            self._fetch_payloads(client)

    @work(group="payloads", exit_on_error=False)
    async def _fetch_payloads(self, client: AgentClient) -> None:
        """Fetch the payloads the feed announced, until none is left to fetch."""
        from console.adapters.errors import BackendError

        try:
            while self._to_fetch and client is self.client:
                wanted, self._to_fetch = self._to_fetch, set()
                fetched = await client.inbox.fetch_payloads(wanted)
                if client is not self.client:
                    return
                for message in fetched:
                    self.message_table.set_payload(
                        message.id, message.payload, message.payload_type
                    )
                    self.changed(message.id)
        except BackendError as exc:
            self.post_message(BackendFailed(exc, "Read messages"))
        finally:
            self._fetching = False

    def changed(self, key: str | None) -> None:
        """The count in the tab, the open message, the keys."""
        if self.fleet is None:  # in "all" scope the tab counts the fleet's (Fleet.counts)
            node = self.node
            messages = self.messages.values()
            count = sum(1 for m in messages if m.status in UNACKED and m.node_destination == node)
            self._set_unacked(count if self._listed else None)
        shown = self._shown_id
        if shown is not None and key in (None, shown):
            self._show_in_detail(shown)
        super().changed(key)

    def _set_unacked(self, count: int | None) -> None:
        if count != self.unacked:
            self.unacked = count
            self.post_message(self.UnackedChanged(count))

    @on(MessageGrid.AckClicked)
    def _ack_clicked(self, event: MessageGrid.AckClicked) -> None:
        event.stop()
        self.ack(event.message_id)

    @on(MessageTable.StatusCycled)
    def _status_cycled(self, event: MessageTable.StatusCycled) -> None:
        event.stop()
        self.refresh_bindings()

    # -- the pane protocol ------------------------------------------------------------------

    def more_commands(self) -> Iterator[Command]:
        yield (
            "Inbox: delete every message",
            "Empty the inbox (asks first)",
            self.action_delete_all,
        )
        if self.detail_open:
            yield ("Inbox: back to the table", "Close the message (escape)", self.close_detail)

    def help_sections(self) -> list[HelpSection]:
        """The pane's keys, and how to read an open message."""
        sections = super().help_sections()
        sections[0][1].append(("click [Ack]", "ack that message"))
        sections[0][1].append(("tab (N)", "messages not acked yet: pending or processing"))
        detail = [
            ("↑ ↓ pgup pgdn", "scroll the payload"),
            ("p", "pull the next pending one: the view shows it, said so (never the one open)"),
            ("a / click Ack", "ack it while it is processing"),
            ("esc", "back to the table"),
        ]
        return [*sections, ("Message view", detail)]

    def focus_detail(self, detail: Widget) -> None:
        focus_now(detail.scroll_view)  # type: ignore[attr-defined]

    # -- the message view ----------------------------------------------------------------

    async def open(self, key: str) -> None:
        """Show a message (the view is made on first use); its payload is fetched if not here."""
        from console.tui.inbox.detail import MessageDetail

        if key not in self.messages:
            self.notify("That message is gone.", severity="warning", timeout=NOTICE_SECONDS)
            return
        await self.ensure_detail(MessageDetail)
        self.message_table.move_to(key)
        self._show_in_detail(key)
        self.show_detail()

    async def open_detail(self, message_id: str) -> None:
        await self.open(message_id)

    def _show_in_detail(self, message_id: str) -> None:
        detail = self.detail_view
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
            # An ack typed while a pull is on its way is for the message pulled: a pull counts
            # from its key, before its worker runs (a burst "pa" checks "a" before that).
            pulling = self._pulls_asked > 0 or self._in_order.locked()
            return self.current is not None or (action == "ack" and pulling)
        return True

    def action_cycle_status(self) -> None:
        if self.narrow_detail:
            self.close_detail()
        self.message_table.cycle_status()
        self.refresh_bindings()

    def action_back(self) -> None:
        table = self.message_table
        if not self.detail_open and table.status is not None:
            table.status = None
            table.refill()
        super().action_back()

    async def action_open(self) -> None:
        message = self.current
        if message is not None:
            await self.open(message.id)

    def action_ack(self) -> None:
        self._ack_in_order(None)

    def ack(self, message_id: str) -> None:
        """Ack a processing message addressed to this node; say why not for any other."""
        self._ack_in_order(message_id)

    @work(group="in-order", exit_on_error=False)
    async def _ack_in_order(self, message_id: str | None) -> None:
        """Ack after any pull pressed before (the message then is the one it pulled)."""
        async with self._in_order:
            message = self.messages.get(message_id) if message_id else self.current
            where = fleet_scope.where(self, message, "Ack")
            if where is None or message is None:
                return
            if not self.message_table.is_ackable(message):
                operator_requests.not_ackable(self, message)
                return
            answered = partial(self._answered, where)
            ack = partial(where.client.inbox.ack, where.message_id)
            await self.call_now("Ack", ack, answered)

    def action_pull(self) -> None:
        self._pulls_asked += 1
        self._pull_in_order()

    @work(group="in-order", exit_on_error=False)
    async def _pull_in_order(self) -> None:
        try:
            async with self._in_order:
                where = fleet_scope.where(self, self.current, "Pull")
                if where is not None:
                    pulled = partial(operator_requests.pulled, self, where)
                    await self.call_now("Pull", where.client.inbox.pull, pulled)
        finally:
            self._pulls_asked -= 1

    def _answered(self, where: fleet_scope.Where, message: Message) -> None:
        if where.current(self):
            self.apply(where.row(message))

    def action_push(self) -> None:
        operator_requests.push(self)

    def action_delete(self) -> None:
        operator_requests.delete(self)

    def action_delete_all(self) -> None:
        operator_requests.delete_all(self)
