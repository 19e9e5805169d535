"""The Scripts pane in "all" scope: every agent's catalog in one table, a run on the hosts chosen.

Rows are ``CONTEXT/NAME`` (a script per host that has it), each with its host in the
context column. ``space`` marks rows; ``enter`` opens a script's page; a run goes to
the hosts whose rows of that script are marked (and the open row's host),
after one confirmation that lists the hosts and the params. Outputs stay apart as the
Hosts pane keeps its commands' (each line after its host's name), with a result per host.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, ContentSwitcher, DataTable, Static

from console.adapters.fleet_feed import FleetItem, fleet_watch, listed
from console.models import Script
from console.tui.kit.fleet_follow import follow_fleet
from console.tui.kit.keys import focus_now
from console.tui.kit.pane import Command
from console.tui.kit.resource_table import ResourceTable
from console.tui.scripts.catalog import MIN_DESCRIPTION, script_cells, script_words
from console.tui.scripts.fleet_run import FleetScriptView
from console.tui.scripts.params_form import ParamsForm
from console.tui.scripts.view import ScriptView

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.fleet import Fleet

MARK = "●"
WIDE = 110


class FleetCatalog(ResourceTable[FleetItem[Script]]):
    """Every host's scripts, rows keyed ``CONTEXT/NAME``; the filter matches the host too."""

    COLUMNS = ("mark", "context", "name", "flags", "description")
    FIXED_WIDTHS: ClassVar[dict[str, int]] = {"mark": 1}
    DROP_LAST_BELOW = MIN_DESCRIPTION
    NOUN = "scripts"
    NOUN_ONE = "script"
    PLACEHOLDER = "/ filter by host, name, description or tag"
    FILTER_ID = "fleet-filter"
    COUNT_ID = "fleet-catalog-count"
    GRID_ID = "fleet-catalog-table"
    COMPONENT_CLASSES: ClassVar[set[str]] = {"fleet-catalog--stale", "fleet-catalog--mark"}
    STYLE_PREFIX = "fleet-catalog"
    DEFAULT_CSS = """
    FleetCatalog {
        & > .fleet-catalog--stale { color: $text-disabled; text-style: italic; }
        & > .fleet-catalog--mark { color: $text-accent; text-style: bold; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.marked: set[str] = set()
        """Row keys marked with space: the hosts a run of their script goes to."""

    def key_of(self, item: FleetItem[Script]) -> str:
        return item.fleet_key

    def sort_key(self, item: FleetItem[Script]) -> tuple[str, str]:
        return (item.item.name, item.context)

    def haystack(self, item: FleetItem[Script]) -> str:
        return f"{item.context} {script_words(item.item)}"

    def header(self, column: str) -> Text:
        return Text("" if column == "mark" else column)

    def cells(self, item: FleetItem[Script]) -> dict[str, Text]:
        cells = script_cells(item.item)
        cells["context"] = Text(item.context, style=Style(bold=True))
        marked = MARK if item.fleet_key in self.marked else ""
        cells["mark"] = Text(marked, style=self.style("mark"))
        if not item.online:  # its agent cannot be reached: greyed, not run
            for text in cells.values():
                text.stylize(self.style("stale"))
        return cells

    def toggle(self, key: str) -> None:
        """Mark the row, or unmark it."""
        self.marked.symmetric_difference_update({key})
        item = self.items.get(key)
        if item is not None:
            self.update_row(item)


class FleetScripts(Horizontal):
    """Every host's catalog, and the pages of the scripts opened, in "all" scope."""

    DEFAULT_CSS = """
    FleetScripts {
        FleetCatalog { width: 1fr; }
        #fleet-detail { display: none; width: 1fr; }
        #fleet-no-script { padding: 1 2; color: $text-muted; }
        &.-detail-open FleetCatalog { display: none; }
        &.-detail-open #fleet-detail { display: block; }
        &.-wide {
            FleetCatalog { display: block; width: 50%; max-width: 80; }
            #fleet-detail { display: block; border-left: solid $panel-lighten-2; }
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "mark", "Mark", tooltip="mark the row's host for a run (or unmark it)"),
        Binding("slash", "filter", "Filter", tooltip="filter the catalog: host, name, tag"),
        Binding("ctrl+j", "run", "Run", tooltip="run the open script on the hosts marked (asks)"),
        Binding("R,ctrl+l", "reload", "Reload", tooltip="read every host's catalog again"),
        Binding("escape", "back", "Back", tooltip="clear the filter, or go back to the catalog"),
    ]

    def __init__(self, fleet: Fleet, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.fleet: Fleet | None = fleet
        self.views: dict[str, FleetScriptView] = {}
        self.open_key: str | None = None
        """The row whose page is open: its script, and its host when none is marked."""

    def compose(self) -> ComposeResult:
        yield FleetCatalog()
        with (
            Vertical(id="fleet-detail"),
            ContentSwitcher(id="fleet-views", initial="fleet-no-script"),
        ):
            yield Static("Select a script and press enter.", id="fleet-no-script")

    def on_mount(self) -> None:
        self.catalog.set_note("loading…")
        self.action_reload()

    def on_resize(self) -> None:
        self.set_class(self.size.width >= WIDE, "-wide")

    @property
    def catalog(self) -> FleetCatalog:
        return self.query_one(FleetCatalog)

    @property
    def current_view(self) -> FleetScriptView | None:
        shown = self.query_one("#fleet-views", ContentSwitcher).visible_content
        return shown if isinstance(shown, FleetScriptView) else None

    # -- the feed (the hooks ``follow_fleet`` calls) ------------------------------------

    def resync(self, items: Sequence[FleetItem[Script]], table: Any) -> None:
        self.catalog.show(items)

    def apply(self, item: FleetItem[Script], table: Any = None) -> None:
        self.catalog.upsert(item)

    def forget(self, key: str | None, table: Any = None) -> None:
        if key is None:
            self.catalog.show([])
        else:
            self.catalog.remove(key)

    def resynced(self) -> None:
        self.catalog.marked &= set(self.catalog.items)

    def changed(self, key: str | None) -> None:
        self._show_hosts()

    def action_reload(self) -> None:
        """Read every host's catalog again (each once: a catalog has no events)."""
        fleet = self.fleet
        if fleet is None:
            return
        self.workers.cancel_group(self, "feed")
        changes = fleet_watch(fleet, _catalog_of, _name_of)
        self.run_worker(
            follow_fleet(self, fleet, self.catalog, changes), group="feed", exit_on_error=False
        )

    # -- opening and running -----------------------------------------------------------

    @on(DataTable.RowSelected, "#fleet-catalog-table")
    async def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            await self.open(str(event.row_key.value))

    async def open(self, key: str) -> None:
        """Show the page of a row's script (made on first open, kept after)."""
        row = self.catalog.items.get(key)
        if row is None:
            return
        switcher = self.query_one("#fleet-views", ContentSwitcher)
        view = self.views.get(row.item.name)
        if view is None:
            view = FleetScriptView(row.item, id=f"fleet-view-{len(self.views) + 1}")
            self.views[row.item.name] = view
            await switcher.add_content(view)
        switcher.current = view.id
        self.open_key = key
        self.add_class("-detail-open")
        self._show_hosts()
        view.focus_form()
        self.refresh_bindings()

    def hosts(self) -> list[str]:
        """Where a run of the open script goes: the open row's host and the hosts of the rows
        of it marked, in the fleet's order."""
        view, rows, fleet = self.current_view, self.catalog.items, self.fleet
        if view is None or fleet is None:
            return []
        keys = [*self.catalog.marked, self.open_key or ""]
        chosen = {
            rows[k].context for k in keys if k in rows and rows[k].item.name == view.script.name
        }
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

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "run":
            event.stop()
            self.action_run()

    def on_params_form_submitted(self, event: ParamsForm.Submitted) -> None:
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
            self.notify("No host has this script: mark a row of it (space).", severity="warning")
            return
        params = view.script.mask(view.form.values())
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "no params"
        question = f"Run {view.script.name} with {shown} on {len(hosts)}: {', '.join(hosts)}?"

        def answered(yes: bool | None) -> None:
            if yes and self.fleet is fleet:
                view.run_on(fleet, hosts)

        self.app.push_screen(ConfirmDialog(question, title="Run script", yes_label="Run"), answered)

    def on_script_view_run_ended(self, event: ScriptView.RunEnded) -> None:
        event.stop()

    # -- keys ----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "run":
            return True if self.current_view is not None else None
        return True

    def action_filter(self) -> None:
        self.remove_class("-detail-open")
        self.catalog.focus_filter()

    def action_back(self) -> None:
        filter_input = self.catalog.filter_input
        if self.has_class("-detail-open") and not filter_input.has_focus:
            self.remove_class("-detail-open")
        elif filter_input.value:
            filter_input.value = ""
        focus_now(self.catalog.table)
        self.refresh_bindings()

    def focus_default(self) -> None:
        view = self.current_view
        if self.has_class("-detail-open") and view is not None:
            view.focus_form()
        else:
            focus_now(self.catalog.table)

    def commands(self) -> Iterator[Command]:
        """Palette entries of "all" scope: filter, reload, run the open script."""
        yield ("Scripts: filter", "Filter every host's catalog", self.action_filter)
        yield ("Scripts: reload catalogs", "Read every host's catalog again", self.action_reload)
        if (view := self.current_view) is not None:
            hosts = ", ".join(self.hosts())
            yield (f"Scripts: run {view.script.name}", f"on {hosts} (asks)", self.action_run)


def _catalog_of(client: AgentClient) -> Any:
    return listed(client.scripts.list_scripts)


def _name_of(script: Script) -> str:
    return script.name
