"""The script catalog (PROTOCOLS.md §1): scripts, runs and their events, past runs.

Each type that crosses the wire knows its own JSON shape (``to_wire`` /
``from_wire``), so the agent that writes it and the adapter that reads it
cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from console.models.common import Stream

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

    def is_filtered(self, name: str) -> bool:
        """Whether a param's value is a secret; names match whatever their case (a param
        reaches the script as an upper-case variable, so ``Secret`` is ``secret``)."""
        return name.casefold() in {f.casefold() for f in self.filtered_params}

    def mask(self, params: dict[str, str]) -> dict[str, str]:
        """The params as they may be shown or stored: filtered values hidden."""
        return {k: FILTERED if self.is_filtered(k) else v for k, v in params.items()}

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


RETURN_VALUE_PREFIX = "jojo_return_value"


@dataclass(frozen=True)
class RunResult:
    """The answer to a blocking run; ``stderr`` is None for combined output."""

    retcode: int
    stdout: list[str]
    stderr: list[str] | None = None

    @property
    def return_values(self) -> dict[str, str]:
        """``jojo_return_value KEY=VALUE`` lines of stdout as ``{KEY: VALUE}`` (pyjojo's form).

        Split at the first ``=`` and stripped; a line without ``=`` is not a value (pyjojo
        answered 500 to both, a bug we do not keep).
        """
        values = {}
        for line in self.stdout:
            if line.startswith(RETURN_VALUE_PREFIX):
                key, sep, value = line.removeprefix(RETURN_VALUE_PREFIX).partition("=")
                if sep:
                    values[key.strip()] = value.strip()
        return values

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"retcode": self.retcode, "stdout": self.stdout}
        if self.stderr is not None:
            wire["stderr"] = self.stderr
        wire["return_values"] = self.return_values
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
