"""Supervised processes (PROTOCOLS.md §2): their states, restart policy and numbered logs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from console.models.common import Stream


class ProcessState(StrEnum):
    """Where a process stands. The first seven are the old agent's words; the rest are ours."""

    PENDING = "pending"
    DOWNLOADING = "downloading"
    DOWNLOAD_FAILURE = "download failure"
    UNPACKING = "unpacking"
    PROCESSING = "processing"
    NO_PROCFILE = "no procfile"
    UNKNOWN_PROCESS_TYPE = "unknown process type"
    INVALID_PROCFILE = "invalid procfile"
    """The Procfile has a bad line or a type twice; the message names the lines."""
    STARTING = "starting"
    RUNNING = "running"
    BACKOFF = "backoff"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FATAL = "fatal"
    DAEMONIZED = "daemonized"
    """Its main process exited, leaving descendants running (a daemon): watched, not restarted."""

    @property
    def failed(self) -> bool:
        return self in _FAILED_STATES

    @property
    def settled(self) -> bool:
        """No longer changing on its own: running, or waiting for an operator."""
        return self in _SETTLED_STATES


_FAILED_STATES = frozenset(
    {
        ProcessState.DOWNLOAD_FAILURE,
        ProcessState.NO_PROCFILE,
        ProcessState.UNKNOWN_PROCESS_TYPE,
        ProcessState.INVALID_PROCFILE,
        ProcessState.FATAL,
    }
)
_SETTLED_STATES = _FAILED_STATES | {
    ProcessState.RUNNING,
    ProcessState.STOPPED,
    ProcessState.DAEMONIZED,
}


REQUESTED_EXIT = {"restart": "restarted", "stop": "stopped"}
"""How a run the operator ended is shown instead of its exit code: it is no failure."""


@dataclass(frozen=True)
class ProcessStatus:
    """One supervised process. The first four fields are the compatible STATUS document's."""

    app: str
    node: str
    slug: str
    state: ProcessState
    process_type: str = ""
    pid: int | None = None
    started_at: float | None = None
    """When the current (or last) run began; uptime is measured from it."""
    restarts: int = 0
    last_exit: int | None = None
    message: str | None = None
    """Why it failed or what it waits for, in a few words."""
    next_seq: int = 0
    """Sequence number the next log line will get: a tail can start here."""
    last_exit_request: str | None = None
    """The operator's request that ended the last run (``"restart"``, ``"stop"``), None
    when it ended by itself: a requested end is not a failure."""
    failures: int = 0

    @property
    def last_exit_text(self) -> str:
        """The last exit as an operator reads it: ``restarted`` or ``stopped`` when they
        asked for it (``REQUESTED_EXIT``), else its code (``-15`` for SIGTERM), ``-`` before any."""
        if self.last_exit_request in REQUESTED_EXIT:
            return REQUESTED_EXIT[self.last_exit_request]
        return "-" if self.last_exit is None else str(self.last_exit)

    """Quick failures in a row (the backoff count); requested ends never count."""
    retry_at: float | None = None
    """In ``backoff``: when (epoch seconds, the agent's clock) it starts again."""

    def to_wire(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "node": self.node,
            "slug": self.slug,
            "state": self.state.value,
            "process_type": self.process_type,
            "pid": self.pid,
            "started_at": self.started_at,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "message": self.message,
            "next_seq": self.next_seq,
            "last_exit_request": self.last_exit_request,
            "failures": self.failures,
            "retry_at": self.retry_at,
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> ProcessStatus:
        try:
            state = ProcessState(wire.get("state", "pending"))
        except ValueError:
            state = ProcessState.PENDING
        return cls(
            app=str(wire.get("app", "")),
            node=str(wire.get("node", "")),
            slug=str(wire["slug"]),
            state=state,
            process_type=str(wire.get("process_type", "")),
            pid=wire.get("pid"),
            started_at=wire.get("started_at"),
            restarts=int(wire.get("restarts", 0)),
            last_exit=wire.get("last_exit"),
            message=wire.get("message"),
            next_seq=int(wire.get("next_seq", 0)),
            last_exit_request=_optional_str(wire.get("last_exit_request")),
            failures=int(wire.get("failures") or 0),
            retry_at=_optional_float(wire.get("retry_at")),
        )


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _optional_float(value: object) -> float | None:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if is_number else None  # type: ignore[arg-type]


def process_listing(body: Any) -> list[ProcessStatus]:
    """The statuses of a ``GET /list-processes`` answer, ``{"processes": [STATUS...]}``
    (PROTOCOLS.md §2). Raises ValueError for an answer of any other shape."""
    if not isinstance(body, dict) or not isinstance(body.get("processes"), list):
        raise ValueError(f"unexpected process listing: {str(body)[:80]}")
    return [ProcessStatus.from_wire(p) for p in body["processes"]]


@dataclass(frozen=True)
class RestartPolicy:
    """When a process that exits is started again, and when to give up on it."""

    first_delay: float = 0.5
    max_delay: float = 30.0
    stable_after: float = 10.0
    """A run that lasted this long was healthy: the count of quick failures starts over."""
    max_quick_failures: int = 6
    """After this many quick failures in a row the process is ``fatal``."""
    stop_grace: float = 5.0
    """Seconds between SIGTERM and SIGKILL when stopping."""

    def delay(self, quick_failures: int) -> float:
        return min(self.first_delay * 2 ** max(quick_failures - 1, 0), self.max_delay)


@dataclass(frozen=True)
class LogBatch:
    """Consecutive lines of one stream read together: ``lines[i]`` has sequence ``seq + i``.

    Logs move in batches, never line by line, from the child's pipe to the
    widget: that is what makes hundreds of thousands of lines a second cheap.
    """

    seq: int
    ts: float
    stream: Stream
    lines: list[str]

    @property
    def end(self) -> int:
        """The sequence number after the last line."""
        return self.seq + len(self.lines)

    def to_wire(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, "stream": self.stream.value, "lines": self.lines}

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> LogBatch:
        return cls(int(wire["seq"]), float(wire["ts"]), Stream(wire["stream"]), wire["lines"])


@dataclass(frozen=True)
class LogGap:
    """Lines a reader will never see: ``count`` lines from ``seq`` were dropped or aged out."""

    seq: int
    count: int

    @property
    def end(self) -> int:
        return self.seq + self.count


@dataclass(frozen=True)
class LogPartial:
    """The line a stream is still writing, as it stands (a prompt, a ``\\r`` progress bar).

    Shown in place of that stream's last line until its complete line (any
    batch of the same stream) or a newer partial arrives; ``text == ""`` takes
    it away. It is never a line of its own: ``seq`` is where the next line will go.
    """

    seq: int
    stream: Stream
    text: str

    @property
    def end(self) -> int:
        return self.seq

    def to_wire(self) -> dict[str, Any]:
        return {"partial": {"seq": self.seq, "stream": self.stream.value, "text": self.text}}


LogEvent = LogBatch | LogGap | LogPartial


@dataclass(frozen=True)
class LogSearchResult:
    """What a search of a process's whole log ring found: the line, and the lines around it.

    ``seq`` is the matching line's sequence number (None: no match in what was searched);
    ``searched`` the sequence numbers looked at, ``[from, to)``; ``complete`` False when the
    agent's time or byte bound stopped the search before the end of the ring in its direction
    (ask again from the edge of ``searched``). ``lines`` are the hit's context, in order.
    ``first_seq`` / ``next_seq``: what the ring holds now.
    """

    seq: int | None
    searched: tuple[int, int]
    complete: bool
    first_seq: int
    next_seq: int
    lines: list[LogBatch]

    def to_wire(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "searched": list(self.searched),
            "complete": self.complete,
            "first_seq": self.first_seq,
            "next_seq": self.next_seq,
            "lines": [batch.to_wire() for batch in self.lines],
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> LogSearchResult:
        seq = wire.get("seq")
        start, end = wire["searched"]
        return cls(
            None if seq is None else int(seq),
            (int(start), int(end)),
            bool(wire["complete"]),
            int(wire["first_seq"]),
            int(wire["next_seq"]),
            [LogBatch.from_wire(batch) for batch in wire.get("lines", [])],
        )
