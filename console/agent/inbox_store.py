"""The inbox's durable store: SQLite in WAL mode, every change committed before it is answered.

Pulls are atomic (one statement picks and marks the messages), so two pullers
never get the same message. Due scheduled messages and expired deliveries are
found through indexes, never by reading the whole table.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from pathlib import Path

from console.models import DeliveryPolicy, Message, MessageStatus

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    node_source TEXT NOT NULL,
    node_destination TEXT NOT NULL,
    status TEXT NOT NULL,
    topic TEXT,
    payload BLOB NOT NULL,
    payload_type TEXT NOT NULL,
    created_time REAL NOT NULL,
    update_time REAL NOT NULL,
    scheduled_time REAL,
    processing_time REAL,
    processed_time REAL,
    error_time REAL,
    tries INTEGER NOT NULL DEFAULT 0,
    visible_at REAL
);
CREATE INDEX IF NOT EXISTS pending_by_destination ON messages (node_destination, status, seq);
CREATE INDEX IF NOT EXISTS due_by_status ON messages (status, scheduled_time);
CREATE INDEX IF NOT EXISTS expiring ON messages (status, visible_at);
"""

COLUMNS = (
    "id, node_source, node_destination, status, payload, payload_type, topic, created_time, "
    "update_time, scheduled_time, processing_time, processed_time, error_time, tries"
)


class InboxStore:
    """Messages on disk; every method is one short transaction."""

    def __init__(self, path: Path, policy: DeliveryPolicy | None = None, durable: bool = True):
        self.policy = policy or DeliveryPolicy()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a 201 survives even a power cut, not only a killed agent.
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.executescript(SCHEMA)

    def _query(self, sql: str, args: tuple[object, ...] = ()) -> list[Message]:
        with self._lock:
            return [_message(row) for row in self._db.execute(sql, args).fetchall()]

    def push(
        self,
        source: str,
        destination: str,
        payload: bytes,
        payload_type: str,
        topic: str | None = None,
        scheduled_time: float | None = None,
    ) -> Message:
        now = time.time()
        status = MessageStatus.PENDING if scheduled_time is None else MessageStatus.SCHEDULED
        [message] = self._query(
            f"INSERT INTO messages (id, node_source, node_destination, status, payload, "
            f"payload_type, topic, created_time, update_time, scheduled_time) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {COLUMNS}",
            (
                uuid.uuid4().hex,
                source,
                destination,
                status.value,
                payload,
                payload_type,
                topic,
                now,
                now,
                scheduled_time,
            ),
        )
        return message

    def pull(self, destination: str, quantity: int = 1) -> list[Message]:
        """The oldest pending messages for ``destination``, now ``processing``."""
        now = time.time()
        with self._lock:
            rows = self._db.execute(
                f"UPDATE messages SET status = 'processing', processing_time = ?, "
                f"update_time = ?, tries = tries + 1, visible_at = ? WHERE seq IN "
                f"(SELECT seq FROM messages WHERE node_destination = ? AND status = 'pending' "
                f"ORDER BY seq LIMIT ?) RETURNING seq, {COLUMNS}",
                (now, now, now + self.policy.visibility_timeout, destination, quantity),
            ).fetchall()
        # RETURNING gives rows in no set order; oldest first (in push order) is the promise.
        return [_message(row[1:]) for row in sorted(rows)]

    def ack(self, destination: str, message_id: str) -> Message | None:
        """``processing`` → ``processed``; None when no such message is processing for them."""
        now = time.time()
        found = self._query(
            f"UPDATE messages SET status = 'processed', processed_time = ?, update_time = ?, "
            f"visible_at = NULL WHERE id = ? AND node_destination = ? AND status = 'processing' "
            f"RETURNING {COLUMNS}",
            (now, now, message_id, destination),
        )
        return found[0] if found else None

    def release_due(self, now: float | None = None) -> list[Message]:
        """Scheduled messages whose time has come, and expired deliveries: pending (or error)."""
        now = time.time() if now is None else now
        changed = self._query(
            f"UPDATE messages SET status = 'pending', update_time = ? "
            f"WHERE status = 'scheduled' AND scheduled_time <= ? RETURNING {COLUMNS}",
            (now, now),
        )
        changed += self._query(
            f"UPDATE messages SET status = CASE WHEN tries >= ? THEN 'error' ELSE 'pending' END, "
            f"error_time = CASE WHEN tries >= ? THEN ? ELSE error_time END, "
            f"update_time = ?, visible_at = NULL "
            f"WHERE status = 'processing' AND visible_at <= ? RETURNING {COLUMNS}",
            (self.policy.max_tries, self.policy.max_tries, now, now, now),
        )
        return changed

    def next_due(self) -> float | None:
        """When ``release_due`` next has something to do (indexed lookups, not a scan)."""
        with self._lock:
            scheduled = self._db.execute(
                "SELECT MIN(scheduled_time) FROM messages WHERE status = 'scheduled'"
            ).fetchone()[0]
            expiring = self._db.execute(
                "SELECT MIN(visible_at) FROM messages WHERE status = 'processing'"
            ).fetchone()[0]
        times = [t for t in (scheduled, expiring) if t is not None]
        return min(times) if times else None

    def get(self, message_id: str) -> Message | None:
        found = self._query(f"SELECT {COLUMNS} FROM messages WHERE id = ?", (message_id,))
        return found[0] if found else None

    def list(
        self,
        destination: str | None = None,
        status: MessageStatus | None = None,
        limit: int = 500,
    ) -> list[Message]:
        """Newest first."""
        where, args = [], []
        if destination is not None:
            where.append("node_destination = ?")
            args.append(destination)
        if status is not None:
            where.append("status = ?")
            args.append(status.value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        return self._query(
            f"SELECT {COLUMNS} FROM messages {clause} ORDER BY seq DESC LIMIT ?", (*args, limit)
        )

    def update_payload(self, message_id: str, payload: bytes, payload_type: str) -> Message | None:
        found = self._query(
            f"UPDATE messages SET payload = ?, payload_type = ?, update_time = ? WHERE id = ? "
            f"RETURNING {COLUMNS}",
            (payload, payload_type, time.time(), message_id),
        )
        return found[0] if found else None

    def delete(self, message_id: str) -> bool:
        with self._lock:
            return self._db.execute("DELETE FROM messages WHERE id = ?", (message_id,)).rowcount > 0

    def delete_all(self) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM messages").rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _message(row: tuple) -> Message:
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
