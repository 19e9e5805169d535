"""The agent on a host, as the Hosts pane reaches it on ``c``: SshAgent settings from the host's
table, the question asked first, and the connector the app then drives."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.adapters.ssh import Host, SshHosts
    from console.adapters.ssh_agent import SshAgent

AGENT_OPTIONS: dict[str, type] = {
    "remote_port": int,
    "start": bool,
    "remote_command": str,
    "agent_args": list,
    "remote_log_dir": str,
}
"""Keys of a ``[hosts.NAME]`` table passed to SshAgent, with their types."""


def agent_options(name: str, table: Mapping[str, Any]) -> dict[str, Any]:
    """The SshAgent arguments a host's table gives; ValueError when one has the wrong type."""
    options: dict[str, Any] = {}
    for key, kind in AGENT_OPTIONS.items():
        if key not in table:
            continue
        value = table[key]
        wrong = not isinstance(value, kind) or (
            kind is list and not all(isinstance(item, str) for item in value)
        )
        if wrong:
            raise ValueError(f"[hosts.{name}] {key} should be a {kind.__name__}, not {value!r}")
        options[key] = value
    return options


def switch_question(host: Host, options: Mapping[str, Any]) -> str:
    """What the operator is asked before the console leaves its agent for the host's."""
    port = options.get("remote_port", 8470)
    start = " (started there if none answers)" if options.get("start", True) else ""
    return (
        f"Switch the console to the agent on {host.name} ({host}), port {port}{start}?\n\n"
        "Every pane then shows that agent. The console leaves the current one: "
        "a local agent it started is stopped, with its processes."
    )


def host_agent(
    ssh: SshHosts,
    host: Host,
    options: Mapping[str, Any],
    progress: Callable[[str], None] | None = None,
) -> SshAgent:
    """A connector to the agent on ``host``, over SSH connections of its own (same settings):
    closing the context later must not cut the commands the pane runs. ``progress`` hears
    each step of reaching (or starting) the agent."""
    from console.adapters.ssh_agent import SshAgent

    return SshAgent(ssh.sibling(), host, **options, progress=progress)
