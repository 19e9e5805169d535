"""Errors of one kind logged once per interval, with a count, never once per event.

A flood of one failure (``Too many open files`` on every accept, a malformed
request a second) used to write one line, or one traceback, per event: 159 MB
in 30 s. One filter on the agent's log handlers lets the first record of a kind
through, holds back the others for ``interval`` seconds, and says how many it
held back on the next one it lets through.
"""

from __future__ import annotations

import logging
import time

INTERVAL = 60.0
"""Seconds between two records of the same kind."""
MAX_KINDS = 1000
"""Kinds remembered; past this the oldest are forgotten (a log line, not memory, is lost)."""


class OncePerInterval(logging.Filter):
    """Lets one WARNING-or-worse record of each kind (logger + message template) through per
    ``interval`` seconds; lower levels always pass."""

    def __init__(self, interval: float = INTERVAL, level: int = logging.WARNING) -> None:
        super().__init__()
        self.interval = interval
        self.level = level
        self._kinds: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.level:
            return True
        verdict = getattr(record, "once_per_interval", None)
        if verdict is None:  # not yet judged by this filter on another handler
            verdict = record.once_per_interval = self._judge(record)
        return verdict

    def _judge(self, record: logging.LogRecord) -> bool:
        kind = (record.name, str(record.msg))
        now = time.monotonic()
        last, held = self._kinds.get(kind, (None, 0))
        if last is not None and now - last < self.interval:
            self._kinds[kind] = (last, held + 1)
            return False
        self._kinds.pop(kind, None)
        self._kinds[kind] = (now, 0)  # re-inserted: the dict's order is oldest first
        if len(self._kinds) > MAX_KINDS:
            del self._kinds[next(iter(self._kinds))]
        if held:
            record.msg = f"{record.msg} [{held} more like this in the last {now - last:.0f} s]"
        return True


def throttle_agent_logs(interval: float = INTERVAL) -> OncePerInterval:
    """Put one OncePerInterval on every handler the agent logs through (ours and uvicorn's)."""
    throttle = OncePerInterval(interval)
    for name in (None, "uvicorn", "uvicorn.error", "uvicorn.access", "asyncio"):
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(throttle)
    return throttle
