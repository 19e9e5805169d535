"""The inbox's SQLite store: WAL mode, every change committed (and fsynced) before it is answered.

Group commit: one writer thread owns the connection and takes every call that
is waiting as one batch, run in one transaction with one fsync, so concurrent
pushes, pulls and acks share the disk's flush instead of queueing for it. Each
call is its own savepoint, so one that fails leaves the batch's others alone.

What must survive a power cut is a 201 and an answered ack (and payload
updates, deletes): a batch holding one of those is fsynced before it is
answered. A batch of pulls, releases and reads alone is committed without
waiting for the disk (WAL, ``synchronous=NORMAL``: it survives a killed agent,
and the next fsync covers it): were a power cut to lose it, its messages are
pending again and delivered again, as after a visibility timeout.
Pulls are atomic (one statement picks and marks the messages), so two pullers
never get the same message; due scheduled messages and expired deliveries are
found through indexes, never by reading the whole table.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

from console.agent.disk import is_disk_full
from console.agent.inbox_backend import Change, InboxStore, StoreUnavailable
from console.agent.inbox_store_rows import COLUMNS, newest_fitting
from console.agent.inbox_store_rows import row_message as _message
from console.agent.inbox_store_rows import select_messages as _select
from console.models import DeliveryPolicy, Message, MessageStatus

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY,
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
    visible_at REAL,
    accepted_by TEXT
);
CREATE INDEX IF NOT EXISTS pending_queue ON messages (node_destination, seq)
    WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS scheduled_due ON messages (scheduled_time) WHERE status = 'scheduled';
CREATE INDEX IF NOT EXISTS processing_expiry ON messages (visible_at) WHERE status = 'processing';
DROP INDEX IF EXISTS pending_by_destination;
DROP INDEX IF EXISTS due_by_status;
DROP INDEX IF EXISTS expiring;
"""
"""Partial indexes: each holds only the rows in the state it serves, so a commit writes
few pages (every page is a 4 KiB WAL frame to fsync). Files from before them lose their
old full indexes."""

SAVEPOINT = ("SAVEPOINT job", "ROLLBACK TO job", "RELEASE job")
"""Statements around each job of a batch: its start, its undo, its end."""
T = TypeVar("T")
Work = Callable[[sqlite3.Connection, float], Any]
"""One call's statements: given the connection and the batch's time (epoch seconds)."""


class _Job:
    """One call waiting for the writer thread, and where its answer goes."""

    __slots__ = ("durable", "future", "loop", "work")

    def __init__(self, work: Work, loop: asyncio.AbstractEventLoop, durable: bool) -> None:
        self.work = work
        self.loop = loop
        self.durable = durable
        self.future: asyncio.Future[Any] = loop.create_future()


class SqliteInboxStore(InboxStore):
    """Messages in one SQLite file; every method is one job of a group-committed batch."""

    def __init__(
        self,
        path: Path,
        policy: DeliveryPolicy | None = None,
        durable: bool = True,
        agent_name: str | None = None,
    ) -> None:
        self.policy = policy or DeliveryPolicy()
        self.agent_name = agent_name
        self._durable = durable
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._synchronous = ""
        self._set_synchronous(durable)
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(messages)")}
        if "accepted_by" not in columns:  # a file from before agents shared inboxes
            self._db.execute("ALTER TABLE messages ADD COLUMN accepted_by TEXT")
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._serve, name="inbox store", daemon=True)
        self._writer.start()

    def _set_synchronous(self, full: bool) -> None:
        # FULL: the commit fsyncs the WAL, so what it answers survives even a power cut.
        wanted = "FULL" if full and self._durable else "NORMAL"
        if wanted != self._synchronous:
            self._db.execute(f"PRAGMA synchronous={wanted}")
            self._synchronous = wanted

    async def _run(self, work: Work, durable: bool = True) -> Any:
        """Run ``work`` in the next batch; ``durable``: its answer waits for the fsync."""
        job = _Job(work, asyncio.get_running_loop(), durable)
        self._jobs.put(job)
        return await job.future

    def _serve(self) -> None:
        """The writer thread: whatever is queued when a commit ends is the next batch."""
        while (job := self._jobs.get()) is not None:
            batch = [job]
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._commit(batch)
                    self._db.close()
                    return
                batch.append(job)
            self._commit(batch)
        self._db.close()

    def _commit(self, batch: list[_Job]) -> None:
        now = time.time()
        outcomes: list[tuple[bool, Any]] = []
        try:
            self._set_synchronous(any(job.durable for job in batch))
            self._db.execute("BEGIN IMMEDIATE")
            # A job alone is its own transaction: no savepoint needed to undo it by itself.
            begin, undo, end = ("", "ROLLBACK", "") if len(batch) == 1 else SAVEPOINT
            for job in batch:
                if begin:
                    self._db.execute(begin)
                try:
                    outcomes.append((True, job.work(self._db, now)))
                except Exception as exc:  # this call's error, answered to it alone
                    self._db.execute(undo)
                    outcomes.append((False, exc))
                if end:
                    self._db.execute(end)
            if self._db.in_transaction:
                self._db.execute("COMMIT")
        except Exception as exc:  # the commit failed: nothing of the batch is kept
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            # Locked by another process, an I/O error: for now. A full disk keeps its own
            # error (answered 507, naming the disk).
            if isinstance(exc, sqlite3.OperationalError) and not is_disk_full(exc):
                exc = StoreUnavailable(f"the inbox's database cannot be written: {exc}")
            outcomes = [(False, exc)] * len(batch)
        # One wake-up of each waiting loop for the whole batch, not one per job: each costs a
        # write to the loop's self-pipe and a turn of the loop.
        answers: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            answers.setdefault(job.loop, []).append((job.future, ok, value))
        for loop, settled in answers.items():
            loop.call_soon_threadsafe(_settle_all, settled)

    async def push(
        self,
        source: str,
        destination: str,
        payload: bytes,
        payload_type: str,
        topic: str | None = None,
        scheduled_time: float | None = None,
    ) -> Message:
        status = MessageStatus.PENDING if scheduled_time is None else MessageStatus.SCHEDULED
        message_id, accepted_by = uuid.uuid4().hex, self.agent_name

        def insert(db: sqlite3.Connection, now: float) -> Message:
            [message] = _select(
                db,
                f"INSERT INTO messages (id, node_source, node_destination, status, payload, "
                f"payload_type, topic, created_time, update_time, scheduled_time, accepted_by) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {COLUMNS}",
                (
                    message_id,
                    source,
                    destination,
                    status.value,
                    payload,
                    payload_type,
                    topic,
                    now,
                    now,
                    scheduled_time,
                    accepted_by,
                ),
            )
            return message

        return await self._run(insert)

    async def pull(self, destination: str, quantity: int = 1) -> list[Message]:
        """The oldest pending messages for ``destination``, now ``processing``."""
        timeout = self.policy.visibility_timeout

        def take(db: sqlite3.Connection, now: float) -> list[Message]:
            rows = db.execute(
                f"UPDATE messages SET status = 'processing', processing_time = ?, "
                f"update_time = ?, tries = tries + 1, visible_at = ? WHERE seq IN "
                f"(SELECT seq FROM messages WHERE node_destination = ? AND status = 'pending' "
                f"ORDER BY seq LIMIT ?) RETURNING seq, {COLUMNS}",
                (now, now, now + timeout, destination, quantity),
            ).fetchall()
            # RETURNING gives rows in no set order; oldest first (in push order) is the promise.
            return [_message(row[1:]) for row in sorted(rows)]

        return await self._run(take, durable=False)

    async def ack(self, destination: str, message_ids: list[str]) -> list[Message]:
        """``processing`` → ``processed`` for those ids delivered to ``destination``."""
        if not message_ids:
            return []
        marks = ", ".join("?" * len(message_ids))

        def finish(db: sqlite3.Connection, now: float) -> list[Message]:
            return _select(
                db,
                f"UPDATE messages SET status = 'processed', processed_time = ?, update_time = ?, "
                f"visible_at = NULL WHERE id IN ({marks}) AND node_destination = ? "
                f"AND status = 'processing' RETURNING {COLUMNS}",
                (now, now, *message_ids, destination),
            )

        return await self._run(finish)

    async def release_due(self, now: float | None = None) -> list[Message]:
        """Scheduled messages whose time has come, and expired deliveries: pending (or error).

        ``now`` (epoch seconds) is for tests that look ahead; the clock passes none.
        """
        max_tries = self.policy.max_tries

        def release(db: sqlite3.Connection, batch_time: float) -> list[Message]:
            at = batch_time if now is None else now
            changed = _select(
                db,
                f"UPDATE messages SET status = 'pending', update_time = ? "
                f"WHERE status = 'scheduled' AND scheduled_time <= ? RETURNING {COLUMNS}",
                (at, at),
            )
            changed += _select(
                db,
                f"UPDATE messages SET "
                f"status = CASE WHEN tries >= ? THEN 'error' ELSE 'pending' END, "
                f"error_time = CASE WHEN tries >= ? THEN ? ELSE error_time END, "
                f"update_time = ?, visible_at = NULL "
                f"WHERE status = 'processing' AND visible_at <= ? RETURNING {COLUMNS}",
                (max_tries, max_tries, at, at, at),
            )
            return changed

        return await self._run(release, durable=False)

    async def next_due(self) -> float | None:
        """When ``release_due`` next has something to do (indexed lookups, not a scan)."""

        def earliest(db: sqlite3.Connection, now: float) -> float | None:
            times = [
                db.execute(sql).fetchone()[0]
                for sql in (
                    "SELECT MIN(scheduled_time) FROM messages WHERE status = 'scheduled'",
                    "SELECT MIN(visible_at) FROM messages WHERE status = 'processing'",
                )
            ]
            known = [t for t in times if t is not None]
            return min(known) if known else None

        return await self._run(earliest, durable=False)

    async def get(self, message_id: str) -> Message | None:
        found = await self._run(
            lambda db, now: _select(
                db, f"SELECT {COLUMNS} FROM messages WHERE id = ?", (message_id,)
            ),
            durable=False,
        )
        return found[0] if found else None

    async def list_within(
        self,
        destination: str | None = None,
        status: MessageStatus | None = None,
        limit: int = 500,
        max_bytes: int | None = None,
    ) -> tuple[list[Message], int]:
        """Newest first, payloads read only while they fit in ``max_bytes`` (the first always):
        the messages read, and how many more matched (of ``limit``)."""
        job = newest_fitting(destination, status, limit, max_bytes)
        return await self._run(lambda db, now: job(db), durable=False)

    async def update_payload(
        self, message_id: str, payload: bytes, payload_type: str
    ) -> Message | None:
        found = await self._run(
            lambda db, now: _select(
                db,
                f"UPDATE messages SET payload = ?, payload_type = ?, update_time = ? WHERE id = ? "
                f"RETURNING {COLUMNS}",
                (payload, payload_type, now, message_id),
            )
        )
        return found[0] if found else None

    async def delete(self, message_id: str) -> bool:
        return await self._run(
            lambda db, now: (
                db.execute("DELETE FROM messages WHERE id = ?", (message_id,)).rowcount > 0
            )
        )

    async def delete_all(self) -> int:
        return await self._run(lambda db, now: db.execute("DELETE FROM messages").rowcount)

    async def changes(self) -> AsyncIterator[Change]:
        """One agent per file: nobody else changes it."""
        return
        yield

    async def close(self) -> None:
        """Finish what is queued, then close the file."""
        self._jobs.put(None)
        await asyncio.to_thread(self._writer.join)


def _settle_all(settled: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in settled:
        if future.done():  # its caller went away (a cancelled request)
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
