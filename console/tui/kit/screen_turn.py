"""Giving the screen its turn while a stream floods in.

A stream whose items are already buffered (a backlog, a burst of output) never waits, so a
worker reading it would keep the event loop until it ends, and nothing would paint meanwhile.
"""

from __future__ import annotations

import asyncio
import time

from console.tui.kit.log_view import FRAME


class ScreenTurn:
    """Call ``take()`` once per item read: it yields to the event loop every half frame."""

    def __init__(self) -> None:
        self._since = time.monotonic()

    async def take(self) -> None:
        """Let the screen paint if half a frame (FRAME / 2 s) has passed since it last could."""
        if time.monotonic() - self._since > FRAME / 2:
            await asyncio.sleep(0)
            self._since = time.monotonic()
