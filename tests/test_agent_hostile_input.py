"""Hostile input the issue names, one by one: each is a 4xx in its family's shape, and the
agent (its listings, its inbox clock) keeps working after it."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.conftest import AgentProcess

TOKEN = "hostile-token"
BOUND = 15.0
DEEP = b"[" * 200_000 + b"]" * 200_000


def inbox_headers(agent: AgentProcess, **extra: str) -> dict[str, str]:
    """The agent's credentials (its token opens every family, the inbox too) and a node."""
    return {
        **agent.headers,
        "Scirocco-Node-Source": "tester",
        "Scirocco-Node-Destination": "tester",
        **extra,
    }


def push(agent: AgentProcess, body: bytes = b'{"n": 1}', **headers: str) -> httpx.Response:
    return httpx.post(
        f"{agent.url}/messageQueue",
        content=body,
        headers=inbox_headers(agent, **{"Content-Type": "application/json", **headers}),
        timeout=BOUND,
    )


def wait_until(condition: Callable[[], bool], bound: float = BOUND) -> None:
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def listing(agent: AgentProcess) -> list[dict[str, object]]:
    response = httpx.get(f"{agent.url}/messages", headers=inbox_headers(agent), timeout=BOUND)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def inbox_agent(agent_factory: Callable[..., AgentProcess]) -> AgentProcess:
    return agent_factory("--inbox-token", TOKEN)


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_push_scheduled_out_of_range_is_a_400_and_the_inbox_and_clock_keep_working(
    inbox_agent: AgentProcess, when: str
) -> None:
    refused = push(inbox_agent, **{"Scirocco-Status": "scheduled", "Scirocco-Scheduled-Time": when})
    assert refused.status_code == 400, refused.text
    assert "between 1970-01-01 and 3000-01-01" in refused.json()["error"]["message"]
    assert listing(inbox_agent) == [], "nothing was stored"
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    scheduled = push(
        inbox_agent, **{"Scirocco-Status": "scheduled", "Scirocco-Scheduled-Time": soon}
    )
    assert scheduled.status_code == 201, scheduled.text
    wait_until(lambda: [m["status"] for m in listing(inbox_agent)] == ["pending"])


def test_rows_no_datetime_can_show_never_break_a_listing_a_pull_or_the_clock(
    inbox_agent: AgentProcess, tmp_path: Path
) -> None:
    """Rows as an older agent (or a hand) may have left them: listed, pulled, clock alive."""
    assert push(inbox_agent).status_code == 201
    database = sqlite3.connect(tmp_path / "agent-data-0" / "inbox.db", timeout=BOUND)
    with database:
        database.executemany(
            "INSERT INTO messages (id, node_source, node_destination, status, payload, "
            "payload_type, created_time, update_time, scheduled_time, tries) "
            "VALUES (?, 'old', 'tester', ?, ?, 'application/json', ?, ?, ?, ?)",
            [
                ("far-future", "scheduled", b"[1]", 1e18, 1e18, 253_402_300_799 + 50_400, 0),
                ("before-year-1", "scheduled", b"[2]", -1e12, "soon", -62_135_596_800 - 50_400, 0),
                ("odd-status", "bogus", "text, not bytes", "x", "y", None, "many"),
                ("deep", "pending", DEEP, 1.0, 1.0, None, 0),
            ],
        )
    database.close()
    ids = {m["id"] for m in listing(inbox_agent)}
    assert {"far-future", "before-year-1", "odd-status", "deep"} <= ids
    # The clock releases due messages (a pull never does): it gets past these rows.
    wait_until(
        lambda: any(
            m["id"] == "before-year-1" and m["status"] == "pending" for m in listing(inbox_agent)
        )
    )
    pulled = httpx.get(
        f"{inbox_agent.url}/messageQueue",
        params={"quantity": "10"},
        headers=inbox_headers(inbox_agent),
        timeout=BOUND,
    )
    assert pulled.status_code == 200, pulled.text
    assert {"before-year-1", "deep"} <= {m["id"] for m in pulled.json()}
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    new = push(inbox_agent, **{"Scirocco-Status": "scheduled", "Scirocco-Scheduled-Time": soon})
    new_id = new.headers["scirocco-id"]
    wait_until(
        lambda: any(m["id"] == new_id and m["status"] == "pending" for m in listing(inbox_agent))
    )


@pytest.mark.parametrize(
    ("method", "path", "content_type"),
    [
        ("POST", "/scripts/echo", "application/json"),
        ("POST", "/create-process", "application/json"),
        ("POST", "/queue", "application/json"),
        ("POST", "/messageQueue", "application/json"),
    ],
)
def test_json_nested_200000_deep_is_a_400_on_every_json_route(
    agent_factory: Callable[..., AgentProcess],
    scripts_dir: Path,
    method: str,
    path: str,
    content_type: str,
) -> None:
    agent = agent_factory("--scripts", str(scripts_dir), "--inbox-token", TOKEN)
    headers = inbox_headers(agent, **{"Content-Type": content_type})
    # The inbox takes 100 KiB of JSON at most (scirocco's limit): as deep, but within it.
    body = DEEP if path != "/messageQueue" else b"[" * 50_000 + b"]" * 50_000
    response = httpx.request(method, agent.url + path, content=body, headers=headers, timeout=BOUND)
    assert response.status_code == 400, response.text
    assert "deeper than 64 levels" in response.text


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/messages", "limit"),
        ("/messageQueue", "quantity"),
        ("/runs", "limit"),
    ],
)
@pytest.mark.parametrize("number", ["²", "5" * 5000, "9223372036854775808", "-1", ""])
def test_numbers_outside_ascii_or_range_are_a_400(
    inbox_agent: AgentProcess, path: str, query: str, number: str
) -> None:
    response = httpx.get(
        inbox_agent.url + path,
        params={query: number},
        headers=inbox_headers(inbox_agent),
        timeout=BOUND,
    )
    assert response.status_code == 400, response.text
    assert "must be a whole number" in response.json()["error"]["message"]


def test_a_run_id_past_sqlites_range_is_a_404(agent: AgentProcess) -> None:
    response = httpx.get(f"{agent.url}/runs/{'9' * 30}", headers=agent.headers, timeout=BOUND)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == 404


def closing_code(url: str, headers: dict[str, str], frame: str | None = None) -> tuple[int, str]:
    with connect(url, additional_headers=headers, open_timeout=BOUND) as ws:
        try:
            if frame is not None:
                ws.send(frame)
            while True:
                ws.recv(timeout=BOUND)
        except ConnectionClosed as exc:
            assert exc.rcvd is not None
            return exc.rcvd.code, exc.rcvd.reason


def test_a_bad_first_frame_or_query_closes_the_websocket_with_a_code_and_reason(
    agent: AgentProcess,
) -> None:
    ws_url = agent.url.replace("http", "ws", 1)
    deep = "[" * 200_000 + "]" * 200_000
    code, reason = closing_code(f"{ws_url}/scripts/echo/stream", agent.headers, deep)
    assert (code, reason) == (4400, "the first frame nests deeper than 64 levels")
    code, reason = closing_code(f"{ws_url}/scripts/echo/stream", agent.headers, json.dumps([]))
    assert code == 4400 and "params" in reason
    code, reason = closing_code(f"{ws_url}/scripts/nope/stream", agent.headers, "{}")
    assert code == 4404 and "nope" in reason
    # An unknown slug is refused before the handshake, as smartmob-agent (HTTP 404).
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{ws_url}/attach-console/a.b?since=%C2%B2", additional_headers=agent.headers)
    assert refused.value.response.status_code == 404


def test_run_history_rows_that_do_not_decode_never_break_the_history(
    agent: AgentProcess, tmp_path: Path
) -> None:
    database = sqlite3.connect(tmp_path / "agent-data-0" / "scripts.db", timeout=BOUND)
    with database:
        database.executemany(
            "INSERT INTO runs (id, script, started_at, duration, retcode, params, output) "
            "VALUES (?, 'echo', ?, 0, ?, ?, ?)",
            [
                (901, "not a time", "x", "{not json", '[["nowhere", "x"], 5, ["stdout"]]'),
                (902, 1.0, 0, "[1, 2]", DEEP.decode()),
            ],
        )
    database.close()
    runs = httpx.get(f"{agent.url}/runs", headers=agent.headers, timeout=BOUND)
    assert runs.status_code == 200, runs.text
    assert {901, 902} <= {r["id"] for r in runs.json()["runs"]}
    for run_id in (901, 902):
        one = httpx.get(f"{agent.url}/runs/{run_id}", headers=agent.headers, timeout=BOUND)
        assert one.status_code == 200, one.text
        assert one.json()["run"]["params"] == {}


def test_a_lone_surrogate_in_json_is_a_400_and_listings_keep_working(
    inbox_agent: AgentProcess,
) -> None:
    refused = push(inbox_agent, b'{"text": "\\ud800"}')
    assert refused.status_code == 400, refused.text
    assert "surrogate" in refused.json()["error"]["message"]
    assert push(inbox_agent, b'{"text": "\\ud83d\\ude00"}').status_code == 201  # a valid pair
    assert [m["payload"] for m in listing(inbox_agent)] == [{"text": "\U0001f600"}]
