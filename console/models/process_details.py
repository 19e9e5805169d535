"""One process looked at closely (our extension of PROTOCOLS.md §2): how it runs, how it ended.

``GET /process-details/SLUG`` answers a ``ProcessDetails``; ``GET /process-usage``
answers ``{"usage": {SLUG: USAGE}}`` for the processes running now.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from typing import Any

from console.models.processes import ProcessStatus


@dataclass(frozen=True)
class ProcessUsage:
    """What a running process costs now, sampled from ``/proc`` by the agent.

    Per main process (the PID the table shows; ``sh -c`` of a simple command
    execs it): its RSS, and its CPU including the children it has reaped.
    """

    cpu: float
    """Percent of one core since the previous sample (or since it started, the first time)."""
    rss: int
    """Resident memory, bytes."""

    def to_wire(self) -> dict[str, Any]:
        return {"cpu": round(self.cpu, 1), "rss": self.rss}

    @classmethod
    def from_wire(cls, wire: object) -> ProcessUsage | None:
        """The usage in ``wire``; None when it is not one (an agent that did not sample)."""
        if not isinstance(wire, dict):
            return None
        cpu, rss = wire.get("cpu"), wire.get("rss")
        if not isinstance(cpu, int | float) or not isinstance(rss, int):
            return None
        return cls(float(cpu), rss)


@dataclass(frozen=True)
class ProcessExit:
    """How one run ended: when, with what code or signal, and whether the operator asked."""

    at: float
    """Epoch seconds (the agent's clock)."""
    code: int | None
    """Exit status; negative: killed by that signal (asyncio's convention); None: unknown."""
    request: str | None = None
    """``"restart"`` or ``"stop"`` when the operator's request ended it; None: it ended alone."""
    ran_for: float = 0.0
    """Seconds the run lasted."""

    @property
    def signal_name(self) -> str | None:
        """``SIGTERM`` for a code of -15; None for a plain exit."""
        if self.code is None or self.code >= 0:
            return None
        try:
            return signal.Signals(-self.code).name
        except ValueError:
            return f"signal {-self.code}"

    @property
    def outcome(self) -> str:
        """In a few words: ``exit 1``, ``SIGKILL``, ``exit 0``, ``unknown``."""
        if self.code is None:
            return "unknown"
        return self.signal_name or f"exit {self.code}"

    def to_wire(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "code": self.code,
            "signal": self.signal_name,
            "request": self.request,
            "ran_for": round(self.ran_for, 3),
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> ProcessExit:
        code = wire.get("code")
        request = wire.get("request")
        return cls(
            at=float(wire.get("at") or 0.0),
            code=code if isinstance(code, int) else None,
            request=request if isinstance(request, str) else None,
            ran_for=float(wire.get("ran_for") or 0.0),
        )


@dataclass(frozen=True)
class ProcessDetails:
    """A process's status with what the table has no room for.

    ``env`` is what the process was given beyond the agent's own environment
    (``PORT``, the Procfile line's, the create request's), secret values already
    replaced by ``FILTERED`` on the agent: they never cross the wire.
    """

    status: ProcessStatus
    command: str | None
    workdir: str | None
    env: dict[str, str] = field(default_factory=dict)
    masked: tuple[str, ...] = ()
    """The names in ``env`` whose values were hidden."""
    exits: tuple[ProcessExit, ...] = ()
    """The last runs' ends, oldest first."""
    usage: ProcessUsage | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            **self.status.to_wire(),
            "command": self.command,
            "workdir": self.workdir,
            "env": self.env,
            "masked": list(self.masked),
            "exits": [e.to_wire() for e in self.exits],
            "usage": None if self.usage is None else self.usage.to_wire(),
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> ProcessDetails:
        env = wire.get("env")
        exits = wire.get("exits")
        return cls(
            status=ProcessStatus.from_wire(wire),
            command=_text(wire.get("command")),
            workdir=_text(wire.get("workdir")),
            env={str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {},
            masked=tuple(str(k) for k in wire.get("masked") or ()),
            exits=tuple(ProcessExit.from_wire(e) for e in exits or () if isinstance(e, dict)),
            usage=ProcessUsage.from_wire(wire.get("usage")),
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
