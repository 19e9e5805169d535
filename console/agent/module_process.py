"""One module: a child process of any language, on two newline-JSON streams (PROTOCOLS.md §3).

The agent listens on two loopback ports and starts ``COMMAND... HOST CMD_PORT
UPDATE_PORT``; the module connects to both. On the command stream the agent
asks and the module answers; on the update stream the module tells and the
agent answers. The update stream is served by its own task from the start, so
a module that pushes parameters while it handles ``init`` never stalls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from console.agent.children import Children
from console.models import Stream

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
MAX_PACKET = 1 << 20


@dataclass(frozen=True)
class ModuleTimeouts:
    """How long a module gets for each step; the old system's measured values by default."""

    connect: float = 2.0
    reply: float = 1.0
    rm_grace: float = 3.0
    """After ``rm``, before SIGTERM."""
    term_grace: float = 5.0
    """After SIGTERM, before SIGKILL."""


class ModuleError(Exception):
    """A module failed: did not connect, did not answer, answered nonsense, or refused.

    The message is shmooze's own words for it (clients match them); the details go to
    the agent's log.
    """


TIMED_OUT = "Timeout sending message to module"
PIPE_CLOSED = "Pipe to module unexpectedly closed"
NOT_CONNECTED = "Could not connect to spawned module"
MALFORMED = "Malformed response"


class Garbled(ModuleError):
    """The module's answer cannot be read: it is stopped, as one that does not answer."""


_detached: set[asyncio.Task[Any]] = set()


def detach(work: Coroutine[Any, Any, Any]) -> None:
    """Run ``work`` without waiting for it, holding it so that it is not collected midway."""
    task = asyncio.create_task(work)
    _detached.add(task)
    task.add_done_callback(_detached.discard)


def answer(result: Any = None) -> dict[str, Any]:
    return {"success": True} if result is None else {"success": True, "result": result}


def failure(message: str) -> dict[str, Any]:
    return {"success": False, "error": message}


class ModuleProcess:
    """A running module: its process, its two streams and its parameters."""

    def __init__(
        self,
        uid: str,
        type_name: str,
        command: list[str],
        args: Any,
        children: Children,
        timeouts: ModuleTimeouts,
        on_change: Callable[[ModuleProcess, str], None],
    ) -> None:
        self.uid = uid
        self.type = type_name
        self.command = command
        self.args = args
        self.parameters: dict[str, Any] = {}
        self.playing = False
        self.told = False
        """Sent ``play`` or ``suspend`` at least once."""
        self.children = children
        self.timeouts = timeouts
        self.on_change = on_change
        """Called with ``parameters`` when they change, and ``ended`` when the module is gone."""
        self.proc: asyncio.subprocess.Process | None = None
        self._commands: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._command_lock = asyncio.Lock()
        self._updates_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self.ended = asyncio.Event()
        self._removing = False

    def describe(self, parameter_names: Any = None) -> dict[str, Any]:
        """``{"uid", "type"}``, plus ``parameters`` among the names when names are given."""
        entry: dict[str, Any] = {"uid": self.uid, "type": self.type}
        if parameter_names is not None:
            entry["parameters"] = {
                k: self.parameters[k] for k in parameter_names if k in self.parameters
            }
        return entry

    async def start(self) -> None:
        """Spawn, wait for both connections, send ``init``; on any failure the module is gone."""
        accepted: dict[str, asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
        loop = asyncio.get_running_loop()
        accepted = {"cmd": loop.create_future(), "update": loop.create_future()}

        def acceptor(name: str) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], None]:
            def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                if accepted[name].done():
                    writer.close()  # one connection per stream; a second is refused
                else:
                    accepted[name].set_result((reader, writer))

            return accept

        servers = [
            await asyncio.start_server(acceptor(name), HOST, 0, limit=MAX_PACKET)
            for name in ("cmd", "update")
        ]
        ports = [str(server.sockets[0].getsockname()[1]) for server in servers]
        try:
            self.proc = await self.children.spawn([*self.command, HOST, *ports])
            self._watch_task = asyncio.create_task(self._watch_exit())
            try:
                async with asyncio.timeout(self.timeouts.connect):
                    self._commands = await accepted["cmd"]
                    updates = await accepted["update"]
            except TimeoutError:
                log.warning("%s did not connect within %gs", self.type, self.timeouts.connect)
                raise ModuleError(NOT_CONNECTED) from None
            self._updates_task = asyncio.create_task(self._serve_updates(*updates))
            await self.ask("init", self.args)
        except BaseException:
            await self.kill()
            raise
        finally:
            for server in servers:
                server.close()

    async def ask(self, cmd: str, args: Any = None) -> Any:
        """Send one command; the module's result, or ModuleError (a timeout also kills it)."""
        if self._commands is None or self.ended.is_set():
            raise ModuleError(PIPE_CLOSED)
        reader, writer = self._commands
        async with self._command_lock:
            try:
                packet = {"cmd": cmd, "args": {} if args is None else args}
                writer.write(json.dumps(packet).encode() + b"\n")
                await writer.drain()
                async with asyncio.timeout(self.timeouts.reply):
                    line = await reader.readline()
            except TimeoutError:
                log.warning(
                    "module %s (%s) did not answer %r within %gs; stopping it",
                    self.uid,
                    self.type,
                    cmd,
                    self.timeouts.reply,
                )
                detach(self.kill())
                raise ModuleError(TIMED_OUT) from None
            except (ConnectionError, ValueError) as exc:
                log.warning("module %s dropped its command stream: %s", self.uid, exc)
                raise ModuleError(PIPE_CLOSED) from None
        try:
            return _result(line, self)
        except Garbled:
            detach(self.kill())
            raise

    async def _serve_updates(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            while line := await reader.readline():
                writer.write(json.dumps(self._update(line)).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, ValueError):
            pass
        finally:
            writer.close()
        # It hung up: it is ending, or broken. Make sure it ends, with whatever it started
        # (a grandchild holding its pipes would keep its exit from being seen).
        if not self._removing:
            detach(self.remove(polite=False))

    def _update(self, line: bytes) -> dict[str, Any]:
        try:
            packet = json.loads(line)
            cmd, args = packet["cmd"], packet.get("args", {})
            if not isinstance(args, dict):
                raise TypeError("args must be an object")
        except (ValueError, KeyError, TypeError) as exc:
            return failure(f"bad update packet: {exc}")
        match cmd:
            case "set_parameters":
                parameters = args.get("parameters")
                if not isinstance(parameters, dict):
                    return failure("set_parameters needs a 'parameters' object")
                self.parameters.update(parameters)
                self.on_change(self, "parameters")
            case "unset_parameters":
                names = args.get("parameters")
                if not isinstance(names, list):
                    return failure("unset_parameters needs a 'parameters' list")
                for name in names:
                    self.parameters.pop(name, None)
                self.on_change(self, "parameters")
            case "rm":
                detach(self.remove(polite=False))
            case _:
                return failure(f"unknown update command {cmd!r}")
        return answer()

    async def _watch_exit(self) -> None:
        assert self.proc is not None
        # Its output is read, or a module that writes much would block on a full pipe.
        await self.children.watch(self.proc, self._output)
        if self._updates_task is not None:
            self._updates_task.cancel()
        if self._commands is not None:
            self._commands[1].close()
        self.ended.set()
        self.on_change(self, "ended")

    def _output(self, stream: Stream, lines: list[str]) -> None:
        for line in lines:
            log.info("module %s (%s) %s: %s", self.uid, self.type, stream.value, line)

    async def remove(self, polite: bool = True) -> None:
        """The ladder: ``rm`` (when polite), then SIGTERM, then SIGKILL; returns once it is gone."""
        if self._removing:
            await self.ended.wait()
            return
        self._removing = True
        if self.proc is None:
            self.ended.set()
            return

        async def say_rm() -> None:
            # A module that said ``rm`` itself is ending already: it only gets the wait.
            if polite and self._commands is not None:
                with contextlib.suppress(ModuleError):
                    await self.ask("rm")

        await self.children.stop(
            self.proc,
            grace=self.timeouts.term_grace,
            polite=say_rm,
            polite_wait=self.timeouts.rm_grace,
        )
        await self.ended.wait()

    async def dismiss(self) -> None:
        """As shmooze's ``rm``: returns once the module answered ``rm`` (or failed to);
        the rest of the ladder (wait, SIGTERM, SIGKILL) goes on in the background."""
        if self._removing or self.proc is None:
            detach(self.remove())
            return
        self._removing = True
        with contextlib.suppress(ModuleError):
            await self.ask("rm")
        detach(self._stop_after_rm())

    async def _stop_after_rm(self) -> None:
        assert self.proc is not None
        if self._commands is not None:
            self._commands[1].close()  # as shmooze: the streams close, then the waits begin
        await self.children.stop(
            self.proc,
            grace=self.timeouts.term_grace,
            polite=_nothing,
            polite_wait=self.timeouts.rm_grace,
        )
        await self.ended.wait()

    async def kill(self) -> None:
        """No politeness: for a module that failed to start or to answer."""
        self._removing = True
        if self.proc is not None:
            await self.children.stop(self.proc, grace=self.timeouts.term_grace)
            if self._watch_task is not None:
                await self._watch_task
        self.ended.set()


async def _nothing() -> None:
    """The polite step after ``rm`` was said already."""


def _result(line: bytes, module: ModuleProcess) -> Any:
    if not line:
        log.warning("module %s closed its command stream", module.uid)
        raise Garbled(PIPE_CLOSED)
    try:
        packet = json.loads(line)
    except ValueError:
        log.warning("module %s answered garbage: %r", module.uid, line[:80])
        raise Garbled(MALFORMED) from None
    if not isinstance(packet, dict) or "success" not in packet:
        log.warning("module %s answered without 'success': %r", module.uid, line[:80])
        raise Garbled(MALFORMED)
    if not packet["success"]:
        if "error" not in packet:
            raise Garbled(MALFORMED)
        raise ModuleError(str(packet["error"]))
    return packet.get("result")
