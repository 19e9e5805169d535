"""Queue and pool modules (PROTOCOLS.md §3) as the console sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModuleInfo:
    """One module of a queue or pool, with its last known parameters."""

    uid: str
    """shmooze's: a uuid4 string (older servers in debug mode: a number, kept as text)."""
    type: str
    parameters: dict[str, Any] = field(default_factory=dict)
    playing: bool | None = None
    """None when the backend does not say (an older server)."""

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> ModuleInfo:
        return cls(
            uid=str(wire["uid"]),
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
