"""The one error hierarchy every adapter raises; the console turns these into notifications."""

from __future__ import annotations

import json


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


def error_words(body: str, reason: str) -> str:
    """A backend's own words for an error, whatever shape it chose: our JSON error answer's
    ``error.message``, a bare ``{"error": "..."}``, else the start of the text, else ``reason``
    (the status line's phrase)."""
    try:
        answer = json.loads(body)
    except ValueError:
        return body.strip()[:200] or reason
    if isinstance(answer, dict):
        error = answer.get("error")
        if isinstance(error, dict) and "message" in error:
            return str(error["message"])
        if isinstance(error, str):
            return error
    return reason


def error_for_status(status: int, words: str) -> BackendError:
    """The error an answer of HTTP ``status`` (not 2xx) raises, saying ``words``: AuthError
    for 401/403, NotFound for 404, Unavailable for 502-504, BackendError otherwise."""
    message = f"{words} (HTTP {status})"
    if status in (401, 403):
        return AuthError(message, status)
    if status == 404:
        return NotFound(message, status)
    if status in (502, 503, 504):
        return Unavailable(message, status)
    return BackendError(message, status)
