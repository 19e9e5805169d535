"""Parsing what a client sends: numbers, JSON and times, each through one bounded helper.

Every route and WebSocket first frame parses through these, so a hostile value
(digits outside ASCII such as ``²``, a 5,000-digit number, JSON nested 200,000
deep, a time past year 9999) is an :class:`HttpError` with a 4xx status, never
an exception a handler did not expect.
"""

from __future__ import annotations

import json
import re
from typing import Any

from console.agent.errors import HttpError
from console.models import parse_time

MAX_DIGITS = 18
"""Longest number accepted: 18 digits always fit SQLite's signed 64-bit integers."""

MAX_JSON_DEPTH = 64
"""Deepest nesting of arrays and objects a JSON body or frame may have."""

_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_ONE_KIND = bytes.maketrans(b"{}", b"[]")

EARLIEST_TIME = 0.0
"""1970-01-01T00:00:00Z, as epoch seconds: no time a client sends is older."""
LATEST_TIME = 32_503_680_000.0
"""3000-01-01T00:00:00Z, as epoch seconds: no time a client sends is later."""


def parse_int(
    text: str | None,
    what: str,
    minimum: int = 0,
    maximum: int = 10**MAX_DIGITS - 1,
    status: int = 400,
) -> int:
    """``text`` as an int in [``minimum``, ``maximum``]: ASCII digits only, at most 18 of them.

    Raises HttpError(``status``) naming ``what`` otherwise (``str.isdigit`` alone
    accepts ``²``, which ``int`` refuses; a long one costs quadratic time).
    """
    if (
        text is None
        or not 0 < len(text) <= MAX_DIGITS
        or not text.isascii()
        or not text.isdigit()
        or not minimum <= int(text) <= maximum
    ):
        shown = text if text is None or len(text) <= 40 else f"{text[:40]}..."
        raise HttpError(
            status, f"{what} must be a whole number from {minimum} to {maximum}, not {shown!r}"
        )
    return int(text)


def nests_deeper(text: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays and objects nest more than ``limit`` deep in VALID JSON ``text``.

    Escapes go, then what sits between quotes (in valid JSON every quote left
    pairs up), then all but brackets, made one kind (valid JSON nests them
    properly); each pass then removes every innermost ``[]``, so the passes
    needed to empty it are the depth. All of it runs in C, at memory speed.
    """
    unescaped = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside = b"".join(unescaped.split(b'"')[::2])
    brackets = outside.translate(_ONE_KIND, _NOT_BRACKETS)
    for _ in range(limit):
        brackets = brackets.replace(b"[]", b"")
        if not brackets:
            return False
    return True


def parse_json(data: bytes | str, what: str = "the body") -> Any:
    """``data`` parsed as JSON, nested at most MAX_JSON_DEPTH deep; else HttpError(400)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    too_deep = HttpError(400, f"{what} nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise too_deep from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise HttpError(400, f"{what} is not JSON: {exc}") from None
    # Fewer brackets than the limit cannot nest past it: the walk is skipped (the usual case).
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and nests_deeper(raw):
        raise too_deep
    # json.loads takes a lone surrogate escape ("\ud800"): no UTF-8 text can hold it, so
    # every answer that echoed it would fail. Checked only when such an escape appears.
    if _SURROGATE_ESCAPE.search(raw):
        try:
            json.dumps(value, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise HttpError(
                400, f"{what} holds a lone UTF-16 surrogate (\\uD800-\\uDFFF)"
            ) from None
    return value


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def parse_moment(text: str | None, what: str) -> float | None:
    """An ISO 8601 time (or epoch seconds) between 1970 and 3000 UTC, as epoch seconds.

    None when ``text`` is empty; HttpError(400) naming ``what`` when it is not a
    time or falls outside that range (times stored must always print back).
    """
    try:
        moment = parse_time(text)
    except (ValueError, OverflowError, TypeError):
        raise HttpError(400, f"{what} is not an ISO 8601 time: {text!r}") from None
    if moment is not None and not EARLIEST_TIME <= moment < LATEST_TIME:
        raise HttpError(400, f"{what} must fall between 1970-01-01 and 3000-01-01 UTC: {text!r}")
    return moment
