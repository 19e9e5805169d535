"""What the Processes pane does across hosts in "all" scope: restart a type everywhere.

One confirmation lists every process that will be touched, host by host (from the rows
the fleet shows now); the call goes to every host holding one at once
(``fleet_actions.control_type``: one bulk call per agent), and each host's result is
reported in one notification.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from console.adapters.fleet import FleetProcess
from console.models import ProcessStatus

if TYPE_CHECKING:
    from collections.abc import Iterator

    from console.adapters.fleet import Fleet
    from console.adapters.fleet_actions import HostResult
    from console.tui.kit.pane import Command
    from console.tui.processes.pane import ProcessesPane

LISTED_HOSTS = 8
"""Hosts listed one per line in the question; more are summed up in one line (80x24)."""


def status_of(item: ProcessStatus | FleetProcess) -> ProcessStatus:
    """A row's process status, in either scope."""
    return item.status if isinstance(item, FleetProcess) else item


def where_of(item: ProcessStatus | FleetProcess) -> str:
    """``CONTEXT: `` before a process's name in "all" scope, else nothing."""
    return f"{item.context}: " if isinstance(item, FleetProcess) else ""


def by_host(fleet: Fleet, process_type: str) -> tuple[dict[str, list[str]], list[str]]:
    """The slugs of ``process_type`` on each reachable host (hosts without one left out),
    and the hosts that have some but are offline now."""
    reachable: dict[str, list[str]] = {}
    offline: list[str] = []
    for row in fleet.rows():
        if row.status.process_type != process_type:
            continue
        if row.online:
            reachable.setdefault(row.context, []).append(row.status.slug)
        elif row.context not in offline:
            offline.append(row.context)
    return reachable, offline


def question(process_type: str, reachable: dict[str, list[str]], offline: list[str]) -> str:
    """The confirmation's text: each host and what of it is restarted."""
    count = sum(len(slugs) for slugs in reachable.values())
    hosts = len(reachable)
    lines = [
        f"Restart every {process_type!r} process: {count} on {hosts} "
        f"host{'s' if hosts != 1 else ''}?"
    ]
    width = max((len(name) for name in reachable), default=0)
    for name, slugs in list(reachable.items())[:LISTED_HOSTS]:
        lines.append(f"  {name:<{width}}  {' '.join(slugs)}")
    if hosts > LISTED_HOSTS:
        rest = list(reachable.values())[LISTED_HOSTS:]
        lines.append(f"  … and {len(rest)} more hosts, {sum(map(len, rest))} processes")
    if offline:
        lines.append(f"Left out, offline: {', '.join(offline)}")
    return "\n".join(lines)


def report(results: list[HostResult[list[ProcessStatus]]]) -> tuple[str, bool]:
    """One line per host (what it restarted, or why it failed); True when all went well."""
    lines = []
    for result in results:
        if result.ok:
            lines.append(f"{result.context}: {len(result.value or [])} restarted")
        else:
            lines.append(f"{result.context}: failed: {result.error}")
    return "\n".join(lines), all(result.ok for result in results)


def restart_type_everywhere(pane: ProcessesPane, fleet: Fleet, process_type: str) -> None:
    """Ask once (listing what is touched), then restart ``process_type`` on every host."""
    from console.adapters.fleet_actions import control_type

    reachable, offline = by_host(fleet, process_type)
    title = f"Restart {process_type} everywhere"
    if not reachable:
        pane.notify(f"No host that is up runs a {process_type!r} process.", title=title)
        return

    def done(results: list[HostResult[list[ProcessStatus]]]) -> None:
        text, ok = report(results)
        pane.notify(text, title=title, severity="information" if ok else "error", timeout=8)

    call = partial(control_type, fleet, "restart", process_type, list(reachable))
    pane.confirm_call(question(process_type, reachable, offline), "Restart all", title, call, done)


def fleet_commands(pane: ProcessesPane) -> Iterator[Command]:
    """Palette entries of the "all" scope: restart each process type on every host."""
    fleet = pane.fleet
    if fleet is None:
        return
    types = sorted({row.status.process_type for row in fleet.rows()})
    for process_type in types:
        yield (
            f"Processes: restart {process_type} on every host",
            "One confirmation listing what is touched (B on a row of that type)",
            partial(restart_type_everywhere, pane, fleet, process_type),
        )
