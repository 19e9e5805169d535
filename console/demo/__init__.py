"""The bundled demo: example scripts, a Procfile app ("shop"), and later modules and messages."""

from __future__ import annotations

from pathlib import Path

DEMO_DIR = Path(__file__).parent
SCRIPTS_DIR = DEMO_DIR / "scripts"
SHOP_DIR = DEMO_DIR / "shop"


def demo_processes() -> list[dict[str, str]]:
    """Create requests for the shop app's processes, as a client would send them."""
    return [
        {"app": "shop", "node": f"{kind}.0", "process_type": kind, "source_url": str(SHOP_DIR)}
        for kind in ("web", "worker", "flaky")
    ]
