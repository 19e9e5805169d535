"""Queue and pool services of modules (shmooze): their commands, and who plays. No HTTP here.

A queue plays its first module and keeps the others suspended, and plays its
background module when it is empty; a pool plays all its modules at once.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import Callable
from typing import Any

from console.agent.children import Children
from console.agent.errors import HttpError
from console.agent.events import EventBus
from console.agent.module_commands import (
    NEITHER_DICT_NOR_LIST,
    NO_BACKGROUND,
    POOL_COMMANDS,
    QUEUE_COMMANDS,
    UNKNOWN_TYPE,
    WRONG_BACKGROUND,
    check_packet,
)
from console.agent.module_process import (
    ModuleError,
    ModuleProcess,
    ModuleTimeouts,
    answer,
    detach,
    failure,
)

log = logging.getLogger(__name__)

MAX_COMMANDS_PER_BODY = 100
"""Commands one body (a JSON list) may carry: a 1 MiB body could hold thousands of adds."""
MAX_MODULES = 200
"""Modules a queue or pool holds at once by default (``[queue] max_modules``); each is a
process with two pipes. The background module is not counted."""


def new_uid() -> str:
    """shmooze's uids: a uuid4 as a string."""
    return str(uuid.uuid4())


def sequential_uids() -> Callable[[], str]:
    """Uids "1", "2"... for one agent: reproducible, as shmooze's debug mode (from 0 there)."""
    numbers = itertools.count(1)
    return lambda: str(next(numbers))


class CommandError(Exception):
    """A command that cannot be carried out; its message goes back in the error packet."""


class ModuleService:
    """One queue (``ordered``) or pool of modules, driven by shmooze's JSON commands."""

    def __init__(
        self,
        name: str,
        ordered: bool,
        module_types: dict[str, list[str]],
        background_types: dict[str, list[str]],
        children: Children,
        events: EventBus,
        timeouts: ModuleTimeouts | None = None,
        uids: Callable[[], str] = new_uid,
        max_modules: int = MAX_MODULES,
    ) -> None:
        self.name = name
        self.max_modules = max_modules
        self.uids = uids
        self.ordered = ordered
        self.commands = QUEUE_COMMANDS if ordered else POOL_COMMANDS
        self.module_types = module_types
        self.background_types = background_types
        self.children = children
        self.events = events
        self.timeouts = timeouts or ModuleTimeouts()
        self.modules: list[ModuleProcess] = []
        self.background: ModuleProcess | None = None
        self._lock = asyncio.Lock()

    def check_bounds(self, body: Any) -> None:
        """Refuse, before any of it runs, a body past the bounds: HttpError 413 for a list
        of over MAX_COMMANDS_PER_BODY commands, 409 when its ``add``s would take the service
        past ``max_modules`` (each ``add`` is checked again when it runs)."""
        packets = body if isinstance(body, list) else [body]
        if len(packets) > MAX_COMMANDS_PER_BODY:
            raise HttpError(
                413, f"{len(packets)} commands in one body: at most {MAX_COMMANDS_PER_BODY}"
            )
        adds = sum(1 for p in packets if isinstance(p, dict) and p.get("cmd") == "add")
        if adds and len(self.modules) + adds > self.max_modules:
            raise HttpError(409, self._full(adds))

    def _full(self, adds: int) -> str:
        held = len(self.modules)
        return (
            f"the {self.name} holds at most {self.max_modules} modules and has {held}: "
            f"{adds} more refused (remove some first)"
        )

    async def execute(self, body: Any) -> Any:
        """One command, or a list of them answered by a list; never raises (a body past
        the bounds of ``check_bounds`` gets one failure packet, nothing run)."""
        try:
            self.check_bounds(body)
        except HttpError as exc:
            return failure(exc.message)
        if isinstance(body, list):
            return [await self.handle(packet) for packet in body]
        if isinstance(body, dict):
            return await self.handle(body)
        return failure(NEITHER_DICT_NOR_LIST)

    async def handle(self, packet: Any) -> dict[str, Any]:
        try:
            cmd, args = check_packet(packet, self.commands)
        except ValueError as exc:
            return failure(str(exc))
        try:
            async with self._lock:
                return answer(await getattr(self, f"cmd_{cmd}")(**args))
        except (CommandError, ModuleError) as exc:
            return failure(str(exc))
        except Exception as exc:  # a malformed argument deep in a command: still an answer
            log.exception("%s: %s failed", self.name, cmd)
            return failure(f"{cmd}: {type(exc).__name__}: {exc}")

    # -- the commands: upstream's names and keyword arguments (module_commands.py) -------

    async def cmd_queue(self, parameters: Any = None) -> list[dict[str, Any]]:
        wanted = _parameter_map(parameters)
        return [m.describe(wanted.get(m.type)) for m in self.modules]

    cmd_pool = cmd_queue

    async def cmd_bg(self, parameters: Any = None) -> dict[str, Any] | None:
        if self.background is None:
            return None
        return self.background.describe(_parameter_map(parameters).get(self.background.type))

    async def cmd_modules_available(self) -> list[str]:
        return sorted(self.module_types)

    async def cmd_backgrounds_available(self) -> list[str]:
        return sorted(self.background_types)

    async def cmd_add(self, type: Any, args: Any = None) -> dict[str, str]:
        if len(self.modules) >= self.max_modules:
            raise CommandError(self._full(1))
        module = await self._start(type, args, self.module_types)
        self.modules.append(module)
        await self._rebalance()
        return {"uid": module.uid}

    async def cmd_set_bg(self, type: Any, args: Any = None) -> dict[str, str]:
        module = await self._start(type, args, self.background_types)
        old, self.background = self.background, module
        if old is not None:
            await old.dismiss()
        await self._rebalance()
        return {"uid": module.uid}

    async def cmd_rm(self, uids: Any) -> None:
        """Unknown uids are ignored; answers once the modules answered ``rm`` (not ended)."""
        wanted = _uid_list(uids)
        doomed = [m for m in self.modules if m.uid in wanted]
        if self.background is not None and self.background.uid in wanted:
            doomed.append(self.background)
        self._forget(doomed)
        await asyncio.gather(*(m.dismiss() for m in doomed))
        await self._rebalance()

    async def cmd_mv(self, uids: Any) -> None:
        """The listed uids that exist go first, in that order; unknown ones are ignored."""
        by_uid = {m.uid: m for m in self.modules}
        front = [by_uid[uid] for uid in dict.fromkeys(_uid_list(uids)) if uid in by_uid]
        self.modules = front + [m for m in self.modules if m not in front]
        await self._rebalance()

    async def cmd_tell_module(self, uid: Any, cmd: Any, args: Any = None) -> Any:
        where = "queue" if self.ordered else "pool"
        return await self._tell(self._module(uid, where), cmd, args)

    async def cmd_tell_background(self, uid: Any, cmd: Any, args: Any = None) -> Any:
        return await self._tell(self._background(uid), cmd, args)

    async def cmd_ask_module(self, uid: Any, parameters: Any) -> dict[str, Any]:
        # "queue" in a pool too: upstream's pool copied the queue's words here.
        return _ask(self._module(uid, "queue"), parameters)

    async def cmd_ask_background(self, uid: Any, parameters: Any) -> dict[str, Any]:
        return _ask(self._background(uid), parameters)

    # -- the machinery ---------------------------------------------------------------

    def _module(self, uid: Any, where: str) -> ModuleProcess:
        for module in self.modules:
            if module.uid == uid:
                return module
        raise CommandError(f"Module identifier not in {where}")

    def _background(self, uid: Any) -> ModuleProcess:
        if self.background is None:
            raise CommandError(NO_BACKGROUND)
        if uid != self.background.uid:
            raise CommandError(WRONG_BACKGROUND)
        return self.background

    async def _tell(self, module: ModuleProcess, cmd: Any, args: Any) -> Any:
        if not isinstance(cmd, str):
            raise CommandError(f"'cmd' must be a string, not {type(cmd).__name__}")
        return await module.ask(f"do_{cmd}", {} if args is None else args)

    async def _start(self, type_name: Any, args: Any, types: dict[str, list[str]]) -> ModuleProcess:
        if not isinstance(type_name, str) or type_name not in types:
            raise CommandError(UNKNOWN_TYPE)
        # The args go to the module's init as they came: the module judges them (upstream).
        module = ModuleProcess(
            self.uids(),
            type_name,
            types[type_name],
            {} if args is None else args,
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
            # A background that arrives while modules play is told to suspend, as
            # shmooze's queue told it (modules waiting below the head are told nothing).
            fresh_background = module is self.background and not module.told
            if (module.playing != play or fresh_background) and not module.ended.is_set():
                try:
                    await module.ask("play" if play else "suspend")
                    module.playing, module.told = play, True
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


def _ask(module: ModuleProcess, names: Any) -> dict[str, Any]:
    """The cached parameters among ``names`` (a dict gives its keys, as upstream iterates it);
    ``None`` gives them all (ours: shmooze wants the names, and crashed on null)."""
    if names is None:
        return dict(module.parameters)
    if not isinstance(names, list | dict):
        raise CommandError("'parameters' must be a list of names")
    return {name: module.parameters[name] for name in names if name in module.parameters}


def _parameter_map(parameters: Any) -> dict[str, Any]:
    """A listing's ``{TYPE: [names]}``; None (not given) is no parameters."""
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise CommandError("'parameters' must map module types to lists of names")
    return parameters


def _uid_list(uids: Any) -> list[Any]:
    if not isinstance(uids, list):
        raise CommandError("'uids' must be a list of module identifiers")
    return uids
