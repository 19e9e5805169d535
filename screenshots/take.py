"""Screenshots of every pane at 80x24 (the size we promise) and 120x40, from the real app
driving a real demo agent.

    python screenshots/take.py          # writes screenshots/NAME-80x24.svg/.png, NAME-120x40...

PNGs need the ``screenshots`` extra (cairosvg): ``pip install -e '.[screenshots]'``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from console.adapters.connect import SpawnedAgent
from console.tui.app import OpsConsoleApp

HERE = Path(__file__).parent
SIZES = ((80, 24), (120, 40))

Scene = Callable[[Pilot], Awaitable[None]]


async def settle(pilot: Pilot, seconds: float = 0.5) -> None:
    """Let the demo's live data arrive, then wait (bounded) for a frame that holds still."""
    await pilot.pause(seconds)
    before = ""
    for _ in range(20):
        now = pilot.app.export_screenshot()
        if now == before:
            return
        before = now
        await pilot.pause(0.1)


async def scripts_catalog(pilot: Pilot) -> None:
    await pilot.press("1")
    await settle(pilot)


async def scripts_run(pilot: Pilot) -> None:
    await pilot.press("1", "slash", *"echo", "escape")
    await pilot.press("enter")
    await settle(pilot, 0.3)
    await pilot.press(*"hello, operator", "ctrl+j")
    await settle(pilot, 1.0)


async def processes(pilot: Pilot) -> None:
    await pilot.press("2")
    await settle(pilot, 1.5)


async def processes_log(pilot: Pilot) -> None:
    await pilot.press("2")
    await settle(pilot, 1.0)
    await pilot.press("down", "enter")  # the chatty worker's log
    await settle(pilot, 4.0)


async def modules(pilot: Pilot) -> None:
    await pilot.press("3")
    await settle(pilot, 2.0)


async def inbox(pilot: Pilot) -> None:
    await pilot.press("4")
    await settle(pilot, 1.5)


async def hosts(pilot: Pilot) -> None:
    await pilot.press("5")
    await settle(pilot, 0.5)


SCENES: dict[str, Scene] = {
    "scripts": scripts_run,
    "scripts-catalog": scripts_catalog,
    "processes": processes,
    "processes-log": processes_log,
    "modules": modules,
    "inbox": inbox,
    "hosts": hosts,
}


async def take(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as data:
        for name in names:
            for width, height in SIZES:
                app = OpsConsoleApp(SpawnedAgent(["--demo", "--data-dir", data]))
                async with app.run_test(size=(width, height)) as pilot:
                    for _ in range(200):
                        if app.client is not None:
                            break
                        await pilot.pause(0.05)
                    await settle(pilot)
                    await SCENES[name](pilot)
                    svg = HERE / f"{name}-{width}x{height}.svg"
                    app.save_screenshot(str(svg))
                to_png(svg)
                print(f"wrote {svg.relative_to(HERE.parent)}")


def to_png(svg: Path) -> None:
    try:
        import cairosvg
    except ImportError:
        print("cairosvg is not installed: SVG only", file=sys.stderr)
        return
    cairosvg.svg2png(url=str(svg), write_to=str(svg.with_suffix(".png")), output_width=1400)


if __name__ == "__main__":
    asyncio.run(take(sys.argv[1:] or list(SCENES)))
