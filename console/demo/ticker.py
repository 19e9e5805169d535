"""Demo pool module: a price ticker that moves every second while it plays."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from console.module import Module


class Ticker(Module):
    async def init(self, args: dict[str, Any]) -> None:
        self.symbol = str(args.get("symbol", "OPS"))
        self.price = float(args.get("price", 100.0))
        self.ticks = 0
        await self.set_parameters(symbol=self.symbol, price=round(self.price, 2), ticks=0)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(1)
            if self.playing:
                self.price *= 1 + random.uniform(-0.01, 0.01)
                self.ticks += 1
                await self.set_parameters(price=round(self.price, 2), ticks=self.ticks)

    async def do_reset(self, args: dict[str, Any]) -> dict[str, float]:
        """tell_module(uid, "reset", {"price": P})."""
        self.price = float(args.get("price", 100.0))
        await self.set_parameters(price=round(self.price, 2))
        return {"price": self.price}


if __name__ == "__main__":
    Ticker.main()
