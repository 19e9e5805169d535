"""A well-behaved module: writes each command it gets, with the time, to the file ``log``.

Init args: ``log`` (the file), ``parameters`` (set during init, waiting for the
agent's reply), ``ticks`` (that many ``tick`` parameters pushed by itself, 0.05 s
apart), ``end_after`` (seconds; then it leaves the queue on its own).
Told commands: ``set``, ``unset``, ``echo``, ``nothing``, ``fail``, ``end``, ``crash``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from console.module import Module


class Recorder(Module):
    log = ""

    def note(self, cmd: str, args: dict[str, Any] | None = None) -> None:
        entry = {"t": time.time(), "cmd": cmd, "args": args or {}, "pid": os.getpid()}
        with open(self.log, "a") as handle:
            handle.write(json.dumps(entry) + "\n")

    async def init(self, args: dict[str, Any]) -> None:
        self.log = args["log"]
        self.end_after = args.get("end_after")
        self.ticks = int(args.get("ticks", 0))
        self.ending: asyncio.Task[None] | None = None
        self.note("init", args)
        if args.get("parameters"):
            await self.set_parameters(**args["parameters"])

    async def run(self) -> None:
        for tick in range(self.ticks):
            await asyncio.sleep(0.05)
            await self.set_parameters(tick=tick)
        if self.end_after is not None:
            await asyncio.sleep(float(self.end_after))
            self.note("ending")
            await self.remove()

    async def play(self) -> None:
        self.note("play")

    async def suspend(self) -> None:
        self.note("suspend")

    async def rm(self) -> None:
        self.note("rm")

    async def do_set(self, args: dict[str, Any]) -> None:
        self.note("do_set", args)
        await self.set_parameters(**args)

    async def do_unset(self, args: dict[str, Any]) -> None:
        self.note("do_unset", args)
        await self.unset_parameters(*args["names"])

    async def do_echo(self, args: dict[str, Any]) -> dict[str, Any]:
        self.note("do_echo", args)
        return {"echo": args, "playing": self.playing}

    async def do_nothing(self, args: dict[str, Any]) -> None:
        self.note("do_nothing", args)

    async def do_fail(self, args: dict[str, Any]) -> None:
        self.note("do_fail", args)
        raise ValueError(args.get("message", "refused"))

    async def do_end(self, args: dict[str, Any]) -> None:
        """Leave the queue on its own, right after answering."""
        self.note("do_end", args)
        self.ending = asyncio.create_task(self.remove())

    async def do_crash(self, args: dict[str, Any]) -> None:
        """Exit at once, after answering, without saying ``rm``."""
        self.note("do_crash", args)
        asyncio.get_running_loop().call_later(0.05, os._exit, 3)


if __name__ == "__main__":
    Recorder.main()
