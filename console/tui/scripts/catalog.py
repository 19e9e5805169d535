"""The script catalog as a table, with a filter line above it that narrows the rows as you type."""

from __future__ import annotations

from rich.text import Text

from console.models import Script
from console.tui.kit.resource_table import ResourceTable

# Description last: it is the one that gets cut, or left out, when the table is narrow.
COLUMNS = ("name", "flags", "tags", "description")
MIN_DESCRIPTION = 16


class ScriptCatalog(ResourceTable[Script]):
    """Rows keyed by script name; every word typed in the filter must match name, text or tag."""

    COLUMNS = COLUMNS
    DROP_LAST_BELOW = MIN_DESCRIPTION
    NOUN = "scripts"
    NOUN_ONE = "script"
    PLACEHOLDER = "/ filter by name, description or tag"
    FILTER_ID = "filter"
    COUNT_ID = "catalog-count"
    GRID_ID = "catalog-table"

    @property
    def scripts(self) -> dict[str, Script]:
        return self.items

    def key_of(self, item: Script) -> str:
        return item.name

    def sort_key(self, item: Script) -> int:
        # The agent's order (its catalog is sorted already): a stable sort keeps it.
        return 0

    def haystack(self, item: Script) -> str:
        return script_words(item)

    def cells(self, item: Script) -> dict[str, Text]:
        return script_cells(item)

    def set_status(self, text: str) -> None:
        """Say something after the count: loading, offline, ..."""
        self.set_note(text)


def script_cells(script: Script) -> dict[str, Text]:
    """A script's row: name, flags (lock, ask), tags, description."""
    # Text, not str: DataTable would read square brackets in a description as markup.
    flags = " ".join(
        flag for flag, is_set in (("lock", script.lock), ("ask", script.confirm)) if is_set
    )
    return {
        "name": Text(script.name, style="bold"),
        "flags": Text(flags),
        "tags": Text(", ".join(script.tags)),
        "description": Text(script.description or ""),
    }


def script_words(script: Script) -> str:
    """What the filter looks in: name, description, tags."""
    return " ".join([script.name, script.description or "", *script.tags])
