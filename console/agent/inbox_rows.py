"""Rows of the inbox's SQLite table read back as Messages, whatever a row holds."""

from __future__ import annotations

import sqlite3
from typing import Any

from console.models import Message, MessageStatus

COLUMNS = (
    "id, node_source, node_destination, status, payload, payload_type, topic, created_time, "
    "update_time, scheduled_time, processing_time, processed_time, error_time, tries, accepted_by"
)
"""The columns every query reads, in the order ``message`` takes them."""


def select(db: sqlite3.Connection, sql: str, args: tuple[object, ...] = ()) -> list[Message]:
    """The Messages of the rows ``sql`` (reading COLUMNS) gives."""
    return [message(row) for row in db.execute(sql, args).fetchall()]


def message(row: tuple[Any, ...]) -> Message:
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
