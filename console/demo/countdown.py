"""Demo queue module: counts down one second at a time, then leaves the queue on its own."""

from __future__ import annotations

import asyncio
from typing import Any

from console.module import Module


class Countdown(Module):
    async def init(self, args: dict[str, Any]) -> None:
        self.left = int(args.get("seconds", 30))
        self.label = str(args.get("label", "countdown"))
        await self.set_parameters(label=self.label, left=self.left, state="waiting")

    async def run(self) -> None:
        while self.left > 0:
            await asyncio.sleep(1)
            if self.playing:
                self.left -= 1
                await self.set_parameters(left=self.left, state="counting")
        await self.set_parameters(state="done")
        await self.remove()

    async def play(self) -> None:
        await self.set_parameters(state="counting")

    async def suspend(self) -> None:
        await self.set_parameters(state="paused")

    async def do_add(self, args: dict[str, Any]) -> dict[str, int]:
        """tell_module(uid, "add", {"seconds": N}): more time."""
        self.left += int(args.get("seconds", 10))
        await self.set_parameters(left=self.left)
        return {"left": self.left}


if __name__ == "__main__":
    Countdown.main()
