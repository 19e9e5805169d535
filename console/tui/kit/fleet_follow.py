"""A pane in "all" scope: the one loop that applies a fleet feed's changes to a resource table.

The fleet's counterpart of ``ResourcePane.follow`` (one agent's feed): the same
hooks (``resync``, ``apply``, ``forget``, ``resynced``, ``changed``) see the merged
stream of ``fleet_feed.fleet_watch``, whose items carry their context. One agent
dropping greys its own rows (the items say ``online`` False) and is not the pane's
link dropping: the header is the fleet summary's business, not this loop's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

from console.adapters.watch import Offline, Removed, Resync, Upsert

if TYPE_CHECKING:
    from console.adapters.fleet import Fleet
    from console.adapters.fleet_feed import FleetItem
    from console.adapters.watch import Change
    from console.tui.kit.resource_table import ResourceTable


class FleetPane(Protocol):
    """What the loop asks of a pane (a ``ResourcePane`` has all of it, ``fleet`` included)."""

    fleet: Fleet | None

    def resync(self, items: Any, table: ResourceTable[Any]) -> None: ...

    def apply(self, item: Any, table: ResourceTable[Any] | None = None) -> None: ...

    def forget(self, key: str | None, table: ResourceTable[Any] | None = None) -> None: ...

    def resynced(self) -> None: ...

    def changed(self, key: str | None) -> None: ...


async def follow_fleet(
    pane: FleetPane,
    fleet: Fleet,
    table: ResourceTable[Any],
    changes: AsyncIterator[Change[FleetItem[Any]]],
) -> None:
    """Apply ``changes`` to ``table`` for as long as ``pane.fleet`` is ``fleet``; the table's
    note says how many agents' rows are stale."""
    async for change in changes:
        if pane.fleet is not fleet:
            return
        match change:
            case Resync(items):
                pane.resync(items, table)
                table.set_note(stale_note({i.context for i in items if not i.online}))
                table.set_stale(False)
                pane.resynced()
                pane.changed(None)
            case Upsert(item):
                pane.apply(item, table)
            case Removed(key):
                pane.forget(key, table)
            case Offline():  # not from a merged feed; kept for a feed that says it anyway
                table.set_stale(True)


def stale_note(offline: set[str]) -> str:
    """The count's note in "all" scope: which agents' rows are greyed, "" when none."""
    if not offline:
        return ""
    names = sorted(offline)
    shown = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
    return f"offline: {shown}"
