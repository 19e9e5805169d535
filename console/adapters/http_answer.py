"""An HTTP answer as every client of ours reads it, whatever library fetched it.

Free of any HTTP library, so that the one-shot command line (``oneshot``, over
``http.client``), the inbox's client (aiohttp) and the httpx adapters read
answers, errors and JSON bodies through the same few functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from console.adapters.errors import BackendError, error_for_status, error_words


class HttpAnswer(Protocol):
    """What the helpers below read of an answer: httpx's Response, or an ``Answer``."""

    @property
    def status_code(self) -> int: ...
    @property
    def is_success(self) -> bool: ...
    @property
    def reason_phrase(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def url(self) -> object: ...
    def json(self) -> Any:
        """The body as JSON; raises ValueError when it is not."""
        ...


@dataclass(frozen=True)
class Answer:
    """An HTTP answer read whole: status, headers (case-insensitive), body bytes, URL.

    It reads as httpx's Response does where the helpers below look: ``status_code``,
    ``is_success``, ``reason_phrase``, ``text``, ``json()``.
    """

    status_code: int
    reason_phrase: str
    headers: Mapping[str, str]
    content: bytes
    url: str

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        """The body as JSON (UTF-8, -16 or -32, as RFC 8259 allows); raises ValueError."""
        return json.loads(self.content)


def error_message(response: HttpAnswer) -> str:
    """The backend's own words for an error, whatever shape it chose."""
    return error_words(response.text, response.reason_phrase)


def raise_for_status(response: HttpAnswer) -> None:
    """Turn an error answer into the adapter error hierarchy (AuthError for 401/403, NotFound
    for 404, BackendError for the rest, each with the backend's words)."""
    if not response.is_success:
        raise error_for_status(response.status_code, error_message(response))


def json_body(response: HttpAnswer) -> Any:
    """The answer's body as JSON (any JSON value); raises BackendError, naming the URL, when it
    is not JSON."""
    try:
        return response.json()
    except ValueError as exc:
        raise BackendError(f"not JSON from {response.url}: {response.text[:80]!r}") from exc
