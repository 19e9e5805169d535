"""The console's panes: their ids and titles in tab order, and how each one is built.

Only the first pane (Scripts, the one shown at start) is built before the first
paint. The other four are imported and built just after it (``build_hidden_pane``):
they start hidden, and their modules, widgets and CSS are a fifth of what the
first paint would otherwise wait for (``opsconsole bench startup``). They are
built at once all the same, not when first shown, because they work unseen:
the Inbox counts waiting messages into its tab, Processes toasts a fatal process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
