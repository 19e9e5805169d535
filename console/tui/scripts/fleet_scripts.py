"""The Scripts pane in "all" scope: every agent's catalog in one table, a run on the hosts chosen.

Rows are ``CONTEXT/NAME`` (a script per host that has it), each with its host in the
context column. ``space`` marks rows; ``enter`` opens a script's page; a run goes to
the open row's host and the hosts of the rows of that script marked, after one
confirmation that lists the hosts and the params. Outputs stay apart as the Hosts
pane keeps its commands' (each line after its host's name), with a result per host.
A resource view like any other (``ResourcePane``): filter, back, reload, the feed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import ContentSwitcher

from console.adapters.fleet_feed import FleetItem, fleet_watch, listed
from console.models import Script
from console.tui.kit.fleet_rows import CONTEXT, FleetRows
from console.tui.kit.pane import Command
from console.tui.kit.resource_pane import ResourcePane
from console.tui.kit.resource_table import ResourceTable
from console.tui.scripts.catalog import MIN_DESCRIPTION, script_cells, script_words
from console.tui.scripts.fleet_run import FleetScriptView
from console.tui.scripts.view import ScriptView

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.changes import Change
    from console.adapters.fleet import Fleet

MARK = "●"


class FleetCatalog(FleetRows, ResourceTable[FleetItem[Script]]):
    """Every host's scripts, rows keyed ``CONTEXT/NAME``, by name then host."""

    COLUMNS = ("mark", CONTEXT, "name", "flags", "description")
    FIXED_WIDTHS: ClassVar[dict[str, int]] = {"mark": 1}
    DROP_LAST_BELOW = MIN_DESCRIPTION
    NOUN = "scripts"
    NOUN_ONE = "script"
    PLACEHOLDER = "/ filter by host, name, description or tag"
    FILTER_ID = "fleet-filter"
    COUNT_ID = "fleet-catalog-count"
    GRID_ID = "fleet-catalog-table"
    COMPONENT_CLASSES: ClassVar[set[str]] = {"fleet-catalog--mark"}
    STYLE_PREFIX = "fleet-catalog"
    DEFAULT_CSS = """
    FleetCatalog > .fleet-catalog--mark { color: $text-accent; text-style: bold; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.marked: set[str] = set()
        """Row keys marked with space: more hosts a run of their script goes to."""

    def sort_key(self, item: FleetItem[Script]) -> tuple[str, str]:
        return (item.item.name, item.context)

    def item_words(self, item: Script) -> str:
        return script_words(item)

    def header(self, column: str) -> Text:
        return Text("" if column == "mark" else column)

    def cells(self, item: FleetItem[Script]) -> dict[str, Text]:
        marked = MARK if item.fleet_key in self.marked else ""
        return {"mark": Text(marked, style=self.style("mark")), **super().cells(item)}

    def item_cells(self, item: Script) -> dict[str, Text]:
        return script_cells(item)

    def toggle(self, key: str) -> None:
        """Mark the row, or unmark it."""
        self.marked.symmetric_difference_update({key})
        # The mark is the table's, not the script's: the row's kept cells are stale.
        self.kept_cells.keep_only(self.items.keys() - {key})
        item = self.items.get(key)
        if item is not None:
            self.update_row(item)


class FleetScriptViews(ContentSwitcher):
    """The open scripts' pages, one shown: the pane's detail (found by this class)."""


class FleetScripts(ResourcePane[FleetItem[Script]]):
    """Every host's catalog, and the pages of the scripts opened, in "all" scope."""

    TABLE = FleetCatalog
    TITLE = "Scripts"
    DEFAULT_CSS = """
    FleetScripts { width: 1fr; height: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "mark", "Mark", tooltip="mark the row's host for a run (or unmark it)"),
        Binding("ctrl+j", "run", "Run", tooltip="run the open script on its hosts (asks)"),
    ]

    def __init__(self, fleet: Fleet, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.fleet = fleet
        self.views: dict[str, FleetScriptView] = {}
        self.open_key: str | None = None
        """The row whose page is open: its script, and one of the hosts it runs on."""

    def on_mount(self) -> None:
        super().on_mount()
        self.action_reload()

    @property
    def catalog(self) -> FleetCatalog:
        return self.query_one(FleetCatalog)

    @property
    def current_view(self) -> FleetScriptView | None:
        found = self.query_children(FleetScriptViews)
        shown = found.first().visible_content if found else None
        return shown if isinstance(shown, FleetScriptView) else None

    # -- the feed -------------------------------------------------------------------------

    def watch_fleet(
        self, fleet: Fleet, table: ResourceTable[Any]
    ) -> AsyncIterator[Change[FleetItem[Script]]]:
        return fleet_watch(fleet, _catalog_of, _name_of)

    def action_reload(self) -> None:
        """Read every host's catalog again (each once: a catalog has no events)."""
        if self.fleet is not None:
            self.workers.cancel_group(self, "feed")
            self.follow_fleet(self.fleet, self.catalog)

    def resynced(self) -> None:
        self.catalog.marked &= set(self.catalog.items)

    def changed(self, key: str | None) -> None:
        self._show_hosts()
        super().changed(key)

    # -- opening and running -----------------------------------------------------------

    async def open(self, key: str) -> None:
        """Show the page of a row's script (made on first open, kept after)."""
        row = self.catalog.items.get(key)
        if row is None:
            return
        switcher = await self.ensure_detail(FleetScriptViews)
        view = self.views.get(row.item.name)
        if view is None:
            view = FleetScriptView(row.item, id=f"fleet-view-{len(self.views) + 1}")
            self.views[row.item.name] = view
            await switcher.add_content(view)
        switcher.current = view.id
        self.open_key = key
        self.show_detail()
        self._show_hosts()

    def focus_detail(self, detail: Widget) -> None:
        view = self.current_view
        if view is not None:
            view.focus_form()

    def hosts(self) -> list[str]:
        """Where a run of the open script goes: the open row's host and the hosts of the rows
        of it marked, in the fleet's order."""
        view, rows, fleet = self.current_view, self.catalog.items, self.fleet
        if view is None or fleet is None:
            return []
        name = view.script.name
        keys = [*self.catalog.marked, self.open_key or ""]
        chosen = {rows[k].context for k in keys if k in rows and rows[k].item.name == name}
        return [context for context in fleet.members if context in chosen]

    def _show_hosts(self) -> None:
        view = self.current_view
        if view is not None and view.is_mounted:
            view.show_hosts(self.hosts())

    def action_mark(self) -> None:
        key = self.catalog.selected_key
        if key is not None:
            self.catalog.toggle(key)
            self._show_hosts()

    def on_script_view_run_asked(self, event: ScriptView.RunAsked) -> None:
        event.stop()
        self.action_run()

    def action_run(self) -> None:
        """Ask once, listing the hosts and the params; on yes, run on each of them."""
        from console.tui.kit.confirm_dialog import ConfirmDialog

        view, fleet, hosts = self.current_view, self.fleet, self.hosts()
        if view is None or fleet is None:
            self.notify("Open a script first (enter on the catalog).", severity="warning")
            return
        if view.running:
            self.notify(f"{view.script.name} is still running.", severity="warning")
            return
        if not hosts:
            self.notify("No host of this script is listed: reload (R).", severity="warning")
            return
        params = view.script.mask(view.form.values())
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "no params"
        question = f"Run {view.script.name} with {shown} on {len(hosts)}: {', '.join(hosts)}?"

        def answered(yes: bool | None) -> None:
            if yes and self.fleet is fleet:
                view.run_on(fleet, hosts)

        self.app.push_screen(ConfirmDialog(question, title="Run script", yes_label="Run"), answered)

    def on_script_view_run_ended(self, event: ScriptView.RunEnded) -> None:
        event.stop()  # a fleet run has results per host, not one agent's history

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "run":
            return True if self.current_view is not None else None
        return True

    def more_commands(self) -> Iterator[Command]:
        """The run of the open script, saying where it goes."""
        if (view := self.current_view) is not None:
            hosts = ", ".join(self.hosts())
            yield (f"Scripts: run {view.script.name}", f"on {hosts} (asks)", self.action_run)


def _catalog_of(client: AgentClient) -> AsyncIterator[Change[Script]]:
    return listed(client.scripts.list_scripts)


def _name_of(script: Script) -> str:
    return script.name
