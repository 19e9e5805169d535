"""Messages panes send up to the app."""

from __future__ import annotations

from textual.message import Message


class BackendFailed(Message):
    """An adapter call failed; the app tells the operator and marks the agent offline if gone."""

    def __init__(self, error: Exception, doing: str) -> None:
        super().__init__()
        self.error = error
        self.doing = doing
        """What was being done, as a notification title ("Run echo", "Load scripts")."""


class LinkChanged(Message):
    """A pane's feed dropped (``alive`` False) or came back: the app's header says so."""

    def __init__(self, alive: bool, reason: str = "") -> None:
        super().__init__()
        self.alive = alive
        self.reason = reason
