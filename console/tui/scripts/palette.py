"""The Scripts pane's entries in the command palette and its rows on the ``?`` screen, in
either scope (one context, or "all" with ``FleetScripts``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from console.tui.kit.pane import Command, HelpSection, pane_help

if TYPE_CHECKING:
    from console.tui.scripts.pane import ScriptsPane

ENTER_ROWS = [
    ("enter", "open the script under the cursor"),
    ("enter", "in a param: next one; on the last one, run"),
]


def help_sections(pane: ScriptsPane) -> list[HelpSection]:
    """The pane's keys, then what enter does where."""
    fleet_view = pane.fleet_view
    if fleet_view is not None:
        rows = [*ENTER_ROWS, ("space", "mark a host's row: the run goes to every host marked")]
        return [*fleet_view.help_sections(), ("Scripts on every host", rows)]
    rows = [*ENTER_ROWS, ("enter", "on a past run: show its output")]
    return pane_help(pane, "Scripts pane", "Tables and forms", rows)


def commands(pane: ScriptsPane) -> Iterator[Command]:
    """The pane's actions, and one entry per script to open it."""
    fleet_view = pane.fleet_view
    if fleet_view is not None:
        yield from fleet_view.commands()
        return
    yield ("Scripts: filter", "Filter the catalog by name, description or tag", pane.action_filter)
    yield ("Scripts: reload catalog", "Ask the agent to re-read its scripts", pane.action_reload)
    if (view := pane.current_view) is not None:
        yield (f"Scripts: run {view.script.name}", "Run the open script", pane.action_run)
    for name, script in pane.scripts.items():
        yield (f"Open script {name}", script.description or "", _opener(pane, name))


def _opener(pane: ScriptsPane, name: str) -> Callable[[], object]:
    async def open_it() -> None:
        await pane.open_script(name)

    return open_it
