"""A module whose parameters are its add args, set once at init and never changed (for screenshots).

Told commands: ``echo`` (answers with its args).
"""

from __future__ import annotations

from typing import Any

from console.module import Module


class FixedParams(Module):
    async def init(self, args: dict[str, Any]) -> None:
        await self.set_parameters(**(args or {"state": "ready"}))

    async def do_echo(self, args: dict[str, Any]) -> dict[str, Any]:
        return args


if __name__ == "__main__":
    FixedParams.main()
