"""The pane every resource lives in: a ResourceTable, the shared keys, a live feed, a detail.

A subclass says what is particular to its resource: its table (``resource_table``),
its feed (``watch``), what ``enter`` opens (``open``) and what ``ctrl+d`` deletes
(``delete``). Written here once: the keys ``/`` ``escape`` ``R`` ``ctrl+d``, the
palette entries and ``?`` rows made from the bindings, the events-feed worker,
the lazily built detail, the "not connected" notice, and confirm-call-report.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import DataTable

from console.tui.kit.agent_calls import AgentCalls
from console.tui.kit.keys import focus_now
from console.tui.kit.messages import BackendFailed, LinkChanged
from console.tui.kit.pane import (
    Command,
    HelpSection,
    binding_states,
    hidden,
    key_rows,
    parse_action,
)
from console.tui.kit.resource_table import ResourceTable

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.changes import Change
    from console.adapters.fleet import Fleet
    from console.models import AgentInfo

Item = TypeVar("Item")
Detail = TypeVar("Detail", bound=Widget)

ONE_CONTEXT = "this pane shows one context; press : to choose one"
"""What a pane without a fleet view says while the scope is "all"."""

TALL = 32
"""From this many rows, the table stays in view above an open detail."""


class ResourcePane(Vertical, AgentCalls, Generic[Item]):
    """A live table of one kind of resource, with the keys and habits every pane shares."""

    TABLE: ClassVar[type[ResourceTable[Any]]] = ResourceTable
    """The resource's table class: the pane starts with one of these."""
    TITLE: ClassVar[str] = "Resources"
    """The pane's name, as in its palette entries ("Processes: filter")."""
    ON_SELECTED: ClassVar[frozenset[str]] = frozenset()
    """Actions on the selected resource: their palette entries name it."""

    DEFAULT_CSS = """
    ResourcePane {
        & > ResourceTable { height: 1fr; }
        & > .resource-detail { display: none; }
        &.-detail-open {
            & > ResourceTable { display: none; }
            & > .resource-detail { display: block; }
            & > .resource-detail.-shelved { display: none; }
        }
        &.-detail-open.-tall {
            & > ResourceTable { display: block; height: auto; max-height: 40%; }
            & > ResourceTable > DataTable { height: auto; max-height: 12; }
            & > .resource-detail { border-top: solid $panel-lighten-2; }
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        # Not in the footer: the filter line above the table says "/ filter" already.
        hidden("slash", "filter", "Filter", "filter", "/"),
        hidden("R,ctrl+l", "reload", "Reload", "list everything again", "R / ^l"),
        Binding("escape", "back", "Back", show=False, tooltip="close, or clear the filter"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.client: AgentClient | None = None
        self.info: AgentInfo | None = None
        self.live = False  # while the table follows the agent's events
        self.fleet: Fleet | None = None
        """Every agent at once while the scope is "all"; None on one context."""
        self._detail: Widget | None = None
        self._key_states: tuple[bool | None, ...] = ()

    # -- what a resource declares ----------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.TABLE()

    @property
    def resource_table(self) -> ResourceTable[Item]:
        return self.query_one(self.TABLE)

    def watch_feed(
        self, client: AgentClient, table: ResourceTable[Any]
    ) -> AsyncIterator[Change[Any]]:
        """The adapter's typed stream of the resources ``table`` shows."""
        raise NotImplementedError

    async def open(self, key: str) -> None:
        """What enter on a row does (default: nothing)."""

    def resynced(self) -> None:
        """Everything was listed again (hook)."""

    def changed(self, key: str | None) -> None:
        """A resource changed (None: many): the keys in the footer may change with it."""
        self.refresh_keys()

    def refresh_keys(self) -> None:
        """The footer again when a key came or went (a redraw: tens of ms over 1,000 rows)."""
        states = binding_states(self, self._bindings_in_order())
        if states != self._key_states:
            self._key_states = states
            self.refresh_bindings()

    # -- the pane protocol ---------------------------------------------------------------

    @property
    def table(self) -> DataTable[Any]:
        return self.resource_table.table

    @property
    def selected(self) -> Item | None:
        return self.resource_table.selected

    def on_mount(self) -> None:
        self.resource_table.set_note("connecting…")

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.height >= TALL, "-tall")

    def set_client(self, client: AgentClient | None, info: AgentInfo | None) -> None:
        """The app's agent changed (connected, or gone when None): follow its resources."""
        self.client, self.info, self.live = client, info, False
        self.workers.cancel_group(self, "feed")
        for table in self.feed_tables():
            table.set_note("offline" if client is None else "loading…")
            table.set_stale(client is None)
            if client is not None:
                self.follow(client, table)

    def set_fleet(self, fleet: Fleet | None) -> None:
        """The scope became "all" (``fleet``) or went back to one context (None; then
        ``set_client`` follows). This default has no fleet view: in "all" the pane's rows
        go and its notice says so (``ONE_CONTEXT``)."""
        self.fleet = fleet
        if fleet is None:
            return
        self.client, self.info, self.live = None, None, False
        self.workers.cancel_group(self, "feed")
        for table in self.feed_tables():
            table.show([])
            table.set_stale(False)
            table.set_note(ONE_CONTEXT)

    def feed_tables(self) -> list[ResourceTable[Any]]:
        """The tables that each follow a feed (one, but for Modules: the queue and the pool)."""
        return [self.resource_table]

    def focus_default(self) -> None:
        """The open detail when there is one, else the table."""
        detail = self._detail
        if self.detail_open and detail is not None:
            self.focus_detail(detail)
        else:
            focus_now(self.table)

    def focus_detail(self, detail: Widget) -> None:
        focus_now(detail)

    def commands(self) -> Iterator[Command]:
        """Palette entries: one per binding with a tooltip, then the pane's own."""
        seen: set[str] = set()
        for bound in self._bindings_in_order():
            if isinstance(bound, Binding):
                if not bound.tooltip or bound.action in seen or bound.action == "back":
                    continue
                seen.add(bound.action)
                if self.check_action(*parse_action(bound.action)) is False:
                    continue
                key = bound.key_display or self.app.get_key_display(bound)
                title = f"{self.TITLE}: {bound.description.lower()}"
                if parse_action(bound.action)[0] in self.ON_SELECTED:
                    if self.selected is None:
                        continue
                    title += f" {self.describe(self.selected)}"
                title = self.command_title(parse_action(bound.action)[0], title)
                yield (title, f"{bound.tooltip} ({key})", partial(self.run_action, bound.action))
        yield from self.more_commands()

    def command_title(self, action: str, title: str) -> str:
        """The palette title of a binding's action (default: made from its description)."""
        return title

    def describe(self, item: Item) -> str:
        """A resource in a few words, for palette entries (default: its key)."""
        return self.resource_table.key_of(item)

    def more_commands(self) -> Iterator[Command]:
        """Palette entries beyond the bindings (one per resource to open, say)."""
        yield from ()

    def help_sections(self) -> list[HelpSection]:
        """The keys for ``?``: the pane's, then the table's own."""
        rows = key_rows(self.app, self._bindings_in_order())
        table_rows = [
            ("enter", "open the selected row"),
            ("j / k  g / G", "down, up, first, last (or the arrows, home, end)"),
            ("esc", "in the filter: clear it, back to the rows"),
        ]
        return [(f"{self.TITLE} table", [*rows, *table_rows])]

    def _bindings_in_order(self) -> list[BindingType]:
        found: list[BindingType] = []
        for cls in reversed(type(self).__mro__):
            found.extend(getattr(cls, "BINDINGS", []) if "BINDINGS" in cls.__dict__ else [])
        return found

    # -- the feed ----------------------------------------------------------------------------

    @work(group="feed", exit_on_error=False)
    async def follow(self, client: AgentClient, table: ResourceTable[Any]) -> None:
        """Apply the changes of a table's feed to it, for as long as the client is ours."""
        await self.apply_feed(client, self.watch_feed(client, table), table)

    def watch_fleet(self, fleet: Fleet, table: ResourceTable[Any]) -> AsyncIterator[Change[Any]]:
        """The fleet's merged stream of the resources ``table`` shows ("all" scope)."""
        raise NotImplementedError

    @work(group="feed", exit_on_error=False)
    async def follow_fleet(self, fleet: Fleet, table: ResourceTable[Any]) -> None:
        """``follow`` for the "all" scope: the fleet's merged feed, while it is ours."""
        await self.apply_feed(fleet, self.watch_fleet(fleet, table), table)

    async def apply_feed(
        self, source: object, feed: AsyncIterator[Change[Any]], table: ResourceTable[Any]
    ) -> None:
        """Apply ``feed``'s changes to ``table`` until ``source`` (a client, a fleet) is no
        longer the pane's."""
        from console.adapters.changes import Offline, Removed, Resync, Upsert
        from console.adapters.errors import AuthError, BackendError

        try:
            async for change in feed:
                if source is not (self.client if self.fleet is None else self.fleet):
                    return
                if isinstance(change, Resync):
                    self.live = change.live
                    self.resync(change.items, table)
                    table.set_note(
                        "" if change.live else "not live: R lists again",
                        f"{change.left_out} more not shown" if change.left_out else "",
                    )
                    table.set_stale(False)
                    self.post_message(LinkChanged(True))
                    self.resynced()
                    self.changed(None)
                elif isinstance(change, Upsert):
                    self.apply(change.item, table)
                elif isinstance(change, Removed):
                    self.forget(change.key, table)
                elif isinstance(change, Offline):
                    table.set_note("offline: reconnecting…")
                    table.set_stale(True)
                    self.post_message(LinkChanged(False, change.reason))
        except AuthError as exc:
            self.live = False
            table.set_note("no access: R retries")
            self.post_message(BackendFailed(exc, self.TITLE))
        except BackendError as exc:
            self.live = False
            table.set_note("not live: R lists again")
            self.post_message(BackendFailed(exc, f"{self.TITLE}: listing"))

    def resync(self, items: Sequence[Any], table: ResourceTable[Any]) -> None:
        """Show everything anew, as the feed listed it."""
        table.show(items)

    def apply(self, item: Any, table: ResourceTable[Any] | None = None) -> None:
        """Show one resource's new state (in ``table``; default: the pane's)."""
        table = table or self.resource_table
        table.upsert(item)
        self.changed(table.key_of(item))

    def forget(self, key: str | None, table: ResourceTable[Any] | None = None) -> None:
        """A resource went (None: all of them)."""
        table = table or self.resource_table
        if key is None:
            table.show([])
        else:
            table.remove(key)
        self.changed(key)

    # -- the detail ----------------------------------------------------------------------

    @property
    def detail_open(self) -> bool:
        return self.has_class("-detail-open")

    async def ensure_detail(self, make: type[Detail]) -> Detail:
        """The detail of class ``make``, made and mounted on first use (startup stays cheap),
        now the one ``show_detail`` shows: a pane may have several (a log, a description)."""
        detail = next(iter(self.query_children(make.__name__)), None)
        if detail is None:
            detail = make()
            detail.add_class("resource-detail")
            await self.mount(detail)
        for other in self.query_children(".resource-detail"):
            other.set_class(other is not detail, "-shelved")
        self._detail = detail
        return detail  # type: ignore[return-value]

    def show_detail(self) -> None:
        self.add_class("-detail-open")
        if self._detail is not None:
            self.focus_detail(self._detail)
        self.refresh_bindings()

    def close_detail(self) -> None:
        """Back to the table."""
        self.remove_class("-detail-open")
        focus_now(self.table)
        self.refresh_bindings()

    @property
    def narrow_detail(self) -> bool:
        """The detail hides the table (below TALL rows)."""
        return self.detail_open and not self.has_class("-tall")

    # -- the shared keys ---------------------------------------------------------------

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self.table:
            event.stop()
            self.refresh_keys()

    @on(DataTable.RowSelected)
    async def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table is self.table and event.row_key.value is not None:
            event.stop()
            await self.open(str(event.row_key.value))

    def action_filter(self) -> None:
        if self.narrow_detail:
            self.close_detail()
        self.resource_table.focus_filter()

    def action_back(self) -> None:
        if self.detail_open:
            self.close_detail()
            return
        self.resource_table.filter_input.value = ""
        focus_now(self.table)

    def action_reload(self) -> None:
        client = self.connected()
        if client is not None:
            self.set_client(client, self.info)

    # -- calls to the agent ---------------------------------------------------------------

    def connected(self) -> AgentClient | None:
        """The client, or None after telling the operator there is none."""
        if self.client is None:
            if self.fleet is not None:
                self.notify(ONE_CONTEXT.capitalize() + ".", severity="warning")
            else:
                self.notify("Not connected to an agent.", severity="error")
        return self.client

    def confirm_delete(
        self,
        key: str,
        question: str,
        doing: str,
        call: Callable[[], Awaitable[Any]],
        done: Callable[[], object],
    ) -> None:
        """``confirm_call`` that deletes ``key``: once it is gone, its row goes (the feed
        says so when live) and ``done()`` runs."""

        def deleted(_: object) -> None:
            if not self.live:
                self.forget(key)
            done()

        self.confirm_call(question, "Delete", doing, call, deleted)
