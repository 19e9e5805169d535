"""Queue and pool services of modules (shmooze): their commands, and who plays. No HTTP here.

A queue plays its first module and keeps the others suspended, and plays its
background module when it is empty; a pool plays all its modules at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from console.agent.children import Children
from console.agent.events import EventBus
from console.agent.module_process import (
    ModuleError,
    ModuleProcess,
    ModuleTimeouts,
    answer,
    detach,
    failure,
)

log = logging.getLogger(__name__)


class CommandError(Exception):
    """A command that cannot be carried out; its message goes back in the error packet."""


def _arg(args: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = args.get(name)
    if not isinstance(value, kind):
        wanted = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise CommandError(f"'{name}' must be {wanted}")
    return value


class ModuleService:
    """One queue (``ordered``) or pool of modules, driven by JSON commands."""

    def __init__(
        self,
        name: str,
        ordered: bool,
        module_types: dict[str, list[str]],
        background_types: dict[str, list[str]],
        children: Children,
        events: EventBus,
        timeouts: ModuleTimeouts | None = None,
    ) -> None:
        self.name = name
        self.ordered = ordered
        self.module_types = module_types
        self.background_types = background_types
        self.children = children
        self.events = events
        self.timeouts = timeouts or ModuleTimeouts()
        self.modules: list[ModuleProcess] = []
        self.background: ModuleProcess | None = None
        self._lock = asyncio.Lock()

    async def execute(self, body: Any) -> Any:
        """One command, or a list of them answered by a list; never raises."""
        if isinstance(body, list):
            return [await self.handle(packet) for packet in body]
        return await self.handle(body)

    async def handle(self, packet: Any) -> dict[str, Any]:
        if not isinstance(packet, dict):
            return failure('a command is a JSON object: {"cmd": NAME, "args": {...}}')
        cmd, args = packet.get("cmd"), packet.get("args", {})
        if args is None:
            args = {}
        if not isinstance(cmd, str):
            return failure("missing 'cmd'")
        if not isinstance(args, dict):
            return failure("'args' must be an object")
        handler = getattr(self, f"cmd_{cmd}", None)
        if handler is None:
            return failure(f"unknown command {cmd!r}")
        try:
            async with self._lock:
                return answer(await handler(args))
        except (CommandError, ModuleError) as exc:
            return failure(str(exc))
        except Exception as exc:  # a malformed argument deep in a command: still an answer
            log.exception("%s: %s failed", self.name, cmd)
            return failure(f"{cmd}: {type(exc).__name__}: {exc}")

    # -- the commands ----------------------------------------------------------------

    async def cmd_queue(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        wanted = args.get("parameters") or {}
        if not isinstance(wanted, dict):
            raise CommandError("'parameters' must map module types to lists of names")
        return [m.describe(wanted.get(m.type)) for m in self.modules]

    async def cmd_bg(self, args: dict[str, Any]) -> dict[str, Any] | None:
        if self.background is None:
            return None
        wanted = args.get("parameters") or {}
        names = wanted.get(self.background.type) if isinstance(wanted, dict) else None
        return self.background.describe(names)

    async def cmd_modules_available(self, args: dict[str, Any]) -> list[str]:
        return sorted(self.module_types)

    async def cmd_backgrounds_available(self, args: dict[str, Any]) -> list[str]:
        return sorted(self.background_types)

    async def cmd_add(self, args: dict[str, Any]) -> dict[str, int]:
        module = await self._start(args, self.module_types)
        self.modules.append(module)
        await self._rebalance()
        return {"uid": module.uid}

    async def cmd_set_bg(self, args: dict[str, Any]) -> dict[str, int]:
        module = await self._start(args, self.background_types)
        old, self.background = self.background, module
        if old is not None:
            await old.remove()
        await self._rebalance()
        return {"uid": module.uid}

    async def cmd_rm(self, args: dict[str, Any]) -> None:
        uids = _arg(args, "uids", list)
        doomed = [m for m in self.modules if m.uid in uids]
        if self.background is not None and self.background.uid in uids:
            doomed.append(self.background)
        missing = set(uids) - {m.uid for m in doomed}
        if missing:
            raise CommandError(f"no module with uid {sorted(missing)}")
        await asyncio.gather(*(m.remove() for m in doomed))
        self._forget(doomed)
        await self._rebalance()

    async def cmd_mv(self, args: dict[str, Any]) -> None:
        uids = _arg(args, "uids", list)
        by_uid = {m.uid: m for m in self.modules}
        missing = [uid for uid in uids if uid not in by_uid]
        if missing:
            raise CommandError(f"no module with uid {missing}")
        front = [by_uid[uid] for uid in dict.fromkeys(uids)]
        self.modules = front + [m for m in self.modules if m not in front]
        await self._rebalance()

    async def cmd_tell_module(self, args: dict[str, Any]) -> Any:
        return await self._tell(self._module(args), args)

    async def cmd_tell_background(self, args: dict[str, Any]) -> Any:
        return await self._tell(self._background(args), args)

    async def cmd_ask_module(self, args: dict[str, Any]) -> dict[str, Any]:
        return _ask(self._module(args), args)

    async def cmd_ask_background(self, args: dict[str, Any]) -> dict[str, Any]:
        return _ask(self._background(args), args)

    # -- the machinery ---------------------------------------------------------------

    def _module(self, args: dict[str, Any]) -> ModuleProcess:
        uid = _arg(args, "uid", int)
        for module in self.modules:
            if module.uid == uid:
                return module
        raise CommandError(f"no module with uid {uid}")

    def _background(self, args: dict[str, Any]) -> ModuleProcess:
        if self.background is None:
            raise CommandError("there is no background module")
        uid = args.get("uid")
        if uid is not None and uid != self.background.uid:
            raise CommandError(f"the background module is {self.background.uid}, not {uid}")
        return self.background

    async def _tell(self, module: ModuleProcess, args: dict[str, Any]) -> Any:
        cmd = _arg(args, "cmd", str)
        command_args = args.get("args") or {}
        if not isinstance(command_args, dict):
            raise CommandError("'args' of the told command must be an object")
        return await module.ask(f"do_{cmd}", command_args)

    async def _start(self, args: dict[str, Any], types: dict[str, list[str]]) -> ModuleProcess:
        type_name = _arg(args, "type", str)
        if type_name not in types:
            known = ", ".join(sorted(types)) or "none"
            raise CommandError(f"unknown module type {type_name!r} (available: {known})")
        module_args = args.get("args") or {}
        if not isinstance(module_args, dict):
            raise CommandError("'args' of the module must be an object")
        module = ModuleProcess(
            type_name,
            types[type_name],
            module_args,
            self.children,
            self.timeouts,
            self._changed,
        )
        await module.start()
        return module

    def _forget(self, gone: list[ModuleProcess]) -> None:
        self.modules = [m for m in self.modules if m not in gone]
        if self.background in gone:
            self.background = None

    def _changed(self, module: ModuleProcess, what: str) -> None:
        if what == "parameters":
            self.events.publish(
                "module",
                {
                    "service": self.name,
                    **module.describe(list(module.parameters)),
                    "playing": module.playing,
                },
            )
        elif what == "ended" and (module in self.modules or module is self.background):
            detach(self._ended(module))

    async def _ended(self, module: ModuleProcess) -> None:
        async with self._lock:
            self._forget([module])
            await self._rebalance()

    async def _rebalance(self) -> None:
        """Play who should play, suspend the rest; then tell the events stream."""
        if self.ordered:
            wanted = {m: i == 0 for i, m in enumerate(self.modules)}
        else:
            wanted = dict.fromkeys(self.modules, True)
        if self.background is not None:
            wanted[self.background] = not self.modules
        # Suspends first: in a queue two modules never play at once, even for a moment.
        for module, play in sorted(wanted.items(), key=lambda item: item[1]):
            if module.playing != play and not module.ended.is_set():
                try:
                    await module.ask("play" if play else "suspend")
                    module.playing = play
                except ModuleError as exc:
                    log.warning("%s: %s", self.name, exc)
        self.events.publish("modules", self.snapshot())

    def snapshot(self) -> dict[str, Any]:
        """Everything the console shows: order, who plays, every parameter."""

        def entry(module: ModuleProcess) -> dict[str, Any]:
            return {**module.describe(list(module.parameters)), "playing": module.playing}

        return {
            "service": self.name,
            "modules": [entry(m) for m in self.modules],
            "background": entry(self.background) if self.background else None,
        }

    async def close(self) -> None:
        everyone = [*self.modules, *([self.background] if self.background else [])]
        # Forgotten first: one that ends must not make the next one play.
        self.modules, self.background = [], None
        await asyncio.gather(*(m.remove() for m in everyone))


def _ask(module: ModuleProcess, args: dict[str, Any]) -> dict[str, Any]:
    names = args.get("parameters")
    if names is None:
        return dict(module.parameters)
    if not isinstance(names, list):
        raise CommandError("'parameters' must be a list of names")
    return {name: module.parameters[name] for name in names if name in module.parameters}
