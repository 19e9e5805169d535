"""The Scripts pane: the catalog as a table (k9s-like `/` filter, `enter` drill in), one page
per opened script with its params form and live output, and the open script's run history.

At 80 columns the catalog and the script page take turns (escape goes back);
from 110 columns they sit side by side. Only the catalog is built at start:
the page side is built the first time a script is opened, so startup stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from typing import TYPE_CHECKING, ClassVar, cast

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, DataTable, Static

from console.models import AgentInfo, Script
from console.tui.kit.keys import focus_now
from console.tui.kit.messages import BackendFailed
from console.tui.kit.pane import Command, HelpSection
from console.tui.scripts import palette
from console.tui.scripts.catalog import ScriptCatalog

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.fleet import Fleet
    from console.tui.scripts.fleet_scripts import FleetScripts
    from console.tui.scripts.history import RunHistoryTable
    from console.tui.scripts.view import ScriptView

HISTORY_LIMIT = 50
HISTORY_FEATURE = "scripts.history"  # the name the agent's index gives its run history
WIDE = 110
"""From this many columns, catalog and script page sit side by side."""


class ScriptsPane(Horizontal):
    """Browse the agent's scripts, run one with params, watch its output, look back at runs."""

    DEFAULT_CSS = """
    ScriptsPane {
        ScriptCatalog { width: 1fr; }
        #detail { display: none; width: 1fr; }
        #views { height: 1fr; }
        #no-script { padding: 1 2; color: $text-muted; }
        #history-title { height: 1; padding: 0 1; background: $boost; color: $text-secondary; }
        #history { height: 7; }
        &.-detail-open ScriptCatalog { display: none; }
        &.-detail-open #detail { display: block; }
        &.-wide {
            ScriptCatalog { display: block; width: 50%; max-width: 72; }
            #detail { display: block; border-left: solid $panel-lighten-2; }
            #history { height: 10; }
        }
        &.-fleet > ScriptCatalog, &.-fleet > #detail { display: none; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", tooltip="filter the catalog: name, description, tag"),
        Binding("ctrl+j", "run", "Run", tooltip="run the open script (asks first if it should)"),
        Binding("R,ctrl+l", "reload", "Reload", tooltip="have the agent re-read its scripts"),
        Binding("escape", "back", "Back", tooltip="clear the filter, or go back to the catalog"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.client: AgentClient | None = None
        self.info: AgentInfo | None = None
        self.views: dict[str, ScriptView] = {}
        self._view_ids = count(1)
        self.fleet: Fleet | None = None
        """Every agent at once while the scope is "all" (shown by ``fleet_view``)."""

    def compose(self) -> ComposeResult:
        yield ScriptCatalog()
        with Vertical(id="detail"):
            yield Static("Select a script and press enter.", id="no-script")

    def on_mount(self) -> None:
        self.catalog.set_status("connecting…")

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width >= WIDE, "-wide")

    # -- what the app tells us -------------------------------------------------

    def set_client(self, client: AgentClient | None, info: AgentInfo | None) -> None:
        """The app's agent changed (connected, or gone when None): show its catalog."""
        if self.fleet is not None:
            if client is None:
                return  # "all" scope: the fleet's catalogs stay
            self.set_fleet(None)
        self.client = client
        self.info = info
        if client is None:
            self.catalog.set_status("offline")
        else:
            self.load_catalog()

    def set_fleet(self, fleet: Fleet | None) -> None:
        """In "all" scope: every host's catalog, a run on the hosts chosen (``FleetScripts``);
        None: back to one context (``set_client`` follows)."""
        from console.tui.scripts.fleet_scripts import FleetScripts

        self.fleet = fleet
        self.query(FleetScripts).remove()
        self.set_class(fleet is not None, "-fleet")
        if fleet is not None:
            self.client = None
            self.mount(FleetScripts(fleet))

    @property
    def fleet_view(self) -> FleetScripts | None:
        """The "all" scope's view, while the scope is "all"."""
        from console.tui.scripts.fleet_scripts import FleetScripts

        found = self.query(FleetScripts)
        return found.first() if self.fleet is not None and found else None

    @property
    def catalog(self) -> ScriptCatalog:
        return self.query_one(ScriptCatalog)

    @property
    def scripts(self) -> dict[str, Script]:
        return self.catalog.scripts

    @property
    def table(self) -> DataTable:
        return self.catalog.table

    @property
    def has_history(self) -> bool:
        return self.info is not None and HISTORY_FEATURE in self.info.features

    @property
    def current_view(self) -> ScriptView | None:
        if not self.views:
            return None
        shown = self.query_one("#views", ContentSwitcher).visible_content
        return next((view for view in self.views.values() if view is shown), None)

    # -- catalog ---------------------------------------------------------------

    @work(group="catalog", exclusive=True, exit_on_error=False)
    async def load_catalog(self, reload: bool = False) -> None:
        """Fetch the catalog (after asking the agent to re-read its directory, on reload)."""
        from console.adapters.errors import BackendError

        client = self.client
        if client is None:
            return
        self.catalog.set_status("loading…")
        try:
            if reload:
                await client.scripts.reload()
            scripts = await client.scripts.list_scripts()
        except BackendError as exc:
            self.catalog.set_status("unavailable")
            self.post_message(BackendFailed(exc, "Reload scripts" if reload else "Load scripts"))
            return
        await self._catalog_loaded({s.name: s for s in scripts})
        if reload:
            self.notify(f"{len(scripts)} scripts", title="Catalog reloaded", timeout=3)

    async def _catalog_loaded(self, scripts: dict[str, Script]) -> None:
        self.catalog.show(scripts.values())
        self.catalog.set_note("")
        current = self.current_view
        for name, view in list(self.views.items()):
            if scripts.get(name) == view.script or view.running:
                continue
            # The script changed or went away: its page is rebuilt from the new header, or closed.
            del self.views[name]
            await view.remove()
            if view is current:
                if name in scripts:
                    await self.open_script(name, focus=False)
                else:
                    self._show_placeholder()
                    self.notify(f"{name!r} is no longer in the catalog", severity="warning")
        self.refresh_bindings()

    # -- opening a script ------------------------------------------------------

    @on(DataTable.RowSelected, "#catalog-table")
    async def _script_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            await self.open_script(event.row_key.value)

    async def open_script(self, name: str, focus: bool = True) -> None:
        """Show the page of a script (made on first open, kept after) and its history."""
        from console.tui.scripts.view import ScriptView

        script = self.scripts.get(name)
        if script is None:
            self.notify(f"no script named {name!r}", severity="error")
            return
        switcher = await self._detail_switcher()
        view = self.views.get(name)
        if view is None:
            view = ScriptView(script, id=f"script-view-{next(self._view_ids)}")
            self.views[name] = view
            await switcher.add_content(view)
        switcher.current = view.id
        self.add_class("-detail-open")
        self.catalog.move_to(name)
        if focus:
            view.focus_form()
        self.load_history(name)
        self.refresh_bindings()

    async def _detail_switcher(self) -> ContentSwitcher:
        """The page side, built on first use: a switcher of script pages, and the history."""
        from console.tui.scripts.history import RunHistoryTable

        found = self.query("#views")
        if found:
            return found.first(ContentSwitcher)
        detail = self.query_one("#detail", Vertical)
        placeholder = self.query_one("#no-script", Static)
        switcher = ContentSwitcher(id="views", initial="no-script")
        await detail.mount_all(
            [switcher, Static("History", id="history-title"), RunHistoryTable(id="history")]
        )
        await placeholder.remove()
        await switcher.add_content(Static("Select a script and press enter.", id="no-script"))
        return switcher

    def _show_placeholder(self) -> None:
        self.query_one("#views", ContentSwitcher).current = "no-script"
        self.history.show_records([])
        self.query_one("#history-title", Static).update("History")

    @property
    def history(self) -> RunHistoryTable:
        return cast("RunHistoryTable", self.query_one("#history"))

    # -- running ---------------------------------------------------------------

    def on_script_view_run_asked(self, event: ScriptView.RunAsked) -> None:
        event.stop()
        self.action_run()

    def action_run(self) -> None:
        view = self.current_view
        if view is None:
            self.notify("Open a script first (enter on the catalog).", severity="warning")
            return
        if self.client is None:
            self.notify("Not connected to an agent.", severity="error")
            return
        if view.running:
            self.notify(f"{view.script.name} is still running.", severity="warning")
            return
        scripts = self.client.scripts
        if not view.script.confirm:
            view.start_run(scripts)
            return
        from console.tui.kit.confirm_dialog import ConfirmDialog

        params = view.script.mask(view.form.values())
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "no params"
        question = f"Run {view.script.name} with {shown}?"

        def answered(yes: bool | None) -> None:
            if yes:
                view.start_run(scripts)

        self.app.push_screen(ConfirmDialog(question, title="Run script", yes_label="Run"), answered)

    def on_script_view_run_ended(self, event: ScriptView.RunEnded) -> None:
        event.stop()
        view = event.view
        if view is self.current_view:
            self.load_history(view.script.name)
        elif view.last_retcode is not None:
            self.notify(
                f"{view.script.name} finished: exit {view.last_retcode}",
                severity="information" if view.last_retcode == 0 else "warning",
            )

    # -- history ---------------------------------------------------------------

    @work(group="history", exclusive=True, exit_on_error=False)
    async def load_history(self, name: str) -> None:
        """Fill the history table with the recent runs of one script."""
        from console.adapters.errors import BackendError

        title = self.query_one("#history-title", Static)
        if self.client is None:
            return
        if not self.has_history:
            self.history.show_records([])
            title.update("History: this agent keeps no run history")
            return
        try:
            records = await self.client.scripts.history(name, HISTORY_LIMIT)
        except BackendError as exc:
            self.post_message(BackendFailed(exc, f"History of {name}"))
            return
        self.history.show_records(records)
        runs = {0: "no runs yet", 1: "1 run"}.get(len(records), f"last {len(records)} runs")
        title.update(f"History of {name}: {runs}")

    @on(DataTable.RowSelected, "#history")
    def _history_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.show_record(int(event.row_key.value))

    @work(group="record", exclusive=True, exit_on_error=False)
    async def show_record(self, run_id: int) -> None:
        """Fetch one past run and show its output over the pane."""
        from console.adapters.errors import BackendError
        from console.tui.scripts.record_screen import RunRecordScreen

        if self.client is None:
            return
        try:
            record = await self.client.scripts.run_record(run_id)
        except BackendError as exc:
            self.post_message(BackendFailed(exc, f"Run {run_id}"))
            return
        await self.app.push_screen(RunRecordScreen(record))

    # -- keys ------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "run":
            # Greyed out in the footer until there is something to run.
            return True if self.current_view is not None else None
        if action == "back":
            return self.has_class("-detail-open") or bool(self.catalog.filter_input.value)
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
        focus_now(self.table)
        self.refresh_bindings()

    def action_reload(self) -> None:
        if self.client is None:
            self.notify("Not connected to an agent.", severity="error")
            return
        self.load_catalog(reload=True)

    def focus_default(self) -> None:
        """Where the cursor goes when the pane is shown."""
        if (fleet_view := self.fleet_view) is not None:
            return fleet_view.focus_default()
        view = self.current_view
        if self.has_class("-detail-open") and view is not None:
            view.focus_form()
        else:
            self.table.focus()

    def help_sections(self) -> list[HelpSection]:
        """The pane's keys (those of "all" scope there), then what enter does where."""
        return palette.help_sections(self)

    def commands(self) -> Iterator[Command]:
        """Command palette entries: the pane's actions, and one per script to open it."""
        return palette.commands(self)
