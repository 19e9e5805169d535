"""The last runs of every script, kept in SQLite in the agent's data directory."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from console.models import RunRecord, Stream

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    script TEXT NOT NULL,
    started_at REAL NOT NULL,
    duration REAL NOT NULL DEFAULT 0,
    retcode INTEGER,
    interrupted INTEGER NOT NULL DEFAULT 0,
    params TEXT NOT NULL,
    output TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS runs_by_script ON runs (script, id);
"""


class RunHistory:
    """Keeps the last ``keep`` runs per script; a run is written when it starts and when it ends."""

    def __init__(self, path: Path, keep: int = 50) -> None:
        self.keep = keep
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        # Runs still open belong to an agent that died during them.
        self._db.execute("UPDATE runs SET interrupted = 1 WHERE retcode IS NULL")

    def begin(self, script: str, params: dict[str, str], started_at: float) -> int:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO runs (script, started_at, params) VALUES (?, ?, ?)",
                (script, started_at, json.dumps(params)),
            )
            return int(cursor.lastrowid or 0)

    def finish(
        self, run_id: int, retcode: int, duration: float, output: list[tuple[Stream, str]]
    ) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE runs SET retcode = ?, duration = ?, output = ? WHERE id = ?",
                (retcode, duration, json.dumps(output), run_id),
            )
            script = self._db.execute("SELECT script FROM runs WHERE id = ?", (run_id,)).fetchone()
            if script is not None:
                self._db.execute(
                    "DELETE FROM runs WHERE script = ? AND id NOT IN "
                    "(SELECT id FROM runs WHERE script = ? ORDER BY id DESC LIMIT ?)",
                    (script[0], script[0], self.keep),
                )

    def recent(self, script: str | None = None, limit: int = 50) -> list[RunRecord]:
        """Newest first, without their output."""
        query = "SELECT id, script, started_at, duration, retcode, interrupted, params FROM runs"
        args: tuple[object, ...] = ()
        if script is not None:
            query += " WHERE script = ?"
            args = (script,)
        with self._lock:
            rows = self._db.execute(f"{query} ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [_record(row) for row in rows]

    def get(self, run_id: int) -> RunRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, script, started_at, duration, retcode, interrupted, params, output "
                "FROM runs WHERE id = ?",
                (run_id,),
            ).fetchone()
        return None if row is None else _record(row)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _record(row: tuple) -> RunRecord:
    """A row as a RunRecord; a value that does not decode is read as empty, never raised."""
    output = [
        (Stream(entry[0]), str(entry[1]))
        for entry in _json(row[7] if len(row) > 7 else "[]", [])
        if isinstance(entry, list) and len(entry) == 2 and entry[0] in set(Stream)
    ]
    params = _json(row[6], {})
    return RunRecord(
        id=row[0],
        script=str(row[1]),
        started_at=row[2] if isinstance(row[2], int | float) else 0.0,
        duration=row[3] if isinstance(row[3], int | float) else 0.0,
        retcode=row[4] if isinstance(row[4], int) else None,
        interrupted=bool(row[5]),
        params=params if isinstance(params, dict) else {},
        output=output,
    )


def _json(text: object, empty: Any) -> Any:
    try:
        value = json.loads(text)  # type: ignore[arg-type]
    except (TypeError, ValueError, RecursionError):
        return empty
    return value if isinstance(value, type(empty)) else empty
