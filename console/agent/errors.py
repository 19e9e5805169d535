"""The one error a handler raises to answer with a 4xx/5xx in its family's error shape."""

from __future__ import annotations


class HttpError(Exception):
    """An error answer, raised anywhere in a handler and rendered by the routes module."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
