"""A queue or pool of modules over the shmooze proxy's JSON commands (PROTOCOLS.md §3)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from console.adapters.base import json_body, request
from console.adapters.changes import Change, Resync, Upsert
from console.adapters.errors import BackendError
from console.adapters.watch import EventSource, no_events, resyncing
from console.models import AgentEvent, ModuleInfo, ModuleSnapshot


class ShmoozeModules:
    """One service (``queue`` or ``pool``): its commands, and a snapshot of all it holds."""

    def __init__(self, http: httpx.AsyncClient, service: str) -> None:
        self._http = http
        self.service = service
        self.events: EventSource = no_events
        """The agent's events (set by ``AgentClient``), for ``watch``."""

    def watch(self) -> AsyncIterator[Change[ModuleSnapshot | ModuleInfo]]:
        """The service as it changes, for ever: a Resync holding one snapshot after every
        (re)connection and after every add, remove, move or end; Upsert of a module whose
        parameters changed; Offline when the stream drops. Snapshot errors raise
        BackendError (NotFound: the agent serves no such service)."""

        async def listing() -> list[ModuleSnapshot | ModuleInfo]:
            return [await self.snapshot()]

        def change(event: AgentEvent) -> Change[ModuleSnapshot | ModuleInfo] | None:
            if event.data.get("service") != self.service:
                return None
            if event.topic == "modules":
                return Resync([ModuleSnapshot.from_wire(event.data)])
            if event.topic == "module":
                return Upsert(ModuleInfo.from_wire(event.data))
            return None

        return resyncing(self.events(("module", "modules")), listing, change)

    async def batch(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Several commands in one request; their answer packets, in order."""
        response = await request(self._http, "POST", f"/{self.service}", json=commands)
        answers = json_body(response)
        if not isinstance(answers, list) or len(answers) != len(commands):
            raise BackendError(f"{self.service}: unexpected answer {str(answers)[:80]}")
        return answers

    async def command(self, name: str, args: dict[str, Any] | None = None) -> Any:
        """One command's result; an error packet raises BackendError with its message."""
        response = await request(
            self._http, "POST", f"/{self.service}", json={"cmd": name, "args": args or {}}
        )
        return _result(json_body(response), name)

    async def snapshot(self) -> ModuleSnapshot:
        """The modules in order with all their parameters, and the background: two requests."""
        # A queue lists itself with "queue" and has a background; a pool, "pool" and none.
        asked = [self.service, "bg"] if self.service == "queue" else [self.service]
        answers = await self.batch([{"cmd": cmd} for cmd in asked])
        results = [_result(a, c) for a, c in zip(answers, asked, strict=True)]
        listing, background = results[0], results[1] if len(results) > 1 else None
        modules = [ModuleInfo.from_wire(m) for m in listing or []]
        everyone = modules + ([ModuleInfo.from_wire(background)] if background else [])
        asks = [
            {
                "cmd": "ask_background" if i == len(modules) else "ask_module",
                # null: every parameter (ours; shmooze wants the names).
                "args": {"uid": m.uid, "parameters": None},
            }
            for i, m in enumerate(everyone)
        ]
        answers = await self.batch(asks) if asks else []
        filled = [
            ModuleInfo(
                m.uid,
                m.type,
                a.get("result") or {} if a.get("success") else {},
                playing=_playing(self.service, i, len(modules)),
            )
            for i, (m, a) in enumerate(zip(everyone, answers, strict=True))
        ]
        return ModuleSnapshot(
            self.service, filled[: len(modules)], filled[-1] if background else None
        )

    async def add(self, type_name: str, args: dict[str, Any] | None = None) -> str:
        """Add a module of ``type_name`` with ``args``; its uid. Raises BackendError with the
        service's words (unknown type, bad args)."""
        return await self._start("add", type_name, args)

    async def set_background(self, type_name: str, args: dict[str, Any] | None = None) -> str:
        """Make a module of ``type_name`` the background (the old one is stopped); its uid.
        Raises BackendError."""
        return await self._start("set_bg", type_name, args)

    async def _start(self, cmd: str, type_name: str, args: dict[str, Any] | None) -> str:
        result = await self.command(cmd, {"type": type_name, "args": args or {}})
        return str(_field(result, "uid"))

    async def remove(self, *uids: str) -> None:
        """Remove (and stop) the modules ``uids``. Raises BackendError."""
        await self.command("rm", {"uids": list(uids)})

    async def move_to_front(self, *uids: str) -> None:
        """Put ``uids`` first, in that order (the rest keep theirs). Raises BackendError."""
        await self.command("mv", {"uids": list(uids)})

    async def tell(self, uid: str, cmd: str, args: dict[str, Any] | None = None) -> Any:
        """Send module ``uid`` the command ``cmd`` with ``args``; its answer. Raises
        BackendError with the module's error."""
        return await self.command("tell_module", {"uid": uid, "cmd": cmd, "args": args or {}})

    async def available(self) -> tuple[list[str], list[str]]:
        """Module types, and background types (a pool has none)."""
        if self.service != "queue":
            return await self.command("modules_available") or [], []
        answers = await self.batch([{"cmd": "modules_available"}, {"cmd": "backgrounds_available"}])
        return (
            _result(answers[0], "modules_available") or [],
            _result(answers[1], "backgrounds_available") or [],
        )


def _playing(service: str, index: int, count: int) -> bool:
    """The rule, for servers that do not say: a queue plays its first (or its background)."""
    if service != "queue":
        return index < count
    return index == 0 if count else True


def _result(packet: object, cmd: str) -> Any:
    if not isinstance(packet, dict) or "success" not in packet:
        raise BackendError(f"{cmd}: not an answer packet: {str(packet)[:80]}")
    if not packet["success"]:
        raise BackendError(f"{cmd}: {packet.get('error', 'failed')}")
    return packet.get("result")


def _field(result: object, key: str) -> Any:
    if not isinstance(result, dict) or key not in result:
        raise BackendError(f"expected {key!r} in {str(result)[:80]}")
    return result[key]
