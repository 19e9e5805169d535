"""A process's recent output: numbered lines in a ring bounded in bytes, and the readers of it.

Every line gets a sequence number, so a reader that reconnects asks for what
it missed (``since``) and gets it with no gap and no duplicate, as long as the
ring still holds it; when it does not, or a reader falls more than its byte
budget behind, the reader is told exactly which lines it lost (a ``LogGap``)
instead of stalling the child or the other readers.

Lines are held as the bytes the child wrote (rendered by ``console.output``),
in segments of many lines, and decoded only on the way out: a line costs its
bytes, not a Python string. Budgets count a segment's bytes plus ``SEGMENT_COST``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import BinaryIO

from console.agent.disk import describe_full_disk, is_disk_full
from console.models import LogBatch, LogEvent, LogGap, LogPartial, Stream
from console.output.budget import DEFAULT_BUDGET, OutputBudget, give_back_memory
from console.output.lines import decode_lines

log = logging.getLogger(__name__)

TRIM_AFTER = 1 << 20
"""A reader that goes with this much queued hands the memory back to the system."""
SEGMENT_COST = 120
"""Bytes a segment costs beyond its text (its object, its bytes header, its deque slot)."""
MERGE_BELOW = 2048
MERGE_WITHIN = 1.0
"""A small segment of the same stream under a second old takes the next lines into itself,
so a child that writes a line at a time does not cost an object per line (the timestamp
of a batch is then its first line's, within a second)."""


class Segment:
    """Consecutive ``\\n``-ended lines of one stream: line ``i`` has sequence ``seq + i``."""

    __slots__ = ("count", "data", "seq", "stream", "ts")

    def __init__(self, seq: int, ts: float, stream: Stream, data: bytes, count: int) -> None:
        self.seq = seq
        self.ts = ts
        self.stream = stream
        self.data = data
        self.count = count

    @property
    def end(self) -> int:
        return self.seq + self.count

    @property
    def cost(self) -> int:
        return len(self.data) + SEGMENT_COST

    def batch(self, since: int | None = None) -> LogBatch:
        """The lines decoded, from sequence ``since`` (default: all)."""
        skip = 0 if since is None else max(0, since - self.seq)
        return LogBatch(self.seq + skip, self.ts, self.stream, decode_lines(self.data, skip))


Queued = Segment | LogGap | LogPartial


class LogReader:
    """One follower: replayed history, then live lines, through a queue bounded in bytes."""

    def __init__(self, log: ProcessLog, budget: int, partials: bool = False) -> None:
        self._log = log
        self._budget = budget
        self.partials = partials
        self._queue: deque[Queued] = deque()
        self._queued_bytes = 0
        self._skip: dict[int, int] = {}
        self._ready = asyncio.Event()
        self.closed = False

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def offer(self, item: Queued, since: int | None = None) -> None:
        if isinstance(item, LogPartial):
            if self.partials:
                self._queue.append(item)
                self._ready.set()
            return
        if isinstance(item, Segment) and self._queued_bytes + item.cost > self._budget:
            start = item.seq if since is None else max(item.seq, since)
            item = LogGap(start, item.end - start)
        if isinstance(item, LogGap):
            last = self._queue[-1] if self._queue else None
            if isinstance(last, LogGap) and last.end == item.seq:
                self._queue[-1] = LogGap(last.seq, last.count + item.count)
            else:
                self._queue.append(item)
        else:
            if since is not None and since > item.seq:
                self._skip[id(item)] = since
            self._queue.append(item)
            self._queued_bytes += item.cost
        self._ready.set()

    def finish(self) -> None:
        """The process is gone: the reader ends once it has read what is queued."""
        self.closed = True
        self._ready.set()

    def close(self) -> None:
        """The follower left: stop queueing for it, and let go of what it had queued."""
        self.finish()
        self._queue.clear()
        if self._queued_bytes >= TRIM_AFTER:
            give_back_memory()
        self._queued_bytes = 0
        self._log.readers.discard(self)

    async def __aiter__(self) -> AsyncIterator[LogEvent]:
        try:
            while True:
                while not self._queue:
                    if self.closed:
                        return
                    self._ready.clear()
                    await self._ready.wait()
                item = self._queue.popleft()
                if isinstance(item, Segment):
                    self._queued_bytes -= item.cost
                    yield item.batch(self._skip.pop(id(item), None) if self._skip else None)
                else:
                    yield item
        finally:
            self.close()


class ProcessLog:
    """The ring of recent lines of one process, across all its restarts, bounded in bytes."""

    def __init__(
        self, budget: OutputBudget = DEFAULT_BUDGET, share: Callable[[], int] | None = None
    ) -> None:
        self.budget = budget
        self._share = share
        """This ring's part of the budget of all rings, asked at each append."""
        self._segments: deque[Segment] = deque()
        self.held_bytes = 0
        self.next_seq = 0
        self.partials: dict[Stream, LogPartial] = {}
        self.readers: set[LogReader] = set()
        self.file: RotatingFile | None = None

    @property
    def first_seq(self) -> int:
        return self._segments[0].seq if self._segments else self.next_seq

    @property
    def capacity(self) -> int:
        """Bytes this ring may hold now: its own budget, or its share of all rings' if less."""
        share = self._share() if self._share is not None else self.budget.ring_bytes
        return max(min(self.budget.ring_bytes, share), 4096)

    def append(self, stream: Stream, block: bytes) -> None:
        """Add ``block``'s ``\\n``-ended lines (rendered by ``console.output.lines``)."""
        count = block.count(b"\n")
        if not count:
            return
        now = time.time()
        fresh = Segment(self.next_seq, now, stream, block, count)
        self.next_seq += count
        last = self._segments[-1] if self._segments else None
        if (
            last is not None
            and last.stream is stream
            and len(last.data) < MERGE_BELOW
            and now - last.ts < MERGE_WITHIN
            and last.end == fresh.seq
        ):
            self.held_bytes += len(block)
            merged = Segment(last.seq, last.ts, stream, last.data + block, last.count + count)
            self._segments[-1] = merged
        else:
            self._segments.append(fresh)
            self.held_bytes += fresh.cost
        self.trim()
        self.partials.pop(stream, None)
        for reader in self.readers:
            reader.offer(fresh)
        if self.file is not None:
            self.file.write(fresh)

    def trim(self) -> None:
        """Forget the oldest lines until the ring fits its capacity (the newest always stay)."""
        capacity = self.capacity
        segments = self._segments
        while self.held_bytes > capacity and len(segments) > 1:
            self.held_bytes -= segments.popleft().cost

    def set_partial(self, stream: Stream, text: bytes) -> None:
        """The line ``stream`` is still writing, as it stands (``b""``: none)."""
        partial = LogPartial(self.next_seq, stream, text.decode(errors="replace"))
        if text:
            self.partials[stream] = partial
        else:
            self.partials.pop(stream, None)
        for reader in self.readers:
            reader.offer(partial)

    def segments(self) -> list[Segment]:
        """The segments held now, oldest first (a copy: the ring may move on meanwhile)."""
        return list(self._segments)

    def held(self, since: int | None = None) -> list[LogEvent]:
        """What the ring holds from ``since`` on, led by a gap for what it no longer has."""
        return [s.batch(since) if isinstance(s, Segment) else s for s in self._held(since)]

    def _held(self, since: int | None) -> list[Segment | LogGap]:
        since = self.first_seq if since is None or since > self.next_seq else since
        held: list[Segment | LogGap] = []
        if since < self.first_seq:
            held.append(LogGap(since, self.first_seq - since))
        held += [segment for segment in self._segments if segment.end > since]
        return held

    def follow(self, since: int | None = None, partials: bool = False) -> LogReader:
        """A reader that gets the held lines from ``since``, then every new one."""
        reader = LogReader(self, self.budget.reader_bytes, partials)
        start = self.first_seq if since is None or since > self.next_seq else since
        for item in self._held(since):
            reader.offer(item, start)
        for partial in self.partials.values():
            reader.offer(partial)
        self.readers.add(reader)
        return reader

    def close(self) -> None:
        """The process is gone: readers end, and the ring lets its memory go."""
        for reader in list(self.readers):
            reader.finish()
        self._segments.clear()
        self.held_bytes = 0
        self.partials.clear()
        give_back_memory()
        if self.file is not None:
            self.file.close()


class RotatingFile:
    """Appends log lines to ``path``; past ``max_bytes`` it shifts to ``path.1`` .. ``path.N``."""

    def __init__(self, path: Path, max_bytes: int = 10 << 20, keep: int = 3) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: BinaryIO | None = path.open("ab")
        self._size = path.stat().st_size
        self.unwritten = 0
        """Lines left out of the file since the disk filled up."""

    def write(self, segment: Segment) -> None:
        """Append ``segment``'s lines; on a full disk they are left out of the file (the ring
        keeps them), counted, and the count written once the disk has room again."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(segment.ts))
        prefix = stamp.encode() + (b" err " if segment.stream is Stream.STDERR else b" out ")
        data = b"".join(prefix + line + b"\n" for line in segment.data.split(b"\n")[:-1])
        if self.unwritten:
            note = f"{stamp} opsconsole {self.unwritten} lines not written (disk full)\n"
            data = note.encode() + data
        try:
            if self._handle is None:
                self._handle = self.path.open("ab")
            self._handle.write(data)
            self._handle.flush()  # a batch at a time: `tail -f` of the file follows the process
        except OSError as exc:
            self.unwritten += segment.count
            why = describe_full_disk(self.path) if is_disk_full(exc) else exc
            log.warning("process log %s: lines left out: %s", self.path, why)
            self.close()  # the failed handle still holds what it could not write: drop it
            return
        self.unwritten = 0
        self._size += len(data)
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
            self._handle = self.path.open("ab")

    def close(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):  # text unwritten on a full disk: nowhere to go
                self._handle.close()
            self._handle = None
