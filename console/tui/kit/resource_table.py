"""The table every resource is shown in: a filter line with a count above rows of resources.

Written once (as k9s's browser view is) and declared per resource: a subclass
names its columns and says how one resource becomes a row (``cells``), what the
filter searches (``haystack``) and how rows are ordered (``sort_key``). The
width rule, the style cache, the cursor kept across refills, the count, and
the keys of the filter and the table live here only.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import ClassVar, Generic, TypeVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Input, Static

from console.tui.kit.cell_cache import CellCache
from console.tui.kit.keys import focus_now
from console.tui.kit.resource_grid import FilterInput, ResourceGrid
from console.tui.kit.rich_style import StyleCache
from console.tui.kit.soon import Soon

Item = TypeVar("Item")

__all__ = ["FilterInput", "ResourceGrid", "ResourceTable"]

MIN_LAST = 8
"""The last column (the one cut to the table's width) never gets fewer cells than this."""
HIDDEN_ROOM = 60
"""Room guessed for the last column while the table has no width (hidden): showing it refills."""


class ResourceTable(Vertical, Generic[Item]):
    """Resources keyed by a string, narrowed by the words typed in the filter line.

    Subclasses set ``COLUMNS`` (the last one is cut to the table's width),
    ``NOUN`` and ``PLACEHOLDER`` and define ``key_of``, ``cells`` and
    ``haystack``. Styles come from component classes named
    ``<STYLE_PREFIX>--<name>`` through ``style(name)``, resolved once per theme.
    """

    COLUMNS: ClassVar[tuple[str, ...]] = ()
    RIGHT_ALIGNED: ClassVar[frozenset[str]] = frozenset()
    FIXED_WIDTHS: ClassVar[dict[str, int]] = {}
    """Columns whose width never changes (so a tick or a restart never moves the layout)."""
    DROP_LAST_BELOW: ClassVar[int] = 0
    """With less room than this the last column is left out rather than cut (0: never)."""
    DROP_FIRST: ClassVar[tuple[str, ...]] = ()
    """Columns left out, in this order, while the last column would get fewer than
    ``LAST_ROOM`` cells: a narrow terminal loses the least needed, not the name."""
    LAST_ROOM: ClassVar[int] = 0
    NOUN: ClassVar[str] = "items"
    NOUN_ONE: ClassVar[str] = ""
    """``NOUN`` for exactly one ("1 message"); empty: ``NOUN`` whatever the count."""
    EMPTY_HINT: ClassVar[str] = ""
    """Said when there is nothing at all: how to make one ("n creates one")."""
    PLACEHOLDER: ClassVar[str] = "/ filter"
    SORT_REVERSE: ClassVar[bool] = False
    """True: rows in the reverse of ``sort_key``'s order (newest first, say)."""
    STYLE_PREFIX: ClassVar[str] = "resource-table"
    REFILL_DELAY: ClassVar[float] = 0.05
    """Seconds a change waits, so that a burst of changes lays the table out once."""
    FILTER_ID: ClassVar[str] = "resource-filter"
    COUNT_ID: ClassVar[str] = "resource-count"
    GRID_ID: ClassVar[str] = "resource-grid"

    DEFAULT_CSS = """
    ResourceTable {
        & > Horizontal { height: 1; background: $boost; }
        & > Horizontal > Input { width: 1fr; }
        & > Horizontal > .resource-count { width: auto; padding: 0 1; color: $text-muted; }
        & > DataTable { height: 1fr; scrollbar-size-vertical: 1; }
        &.-stale > DataTable { text-opacity: 50%; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: dict[str, Item] = {}
        self.note = ""
        """Said after the count: loading, offline, not live."""
        self.shown_columns: tuple[str, ...] = self.COLUMNS
        self._last_room = HIDDEN_ROOM
        self.style = StyleCache(self, f"{self.STYLE_PREFIX}--")
        self.kept_cells: CellCache[Item] = CellCache()
        """The Rich style of component class ``<STYLE_PREFIX>--<name>``, kept per theme."""
        self._refill_soon = Soon(self, self.REFILL_DELAY, self.refill)
        self._select_when_shown: str | None = None
        self.ready = False
        """Mounted: until then (a pane may build its parts when first shown) data is only kept."""

    # -- what a resource declares --------------------------------------------------------

    def key_of(self, item: Item) -> str:
        """The row key of a resource (unique in the table)."""
        raise NotImplementedError

    def cells(self, item: Item) -> dict[str, Text]:
        """The row of a resource by column; the last column's text whole (it is cut here)."""
        raise NotImplementedError

    def haystack(self, item: Item) -> str:
        """What the filter's words are looked for in."""
        raise NotImplementedError

    def sort_key(self, item: Item) -> Hashable:
        """Rows are shown in this order (default: by key)."""
        return self.key_of(item)

    def admits(self, item: Item) -> bool:
        """A filter besides the words (a status, say); True: every resource."""
        return True

    def columns_for(self, shown: list[Item]) -> tuple[str, ...]:
        """The columns for these rows (a column may go while no row needs it)."""
        return self.COLUMNS

    def header(self, column: str) -> Text:
        return Text(column, justify="right" if column in self.RIGHT_ALIGNED else "left")

    def count_text(self, shown: int, total: int, filtered: bool) -> str:
        """What the count says, before the note."""
        if total == 0 and not filtered and self.EMPTY_HINT:
            return f"no {self.NOUN} · {self.EMPTY_HINT}"
        if filtered:
            return f"{shown}/{total}"
        return f"{total} {self.NOUN_ONE if total == 1 and self.NOUN_ONE else self.NOUN}"

    def compose_status(self) -> ComposeResult:
        """Widgets between the filter and the count (a status switch, say)."""
        yield from ()

    # -- the widgets ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield FilterInput(placeholder=self.PLACEHOLDER, id=self.FILTER_ID)
            yield from self.compose_status()
            yield Static("", id=self.COUNT_ID, classes="resource-count")
        yield self.make_grid()

    def make_grid(self) -> ResourceGrid:
        return ResourceGrid(id=self.GRID_ID)

    def on_mount(self) -> None:
        self.ready = True
        # Data given before the table was mounted (a pane built lazily) is shown now.
        self.refill()
        # Cells hold Rich styles resolved from the theme: a new theme needs new cells.
        self.watch(self.app, "theme", lambda: self.call_after_refresh(self.refill), init=False)

    @property
    def table(self) -> ResourceGrid:
        return self.query_one(f"#{self.GRID_ID}", ResourceGrid)

    @property
    def filter_input(self) -> FilterInput:
        return self.query_one(f"#{self.FILTER_ID}", FilterInput)

    @property
    def words(self) -> list[str]:
        return self.filter_input.value.lower().split()

    @property
    def shown(self) -> list[str]:
        """The keys in the table, top to bottom."""
        return self.table.keys if self.ready else []

    @property
    def selected(self) -> Item | None:
        """The resource under the cursor."""
        key = self.selected_key
        return None if key is None else self.items.get(key)

    # -- what is shown ---------------------------------------------------------------------

    def show(self, items: Iterable[Item]) -> None:
        """Replace every resource (the filter stays as typed)."""
        self.items = {self.key_of(item): item for item in items}
        self.kept_cells.keep_only(self.items)
        self.refill()

    def upsert(self, item: Item) -> None:
        """Show a resource's new state: its cells change now, the layout soon after."""
        key = self.key_of(item)
        known = key in self.items
        self.items[key] = item
        if not self.ready:
            return
        if known and key in self.table.rows and self._wanted(key, item):
            self.update_row(item)
        elif known or self._wanted(key, item):
            self.refill_soon()

    def update_row(self, item: Item) -> None:
        """Put a resource's cells in its row now (the layout follows soon after)."""
        key = self.key_of(item)
        cells = self.cells(item)
        table = self.table
        for column in self.shown_columns:
            if column in cells:
                table.update_cell(key, column, self._cut(column, cells[column]))
        self.update_count()
        self.refill_soon()

    def remove(self, key: str) -> None:
        if self.items.pop(key, None) is not None:
            self.refill()

    @property
    def selected_key(self) -> str | None:
        return self.table.cursor_key if self.ready else None

    def set_note(self, *parts: str) -> None:
        """Say ``parts`` beside the count, the empty ones left out, joined by " · "."""
        self.note = " · ".join(part for part in parts if part)
        if self.ready:
            self.update_count()

    def set_stale(self, stale: bool) -> None:
        """Grey the rows: the agent can no longer vouch for them."""
        self.set_class(stale, "-stale")

    def move_to(self, key: str) -> None:
        table = self.table
        if key in table.rows:
            table.move_cursor(row=table.get_row_index(key))

    def select_when_shown(self, key: str) -> None:
        """Put the cursor on a resource now, or as soon as its row is made."""
        if key in self.table.rows:
            self.move_to(key)
        else:
            self._select_when_shown = key

    def refill_soon(self) -> None:
        self._refill_soon.ask()

    def refill(self) -> None:
        """Rebuild the rows from the resources, the filters and the table's width."""
        self._refill_soon.done()
        if not self.ready:
            return
        table = self.table
        current, cursor_row = table.cursor_key, table.cursor_row
        words = self.words
        shown = sorted(
            (item for key, item in self.items.items() if self._wanted(key, item, words)),
            key=self.sort_key,
            reverse=self.SORT_REVERSE,
        )
        columns = self.columns_for(shown)
        rows = [self.kept_cells.cells(self.key_of(item), item, self.cells) for item in shown]
        room = table.scrollable_content_region.width
        widths = self._widths(columns, rows, room)
        for column in self.DROP_FIRST:
            if room <= 0 or self._last_room >= self.LAST_ROOM:
                break
            if column in columns:
                columns = tuple(c for c in columns if c != column)
                widths = self._widths(columns, rows, room)
        if widths[-1] < self.DROP_LAST_BELOW:
            columns, widths = columns[:-1], widths[:-1]
        self.shown_columns = columns
        table.clear(columns=True)
        # Widths given, not measured: a table painted before it measures new rows (on idle)
        # could otherwise keep rows cut to the headers' widths.
        for column, width in zip(columns, widths, strict=True):
            table.add_column(self.header(column), key=column, width=width)
        for item, cells in zip(shown, rows, strict=True):
            row = [self._cut(column, cells[column]) for column in columns]
            table.add_row(*row, key=self.key_of(item))
        wanted = self._select_when_shown
        if wanted is not None and wanted in table.rows:
            self._select_when_shown = None
            self.move_to(wanted)
        elif current is not None and current in table.rows:
            self.move_to(current)
        elif table.row_count:
            # The selected resource went (deleted, filtered out): the cursor stays in place.
            table.move_cursor(row=min(cursor_row, table.row_count - 1))
        self.update_count()

    def refilter(self) -> None:
        """The filter's words changed: when the same rows stay (a word every row holds), only
        the count changes; else the rows are made again. Rebuilding 1,000 rows costs a
        keystroke far more than looking them over."""
        if self.ready and not self._refill_soon.pending:
            table = self.table
            words = self.words
            kept = [key for key, item in self.items.items() if self._wanted(key, item, words)]
            if len(kept) == table.row_count and all(key in table.rows for key in kept):
                self.update_count()
                return
        self.refill()

    def update_count(self) -> None:
        filtered = bool(self.words) or any(not self.admits(i) for i in self.items.values())
        text = self.count_text(self.table.row_count, len(self.items), filtered)
        self.query_one(f"#{self.COUNT_ID}", Static).update(
            f"{text} · {self.note}" if self.note else text
        )

    def _wanted(self, key: str, item: Item, words: list[str] | None = None) -> bool:
        """Shown under the filter (``words``: the filter's, when the caller has them)."""
        if not self.admits(item):
            return False
        haystack = self.kept_cells.words(key, item, self.haystack)
        return all(word in haystack for word in (self.words if words is None else words))

    def _widths(
        self, columns: tuple[str, ...], rows: list[dict[str, Text]], room: int
    ) -> list[int]:
        """Each column's width: fixed, or its widest cell or header; the last gets what is left."""
        widths = [
            self.FIXED_WIDTHS.get(column)
            or max([self.header(column).cell_len, *(row[column].cell_len for row in rows)])
            for column in columns
        ]
        used = sum(widths[:-1]) + 2 * len(columns) + 1
        self._last_room = max(room - used if room > 0 else HIDDEN_ROOM, MIN_LAST)
        widths[-1] = min(widths[-1], self._last_room)
        return widths

    def _cut(self, column: str, cell: Text) -> Text:
        if column != self.shown_columns[-1] or cell.cell_len <= self._last_room:
            return cell
        cell = cell.copy()
        cell.truncate(self._last_room, overflow="ellipsis")
        return cell

    # -- styles ---------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.style.clear()
        self.kept_cells.clear()

    def on_resize(self) -> None:
        # The last column is cut to the table's width, so a new width means new rows.
        if self.items:
            self.call_after_refresh(self.refill)

    # -- the filter's keys --------------------------------------------------------------

    @on(Input.Changed)
    def _filter_changed(self, event: Input.Changed) -> None:
        if event.input.id == self.FILTER_ID:
            event.stop()
            self.refilter()

    @on(Input.Submitted)
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != self.FILTER_ID:
            return
        event.stop()
        if self.screen.focused is self.table:
            # An enter typed right after the one that left the filter was meant for the
            # table: "/web⏎⏎" opens web. Selected from the table's own queue: a message sent
            # from here would stop bubbling here (Textual stops a message at its sender).
            self.table.call_next(self.table.action_select_cursor)
        else:
            focus_now(self.table)

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape" and self.filter_input.has_focus:
            # Escape leaves the filter for the rows, its words cleared.
            event.stop()
            event.prevent_default()
            self.filter_input.value = ""
            focus_now(self.table)

    def focus_filter(self) -> None:
        self.filter_input.wanted = True
        focus_now(self.filter_input)

    def focus_rows(self) -> Widget:
        focus_now(self.table)
        return self.table
