"""A process's recent output: numbered lines in a bounded ring, and the readers that follow it.

Every line gets a sequence number, so a reader that reconnects asks for what
it missed (``since``) and gets it with no gap and no duplicate, as long as the
ring still holds it; when it does not, or a reader is too slow to keep up, the
reader is told exactly which lines it lost (a ``LogGap``) instead of stalling
the child or the other readers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TextIO

from console.agent.disk import describe_full_disk, is_disk_full
from console.models import LogBatch, LogEvent, LogGap, Stream

log = logging.getLogger(__name__)

RING_LINES = 10_000
READER_LINES = 50_000
"""Lines a reader may fall behind by before its newest are dropped (and counted)."""


class LogReader:
    """One follower: replayed history, then live batches, through a bounded queue."""

    def __init__(self, log: ProcessLog, limit: int) -> None:
        self._log = log
        self._limit = limit
        self._queue: deque[LogEvent] = deque()
        self._queued_lines = 0
        self._ready = asyncio.Event()
        self.closed = False

    def offer(self, event: LogEvent) -> None:
        if isinstance(event, LogBatch) and self._queued_lines + len(event.lines) > self._limit:
            event = LogGap(event.seq, len(event.lines))
        if isinstance(event, LogGap):
            last = self._queue[-1] if self._queue else None
            if isinstance(last, LogGap) and last.seq + last.count == event.seq:
                self._queue[-1] = LogGap(last.seq, last.count + event.count)
            else:
                self._queue.append(event)
        else:
            self._queue.append(event)
            self._queued_lines += len(event.lines)
        self._ready.set()

    def finish(self) -> None:
        """The process is gone: the reader ends once it has read what is queued."""
        self.closed = True
        self._ready.set()

    def close(self) -> None:
        """The follower left: stop queueing for it."""
        self.finish()
        self._log.readers.discard(self)

    async def __aiter__(self) -> AsyncIterator[LogEvent]:
        try:
            while True:
                while not self._queue:
                    if self.closed:
                        return
                    self._ready.clear()
                    await self._ready.wait()
                event = self._queue.popleft()
                if isinstance(event, LogBatch):
                    self._queued_lines -= len(event.lines)
                yield event
        finally:
            self.close()


class ProcessLog:
    """The ring of recent batches of one process, across all its restarts."""

    def __init__(self, ring_lines: int = RING_LINES, reader_lines: int = READER_LINES) -> None:
        self.ring_lines = ring_lines
        self.reader_lines = max(reader_lines, ring_lines)
        self._batches: deque[LogBatch] = deque()
        self._held = 0
        self.next_seq = 0
        self.readers: set[LogReader] = set()
        self.file: RotatingFile | None = None

    @property
    def first_seq(self) -> int:
        return self._batches[0].seq if self._batches else self.next_seq

    def append(self, stream: Stream, lines: list[str]) -> LogBatch:
        batch = LogBatch(self.next_seq, time.time(), stream, lines)
        self.next_seq = batch.end
        self._batches.append(batch)
        self._held += len(lines)
        while self._held - len(self._batches[0].lines) >= self.ring_lines:
            self._held -= len(self._batches.popleft().lines)
        for reader in self.readers:
            reader.offer(batch)
        if self.file is not None:
            self.file.write(batch)
        return batch

    def held(self, since: int | None = None) -> list[LogEvent]:
        """What the ring holds from ``since`` on, led by a gap for what it no longer has."""
        since = self.first_seq if since is None or since > self.next_seq else since
        events: list[LogEvent] = []
        if since < self.first_seq:
            events.append(LogGap(since, self.first_seq - since))
        for batch in self._batches:
            if batch.end <= since:
                continue
            if batch.seq < since:
                batch = LogBatch(since, batch.ts, batch.stream, batch.lines[since - batch.seq :])
            events.append(batch)
        return events

    def follow(self, since: int | None = None) -> LogReader:
        """A reader that gets the held lines from ``since``, then every new one."""
        reader = LogReader(self, self.reader_lines)
        for event in self.held(since):
            reader.offer(event)
        self.readers.add(reader)
        return reader

    def close(self) -> None:
        for reader in list(self.readers):
            reader.finish()
        if self.file is not None:
            self.file.close()


class RotatingFile:
    """Appends log lines to ``path``; past ``max_bytes`` it shifts to ``path.1`` .. ``path.N``."""

    def __init__(self, path: Path, max_bytes: int = 10 << 20, keep: int = 3) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: TextIO | None = path.open("a", encoding="utf-8", errors="replace")
        self._size = path.stat().st_size
        self.unwritten = 0
        """Lines left out of the file since the disk filled up."""

    def write(self, batch: LogBatch) -> None:
        """Append ``batch``; on a full disk the lines are left out of the file (the log in
        memory keeps them), counted, and the count written once the disk has room again."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(batch.ts))
        tag = "err" if batch.stream is Stream.STDERR else "out"
        text = "".join(f"{stamp} {tag} {line}\n" for line in batch.lines)
        if self.unwritten:
            text = f"{stamp} opsconsole {self.unwritten} lines not written (disk full)\n{text}"
        try:
            if self._handle is None:
                self._handle = self.path.open("a", encoding="utf-8", errors="replace")
            self._handle.write(text)
            self._handle.flush()  # a batch at a time: `tail -f` of the file follows the process
        except OSError as exc:
            self.unwritten += len(batch.lines)
            why = describe_full_disk(self.path) if is_disk_full(exc) else exc
            log.warning("process log %s: lines left out: %s", self.path, why)
            self.close()  # the failed handle still holds what it could not write: drop it
            return
        self.unwritten = 0
        self._size += len(text)
        if self._size >= self.max_bytes:
            self._rotate()

    def _rotate(self) -> None:
        self.close()
        for index in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        self._size = 0
        with contextlib.suppress(OSError):  # else the next write tries again
            self._handle = self.path.open("a", encoding="utf-8", errors="replace")

    def close(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):  # text unwritten on a full disk: nowhere to go
                self._handle.close()
            self._handle = None
