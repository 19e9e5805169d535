"""The console's Textual app: a header with the panes and the agent's state, the panes, a footer.

The app paints at once and reaches the agent in a worker, so a slow or dead
agent never holds the screen; panes get the client when it is ready. The first
paint waits for the Scripts pane alone: the other panes are built just after it
(``console.tui.panes``).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual import events, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Static, Tab, Tabs

from console.models import AgentInfo, ConnectionState
from console.tui import collector
from console.tui.contexts import SharedConnector
from console.tui.fleet_scope import SUMMARY_ID, MoreContexts
from console.tui.kit.connection_indicator import ConnectionIndicator
from console.tui.kit.messages import BackendFailed, LinkChanged
from console.tui.kit.pane import HelpSection, key_rows
from console.tui.panes import FIRST_PANE, PANES, PaneHost
from console.tui.scripts.pane import WIDE, ScriptsPane
from console.tui.themes import use_themes

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.connect import AgentConnector
    from console.adapters.ssh import SshHosts
    from console.tui.hosts.pane import HostsConfig, HostsPane
    from console.tui.inbox.pane import InboxPane
    from console.tui.processes.pane import ProcessesPane


class OpsConsoleApp(PaneHost):
    """The operator console, driving one agent through the connector it is given (its first
    context, ``name``), or every context at once ("all" scope, ``:``)."""

    TITLE = "opsconsole"
    # Straight to the catalog: one focus change at startup instead of two.
    AUTO_FOCUS = "#catalog-table"

    CSS = """
    #top-bar { height: 2; background: $panel; }
    #top-bar Tabs { width: 1fr; height: 2; background: $panel; }
    #top-bar ConnectionIndicator { background: $panel; }
    /* The agent is gone: the whole header says so, in red, from any pane. */
    #top-bar.-offline, #top-bar.-offline Tabs, #top-bar.-offline ConnectionIndicator {
        background: $error 35%;
    }
    /* At 80 columns the inbox count in its tab takes columns from the indicator. */
    #top-bar ConnectionIndicator.-inbox-count { max-width: 21; }
    #top-bar ConnectionIndicator.-inbox-count.-wide { max-width: 50%; }
    #panes { height: 1fr; }
    /* The fleet summary: one line under the panes, in "all" scope only. */
    #fleet-summary {
        height: 1; padding: 0 1; background: $boost; display: none; text-wrap: nowrap;
    }
    /* The one-line header above a log (a process's, the hosts' output). */
    .header-line {
        height: 1;
        padding: 0 1;
        background: $boost;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
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
        # Not in the footer (full at 80 columns): on ? and in the palette.
        Binding(
            "colon",
            "scope",
            "Scope",
            key_display=":",
            show=False,
            tooltip="one context, or all at once",
        ),
        Binding("ctrl+r", "reconnect", "Reconnect", tooltip="reach the agent again"),
        # In the footer only while the console drives another agent than its first (check_action).
        Binding("L", "back_to_first", "Local", tooltip="back to the first agent, from a host's"),
    ]

    def __init__(
        self,
        connector: AgentConnector,
        theme: str | None = None,
        hosts: HostsConfig | None = None,
        ssh: SshHosts | None = None,
        *,
        name: str = "local",
        more_contexts: MoreContexts | None = None,
    ) -> None:
        super().__init__(more_contexts)
        self.connector = self.contexts.add(name, connector)
        self.first_connector = self.connector
        """The context the console started on, to go back to after a switch."""
        self.hosts = hosts or {}
        self.ssh = ssh
        """The Hosts pane's SSH adapter; None: OpenSSH's defaults, made when first needed."""
        self.client: AgentClient | None = None
        self.agent_info: AgentInfo | None = None
        self._shown_pane: str | None = None
        """The pane last switched to (at once by its key, or when its tab was activated)."""
        self._startup_warnings = use_themes(self, theme)

    def compose(self) -> ComposeResult:
        with Horizontal(id="top-bar"):
            yield Tabs(
                *(
                    Tab(f"{number} {title}", id=f"tab-{pane}")
                    for number, (pane, title) in enumerate(PANES.items(), start=1)
                )
            )
            yield ConnectionIndicator()
        with ContentSwitcher(id="panes", initial=FIRST_PANE):
            yield ScriptsPane(id=FIRST_PANE)
        yield Static(id=SUMMARY_ID, markup=False)
        yield Footer()

    def on_mount(self) -> None:
        indicator = self.query_one(ConnectionIndicator)
        indicator.description = self.connector.description
        self.first_pane_built(self.scripts_pane)
        for warning in self._startup_warnings:
            self.notify(warning, severity="warning", title="Themes")
        self.call_after_refresh(self.after_first_paint)

    async def after_first_paint(self) -> None:
        """What waits for the first frame to be out: reaching the agent (spawning it forks
        this process), building the hidden panes, the garbage collector (``collector``).
        The agent first, as it takes longest."""
        self.connect_agent()
        await self.build_panes()
        collector.release()

    def on_resize(self, event: events.Resize) -> None:
        # The tabs need 53 columns; the indicator takes what is left, more on wide terminals.
        self.query_one(ConnectionIndicator).set_class(event.size.width >= WIDE, "-wide")
        self._fit_header()

    def _fit_header(self) -> None:
        # Tabs keep whole labels: when the fleet's counts widen them, the indicator gives way.
        room = self.size.width - sum(len(tab.label.plain) + 2 for tab in self.query(Tab))
        self.query_one(ConnectionIndicator).styles.max_width = max(room, 8) if room < 21 else None

    async def on_unmount(self) -> None:
        # Stops a spawned agent (and its children) before the console exits, once.
        await self.close_connections()

    @property
    def scripts_pane(self) -> ScriptsPane:
        return self.query_one(ScriptsPane)

    @property
    def processes_pane(self) -> ProcessesPane:
        from console.tui.processes.pane import ProcessesPane

        return self.query_one(ProcessesPane)

    def _tell_panes(self, client: AgentClient | None, info: AgentInfo | None) -> None:
        if self.fleet is not None:
            return  # the panes show every context; they get this one's when it is chosen
        for pane in self.panes.values():
            pane.set_client(client, info)

    # -- the agent -------------------------------------------------------------

    def switch_connector(self, connector: SharedConnector) -> None:
        """Drive another context (the current one stays connected, for "all"); panes follow."""
        self.choose_scope(connector.name)

    def on_hosts_pane_context_chosen(self, event: HostsPane.ContextChosen) -> None:
        # A host's agent becomes a context: driven now, or one more member of the fleet.
        shared = self.known_contexts().add(event.host, event.connector)
        if self.fleet is not None:
            if event.host not in self.fleet.members:
                self.fleet.add(event.host, shared)
            self.notify(f"{event.host} is in the fleet", title="Contexts", timeout=3)
        else:
            self.switch_connector(shared)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back_to_first":
            # Not in "all" scope: every context is shown there already (: picks one).
            return self.fleet is None and self.connector is not self.first_connector
        return True

    def action_back_to_first(self) -> None:
        self.switch_connector(self.first_connector)

    def on_inbox_pane_unacked_changed(self, event: InboxPane.UnackedChanged) -> None:
        # The tab says how many messages wait for an ack, so they are seen from any pane.
        if self.fleet is None:
            self.label_tab("inbox", event.count)

    def label_tab(self, pane: str, count: int) -> None:
        """A pane's tab with ``count`` after its title (waiting messages, fatal processes)."""
        number = list(PANES).index(pane) + 1
        shown = f" [bold $text-warning]({count})[/]" if count else ""
        if not self.query(f"#tab-{pane}"):
            return  # the console is closing: its tabs are gone
        self.query_one(f"#tab-{pane}", Tab).label = f"{number} {PANES[pane]}{shown}"
        if pane == "inbox":
            self.query_one(ConnectionIndicator).set_class(bool(count), "-inbox-count")
        self._fit_header()

    @work(group="connect", exclusive=True, exit_on_error=False)
    async def connect_agent(self, connector: SharedConnector | None = None) -> None:
        """Reach the agent (spawning it if that is the connector's way), then tell the panes;
        given another ``connector``, drive that one from then on (the current one stays
        connected: the fleet may use it); given none, reach the current one afresh."""
        indicator = self.query_one(ConnectionIndicator)
        if connector is not None and connector is not self.connector:
            self.connector = connector
            self.refresh_bindings()  # "back to the first agent" comes and goes
            self.client = None
            self._tell_panes(None, None)
            indicator.description = connector.description
            self._set_state(ConnectionState.CONNECTING)
        elif self.client is not None:
            self.client = None
            self._tell_panes(None, None)
            await self.connector.reset()
        self._set_state(ConnectionState.CONNECTING)
        indicator.url = indicator.node = ""
        try:
            client = await self.connector.connect()
            info = await client.info()
        except Exception as exc:
            from console.adapters.errors import BackendError

            message = exc.message if isinstance(exc, BackendError) else f"{exc!r}"
            self._set_state(ConnectionState.OFFLINE, message)
            self._tell_panes(None, None)
            self.notify(f"{message}\nctrl+r retries.", title="Agent unreachable", severity="error")
            await self.connector.reset()
            return
        self.client, self.agent_info = client, info
        indicator.url = info.url
        indicator.node = info.node_id or ""
        self._set_state(ConnectionState.CONNECTED)
        self._tell_panes(client, info)

    def _set_state(self, state: ConnectionState, error: str = "") -> None:
        self.connection_state = state
        if self.fleet is not None:
            return  # the header shows the fleet's state
        indicators = self.query(ConnectionIndicator)
        if not indicators:  # the app is closing: a late LinkChanged has no header to change
            return
        indicator = indicators.first()
        indicator.state = state
        indicator.error = error
        self.query_one("#top-bar").set_class(state is ConnectionState.OFFLINE, "-offline")

    def on_link_changed(self, message: LinkChanged) -> None:
        # A pane's feed is the agent's heartbeat: its drop turns the header red at once.
        if self.client is None or self.fleet is not None:
            return
        if not message.alive and self.connection_state is ConnectionState.CONNECTED:
            self._set_state(ConnectionState.OFFLINE, message.reason or "the agent went away")
        elif message.alive and self.connection_state is ConnectionState.OFFLINE:
            self._set_state(ConnectionState.CONNECTED)

    def on_backend_failed(self, message: BackendFailed) -> None:
        from console.adapters.errors import BackendError, Unavailable

        error = message.error
        text = error.message if isinstance(error, BackendError) else f"{error!r}"
        self.notify(text, title=message.doing, severity="error")
        if (
            isinstance(error, Unavailable)
            and self.fleet is None
            and self.connection_state is ConnectionState.CONNECTED
        ):
            self._set_state(ConnectionState.OFFLINE, text)

    # -- actions ---------------------------------------------------------------

    def action_reconnect(self) -> None:
        if self.fleet is not None:
            self.enter_fleet()  # every context afresh
        else:
            self.connect_agent()

    async def action_show_pane(self, pane: str) -> None:
        self.query_one(Tabs).active = f"tab-{pane}"
        # At once, not when TabActivated comes back: keys in the same write ("4pa") are
        # handled before it, and would go to the old pane.
        await self._show_pane(pane)

    async def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        if event.tab.id is None:
            return
        pane = event.tab.id.removeprefix("tab-")
        if pane != self._shown_pane:  # the first one, a click, or left/right on the tabs
            await self._show_pane(pane)

    async def _show_pane(self, pane: str) -> None:
        self._shown_pane = pane
        if pane not in self.panes:  # asked for in the moment before it was built
            await self.build_panes()
        self.query_one("#panes", ContentSwitcher).current = pane
        self.refocus()

    def refocus(self) -> None:
        shown = self.panes.get(self.current_pane)
        if shown is not None:
            shown.focus_default()
        else:
            # Keep keys away from the hidden pane; on the tabs, left/right move between panes.
            self.query_one(Tabs).focus()

    @property
    def current_pane(self) -> str:
        return self.query_one("#panes", ContentSwitcher).current or "scripts"

    def action_help(self) -> None:
        from console.tui.kit.help_screen import HelpScreen

        sections: list[HelpSection] = []
        shown = self.panes.get(self.current_pane)
        if shown is not None:
            sections.extend(shown.help_sections())
        sections.append(
            (
                "Console",
                [
                    *key_rows(self, self.BINDINGS),
                    ("tab / ⇧tab", "move between parts of the pane"),
                    ("^p", "command palette: every action, script, log"),
                    ("^q", "quit"),
                ],
            )
        )
        self.push_screen(HelpScreen(f"Keys: {PANES[self.current_pane]}", sections))

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
        first = self.first_connector
        if self.check_action("back_to_first", ()):
            yield SystemCommand(
                f"Back to {first.description}",
                "Switch the console back to the agent it started on",
                partial(self.switch_connector, first),
            )
        yield from self.scope_commands()
        panes = self.panes
        # The shown pane's commands first: they are the likeliest wanted.
        order = sorted(panes, key=lambda pane: pane != self.current_pane)
        for pane in order:
            for title, help_text, callback in panes[pane].commands():
                discover = not title.startswith("Open ")
                yield SystemCommand(title, help_text, callback, discover=discover)
