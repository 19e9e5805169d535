"""The bundled demo: example scripts, a Procfile app ("shop"), and messages in the inbox."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.agent.inbox import InboxService
    from console.agent.modules import ModuleService
    from console.agent.processes import ProcessService

DEMO_DIR = Path(__file__).parent
SCRIPTS_DIR = DEMO_DIR / "scripts"
SHOP_DIR = DEMO_DIR / "shop"


def demo_processes() -> list[dict[str, str]]:
    """Create requests for the shop app's processes, as a client would send them."""
    return [
        {"app": "shop", "node": f"{kind}.0", "process_type": kind, "source_url": str(SHOP_DIR)}
        for kind in ("web", "worker", "flaky")
    ]


def demo_module_types() -> dict[str, dict[str, dict[str, list[str]]]]:
    """The demo's module types for the queue and the pool, as agent config would give them."""

    def module(name: str) -> list[str]:
        return [sys.executable, "-m", f"console.demo.{name}"]

    return {
        "queue": {
            "modules": {"countdown": module("countdown")},
            "backgrounds": {"idle": module("idle")},
        },
        "pool": {"modules": {"ticker": module("ticker"), "countdown": module("countdown")}},
    }


def demo_messages(now: float) -> list[tuple[str, bytes, str, str, float | None]]:
    """(source, payload, payload type, topic, scheduled time) of the messages the demo seeds."""
    deploy = {"service": "shop-web", "version": "1.4.2", "by": "ci", "status": "succeeded"}
    disk = {"host": "db1", "mount": "/var/lib/postgresql", "used_percent": 91}
    return [
        ("ci.internal", json.dumps(deploy).encode(), "application/json", "deploy", None),
        ("monitor.internal", json.dumps(disk).encode(), "application/json", "alert.disk", None),
        (
            "oncall-bot",
            b"Handover: the flaky worker is known; ticket OPS-1234.",
            "text/plain",
            "handover",
            None,
        ),
        (
            "backup.internal",
            bytes(range(256)) * 2,
            "application/octet-stream",
            "backup.manifest",
            None,
        ),
        (
            "oncall-bot",
            b"Reminder: change freeze starts in one minute.",
            "text/plain",
            "reminder",
            now + 60,
        ),
    ]


async def load_demo(
    processes: ProcessService, inbox: InboxService, queue: ModuleService, pool: ModuleService
) -> None:
    """Start the shop app, fill the queue and the pool, and put messages in an empty inbox."""
    from console.agent.processes import parse_spec

    for request in demo_processes():
        processes.create(parse_spec(request))
    await queue.execute(
        [
            {"cmd": "set_bg", "args": {"type": "idle", "args": {"message": "queue is empty"}}},
            {
                "cmd": "add",
                "args": {"type": "countdown", "args": {"seconds": 45, "label": "warm-up"}},
            },
            {
                "cmd": "add",
                "args": {"type": "countdown", "args": {"seconds": 20, "label": "backup"}},
            },
        ]
    )
    await pool.execute(
        [
            {"cmd": "add", "args": {"type": "ticker", "args": {"symbol": "OPS", "price": 142.5}}},
            {"cmd": "add", "args": {"type": "ticker", "args": {"symbol": "SRE", "price": 87.25}}},
        ]
    )
    if await inbox.store.list(limit=1):
        return
    for source, payload, payload_type, topic, scheduled in demo_messages(time.time()):
        await inbox.push(source, inbox.node_id, payload, payload_type, topic, scheduled)
