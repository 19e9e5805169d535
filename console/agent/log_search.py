"""Searching a process's whole log ring: the line a view of the newest lines no longer holds.

A console's log view keeps the newest 10,000 lines; the ring (``[agent.output]
ring_bytes``) may hold many more. This finds the nearest matching line older
(``before``) or newer (``after``) than a sequence number and answers it with the
lines around it, so the console can show the hit in its context. The match is
as the view's: without regard to case, on the text as shown (colour codes out).

Each search is bounded: in bytes looked at (``SCAN_BYTES``) and in time
(``SCAN_SECONDS``, as it runs on the agent's loop), and its answer's lines in
bytes (``[agent.output] answer_bytes``). A search stopped by a bound says where
it got to (``searched``, ``complete``), so the client asks again from there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from console.agent.process_logs import ProcessLog, Segment
from console.models import LogBatch, LogSearchResult
from console.output.ansi import strip_sgr

SCAN_BYTES = 32 << 20
"""Bytes of the ring one search looks at, at most (the default ring is 1 MiB)."""
SCAN_SECONDS = 0.05
"""Seconds one search may hold the agent's loop; past it, it answers where it got to."""
MAX_TEXT = 256
"""Characters a search text may have."""
MAX_CONTEXT = 1000
"""Lines on each side of the hit an answer may ask for."""
LINE_COST = 8
"""Bytes a line of the answer costs beyond its text (its quotes, comma, escapes)."""


@dataclass(frozen=True)
class LogQuery:
    """One search: the text, where to look from (exactly one of ``before`` / ``after``, or
    neither: the newest match), and the lines of context wanted on each side."""

    text: str
    before: int | None = None
    after: int | None = None
    context: int = 100


def search_log(
    log: ProcessLog,
    query: LogQuery,
    answer_bytes: int,
    scan_bytes: int = SCAN_BYTES,
    scan_seconds: float = SCAN_SECONDS,
) -> LogSearchResult:
    """The nearest line matching ``query`` in ``log``'s ring, and its context within
    ``answer_bytes``; see the module's docstring. Raises nothing: a bad query is the route's."""
    segments = log.segments()
    needle = query.text.lower()
    forward = query.after is not None
    if query.after is not None:
        start = max(log.first_seq, query.after + 1)
        ordered = [s for s in segments if s.end > start]
        edge = start
    else:
        limit = log.next_seq if query.before is None else min(query.before, log.next_seq)
        ordered = [s for s in reversed(segments) if s.seq < limit]
        edge = limit
    deadline = time.monotonic() + scan_seconds
    scanned = 0
    hit: int | None = None
    complete = True
    reached = edge
    for count, segment in enumerate(ordered, 1):
        scanned += len(segment.data)
        if forward:
            low, high = max(edge, segment.seq), segment.end
        else:
            low, high = segment.seq, min(edge, segment.end)
        hit = _match_in(segment, needle, low, high, forward)
        reached = high if forward else low
        if hit is not None:
            break
        # Checked after a segment, not before: every search moves on, however tight.
        if count < len(ordered) and (scanned >= scan_bytes or time.monotonic() > deadline):
            complete = False
            break
    searched = (edge, reached) if forward else (reached, edge)
    if hit is not None:
        searched = (edge, hit + 1) if forward else (hit, edge)
        lines = _context(segments, hit, query.context, answer_bytes)
    else:
        lines = []
    return LogSearchResult(hit, searched, complete, log.first_seq, log.next_seq, lines)


def _match_in(segment: Segment, needle: str, low: int, high: int, forward: bool) -> int | None:
    """The sequence number of the first (or, backwards, last) line in ``[low, high)`` of
    ``segment`` that holds ``needle`` (lowercase), or None."""
    text = segment.data.decode(errors="replace")
    if "\x1b" in text:
        text = strip_sgr(text)
    lowered = text.lower()
    if needle not in lowered:  # most segments: one pass in C
        return None
    lines = lowered.split("\n")
    indexes = range(low - segment.seq, high - segment.seq)
    for index in indexes if forward else reversed(indexes):
        if needle in lines[index]:
            return segment.seq + index
    return None


def _context(segments: list[Segment], hit: int, context: int, budget: int) -> list[LogBatch]:
    """The lines from ``hit - context`` to ``hit + context`` the ring holds, as batches, cut
    to ``budget`` bytes by leaving out lines farthest from the hit first."""
    start, end = hit - context, hit + context + 1
    pieces: list[LogBatch] = []
    for segment in segments:
        if segment.end <= start or segment.seq >= end:
            continue
        batch = segment.batch(max(start, segment.seq))
        keep = end - batch.seq
        if keep < len(batch.lines):
            batch = LogBatch(batch.seq, batch.ts, batch.stream, batch.lines[:keep])
        pieces.append(batch)
    costs = {
        batch.seq + index: len(line.encode()) + LINE_COST
        for batch in pieces
        for index, line in enumerate(batch.lines)
    }
    low = high = hit
    spent = costs.get(hit, 0)
    # Grow around the hit one line each side in turn while the answer fits.
    while True:
        grown = False
        for candidate in (high + 1, low - 1):
            cost = costs.get(candidate)
            if cost is not None and spent + cost <= budget:
                spent += cost
                low, high = min(low, candidate), max(high, candidate)
                grown = True
        if not grown:
            break
    return [
        LogBatch(
            max(batch.seq, low),
            batch.ts,
            batch.stream,
            batch.lines[max(0, low - batch.seq) : high + 1 - batch.seq],
        )
        for batch in pieces
        if batch.end > low and batch.seq <= high
    ]
