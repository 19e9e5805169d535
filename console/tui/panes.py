"""The console's panes: their ids and titles in tab order, and how each one is built.

Only the first pane (Scripts, the one shown at start) is built before the first
paint. The other four are imported and built just after it (``PaneHost.build_panes``):
they start hidden, and their modules, widgets and CSS were some 50 ms of CPU of
the first paint, a sixth of it (``opsconsole bench startup``). They are
built at once all the same, not when first shown, because they work unseen:
the Inbox counts waiting messages into its tab, Processes toasts a fatal process.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

from textual.widgets import ContentSwitcher

from console.models import ConnectionState
from console.tui.fleet_scope import FleetScope, MoreContexts
from console.tui.kit.pane import Pane

if TYPE_CHECKING:
    from textual.widget import Widget

    from console.adapters.ssh import SshHosts
    from console.tui.hosts.reach import HostsConfig

PANES: dict[str, str] = {
    "scripts": "Scripts",
    "processes": "Processes",
    "modules": "Modules",
    "inbox": "Inbox",
    "hosts": "Hosts",
}
"""Pane id → title, in tab order; pane N is on key N."""

FIRST_PANE = "scripts"
"""The pane shown at start, built before the first paint."""

HIDDEN_PANES = tuple(pane for pane in PANES if pane != FIRST_PANE)
"""The panes built just after the first paint, in tab order."""


def build_hidden_pane(pane: str, hosts: HostsConfig, ssh: SshHosts | None) -> Widget:
    """A new pane widget for the hidden pane id ``pane`` (one of HIDDEN_PANES), its module
    imported now; ``hosts`` and ``ssh`` are the Hosts pane's. Raises KeyError for
    another id."""
    if pane == "processes":
        from console.tui.processes.pane import ProcessesPane

        return ProcessesPane(id=pane)
    if pane == "modules":
        from console.tui.modules.pane import ModulesPane

        return ModulesPane(id=pane)
    if pane == "inbox":
        from console.tui.inbox.pane import InboxPane

        return InboxPane(id=pane)
    if pane == "hosts":
        from console.tui.hosts.pane import HostsPane

        return HostsPane(hosts, ssh, id=pane)
    raise KeyError(pane)


class PaneHost(FleetScope):
    """An app whose panes are built in two steps: the first with the app, in the pane
    switcher ``#panes``, the hidden ones once, by ``build_panes``."""

    # What the app proper gives: the Hosts pane's configuration and SSH adapter.
    hosts: HostsConfig
    ssh: SshHosts | None

    def __init__(self, more_contexts: MoreContexts | None = None) -> None:
        super().__init__(more_contexts)
        self._built: dict[str, Pane] = {}
        self._building = asyncio.Lock()

    @property
    def panes(self) -> dict[str, Pane]:
        """The panes built so far, by id, in tab order."""
        return {pane: self._built[pane] for pane in PANES if pane in self._built}

    def first_pane_built(self, pane: Pane) -> None:
        """The first pane, composed with the app, is mounted."""
        self._built[FIRST_PANE] = pane

    async def build_panes(self) -> None:
        """Build the hidden panes, once: just after the first paint, or at once when one is
        to be shown before that. Each starts hidden and is told the scope and the agent as
        they stand (``_adopt``)."""
        async with self._building:
            missing = [pane for pane in HIDDEN_PANES if pane not in self._built]
            if not missing or not self.is_running:
                return
            widgets = [build_hidden_pane(pane, self.hosts, self.ssh) for pane in missing]
            for widget in widgets:
                widget.display = False
            await self.query_one("#panes", ContentSwitcher).mount_all(widgets)
            for pane, widget in zip(missing, widgets, strict=True):
                self._built[pane] = cast(Pane, widget)
                self._adopt(self._built[pane])

    def _adopt(self, pane: Pane) -> None:
        # What the panes built before it were told: the fleet, or the agent once it was
        # reached or lost (while connecting, the pane says so by itself).
        if self.fleet is not None:
            pane.set_fleet(self.fleet)
        elif self.client is not None or self.connection_state is ConnectionState.OFFLINE:
            pane.set_client(self.client, self.agent_info)
