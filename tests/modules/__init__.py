"""Module programs for the queue/pool tests, and the helpers that put them to work.

Each program here runs as ``python PROGRAM.py [WORDS...] HOST CMD_PORT UPDATE_PORT``.
The words are markers: unique strings that find a test's processes in /proc.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from console.agent.children import Children
from console.agent.events import EventBus
from console.agent.module_process import ModuleTimeouts
from console.agent.modules import ModuleService

MODULES = Path(__file__).parent

FAST = {"connect": 1.0, "reply": 0.5, "rm_grace": 0.5, "term_grace": 0.5}
"""Small timeouts: every misbehaving module is dealt with in about a second."""

EASY = {**FAST, "connect": 5.0, "reply": 2.0}
"""Short graces, but room to start and answer on a busy machine: for well-behaved modules."""

MISBEHAVING = ("never_connects", "silent", "garbage", "stubborn", "init_waits", "spawner", "chatty")

_count = itertools.count()


def unique(tag: str) -> str:
    """A word no other process on this machine has in its argv."""
    return f"mark-{tag}-{os.getpid()}-{time.monotonic_ns()}-{next(_count)}"


def sleep_marker() -> str:
    """A ``sleep`` duration nobody else uses: the argv of a grandchild to look for."""
    return f"300.{os.getpid() % 10000:04d}{time.monotonic_ns() % 10**7:07d}{next(_count) % 10}"


def command(program: str, *words: str) -> list[str]:
    return [sys.executable, str(MODULES / f"{program}.py"), *words]


def all_types(marker: str) -> dict[str, list[str]]:
    """Every test module type, each started with ``marker`` on its command line."""
    types = {name: command(name, marker) for name in ("recorder", *MISBEHAVING)}
    types["garbage_later"] = command("garbage", marker, "later")
    types["missing"] = ["/nonexistent/opsconsole-test-module", marker]
    return types


def entries(log: Path) -> list[dict[str, Any]]:
    """What a recorder module wrote: one ``{"t", "cmd", "args", "pid"}`` per command."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def received(log: Path) -> list[str]:
    """The commands a recorder module got, in order."""
    return [entry["cmd"] for entry in entries(log)]


def noted(log: Path) -> list[tuple[str, float]]:
    """What a bare module (``wire.note``) wrote: (what, time) in order."""
    lines = log.read_text().splitlines() if log.exists() else []
    return [(what, float(when)) for when, what in (line.split(" ", 1) for line in lines)]


def toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a TOML basic string


def write_config(
    path: Path,
    queue: dict[str, list[str]],
    backgrounds: dict[str, list[str]] | None = None,
    pool: dict[str, list[str]] | None = None,
    timeouts: dict[str, float] | None = None,
    uids: str = "sequential",
    tcp_ports: dict[str, int] | None = None,
) -> Path:
    """An agent config file with these module types and ``[agent.module_timeouts]``.

    ``uids`` sequential by default: screens and answers come out the same every run.
    """
    lines = ["[agent]", f"module_uids = {toml_string(uids)}", "", "[agent.module_timeouts]"]
    lines += [f"{key} = {value}" for key, value in (timeouts or EASY).items()]
    for table, types in (
        ("queue.modules", queue),
        ("queue.backgrounds", backgrounds or {}),
        ("pool.modules", pool or {}),
    ):
        for name, argv in types.items():
            lines += ["", f"[{table}.{name}]"]
            lines.append(f"command = [{', '.join(toml_string(a) for a in argv)}]")
    for service, port in (tcp_ports or {}).items():
        lines += ["", f"[{service}]", f"tcp_port = {port}"]
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.asynccontextmanager
async def module_service(
    marker: str, ordered: bool = True, **timeouts: float
) -> AsyncIterator[tuple[ModuleService, EventBus]]:
    """An in-process queue (or pool) with real children: every test type, recorder background.

    Timeouts are EASY unless given (a misbehaving module's test gives the one it tests).
    """
    children = Children()
    await children.start()
    events = EventBus()
    service = ModuleService(
        "queue" if ordered else "pool",
        ordered,
        all_types(marker),
        {"recorder": command("recorder", marker)},
        children,
        events,
        ModuleTimeouts(**{**EASY, **timeouts}),
    )
    try:
        yield service, events
    finally:
        await service.close()
        await children.close()
