"""Hypothesis strategies for hostile requests to every route of every family of the agent.

Each strategy draws a :class:`FuzzRequest`: a method, a path (its parameters
quoted as one segment or sent raw), a query, headers as bytes (any byte a
client can send) and a body. Values mix what a real client sends with what
broke the agent before: digits outside ASCII, 5,000-digit numbers, ids past
SQLite's range, JSON nested 200,000 deep, times past year 9999 or before year 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

NASTY_NUMBERS = [
    "²",
    "١٢",
    "\uff11\uff12",  # full-width 12
    "३",
    "-1",
    "0",
    "1",
    "7",
    "5" * 5000,
    "9" * 19,
    "9223372036854775808",
    "1e3",
    " 1",
    "0x10",
    "",
    "+5",
    "1_000",
]
NASTY_TEXT = ["..", "%00", "a/b", "\x00", "é", "☃" * 50, "a" * 3000, "%ff", "null", "{}"]
NASTY_TIMES = [
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "2026-13-01",
    "1e308",
    "nan",
    "inf",
    "",
    "2020-01-01T00:00:00Z",
    "2999-12-31T23:00:00Z",
    "-1",
    "99999999999",
    "1700000000",
]
DEEP = b"[" * 200_000 + b"]" * 200_000
NASTY_BODIES = [
    DEEP,
    b'{"a":' * 100 + b"1" + b"}" * 100,
    b"[" * 65 + b"]" * 65,
    b"1" * 5000,
    b'{"x": 1e99999}',
    b'{"x": ' + b"9" * 5000 + b"}",
    b"\xff\xfe",
    b"[]",
    b"null",
    b"{}",
    b'"\\ud800"',
    b"NaN",
]
SAFE_SOURCES = [
    "/nonexistent/folder",
    "file:///nonexistent.zip",
    "http://127.0.0.1:9/app.zip",
    "ftp://127.0.0.1/x",
    "relative/path",
    "",
]
SHMOOZE_COMMANDS = [
    "queue",
    "pool",
    "bg",
    "modules_available",
    "backgrounds_available",
    "add",
    "set_bg",
    "rm",
    "mv",
    "tell_module",
    "tell_background",
    "ask_module",
    "ask_background",
    "bogus",
]


@dataclass
class FuzzRequest:
    """One request to send: what the fuzz suite draws."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, bytes] = field(default_factory=dict)
    body: bytes = b""
    credentials: bool = True

    @property
    def changes_state(self) -> bool:
        """Whether the route may change something (so an error answer must change nothing)."""
        return self.method != "GET" or self.path.startswith(("/messageQueue", "/scripts/"))


def text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(NASTY_NUMBERS + NASTY_TEXT), st.text(max_size=20), st.just("x")
    )


def number_text() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(NASTY_NUMBERS), st.integers(-(2**70), 2**70).map(str), text())


def json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**80), 2**80),
        st.floats(allow_nan=False),
        st.sampled_from(NASTY_NUMBERS + NASTY_TEXT),
        st.text(max_size=15),
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    )


def encoded(values: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    return values.map(lambda value: json.dumps(value).encode())


def bodies(*objects: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Any bytes, the bodies that broke parsers, JSON of any shape, and ``objects`` as JSON."""
    return st.one_of(
        st.binary(max_size=100),
        st.sampled_from(NASTY_BODIES),
        encoded(json_values()),
        *(encoded(o) for o in objects),
    )


def segment(known: list[str]) -> st.SearchStrategy[str]:
    """A path parameter: a known name or any text, quoted as one segment or sent as it is."""
    value = st.one_of(st.sampled_from(known), text(), number_text())
    return st.one_of(value.map(lambda v: quote(v, safe="") or "x"), value.filter(bool))


def header_bytes() -> st.SearchStrategy[bytes]:
    return st.one_of(
        text().map(lambda t: t.encode()),
        st.binary(max_size=20).filter(
            lambda b: b"\n" not in b and b"\r" not in b and b"\0" not in b
        ),
    )


def _with(
    method: str, path: str, **parts: st.SearchStrategy[Any]
) -> st.SearchStrategy[FuzzRequest]:
    return st.builds(FuzzRequest, st.just(method), st.just(path), **parts)


def _query(**names: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({}, optional=names)


def scripts_requests(scripts: list[str]) -> st.SearchStrategy[FuzzRequest]:
    params = st.dictionaries(st.one_of(st.just("text"), text()), json_values(), max_size=3)
    json_type = st.fixed_dictionaries(
        {}, optional={"content-type": st.sampled_from([b"application/json", b"text/plain", b""])}
    )
    name = segment(scripts)
    return st.one_of(
        _with("GET", "/scripts"),
        st.builds(
            FuzzRequest,
            st.sampled_from(["GET", "OPTIONS", "POST", "PUT", "DELETE"]),
            name.map(lambda n: f"/scripts/{n}"),
            headers=json_type,
            body=bodies(params),
        ),
        _with("POST", "/reload"),
        _with("GET", "/runs", query=_query(limit=number_text(), script=text())),
        st.builds(FuzzRequest, st.just("GET"), segment(["1", "2"]).map(lambda r: f"/runs/{r}")),
    )


def processes_requests(slugs: list[str]) -> st.SearchStrategy[FuzzRequest]:
    spec = st.fixed_dictionaries(
        {
            "app": st.one_of(st.just("fz"), text()),
            "node": st.one_of(st.just("n9"), text()),
            "process_type": st.one_of(st.just("web"), text()),
            "source_url": st.sampled_from(SAFE_SOURCES),
        },
        optional={"env": st.one_of(st.dictionaries(text(), text(), max_size=3), json_values())},
    )
    slug_paths = [
        st.builds(FuzzRequest, st.just(method), segment(slugs).map(lambda s, p=path: f"{p}/{s}"))
        for method, path in [
            ("GET", "/process-status"),
            ("POST", "/delete-process"),
            ("POST", "/restart-process"),
            ("POST", "/stop-process"),
            ("POST", "/start-process"),
        ]
    ]
    selection = st.fixed_dictionaries(
        {},
        optional={
            "app": st.one_of(st.just("fz"), text(), json_values()),
            "slugs": st.one_of(
                st.lists(st.sampled_from(slugs) | text(), max_size=3), json_values()
            ),
            "all": st.one_of(st.booleans(), json_values()),
        },
    )
    bulk = st.builds(
        FuzzRequest,
        st.just("POST"),
        st.sampled_from(["/restart-processes", "/stop-processes", "/start-processes"]),
        body=bodies(selection),
    )
    search_query = st.tuples(
        text(), st.sampled_from(["before", "after", "context", "text", "limit"]), text()
    ).map(lambda q: f"?text={quote(q[0], safe='')}&{q[1]}={quote(q[2], safe='')}")
    search = st.builds(
        FuzzRequest,
        st.just("GET"),
        st.tuples(segment(slugs), search_query).map(lambda t: f"/search-log/{t[0]}{t[1]}"),
    )
    return st.one_of(
        _with("GET", "/"),
        _with("GET", "/list-processes"),
        search,
        _with("POST", "/create-process", body=bodies(spec)),
        *slug_paths,
        bulk,
    )


def inbox_requests(message_ids: list[str], token: str) -> st.SearchStrategy[FuzzRequest]:
    headers = st.fixed_dictionaries(
        {
            "authorization": st.one_of(st.just(token.encode()), header_bytes()),
            "scirocco-node-source": st.one_of(st.just(b"fuzzer"), header_bytes()),
        },
        optional={
            "scirocco-node-destination": st.one_of(st.just(b"fuzzer"), header_bytes()),
            "scirocco-status": st.sampled_from([b"pending", b"scheduled", b"processing", b"x"]),
            "scirocco-scheduled-time": st.one_of(
                st.sampled_from(NASTY_TIMES).map(str.encode), header_bytes()
            ),
            "scirocco-topic": header_bytes(),
            "content-type": st.sampled_from(
                [b"application/json", b"text/plain", b"application/octet-stream", b"text/x"]
            ),
        },
    )
    message = segment(message_ids)
    return st.one_of(
        _with("POST", "/messageQueue", headers=headers, body=bodies()),
        _with("GET", "/messageQueue", headers=headers, query=_query(quantity=number_text())),
        st.builds(
            FuzzRequest,
            st.just("PATCH"),
            message.map(lambda m: f"/messageQueue/{m}/ack"),
            headers=headers,
        ),
        _with(
            "GET",
            "/messages",
            headers=headers,
            query=_query(
                limit=number_text(),
                status=st.sampled_from(["pending", "scheduled", "bogus", ""]),
                node_destination=text(),
            ),
        ),
        st.builds(
            FuzzRequest,
            st.sampled_from(["GET", "PATCH", "DELETE"]),
            message.map(lambda m: f"/messages/{m}"),
            headers=headers,
            body=bodies(),
        ),
    )


def modules_requests() -> st.SearchStrategy[FuzzRequest]:
    args = st.one_of(
        st.dictionaries(
            st.sampled_from(["uid", "type", "args", "cmd", "parameters", "name", "seconds"]),
            st.one_of(json_values(), st.just("idle")),
            max_size=3,
        ),
        json_values(),
    )
    packet = st.fixed_dictionaries(
        {"cmd": st.one_of(st.sampled_from(SHMOOZE_COMMANDS), json_values())},
        optional={"args": args},
    )
    content_type = st.fixed_dictionaries(
        {"content-type": st.sampled_from([b"application/json", b"text/json", b"text/plain"])}
    )
    return st.builds(
        FuzzRequest,
        st.sampled_from(["GET", "POST", "PUT"]),
        st.sampled_from(["/queue", "/pool"]),
        headers=content_type,
        body=bodies(packet, st.lists(packet, max_size=3)),
    )
