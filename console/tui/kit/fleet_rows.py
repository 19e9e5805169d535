"""Rows of every agent in one table ("all" scope): the context column, stale rows greyed.

A table of ``FleetItem`` rows (one agent's resource, tagged with its context) mixes
``FleetRows`` in before ``ResourceTable`` and declares the one-agent cells and words
of an item (``item_cells``, ``item_words``); the row key (``CONTEXT/KEY``), the context
column, the filter on the context (``/web1``), greying the rows of an agent that cannot
be reached and naming it after the count are written here once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.style import Style
from rich.text import Text

if TYPE_CHECKING:
    from console.adapters.fleet_feed import FleetItem

CONTEXT = "context"
"""The column that says which agent a row is on."""
STALE_LOOK = "dim italic"
STALE = Style.parse(STALE_LOOK)
"""The look of a row its agent no longer vouches for (``STALE_LOOK`` for Content)."""
OFFLINE_WORDS = "agent offline: last seen so"
"""Said beside stale data: a greyed "running" could still be read as running."""
NAMED = 3
"""At most this many offline agents are named after the count; the rest are counted."""


def greyed(cells: dict[str, Text]) -> dict[str, Text]:
    """The cells of a stale row: each dimmed over its own colours."""
    stale = {}
    for column, cell in cells.items():
        cell = cell.copy()
        cell.stylize(STALE)
        stale[column] = cell
    return stale


def offline_note(contexts: Iterable[str]) -> str:
    """Said after the count while agents are offline: ``offline: db1, web2`` ("" when none)."""
    names = sorted(set(contexts))
    if not names:
        return ""
    more = f" +{len(names) - NAMED}" if len(names) > NAMED else ""
    return f"offline: {', '.join(names[:NAMED])}{more}"


class FleetRows:
    """Mixed in before ``ResourceTable`` by a table of ``FleetItem`` rows."""

    def item_cells(self, item: Any) -> dict[str, Text]:
        """One agent's row of ``item`` (the resource itself), by column."""
        raise NotImplementedError

    def item_words(self, item: Any) -> str:
        """What the filter looks for in ``item`` besides its context."""
        raise NotImplementedError

    def key_of(self, item: FleetItem[Any]) -> str:
        return item.fleet_key

    def haystack(self, item: FleetItem[Any]) -> str:
        return f"{item.context} {self.item_words(item.item)}"

    def cells(self, item: FleetItem[Any]) -> dict[str, Text]:
        cells = {CONTEXT: Text(item.context, style=Style(bold=True))}
        cells.update(self.item_cells(item.item))
        return cells if item.online else greyed(cells)

    def count_text(self, shown: int, total: int, filtered: bool) -> str:
        text: str = super().count_text(shown, total, filtered)  # type: ignore[misc]
        items: dict[str, FleetItem[Any]] = self.items  # type: ignore[attr-defined]
        note = offline_note(i.context for i in items.values() if not i.online)
        return f"{text} · {note}" if note else text
