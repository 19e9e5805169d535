"""Demo background module: plays when the queue is empty, and says for how long."""

from __future__ import annotations

import asyncio
from typing import Any

from console.module import Module


class Idle(Module):
    async def init(self, args: dict[str, Any]) -> None:
        self.idle_seconds = 0
        await self.set_parameters(message=str(args.get("message", "nothing queued")))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(1)
            if self.playing:
                self.idle_seconds += 1
                await self.set_parameters(idle_seconds=self.idle_seconds)


if __name__ == "__main__":
    Idle.main()
