"""Plain data types shared by the agent, the adapters and the console.

Each type that crosses the wire knows its own JSON shape (``to_wire`` /
``from_wire``) so the agent that writes it and the adapter that reads it can
never drift apart.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

FILTERED = "FILTERED"
"""What a filtered parameter's value is replaced with in every log and record."""


class HttpMethod(StrEnum):
    GET = "get"
    POST = "post"
    PUT = "put"
    DELETE = "delete"


class OutputMode(StrEnum):
    SPLIT = "split"
    COMBINED = "combined"


class Stream(StrEnum):
    STDOUT = "stdout"
    STDERR = "stderr"


class ConnectionState(StrEnum):
    """How the console stands with its agent, shown in the header."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    OFFLINE = "offline"


@dataclass(frozen=True)
class ScriptParam:
    name: str
    description: str | None = None

    def to_wire(self) -> dict[str, str]:
        wire = {"name": self.name}
        if self.description:
            wire["description"] = self.description
        return wire


@dataclass(frozen=True)
class Script:
    """One executable in the catalog, as its header block describes it."""

    name: str
    filename: str
    description: str | None = None
    params: tuple[ScriptParam, ...] = ()
    filtered_params: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    http_method: HttpMethod = HttpMethod.POST
    output: OutputMode = OutputMode.SPLIT
    lock: bool = False
    timeout: float | None = None
    """Extension: seconds a run may take before it is stopped."""
    confirm: bool = False
    """Extension: the console asks before running it."""

    def mask(self, params: dict[str, str]) -> dict[str, str]:
        """The params as they may be shown or stored: filtered values hidden."""
        return {k: FILTERED if k in self.filtered_params else v for k, v in params.items()}

    def to_wire(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "name": self.name,
            "description": self.description,
            "params": [p.to_wire() for p in self.params],
            "filtered_params": list(self.filtered_params),
            "tags": list(self.tags),
            "http_method": self.http_method.value,
            "output": self.output.value,
            "lock": self.lock,
            "timeout": self.timeout,
            "confirm": self.confirm,
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> Script:
        return cls(
            name=str(wire["name"]),
            filename=str(wire.get("filename", "")),
            description=wire.get("description"),
            params=tuple(
                ScriptParam(str(p["name"]), p.get("description")) for p in wire.get("params", [])
            ),
            filtered_params=tuple(wire.get("filtered_params", [])),
            tags=tuple(wire.get("tags", [])),
            http_method=HttpMethod(str(wire.get("http_method", "post")).lower()),
            output=OutputMode(str(wire.get("output", "split")).lower()),
            lock=bool(wire.get("lock", False)),
            timeout=float(wire["timeout"]) if wire.get("timeout") is not None else None,
            confirm=bool(wire.get("confirm", False)),
        )


@dataclass(frozen=True)
class RunResult:
    """The answer to a blocking run; ``stderr`` is None for combined output."""

    retcode: int
    stdout: list[str]
    stderr: list[str] | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"retcode": self.retcode, "stdout": self.stdout}
        if self.stderr is not None:
            wire["stderr"] = self.stderr
        return wire

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> RunResult:
        stderr = wire.get("stderr")
        return cls(int(wire["retcode"]), list(wire.get("stdout", [])), stderr)


# Events of a streamed run, in the order they arrive.


@dataclass(frozen=True)
class RunWaiting:
    """The script is locked by another run; this one waits its turn."""

    script: str


@dataclass(frozen=True)
class RunStarted:
    run_id: int | None
    started_at: float


@dataclass(frozen=True)
class RunOutput:
    stream: Stream
    text: str


@dataclass(frozen=True)
class RunFinished:
    run_id: int | None
    retcode: int
    duration: float


RunEvent = RunWaiting | RunStarted | RunOutput | RunFinished


def run_event_to_wire(event: RunEvent) -> dict[str, Any]:
    match event:
        case RunWaiting(script):
            return {"event": "waiting", "script": script}
        case RunStarted(run_id, started_at):
            return {"event": "started", "run_id": run_id, "started_at": started_at}
        case RunOutput(stream, text):
            return {"event": "output", "stream": stream.value, "text": text}
        case RunFinished(run_id, retcode, duration):
            return {"event": "finished", "run_id": run_id, "retcode": retcode, "duration": duration}
    raise TypeError(f"not a run event: {event!r}")


def run_event_from_wire(wire: dict[str, Any]) -> RunEvent:
    match wire.get("event"):
        case "waiting":
            return RunWaiting(str(wire.get("script", "")))
        case "started":
            return RunStarted(wire.get("run_id"), float(wire["started_at"]))
        case "output":
            return RunOutput(Stream(wire["stream"]), str(wire["text"]))
        case "finished":
            return RunFinished(wire.get("run_id"), int(wire["retcode"]), float(wire["duration"]))
    raise ValueError(f"unknown run event: {wire!r}")


@dataclass(frozen=True)
class RunRecord:
    """One run as the history keeps it (filtered params already masked).

    ``retcode`` is None while the run goes on, or for ever when the agent died
    during it (then ``interrupted`` is set).
    """

    id: int
    script: str
    started_at: float
    duration: float
    retcode: int | None
    interrupted: bool = False
    params: dict[str, str] = field(default_factory=dict)
    output: list[tuple[Stream, str]] = field(default_factory=list)

    def to_wire(self, with_output: bool = True) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "id": self.id,
            "script": self.script,
            "started_at": self.started_at,
            "duration": self.duration,
            "retcode": self.retcode,
            "interrupted": self.interrupted,
            "params": self.params,
        }
        if with_output:
            wire["output"] = [[stream.value, text] for stream, text in self.output]
        return wire

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> RunRecord:
        return cls(
            id=int(wire["id"]),
            script=str(wire["script"]),
            started_at=float(wire["started_at"]),
            duration=float(wire["duration"]),
            retcode=None if wire.get("retcode") is None else int(wire["retcode"]),
            interrupted=bool(wire.get("interrupted", False)),
            params=dict(wire.get("params", {})),
            output=[(Stream(s), str(t)) for s, t in wire.get("output", [])],
        )


@dataclass(frozen=True)
class AgentEvent:
    """One frame of the agent's events stream.

    ``topic`` says what changed (``process``, ``process.deleted``, ...). Two
    topics are about the stream itself: ``hello`` opens every (re)connection,
    after which a listener should re-read what it shows; ``lost`` says how
    many events it fell too far behind to receive.
    """

    topic: str
    data: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {"topic": self.topic, "data": self.data}


@dataclass(frozen=True)
class AgentInfo:
    """What an agent says about itself; ``features`` names our extensions it serves."""

    url: str
    version: str | None = None
    node_id: str | None = None
    features: frozenset[str] = frozenset()


# Processes (PROTOCOLS.md §2)


class ProcessState(StrEnum):
    """Where a process stands. The first seven are the old agent's words; the rest are ours."""

    PENDING = "pending"
    DOWNLOADING = "downloading"
    DOWNLOAD_FAILURE = "download failure"
    UNPACKING = "unpacking"
    PROCESSING = "processing"
    NO_PROCFILE = "no procfile"
    UNKNOWN_PROCESS_TYPE = "unknown process type"
    STARTING = "starting"
    RUNNING = "running"
    BACKOFF = "backoff"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FATAL = "fatal"

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
        ProcessState.FATAL,
    }
)
_SETTLED_STATES = _FAILED_STATES | {ProcessState.RUNNING, ProcessState.STOPPED}


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
        )


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


LogEvent = LogBatch | LogGap


# Messages (PROTOCOLS.md §4)


class MessageStatus(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    PROCESSING = "processing"
    PROCESSED = "processed"
    ERROR = "error"
    """Ours: delivered too many times without an ack."""


JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain"
BINARY_TYPE = "application/octet-stream"

MESSAGE_TIMES = (
    "created_time",
    "update_time",
    "scheduled_time",
    "processing_time",
    "processed_time",
    "error_time",
)
HEADER_PREFIX = "Scirocco-"


def header_name(field_name: str) -> str:
    """``node_destination`` → ``Scirocco-Node-Destination``."""
    return HEADER_PREFIX + "-".join(word.title() for word in field_name.split("_"))


def iso_time(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def parse_time(text: str | float | None) -> float | None:
    """An ISO 8601 time (a naive one is taken as UTC) or epoch seconds, as epoch seconds."""
    if text is None or text == "":
        return None
    if isinstance(text, int | float):
        return float(text)
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass(frozen=True)
class DeliveryPolicy:
    visibility_timeout: float = 300.0
    """Seconds a pulled message may stay unacked before it is delivered again."""
    max_tries: int = 5
    """Deliveries after which an unacked message goes to ``error``."""


@dataclass(frozen=True)
class Message:
    """One message of the inbox, with its metadata and its payload bytes as pushed."""

    id: str
    node_source: str
    node_destination: str
    status: MessageStatus
    payload: bytes
    payload_type: str = JSON_TYPE
    topic: str | None = None
    created_time: float = 0.0
    update_time: float = 0.0
    scheduled_time: float | None = None
    processing_time: float | None = None
    processed_time: float | None = None
    error_time: float | None = None
    tries: int = 0

    @property
    def content(self) -> Any:
        """The payload as its type means it: parsed JSON, text, or bytes."""
        if self.payload_type == JSON_TYPE:
            try:
                return json.loads(self.payload)
            except ValueError:
                return self.payload.decode(errors="replace")
        if self.payload_type.startswith("text/"):
            return self.payload.decode(errors="replace")
        return self.payload

    def metadata(self) -> dict[str, Any]:
        """Every field but the payload, typed, times in ISO 8601."""
        return {
            "id": self.id,
            "node_source": self.node_source,
            "node_destination": self.node_destination,
            "status": self.status.value,
            "topic": self.topic,
            "tries": self.tries,
            "payload_type": self.payload_type,
            **{name: iso_time(getattr(self, name)) for name in MESSAGE_TIMES},
        }

    def headers(self) -> dict[str, str]:
        """The metadata as Scirocco-* headers: every value a string."""
        return {header_name(k): str(v) for k, v in self.metadata().items() if v is not None}

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], payload: bytes) -> Message:
        def value(name: str) -> str | None:
            return headers.get(header_name(name)) or headers.get(header_name(name).lower())

        times = {name: parse_time(value(name)) for name in MESSAGE_TIMES}
        return cls(
            id=value("id") or "",
            node_source=value("node_source") or "",
            node_destination=value("node_destination") or "",
            status=MessageStatus(value("status") or "pending"),
            payload=payload,
            payload_type=value("payload_type") or BINARY_TYPE,
            topic=value("topic"),
            tries=int(value("tries") or 0),
            created_time=times.pop("created_time") or 0.0,
            update_time=times.pop("update_time") or 0.0,
            **times,
        )

    def to_wire(self) -> dict[str, Any]:
        """The JSON listing's object: typed metadata, and the payload (binary as base64)."""
        content = self.content
        if isinstance(content, bytes):
            content = base64.b64encode(content).decode()
        return {**self.metadata(), "payload": content}

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> Message:
        payload_type = str(wire.get("payload_type") or JSON_TYPE)
        content = wire.get("payload")
        if payload_type == JSON_TYPE:
            payload = json.dumps(content).encode()
        elif payload_type.startswith("text/"):
            payload = str(content or "").encode()
        else:
            payload = base64.b64decode(content or "")
        times = {name: parse_time(wire.get(name)) for name in MESSAGE_TIMES}
        return cls(
            id=str(wire["id"]),
            node_source=str(wire.get("node_source", "")),
            node_destination=str(wire.get("node_destination", "")),
            status=MessageStatus(wire.get("status", "pending")),
            payload=payload,
            payload_type=payload_type,
            topic=wire.get("topic"),
            tries=int(wire.get("tries", 0)),
            created_time=times.pop("created_time") or 0.0,
            update_time=times.pop("update_time") or 0.0,
            **times,
        )


# Queue and pool modules (PROTOCOLS.md §3)


@dataclass(frozen=True)
class ModuleInfo:
    """One module of a queue or pool, with its last known parameters."""

    uid: int
    type: str
    parameters: dict[str, Any] = field(default_factory=dict)
    playing: bool | None = None
    """None when the backend does not say (an older server)."""

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> ModuleInfo:
        return cls(
            uid=int(wire["uid"]),
            type=str(wire.get("type", "")),
            parameters=dict(wire.get("parameters") or {}),
            playing=wire.get("playing"),
        )


@dataclass(frozen=True)
class ModuleSnapshot:
    """A queue or pool as it stands: modules in order (a queue's first plays), background."""

    service: str
    modules: list[ModuleInfo]
    background: ModuleInfo | None = None

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> ModuleSnapshot:
        background = wire.get("background")
        return cls(
            service=str(wire.get("service", "")),
            modules=[ModuleInfo.from_wire(m) for m in wire.get("modules", [])],
            background=ModuleInfo.from_wire(background) if background else None,
        )
