"""What the operator asks of the inbox beyond pull and ack: push a message, delete one or all.

Each asks first where something is lost, makes the call through the pane (its
confirm-call-report helper) and shows the answer there.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.models import Message
    from console.tui.inbox.pane import InboxPane


def push(pane: InboxPane) -> None:
    """Open the push form; a message pushed to this node is shown and selected."""
    from console.tui.inbox.push_form import PushMessageForm

    client = pane.connected()
    if client is None:
        return

    def pushed(message: Message | None) -> None:
        if message is None:
            return
        ours = message.node_destination == pane.node
        where = "" if ours else f" to {message.node_destination}"
        text = f"{message.topic or 'message'}{where}: {message.status.value}"
        pane.notify(text, title="Pushed", timeout=3)
        if ours:
            pane.apply(message)
            pane.message_table.select_when_shown(message.id)

    pane.app.push_screen(PushMessageForm(client.inbox, pane.node), pushed)


def delete(pane: InboxPane) -> None:
    """Delete the message the keys act on, once the operator confirms."""
    message, client = pane.current, pane.connected()
    if message is None or client is None:
        return
    message_id = message.id

    def deleted() -> None:
        if pane.detail_open and pane._shown_id == message_id:
            pane.close_detail()
        pane.notify("Message deleted.", timeout=3)

    about = f"{message.topic or 'the message'} from {message.node_source}"
    question = f"Delete {about}? It is {message.status.value}; it cannot be brought back."
    delete = partial(client.inbox.delete, message_id)
    pane.confirm_delete(message_id, question, "Delete message", delete, deleted)


def delete_all(pane: InboxPane) -> None:
    """Empty the agent's inbox (every node), once the operator confirms."""
    client = pane.connected()
    if client is None:
        return

    def deleted(count: int) -> None:
        if not pane.live:
            pane.forget(None)
        pane.notify(f"{count} messages deleted.", timeout=3)

    question = "Delete every message of the agent's inbox, for every node, acked or not?"
    delete_all = client.inbox.delete_all
    pane.confirm_call(question, "Delete all", "Empty the inbox", delete_all, deleted)
