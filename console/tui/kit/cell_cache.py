"""A table's cells kept per row, so that a refill (each filter keystroke) only builds the
cells of resources that changed: 1,000 rows of Rich ``Text`` cost a keystroke ~0.2 s. The
words the filter looks in are kept the same way (an inbox row's preview decodes JSON)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import is_dataclass
from functools import cache
from typing import Generic, TypeVar

from rich.text import Text

Item = TypeVar("Item")


class CellCache(Generic[Item]):
    """Cells by row key, valid while the row's item is the very object they were made from.
    Only items of a frozen dataclass are kept (replaced, never changed in place, when their
    state changes); others (a host row updated in place) get new cells every time."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[Item, dict[str, Text]]] = {}
        self._words: dict[str, tuple[Item, str]] = {}

    def cells(
        self, key: str, item: Item, make: Callable[[Item], dict[str, Text]]
    ) -> dict[str, Text]:
        """``item``'s cells: kept ones, or ``make(item)``'s (then kept)."""
        kept = self._rows.get(key)
        if kept is not None and kept[0] is item:
            return kept[1]
        made = make(item)
        if _frozen(type(item)):
            self._rows[key] = (item, made)
        return made

    def words(self, key: str, item: Item, make: Callable[[Item], str]) -> str:
        """``item``'s haystack in lower case: kept, or ``make(item)``'s (then kept)."""
        kept = self._words.get(key)
        if kept is not None and kept[0] is item:
            return kept[1]
        made = make(item).lower()
        if _frozen(type(item)):
            self._words[key] = (item, made)
        return made

    def set_cell(self, key: str, column: str, cell: Text) -> None:
        """Keep a cell changed in the table since (an uptime's tick)."""
        kept = self._rows.get(key)
        if kept is not None:
            kept[1][column] = cell

    def keep_only(self, keys: Collection[str]) -> None:
        """Forget the rows not in ``keys`` (resources gone)."""
        self._rows = {key: kept for key, kept in self._rows.items() if key in keys}
        self._words = {key: kept for key, kept in self._words.items() if key in keys}

    def clear(self) -> None:
        """Forget every row (a new theme: new styles in every cell)."""
        self._rows.clear()
        self._words.clear()


@cache
def _frozen(kind: type) -> bool:
    return is_dataclass(kind) and kind.__dataclass_params__.frozen  # type: ignore[attr-defined]
