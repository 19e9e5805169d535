"""The console's Textual app: a header with the panes and the agent's state, the panes, a footer.

The app paints at once and reaches the agent in a worker, so a slow or dead
agent never holds the screen; panes get the client when it is ready.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Static, Tab, Tabs

from console.models import AgentInfo, ConnectionState
from console.tui.messages import BackendFailed
from console.tui.scripts_pane import WIDE, ScriptsPane
from console.tui.themes import DEFAULT_THEME, load_themes
from console.tui.widgets.connection_indicator import ConnectionIndicator

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.connect import AgentConnector
    from console.tui.widgets.help_screen import KeyRow

PANES: dict[str, str] = {
    "scripts": "Scripts",
    "processes": "Processes",
    "modules": "Modules",
    "inbox": "Inbox",
    "hosts": "Hosts",
}
"""Pane id → title, in tab order; pane N is on key N."""

_COMING_SOON: dict[str, str] = {
    "processes": "Long-running processes from Procfiles, live log tails, restart/stop/start.",
    "modules": "Queue and pool services of modules with their live parameters.",
    "inbox": "Messages addressed to this node, with Ack; push and pull.",
    "hosts": "Remote machines over SSH: run and check commands, reach their agents.",
}


class ComingSoon(Static):
    """Stands in for a pane that is not built yet."""

    DEFAULT_CSS = """
    ComingSoon {
        width: 1fr;
        height: 1fr;
        content-align: center middle;
        text-align: center;
        color: $text-muted;
    }
    """


class OpsConsoleApp(App[None]):
    """The operator console, driving one agent through the connector it is given."""

    TITLE = "opsconsole"
    # Straight to the catalog: one focus change at startup instead of two.
    AUTO_FOCUS = "#catalog-table"

    CSS = """
    #top-bar { height: 2; background: $panel; }
    #top-bar Tabs { width: 1fr; height: 2; background: $panel; }
    #top-bar ConnectionIndicator { background: $panel; }
    #panes { height: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        # Hidden from the footer: the tabs already show each pane's number.
        Binding(
            "1",
            "show_pane('scripts')",
            "Panes",
            key_display="1-5",
            show=False,
            tooltip="switch pane (or click its tab)",
        ),
        *(
            Binding(str(number), f"show_pane('{pane}')", title, show=False)
            for number, (pane, title) in enumerate(PANES.items(), start=1)
            if number > 1
        ),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="this list of keys"),
        Binding("ctrl+r", "reconnect", "Reconnect", tooltip="reach the agent again"),
    ]

    def __init__(self, connector: AgentConnector, theme: str | None = None) -> None:
        super().__init__()
        self.connector = connector
        self.client: AgentClient | None = None
        self.agent_info: AgentInfo | None = None
        self.connection_state = ConnectionState.CONNECTING
        loaded = load_themes()
        for found in loaded.themes:
            self.register_theme(found)
        self._startup_warnings = list(loaded.problems)
        wanted = theme or DEFAULT_THEME
        if wanted not in self.available_themes:
            self._startup_warnings.append(f"unknown theme {wanted!r}; using the default")
            wanted = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
        self.theme = wanted

    def compose(self) -> ComposeResult:
        with Horizontal(id="top-bar"):
            yield Tabs(
                *(
                    Tab(f"{number} {title}", id=f"tab-{pane}")
                    for number, (pane, title) in enumerate(PANES.items(), start=1)
                )
            )
            yield ConnectionIndicator()
        with ContentSwitcher(id="panes", initial="scripts"):
            yield ScriptsPane(id="scripts")
            for pane, blurb in _COMING_SOON.items():
                yield ComingSoon(f"{PANES[pane]}\n\n{blurb}\n\ncoming soon", id=pane)
        yield Footer()

    def on_mount(self) -> None:
        indicator = self.query_one(ConnectionIndicator)
        indicator.description = self.connector.description
        for warning in self._startup_warnings:
            self.notify(warning, severity="warning", title="Themes")
        self.connect_agent()

    def on_resize(self, event: events.Resize) -> None:
        # The tabs need 53 columns; the indicator takes what is left, more on wide terminals.
        self.query_one(ConnectionIndicator).set_class(event.size.width >= WIDE, "-wide")

    async def on_unmount(self) -> None:
        # Stops a spawned agent (and its children) before the console exits.
        try:
            await self.connector.close()
        except Exception as exc:  # exiting anyway; a failed close must not hide the real exit
            self.log.error(f"closing the agent connection failed: {exc!r}")

    @property
    def scripts_pane(self) -> ScriptsPane:
        return self.query_one(ScriptsPane)

    # -- the agent -------------------------------------------------------------

    @work(group="connect", exclusive=True, exit_on_error=False)
    async def connect_agent(self) -> None:
        """Reach the agent (spawning it if that is the connector's way), then tell the panes."""
        indicator = self.query_one(ConnectionIndicator)
        if self.client is not None:
            self.client = None
            self.scripts_pane.set_client(None, None)
            await self.connector.close()
        self._set_state(ConnectionState.CONNECTING)
        indicator.url = indicator.node = ""
        try:
            client = await self.connector.connect()
            info = await client.info()
        except Exception as exc:
            from console.adapters.errors import BackendError

            message = exc.message if isinstance(exc, BackendError) else f"{exc!r}"
            self._set_state(ConnectionState.OFFLINE, message)
            self.scripts_pane.set_client(None, None)
            self.notify(f"{message}\nctrl+r retries.", title="Agent unreachable", severity="error")
            await self.connector.close()
            return
        self.client, self.agent_info = client, info
        indicator.url = info.url
        indicator.node = info.node_id or ""
        self._set_state(ConnectionState.CONNECTED)
        self.scripts_pane.set_client(client, info)

    def _set_state(self, state: ConnectionState, error: str = "") -> None:
        self.connection_state = state
        indicator = self.query_one(ConnectionIndicator)
        indicator.state = state
        indicator.error = error

    def on_backend_failed(self, message: BackendFailed) -> None:
        from console.adapters.errors import BackendError, Unavailable

        error = message.error
        text = error.message if isinstance(error, BackendError) else f"{error!r}"
        self.notify(text, title=message.doing, severity="error")
        if isinstance(error, Unavailable) and self.connection_state is ConnectionState.CONNECTED:
            self._set_state(ConnectionState.OFFLINE, text)

    # -- actions ---------------------------------------------------------------

    def action_reconnect(self) -> None:
        self.connect_agent()

    def action_show_pane(self, pane: str) -> None:
        self.query_one(Tabs).active = f"tab-{pane}"

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        if event.tab.id is None:
            return
        pane = event.tab.id.removeprefix("tab-")
        self.query_one("#panes", ContentSwitcher).current = pane
        if pane == "scripts":
            self.scripts_pane.focus_default()
        else:
            # Keep keys away from the hidden pane; on the tabs, left/right move between panes.
            self.query_one(Tabs).focus()

    @property
    def current_pane(self) -> str:
        return self.query_one("#panes", ContentSwitcher).current or "scripts"

    def action_help(self) -> None:
        from console.tui.widgets.help_screen import HelpScreen

        sections: list[tuple[str, list[KeyRow]]] = []
        if self.current_pane == "scripts":
            sections.append(("Scripts pane", self._key_rows(ScriptsPane.BINDINGS)))
            sections.append(
                (
                    "Tables and forms",
                    [
                        ("enter", "open the script under the cursor"),
                        ("enter", "in a param: next one; on the last one, run"),
                        ("enter", "on a past run: show its output"),
                    ],
                )
            )
        sections.append(
            (
                "Console",
                [
                    *self._key_rows(self.BINDINGS),
                    ("tab / ⇧tab", "move between parts of the pane"),
                    ("^p", "command palette: every action; open a script"),
                    ("^q", "quit"),
                ],
            )
        )
        self.push_screen(HelpScreen(f"Keys: {PANES[self.current_pane]}", sections))

    def _key_rows(self, bindings: Iterable[BindingType]) -> list[KeyRow]:
        rows: list[KeyRow] = []
        for binding in bindings:
            if not isinstance(binding, Binding):
                continue
            if binding.key_display:
                keys = binding.key_display
            else:
                keys = " / ".join(
                    self.get_key_display(Binding(key.strip(), binding.action))
                    for key in binding.key.split(",")
                )
            if binding.show or binding.key_display:
                rows.append((keys, binding.tooltip or binding.description))
        return rows

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for number, (pane, title) in enumerate(PANES.items(), start=1):
            yield SystemCommand(
                f"Show {title}",
                f"Switch to the {title} pane ({number})",
                partial(self.action_show_pane, pane),
            )
        yield SystemCommand("Help: keys", "List the keys of the current pane (?)", self.action_help)
        yield SystemCommand(
            "Reconnect",
            "Connect to the agent again, restarting a local one (ctrl+r)",
            self.action_reconnect,
        )
        for title, help_text, callback in self.scripts_pane.commands():
            yield SystemCommand(title, help_text, callback, discover=not title.startswith("Open"))
