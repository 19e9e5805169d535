"""What an adapter's ``watch()`` yields, and the waits between reconnections.

Data only, with no network stack behind it: the console's panes and the fleet import
these at start-up, before any agent is reached (``watch`` holds the reconnecting loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")

RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)
"""Seconds between attempts to reach a dropped stream again; the last one repeats."""


@dataclass(frozen=True)
class Resync(Generic[Item]):
    """Everything as it stands now; ``live`` False when no changes will follow (an older agent)."""

    items: Sequence[Item]
    live: bool = True
    left_out: int = 0
    """More there were than ``items``: left out of the listing (an agent's byte budget)."""


@dataclass(frozen=True)
class Listing(Generic[Item]):
    """What a listing gave, and how many more it left out (0: none)."""

    items: Sequence[Item]
    left_out: int = 0


@dataclass(frozen=True)
class Upsert(Generic[Item]):
    """One thing is new or changed."""

    item: Item


@dataclass(frozen=True)
class Removed:
    """One thing is gone (``key``, as the adapter keys its items); all of them when None."""

    key: str | None


@dataclass(frozen=True)
class Offline:
    """The stream dropped: what was shown is stale; a ``Resync`` follows once it is back."""

    reason: str


Change = Resync[Item] | Upsert[Item] | Removed | Offline
"""One element of a ``watch()`` stream."""


class Backoff:
    """The waits between attempts to reach a stream again: short at first, then longer."""

    def __init__(self) -> None:
        self.attempt = 0

    def reset(self) -> None:
        """The stream works again: the next drop starts from the shortest wait."""
        self.attempt = 0

    async def wait(self) -> None:
        """Sleep before the next attempt (0.2 s, then up to 5 s)."""
        await asyncio.sleep(RECONNECT_DELAYS[min(self.attempt, len(RECONNECT_DELAYS) - 1)])
        self.attempt += 1
