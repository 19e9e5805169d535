"""The one error hierarchy every adapter raises; the console turns these into notifications."""

from __future__ import annotations


class BackendError(Exception):
    """A backend answered with an error, or could not be understood."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class AuthError(BackendError):
    """The backend refused our credentials (or we sent none)."""


class NotFound(BackendError):
    """The named thing does not exist on the backend."""


class Unavailable(BackendError):
    """The backend cannot be reached: refused, timed out, dropped, or TLS failed."""
