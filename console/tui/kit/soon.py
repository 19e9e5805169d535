"""One call made a little later for many asks: a burst of changes costs one update."""

from __future__ import annotations

from collections.abc import Callable

from textual.timer import Timer
from textual.widget import Widget


class Soon:
    """Calls ``callback`` ``delay`` seconds after the first ``ask``; asks meanwhile join it.

    The callback itself should call ``done()`` first, so that when it is called
    directly (a flush on demand) the pending timer does not call it again.
    """

    def __init__(self, widget: Widget, delay: float, callback: Callable[[], object]) -> None:
        self._widget = widget
        self._delay = delay
        self._callback = callback
        self._timer: Timer | None = None

    def ask(self) -> None:
        if self._timer is None:
            self._timer = self._widget.set_timer(self._delay, self._callback)

    @property
    def pending(self) -> bool:
        """True between an ``ask`` and the call."""
        return self._timer is not None

    def done(self) -> None:
        """The call is being made: forget the timer (stopping it if it has not fired)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
