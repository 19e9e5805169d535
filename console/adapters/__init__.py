"""Async clients for every backend the console drives; no Textual here."""

from console.adapters.agent import AgentClient
from console.adapters.base import Endpoint, ScriptsBackend
from console.adapters.errors import AuthError, BackendError, NotFound, Unavailable

__all__ = [
    "AgentClient",
    "AuthError",
    "BackendError",
    "Endpoint",
    "NotFound",
    "ScriptsBackend",
    "Unavailable",
]
