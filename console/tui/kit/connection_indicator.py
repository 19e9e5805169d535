"""The header's view of the agent: connecting, connected (where to) or offline (why)."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from console.models import ConnectionState

STATE_STYLE = {
    ConnectionState.CONNECTING: "$warning",
    ConnectionState.CONNECTED: "$success",
    ConnectionState.DEGRADED: "$warning",
    ConnectionState.OFFLINE: "$error",
}
"""The colour of each connection state, wherever one is shown."""


class ConnectionIndicator(Widget):
    """Shows the connection state on its first line and the agent's address (or error) below."""

    DEFAULT_CSS = """
    ConnectionIndicator {
        width: auto;
        max-width: 27;
        height: 2;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        &.-wide { max-width: 50%; }
    }
    """

    state: reactive[ConnectionState] = reactive(ConnectionState.CONNECTING, layout=True)
    description: reactive[str] = reactive("", layout=True)
    """Which agent this is, in words that stay the same between runs ("local agent")."""
    url: reactive[str] = reactive("", layout=True)
    node: reactive[str] = reactive("", layout=True)
    error: reactive[str] = reactive("", layout=True)

    def render(self) -> Content:
        style = STATE_STYLE[self.state]
        first = Content.assemble(
            ("● ", style), (self.state.value, f"bold {style}"), "  ", self.description
        )
        if self.state is ConnectionState.OFFLINE:
            second = Content.styled(self.error or "not connected", "$text-error")
        else:
            # The scheme is noise for plain HTTP; https stays visible because it matters.
            where = self.url.removeprefix("http://")
            node = f" · {self.node}" if self.node else ""
            second = Content.styled(where + node, "$foreground-muted")
        return Content("\n").join([first, second])
