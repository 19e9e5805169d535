"""Types every part of the console shares: output streams, the agent and its events."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Stream(StrEnum):
    STDOUT = "stdout"
    STDERR = "stderr"


class ConnectionState(StrEnum):
    """How the console stands with its agent, shown in the header."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DEGRADED = "degraded"
    """The agent answers, but part of what is shown of it is not live (fleet members)."""
    OFFLINE = "offline"


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

    @classmethod
    def from_index(cls, url: str, body: object) -> AgentInfo:
        """What the agent's index (``GET /``, JSON) says under ``opsconsole``; an older server
        (any other body, or none: ``{}``) has no extensions."""
        ours = body.get("opsconsole") if isinstance(body, dict) else None
        if not isinstance(ours, dict):
            ours = {}
        return cls(
            url=url,
            version=ours.get("version"),
            node_id=ours.get("node_id"),
            features=frozenset(ours.get("features", [])),
        )
