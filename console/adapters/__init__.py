"""Async clients for every backend the console drives; no Textual here.

Names load on first use, so that starting the console does not pay for httpx
and websockets before its first paint.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AgentClient": "console.adapters.agent",
    "Endpoint": "console.adapters.base",
    "ScriptsBackend": "console.adapters.base",
    "AuthError": "console.adapters.errors",
    "BackendError": "console.adapters.errors",
    "NotFound": "console.adapters.errors",
    "Unavailable": "console.adapters.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'console.adapters' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
