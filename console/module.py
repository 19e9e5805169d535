"""Write a queue/pool module in Python: subclass ``Module``, then ``Module.main()``.

The agent starts a module as ``COMMAND... HOST CMD_PORT UPDATE_PORT``. This
class connects both streams, calls ``init``/``play``/``suspend``/``rm`` and
``do_<command>`` methods as the agent asks, answers for them, and lets the
module push its parameters::

    class Countdown(Module):
        async def init(self, args):
            self.left = int(args.get("seconds", 10))

        async def run(self):                       # runs after init, until rm
            while self.left > 0:
                await self.set_parameters(left=self.left)
                await asyncio.sleep(1)
                self.left -= 1
            await self.remove()                    # leave the queue on its own

        async def do_add(self, args):              # tell_module(uid, "add", {...})
            self.left += int(args.get("seconds", 0))
            return {"left": self.left}

    if __name__ == "__main__":
        Countdown.main()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any


class Module:
    """Base class of a module; override ``init``, ``run``, ``play``, ``suspend``, ``do_*``."""

    def __init__(self, host: str, command_port: int, update_port: int) -> None:
        self.address = (host, command_port, update_port)
        self.playing = False
        self._updates: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._update_lock = asyncio.Lock()
        self._done = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None

    # -- what a module overrides ---------------------------------------------------

    async def init(self, args: dict[str, Any]) -> None:
        """The ``add`` args; do nothing visible before this."""

    async def run(self) -> None:
        """The module's own work, started after ``init``; cancelled at ``rm``."""

    async def play(self) -> None:
        """Go on (the queue put this module first, or the pool started it)."""

    async def suspend(self) -> None:
        """Pause: another module plays now."""

    async def rm(self) -> None:
        """Clean up: the module ends right after this."""

    # -- what a module calls -------------------------------------------------------

    async def set_parameters(self, **parameters: Any) -> None:
        await self._tell("set_parameters", {"parameters": parameters})

    async def unset_parameters(self, *names: str) -> None:
        await self._tell("unset_parameters", {"parameters": list(names)})

    async def remove(self) -> None:
        """End on its own: the queue forgets it, and the process exits."""
        with contextlib.suppress(ConnectionError):
            await self._tell("rm", {})
        self._done.set()

    # -- the plumbing --------------------------------------------------------------

    async def _tell(self, cmd: str, args: dict[str, Any]) -> Any:
        assert self._updates is not None, "not connected"
        reader, writer = self._updates
        async with self._update_lock:
            writer.write(json.dumps({"cmd": cmd, "args": args}).encode() + b"\n")
            await writer.drain()
            reply = json.loads(await reader.readline() or b"{}")
        if not reply.get("success"):
            raise RuntimeError(reply.get("error", f"the agent refused {cmd}"))
        return reply.get("result")

    async def _answer(self, cmd: str, args: Any) -> dict[str, Any]:
        if not isinstance(args, dict):
            return {"success": False, "error": f"{cmd} args must be an object, not {args!r}"}
        try:
            match cmd:
                case "init":
                    await self.init(args)
                    self._runner = asyncio.create_task(self._run())
                    return {"success": True}
                case "play":
                    self.playing = True
                    await self.play()
                case "suspend":
                    self.playing = False
                    await self.suspend()
                case "rm":
                    await self.rm()
                    self._done.set()
                case _ if cmd.startswith("do_") and hasattr(self, cmd):
                    result = await getattr(self, cmd)(args)
                    return (
                        {"success": True} if result is None else {"success": True, "result": result}
                    )
                case _:
                    # shmooze's module helper's words (JSONParentPoller).
                    return {"success": False, "error": "Unrecognized command"}
        except Exception as exc:  # the agent gets the error; the module goes on
            return {"success": False, "error": f"{type(exc).__name__}: {exc}"}
        return {"success": True}

    async def _run(self) -> None:
        try:
            await self.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            print(f"module failed: {exc!r}", file=sys.stderr, flush=True)
            await self.remove()

    async def _serve(self) -> None:
        host, command_port, update_port = self.address
        commands = await asyncio.open_connection(host, command_port)
        self._updates = await asyncio.open_connection(host, update_port)
        reader, writer = commands

        async def serve_commands() -> None:
            while line := await reader.readline():
                packet = json.loads(line)
                args = packet.get("args")
                reply = await self._answer(packet.get("cmd", ""), {} if args is None else args)
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
            self._done.set()  # the agent hung up

        server = asyncio.create_task(serve_commands())
        await self._done.wait()
        for task in (self._runner, server):
            if task is not None:
                task.cancel()
        writer.close()
        self._updates[1].close()

    @classmethod
    def main(cls) -> None:
        """Entry point: ``python -m your.module HOST CMD_PORT UPDATE_PORT``."""
        host, command_port, update_port = sys.argv[-3:]
        module = cls(host, int(command_port), int(update_port))
        asyncio.run(module._serve())
