"""A queue or pool of modules over the shmooze proxy's JSON commands (PROTOCOLS.md §3)."""

from __future__ import annotations

from typing import Any

import httpx

from console.adapters.base import json_body, request
from console.adapters.errors import BackendError
from console.models import ModuleInfo, ModuleSnapshot


class ShmoozeModules:
    """One service (``queue`` or ``pool``): its commands, and a snapshot of all it holds."""

    def __init__(self, http: httpx.AsyncClient, service: str) -> None:
        self._http = http
        self.service = service

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
        return await self._start("add", type_name, args)

    async def set_background(self, type_name: str, args: dict[str, Any] | None = None) -> str:
        return await self._start("set_bg", type_name, args)

    async def _start(self, cmd: str, type_name: str, args: dict[str, Any] | None) -> str:
        result = await self.command(cmd, {"type": type_name, "args": args or {}})
        return str(_field(result, "uid"))

    async def remove(self, *uids: str) -> None:
        await self.command("rm", {"uids": list(uids)})

    async def move_to_front(self, *uids: str) -> None:
        await self.command("mv", {"uids": list(uids)})

    async def tell(self, uid: str, cmd: str, args: dict[str, Any] | None = None) -> Any:
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
