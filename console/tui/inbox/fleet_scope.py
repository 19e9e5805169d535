"""The Inbox in "all" scope: every agent's messages in one table, each acted on through its agent.

A row's key, and the id of the message it shows, is ``CONTEXT/ID`` (ids are unique on
one agent only): the table's machinery (payloads to fetch, [Ack] cells, the open
message) works on row keys unchanged, and ``Where`` turns a row back into its agent
and the id that agent knows. The tab's count is the fleet's (``Fleet.watch_counts``):
in this scope the pane posts no ``UnackedChanged``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from console.adapters.errors import BackendError
from console.adapters.fleet import fleet_key
from console.adapters.fleet_feed import FleetItem, fleet_watch
from console.tui.kit.messages import BackendFailed

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.changes import Change
    from console.adapters.fleet import Fleet
    from console.adapters.scirocco import MessageSeen
    from console.models import Message
    from console.tui.inbox.pane import InboxPane


FLEET_PLACEHOLDER = "/ context, from, topic, payload"
"""Short: at 80 columns the status switch and the count leave the filter ~35 cells (fewer
with a long count: then ``/ filter``)."""


@dataclass(frozen=True)
class Where:
    """Where an action on a message goes: ``client``, and the message's id on that agent;
    ``context`` None in one-context scope (ids are then the agent's own)."""

    client: AgentClient
    message_id: str
    context: str | None = None

    def row(self, message: Message) -> Message:
        """A message this agent answered with, as the table keys it."""
        if self.context is None:
            return message
        return replace(message, id=fleet_key(self.context, message.id))

    def current(self, pane: InboxPane) -> bool:
        """The pane still shows this agent (the scope or the agent did not change since)."""
        if self.context is None:
            return pane.fleet is None and self.client is pane.client
        return pane.fleet is not None and self.context in pane.message_table.nodes


def enter(pane: InboxPane, fleet: Fleet) -> None:
    """Show every agent's messages, following each one's inbox."""
    table = pane.message_table
    table.nodes = _nodes(fleet)
    table.contexts.clear()
    table.offline.clear()
    table.show([])
    table.set_note("loading…")
    table.set_stale(False)
    table.filter_input.say(FLEET_PLACEHOLDER)
    pane.follow_fleet(fleet, table)


def watch(fleet: Fleet) -> AsyncIterator[Change[FleetItem[MessageSeen]]]:
    """Every agent's inbox (its node's messages), merged."""
    return fleet_watch(fleet, _inbox_of, _id_of)


def leave(pane: InboxPane) -> None:
    """Back to one context: the fleet's rows go (``set_client`` brings the agent's)."""
    table = pane.message_table
    table.nodes.clear()
    table.contexts.clear()
    table.offline.clear()
    table.show([])
    table.filter_input.say(table.PLACEHOLDER)


def _inbox_of(client: AgentClient) -> AsyncIterator[Change[MessageSeen]]:
    return client.inbox.watch()


def _id_of(seen: MessageSeen) -> str:
    return seen.message.id


def _nodes(fleet: Fleet) -> dict[str, str]:
    return {
        name: member.client.inbox.node_id
        for name, member in fleet.members.items()
        if member.client is not None
    }


def as_row(item: FleetItem[MessageSeen]) -> MessageSeen:
    """A message of one agent as the table keys it (``CONTEXT/ID``)."""
    seen = item.item
    return replace(seen, message=replace(seen.message, id=item.fleet_key))


def resync(pane: InboxPane, items: list[FleetItem[MessageSeen]]) -> None:
    """Every agent's messages anew: which row is whose, and whose are stale."""
    table = pane.message_table
    if pane.fleet is not None:
        table.nodes = _nodes(pane.fleet)
    table.contexts = {item.fleet_key: item.context for item in items}
    offline, table.offline = table.offline, {item.context for item in items if not item.online}
    table.show(as_row(item).message for item in items)
    if table.offline != offline:
        # Greyed or not is the table's, not the messages': the cells kept for them are stale.
        table.kept_cells.clear()
        table.refill()
    # Only live agents' payloads: a stale row's agent cannot answer (asking it would show
    # an error at every resync while it is away); its rows keep what was fetched before.
    payloads = [item for item in items if item.online and item.item.payload_size is not None]
    if payloads:
        fetch(pane, payloads)


def upsert(pane: InboxPane, item: FleetItem[MessageSeen]) -> None:
    """One agent's message changed; its payload is fetched when the event did not bring it."""
    table = pane.message_table
    table.contexts[item.fleet_key] = item.context
    if table.upsert_seen(as_row(item)):
        fetch(pane, [item])
    pane.changed(item.fleet_key)


def fetch(pane: InboxPane, items: list[FleetItem[MessageSeen]]) -> None:
    """Fetch payloads the events announced, from each message's own agent."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for item in items:
        wanted[item.context].add(item.key)
    pane.run_worker(_fetch(pane, dict(wanted)), group="payloads", exit_on_error=False)


async def _fetch(pane: InboxPane, wanted: dict[str, set[str]]) -> None:
    fleet = pane.fleet
    for context, ids in wanted.items():
        if fleet is None or pane.fleet is not fleet:
            return
        try:
            fetched = await fleet.client(context).inbox.fetch_payloads(ids)
        except BackendError as exc:
            pane.post_message(BackendFailed(exc, f"Read messages of {context}"))
            continue
        for message in fetched:
            key = fleet_key(context, message.id)
            pane.message_table.set_payload(key, message.payload, message.payload_type)
            pane.changed(key)


def where(pane: InboxPane, message: Message | None, doing: str) -> Where | None:
    """Where ``doing`` on ``message`` goes: the pane's agent, or in "all" scope the row's
    own (then a message is needed even to pull: it says which agent); None after saying
    why not (not connected, no row chosen, its agent offline)."""
    fleet = pane.fleet
    if fleet is None:
        client = pane.connected()
        return None if client is None else Where(client, message.id if message else "")
    if message is None:
        pane.notify(
            f"{doing} goes to the agent of the selected message: choose one first.",
            title=doing,
            severity="warning",
        )
        return None
    context = pane.message_table.contexts.get(message.id)
    if context is None:
        return None
    try:
        client = fleet.client(context)
    except BackendError as exc:
        pane.post_message(BackendFailed(exc, doing))
        return None
    return Where(client, message.id[len(context) + 1 :], context)
