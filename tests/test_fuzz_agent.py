"""Fuzzing every route and WebSocket of every family of a real agent, with and without credentials.

A request fails the suite when it is answered 5xx, when the agent logs a
traceback while handling it, when it takes past HANG seconds, or when it is
answered with an error yet changed what the agent holds (processes, messages,
script runs, modules). Seeded (``derandomize``) and bounded: the same few
hundred requests every run. The figures are printed at the end (run with -s).
"""

from __future__ import annotations

import functools
import json
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import connect

from tests.conftest import AgentProcess, start_agent, write_script
from tests.fuzz_requests import (
    FuzzRequest,
    inbox_requests,
    modules_requests,
    number_text,
    processes_requests,
    scripts_requests,
    segment,
    text,
)

HANG = 10.0
"""Seconds after which an answer that has not come is a hang."""
OPEN_STREAM_WATCH = 0.1
"""Seconds a stream that stays open is watched for a close (a bad query closes at once)."""
TOKEN = "fuzz-inbox-token"
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CRASH_MARKS = ("Traceback", "Exception in ASGI application", " ERROR ")


@dataclass
class FuzzTarget:
    """The agent under fuzz, what it holds that a request may name, and the figures so far."""

    agent: AgentProcess
    client: httpx.Client
    scripts: list[str]
    slugs: list[str]
    message_ids: list[str]
    figures: dict[str, int] = field(
        default_factory=lambda: {"requests": 0, "websockets": 0, "5xx": 0, "crashes": 0, "hangs": 0}
    )
    log_offset: int = 0
    last_state: dict[str, Any] | None = None
    """The state as last read, while no request that may change it has succeeded since."""

    def known_state(self, fresh: bool = False) -> dict[str, Any]:
        if fresh or self.last_state is None:
            self.last_state = self.state()
        return self.last_state

    @functools.cached_property
    def requests(self) -> st.SearchStrategy[FuzzRequest]:
        """Requests to every route of every family (built once: it costs more than drawing)."""
        return st.one_of(
            scripts_requests(self.scripts),
            processes_requests(self.slugs),
            inbox_requests(self.message_ids, TOKEN),
            modules_requests(),
        )

    @property
    def inbox_headers(self) -> dict[str, str]:
        return {**self.agent.headers, "Authorization": TOKEN, "Scirocco-Node-Source": "fuzzer"}

    def state(self) -> dict[str, Any]:
        """What an errored request must not change (times and live states left out)."""
        processes = self.client.get("/list-processes", headers=self.agent.headers).json()
        messages = self.client.get(
            "/messages", params={"limit": "10000"}, headers=self.inbox_headers
        ).json()
        runs = self.client.get("/runs", params={"limit": "1000"}, headers=self.agent.headers)
        modules = {
            service: [
                m.get("uid")
                for m in self.client.post(
                    f"/{service}",
                    json={"cmd": service},  # a pool lists itself with "pool", as shmooze
                    headers=self.agent.headers,
                ).json()["result"]
            ]
            for service in ("queue", "pool")
        }
        return {
            "processes": sorted(p["slug"] for p in processes["processes"]),
            # The clock turns a due scheduled message pending on its own: not a change by us.
            "messages": sorted(
                (m["id"], m["status"].replace("scheduled", "pending"), json.dumps(m["payload"]))
                for m in messages
            ),
            "runs": sorted(r["id"] for r in runs.json()["runs"]),
            "modules": modules,
        }

    def new_crashes(self) -> str:
        """Log lines written since the last look that show a handler crashed."""
        with self.agent.log.open("rb") as log:
            log.seek(self.log_offset)
            written = log.read().decode(errors="replace")
            self.log_offset = log.tell()
        return written if any(mark in written for mark in CRASH_MARKS) else ""


def quiet_procfile_app(directory: Path) -> Path:
    directory.mkdir(parents=True)
    (directory / "Procfile").write_text("web: while true; do echo tick; sleep 0.5; done\n")
    return directory


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    root = tmp_path_factory.mktemp("fuzz")
    scripts = root / "scripts"
    write_script(scripts, "echo.sh", "param: text", 'printf "%s\\n" "$TEXT"')
    write_script(scripts, "fail.sh", "description: fails", "echo bad >&2; exit 3")
    write_script(scripts, "getter.sh", "http_method: get", "echo got")
    config = root / "config.toml"
    config.write_text('[queue.modules.idle]\ncommand = ["python3", "-m", "console.demo.idle"]\n')
    agent = start_agent(
        "--data-dir",
        str(root / "data"),
        "--scripts",
        str(scripts),
        "--config",
        str(config),
        "--inbox-token",
        TOKEN,
        log=root / "agent.log",
    )
    client = httpx.Client(base_url=agent.url, timeout=HANG)
    created = client.post(
        "/create-process",
        json={
            "app": "fz",
            "node": "n0",
            "process_type": "web",
            "source_url": str(quiet_procfile_app(root / "app")),
        },
        headers=agent.headers,
    )
    assert created.status_code == 201, created.text
    fuzz = FuzzTarget(agent, client, ["echo", "fail", "getter", "nope"], ["fz.n0", "x.y"], [])
    pushed = client.post(
        "/messageQueue",
        content=b'{"a": 1}',
        headers={
            **fuzz.inbox_headers,
            "Scirocco-Node-Destination": "fuzzer",
            "Content-Type": "application/json",
        },
    )
    assert pushed.status_code == 201, pushed.text
    fuzz.message_ids += [pushed.headers["scirocco-id"], "0" * 32, "-1"]
    yield fuzz
    client.close()
    print(f"\nfuzz figures: {fuzz.figures}")
    assert agent.stop(signal.SIGTERM) == 0
    assert agent.process.stdout is not None
    agent.process.stdout.close()


def send(target: FuzzTarget, request: FuzzRequest) -> httpx.Response | None:
    """Send ``request``; None when httpx itself refuses to send it (not the agent's doing)."""
    drawn = {
        name: value
        for name, value in request.headers.items()
        if request.credentials or name != "authorization"
    }
    # A drawn header replaces the agent's of the same name, whatever its case.
    credentials = target.agent.headers if request.credentials else {}
    headers = [
        *((k.encode(), v.encode()) for k, v in credentials.items() if k.lower() not in drawn),
        *((k.encode(), v) for k, v in drawn.items()),
    ]
    try:
        return target.client.request(
            request.method,
            request.path,
            params=request.query,
            headers=headers,
            content=request.body,
        )
    except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError):
        return None
    except httpx.TimeoutException:
        target.figures["hangs"] += 1
        raise AssertionError(f"no answer within {HANG} s to {request}") from None


def is_error(response: httpx.Response) -> bool:
    if response.status_code >= 400:
        return True
    # shmooze answers its errors 200 with {"success": false}.
    if response.headers.get("content-type", "").startswith("text/json"):
        packet = response.json()
        return isinstance(packet, dict) and packet.get("success") is False
    return False


def check(target: FuzzTarget, what: object, status: int | None) -> None:
    if status is not None and status >= 500:
        target.figures["5xx"] += 1
        raise AssertionError(f"answered {status} to {what}")
    crashes = target.new_crashes()
    if crashes:
        target.figures["crashes"] += 1
        raise AssertionError(f"the agent logged a crash handling {what}:\n{crashes[-3000:]}")


@settings(FUZZ, max_examples=2000)
@given(data=st.data(), credentials=st.booleans())
def test_fuzzed_requests_to_every_route_get_no_5xx_crash_hang_or_change(
    target: FuzzTarget, data: st.DataObject, credentials: bool
) -> None:
    request = data.draw(target.requests)
    request.credentials = credentials
    before = target.known_state() if request.changes_state else None
    response = send(target, request)
    if response is None:
        return
    target.figures["requests"] += 1
    check(target, request, response.status_code)
    if before is None:
        return
    if is_error(response):
        after = target.known_state(fresh=True)
        assert after == before, f"{request} was answered {response.status_code} yet changed state"
    else:
        target.last_state = None  # it may have changed things, as it should


def websocket_paths(target: FuzzTarget) -> st.SearchStrategy[str]:
    return st.one_of(
        segment(target.scripts).map(lambda name: f"/scripts/{name}/stream"),
        st.tuples(segment(target.slugs), number_text(), st.sampled_from(["json", "text", ""])).map(
            lambda t: f"/attach-console/{t[0]}?since={quote(t[1], safe='')}&format={t[2]}"
        ),
        text().map(lambda topics: f"/events?topics={quote(topics, safe='')}"),
    )


def first_frames() -> st.SearchStrategy[str | bytes]:
    params = st.dictionaries(st.one_of(st.just("text"), text()), st.one_of(text(), st.integers()))
    return st.one_of(
        params.map(lambda p: json.dumps({"params": p})),
        st.sampled_from(["[" * 200_000 + "]" * 200_000, "{}", "null", '{"params": 5}', ""]),
        st.binary(max_size=50),
        text(),
    )


@settings(FUZZ, max_examples=200)
@given(data=st.data(), credentials=st.booleans())
def test_fuzzed_websockets_close_with_a_code_and_never_crash_or_hang(
    target: FuzzTarget, data: st.DataObject, credentials: bool
) -> None:
    path = data.draw(websocket_paths(target))
    frame = data.draw(first_frames())
    headers = target.agent.headers if credentials else {}
    before = target.known_state(fresh=True)
    url = target.agent.url.replace("http", "ws", 1) + path
    target.figures["websockets"] += 1
    closed_by_agent: int | None = None
    try:
        with connect(url, additional_headers=headers, open_timeout=HANG, close_timeout=2) as ws:
            # A run stream must end by itself; a log or event stream stays open, so it is
            # only watched long enough for a bad query's close to arrive.
            deadline = time.monotonic() + (HANG if "/stream" in path else OPEN_STREAM_WATCH)
            try:
                ws.send(frame)
                while time.monotonic() < deadline:
                    ws.recv(timeout=max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                assert "/stream" not in path, f"the run stream {path} still open after {HANG} s"
            except ConnectionClosed as exc:
                closed_by_agent = exc.rcvd.code if exc.rcvd else 1006
    except InvalidStatus as exc:
        check(target, path, exc.response.status_code)
        return
    except (InvalidHandshake, InvalidURI):
        return  # websockets refused a URL it cannot send
    check(target, (path, frame), None)
    target.last_state = None  # a stream that ran a script added a run
    if closed_by_agent is not None:
        assert closed_by_agent == 1000 or 4000 <= closed_by_agent < 5000, (
            f"{path} with first frame {frame!r:.80} closed with code {closed_by_agent}"
        )
        if closed_by_agent >= 4000:
            assert target.known_state(fresh=True) == before, (
                f"{path} closed {closed_by_agent} yet changed state"
            )


def raw_requests() -> st.SearchStrategy[bytes]:
    """Bytes on the socket: a request line and headers mangled, or no HTTP at all."""
    line = st.tuples(
        st.sampled_from([b"GET", b"POST", b"PATCH", b"\x00", b"G\xffT", b""]),
        st.sampled_from([b"/", b"/messages", b"/runs/1", b"*", b"/%ff%00", b"/" + b"a" * 20000]),
        st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/9.9", b"", b"HTTP/1.1 x"]),
    ).map(b" ".join)
    header = st.sampled_from(
        [
            b"Host: x",
            b"Content-Length: \xc2\xb2",
            b"Content-Length: " + b"5" * 5000,
            b"Content-Length: -1",
            b"Transfer-Encoding: chunked",
            b"Upgrade: websocket\r\nConnection: Upgrade",
            b"X: " + b"y" * 20000,
            b"no colon",
        ]
    )
    mangled = st.tuples(line, st.lists(header, max_size=4), st.binary(max_size=40)).map(
        lambda parts: parts[0] + b"\r\n" + b"\r\n".join(parts[1]) + b"\r\n\r\n" + parts[2]
    )
    return st.one_of(mangled, st.binary(min_size=1, max_size=200))


@settings(FUZZ, max_examples=150)
@given(raw=raw_requests())
def test_fuzzed_raw_bytes_get_a_4xx_or_a_close_never_a_crash_or_hang(
    target: FuzzTarget, raw: bytes
) -> None:
    host, port = target.agent.url.split("//")[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=HANG) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except TimeoutError:
            target.figures["hangs"] += 1
            raise AssertionError(
                f"no answer and no close within {HANG} s to {raw[:80]!r}"
            ) from None
        except ConnectionResetError:
            pass
    target.figures["raw"] = target.figures.get("raw", 0) + 1
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None
    check(target, raw[:200], status)
