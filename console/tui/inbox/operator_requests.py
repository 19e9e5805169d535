"""What the operator asks of the inbox beyond pull and ack: push a message, delete one or all.

Each asks first where something is lost, makes the call through the pane (its
confirm-call-report helper) and shows the answer there.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from console.models import MessageStatus
from console.tui.inbox import fleet_scope

if TYPE_CHECKING:
    from console.models import Message
    from console.tui.inbox.fleet_scope import Where
    from console.tui.inbox.pane import InboxPane


def push(pane: InboxPane) -> None:
    """Open the push form (on behalf of the selected row's agent in "all" scope); a message
    pushed to this node is shown and selected."""
    from console.tui.inbox.push_form import PushMessageForm

    where = fleet_scope.where(pane, pane.current, "Push")
    if where is None:
        return
    node = where.client.inbox.node_id

    def pushed(answer: Message | None) -> None:
        if answer is None or not where.current(pane):
            return
        ours = answer.node_destination == node
        to = f" to {answer.node_destination}" if not ours else ""
        via = f" via {where.context}" if where.context else ""
        text = f"{answer.topic or 'message'}{to}{via}: {answer.status.value}"
        pane.notify(text, title="Pushed", timeout=3)
        if ours:
            message = where.row(answer)
            pane.apply(message)
            pane.message_table.select_when_shown(message.id)

    pane.app.push_screen(PushMessageForm(where.client.inbox, node), pushed)


def delete(pane: InboxPane) -> None:
    """Delete the message the keys act on (through its own agent), once the operator confirms."""
    message = pane.current
    where = fleet_scope.where(pane, message, "Delete message")
    if message is None or where is None:
        return
    message_id = message.id

    def deleted() -> None:
        if pane.detail_open and pane._shown_id == message_id:
            pane.close_detail()
        pane.notify("Message deleted.", timeout=3)

    about = f"{message.topic or 'the message'} from {message.node_source}"
    on = f" on {where.context}" if where.context else ""
    question = f"Delete {about}{on}? It is {message.status.value}; it cannot be brought back."
    delete = partial(where.client.inbox.delete, where.message_id)
    pane.confirm_delete(message_id, question, "Delete message", delete, deleted)


def delete_all(pane: InboxPane) -> None:
    """Empty the agent's inbox (every node; in "all" scope the selected row's agent), once
    the operator confirms."""
    where = fleet_scope.where(pane, pane.current, "Empty the inbox")
    if where is None:
        return

    def deleted(count: int) -> None:
        if not pane.live and pane.fleet is None:  # in "all" scope other agents' rows stay
            pane.forget(None)
        pane.notify(f"{count} messages deleted.", timeout=3)

    agent = f"{where.context}'s" if where.context else "the agent's"
    question = f"Delete every message of {agent} inbox, for every node, acked or not?"
    delete_all = where.client.inbox.delete_all
    pane.confirm_call(question, "Delete all", "Empty the inbox", delete_all, deleted)


async def pulled(pane: InboxPane, where: Where, pulled: Message | None) -> None:
    """Show the message a pull answered with (selected, and opened if one was open)."""
    from console.tui.inbox.pane import NOTICE_SECONDS

    if not where.current(pane):
        return
    if pulled is None:
        node = where.client.inbox.node_id
        pane.notify(f"Nothing pending for {node}.", title="Pull", timeout=3)
        return
    message = where.row(pulled)
    table = pane.message_table
    if table.status not in (None, MessageStatus.PROCESSING):
        # The pulled message must be seen: show every status rather than hide it.
        table.status = None
        table.refill()
    pane.apply(message)
    table.select_when_shown(message.id)
    table.refill()
    if pane.detail_open:
        # Scirocco pulls the next pending message, never one chosen: the view moves to the
        # message pulled, and says so, lest the operator think the one open was pulled.
        shown = pane._shown_id
        await pane.open(message.id)
        whose = "this message" if shown == message.id else pane.describe(message)
        pane.notify(
            f"Pulled {whose} ({message.id[:8]}): the next pending one, now shown.",
            title="Pull",
            timeout=NOTICE_SECONDS,
        )


def not_ackable(pane: InboxPane, message: Message) -> None:
    """Say why ``message`` (not processing for this node) cannot be acked."""
    from console.tui.inbox.pane import NOTICE_SECONDS

    hint = "\np pulls the next pending one" if message.status is MessageStatus.PENDING else ""
    text = f"Only a processing message can be acked; this one is {message.status.value}.{hint}"
    pane.notify(text, title="Ack", severity="warning", timeout=NOTICE_SECONDS)
