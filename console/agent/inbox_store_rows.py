"""The inbox's SQLite rows: the columns a message is read from, a row as a Message, and the
listing that reads payloads only while they fit a byte bound (``inbox_store`` runs it)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from console.models import Message, MessageStatus

COLUMNS = (
    "id, node_source, node_destination, status, payload, payload_type, topic, created_time, "
    "update_time, scheduled_time, processing_time, processed_time, error_time, tries, accepted_by"
)


def newest_fitting(
    destination: str | None, status: MessageStatus | None, limit: int, max_bytes: int | None
) -> Callable[[sqlite3.Connection], tuple[list[Message], int]]:
    """A read of the newest ``limit`` messages (narrowed as given) whose payloads fit in
    ``max_bytes`` together (the newest always; None: no bound): it gives those, and how many
    more matched. Their sizes come first (``length()`` reads no payload), then only the rows
    that fit, so memory stays near ``max_bytes`` whatever the messages weigh."""
    where, args = [], []
    if destination is not None:
        where.append("node_destination = ?")
        args.append(destination)
    if status is not None:
        where.append("status = ?")
        args.append(status.value)
    clause, newest = " AND ".join(where) or "1", "ORDER BY seq DESC LIMIT ?"
    sized = f"SELECT seq, length(payload) FROM messages WHERE {clause} {newest}"
    rows = f"SELECT {COLUMNS} FROM messages WHERE {clause} AND seq >= ? {newest}"

    def read(db: sqlite3.Connection) -> tuple[list[Message], int]:
        sizes = db.execute(sized, (*args, limit)).fetchall()
        fitting, total = 0, 0
        for _seq, size in sizes:
            total += size or 0
            if fitting and max_bytes is not None and total > max_bytes:
                break
            fitting += 1
        if not fitting:
            return [], 0
        oldest = sizes[fitting - 1][0]
        return select_messages(db, rows, (*args, oldest, fitting)), len(sizes) - fitting

    return read


def select_messages(
    db: sqlite3.Connection, sql: str, args: tuple[object, ...] = ()
) -> list[Message]:
    return [row_message(row) for row in db.execute(sql, args).fetchall()]


def row_message(row: tuple[Any, ...]) -> Message:
    """A row as a Message; any value that cannot be one (a hand-edited row, an old version's
    time out of range) is read as the nearest thing that can, so a listing never breaks."""
    try:
        status = MessageStatus(row[3])
    except ValueError:
        status = MessageStatus.ERROR
    return Message(
        id=str(row[0]),
        node_source=str(row[1]),
        node_destination=str(row[2]),
        status=status,
        payload=_blob(row[4]),
        payload_type=str(row[5]),
        topic=None if row[6] is None else str(row[6]),
        created_time=_epoch(row[7]) or 0.0,
        update_time=_epoch(row[8]) or 0.0,
        scheduled_time=_epoch(row[9]),
        processing_time=_epoch(row[10]),
        processed_time=_epoch(row[11]),
        error_time=_epoch(row[12]),
        tries=row[13] if isinstance(row[13], int) else 0,
        accepted_by=None if row[14] is None else str(row[14]),
    )


def _blob(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return b"" if value is None else str(value).encode()


def _epoch(value: object) -> float | None:
    """A stored time, or None if it is not one a datetime can show (year 1 to 9999)."""
    if not isinstance(value, int | float) or not -62_135_596_800 < value < 253_402_300_800:
        return None
    return float(value)
