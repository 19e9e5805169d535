"""The inbox command channel (``/messageQueue/channel``) against a real agent: its wire, its
errors and bounds, who may open it, and the adapter's use of it (or of HTTP without it)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from console.adapters import AgentClient, Endpoint
from console.adapters.errors import NotFound
from console.agent.inbox_channel import MAX_IN_FLIGHT_BYTES
from console.models import BINARY_TYPE, JSON_TYPE, TEXT_TYPE, MessageStatus
from tests.conftest import AgentProcess, start_agent
from tests.processes_helpers import BOUND

PATH = "/messageQueue/channel"
INBOX_TOKEN = "channel-test-inbox-token"
PRE_CHANNEL_COMMIT = "9492834"
"""The last commit whose agent has no channel: an older agent, for the fallback test."""


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def ws_url(agent: AgentProcess) -> str:
    return agent.url.replace("http", "ws", 1) + PATH


async def open_channel(
    agent: AgentProcess, node: str = "n1", headers: dict[str, str] | None = None
) -> ClientConnection:
    given = {**agent.headers, "Scirocco-Node-Source": node} if headers is None else headers
    return await websockets.connect(ws_url(agent), additional_headers=given, max_size=None)


async def ask(channel: ClientConnection, command: dict[str, Any] | str) -> dict[str, Any]:
    await channel.send(command if isinstance(command, str) else json.dumps(command))
    return json.loads(await asyncio.wait_for(channel.recv(), BOUND))


@pytest.fixture
async def channel(agent: AgentProcess) -> AsyncIterator[ClientConnection]:
    connection = await open_channel(agent)
    yield connection
    await connection.close()


def listed(agent: AgentProcess) -> list[dict[str, Any]]:
    headers = {**agent.headers, "Scirocco-Node-Source": "n1"}
    return httpx.get(f"{agent.url}/messages", headers=headers).json()


async def test_push_pull_ack_and_batch_answered_by_id(
    agent: AgentProcess, channel: ClientConnection
) -> None:
    pushed = await ask(
        channel,
        {
            "id": 1,
            "op": "push",
            "destination": "n1",
            "payload": '{"deploy": [1, 2]}',
            "content_type": JSON_TYPE,
            "topic": "deploy",
        },
    )
    assert pushed["id"] == 1
    message = pushed["ok"]
    assert (message["status"], message["tries"], message["topic"]) == ("pending", 0, "deploy")
    assert (message["node_source"], message["payload"]) == ("n1", '{"deploy": [1, 2]}')
    pulled = await ask(channel, {"id": "two", "op": "pull"})
    assert pulled["id"] == "two" and pulled["ok"]["id"] == message["id"]
    assert (pulled["ok"]["status"], pulled["ok"]["tries"]) == ("processing", 1)
    acked = await ask(channel, {"id": 3, "op": "ack", "message_id": message["id"]})
    assert acked["ok"]["status"] == "processed" and acked["ok"]["processed_time"]
    assert (await ask(channel, {"id": 4, "op": "pull"})) == {"id": 4, "ok": None}

    blob = bytes(range(256))
    for n in range(5):  # sent without waiting: many commands in flight on one socket
        await channel.send(
            json.dumps(
                {
                    "id": 10 + n,
                    "op": "push",
                    "destination": "n1",
                    "payload": base64.b64encode(blob).decode(),
                    "content_type": BINARY_TYPE,
                }
            )
        )
    answers = [json.loads(await asyncio.wait_for(channel.recv(), BOUND)) for _ in range(5)]
    assert sorted(a["id"] for a in answers) == [10, 11, 12, 13, 14]
    assert {a["ok"]["payload_type"] for a in answers} == {BINARY_TYPE}
    batch = (await ask(channel, {"id": 20, "op": "pull", "quantity": 10}))["ok"]
    assert [base64.b64decode(m["payload"]) for m in batch] == [blob] * 5
    ids = [m["id"] for m in batch]
    done = (await ask(channel, {"id": 21, "op": "ack", "ids": [*ids, "nope"]}))["ok"]
    assert sorted(m["id"] for m in done["acked"]) == sorted(ids)
    assert done["not_processing"] == ["nope"]
    statuses = {m["id"]: m["status"] for m in listed(agent)}
    assert [statuses[i] for i in ids] == ["processed"] * 5


BAD_COMMANDS: list[tuple[dict[str, Any] | str, int, str]] = [
    ("not json", 400, "not JSON"),
    ("[1, 2]", 400, "JSON object"),
    ('{"op": "pull"}', 400, '"id"'),
    ('{"id": true, "op": "pull"}', 400, '"id"'),
    ({"id": -1, "op": "pull"}, 400, '"id"'),
    ({"id": "x" * 65, "op": "pull"}, 400, '"id"'),
    ({"id": 1, "op": "explode"}, 400, '"op"'),
    ({"id": 1, "op": "push", "payload": "{}"}, 400, "Node-Destination"),
    ({"id": 1, "op": "push", "destination": 5, "payload": "{}"}, 400, '"destination"'),
    ({"id": 1, "op": "push", "destination": "n1", "payload": "{nope"}, 400, "not JSON"),
    (
        {"id": 1, "op": "push", "destination": "n1", "payload": "x" * (200 << 10)},
        413,
        "limit",
    ),
    (
        {"id": 1, "op": "push", "destination": "n1", "payload": "!!", "content_type": "x/y"},
        400,
        "base64",
    ),
    (
        {
            "id": 1,
            "op": "push",
            "destination": "n1",
            "payload": "{}",
            "status": "scheduled",
            "scheduled_time": "2001-01-01T00:00:00Z",
        },
        400,
        "before the agent started",
    ),
    ({"id": 1, "op": "push", "destination": "n1", "payload": "{}", "status": "done"}, 400, ""),
    ({"id": 1, "op": "pull", "quantity": 0}, 400, "quantity"),
    ({"id": 1, "op": "pull", "quantity": "5"}, 400, "quantity"),
    ({"id": 1, "op": "ack"}, 400, "message_id"),
    ({"id": 1, "op": "ack", "message_id": "nope"}, 404, "no message nope"),
    ({"id": 1, "op": "ack", "ids": []}, 400, "1 to"),
    ({"id": 1, "op": "ack", "ids": [1]}, 400, '"ids"'),
    ('{"id": 1, "op": "push", "destination": "\\ud800", "payload": "{}"}', 400, "surrogate"),
    ('{"id": 1, "op": "pull", "x": ' + "[" * 100 + "]" * 100 + "}", 400, "deeper"),
]


@pytest.mark.parametrize(("command", "status", "words"), BAD_COMMANDS)
async def test_a_bad_command_gets_the_http_error_and_changes_nothing(
    agent: AgentProcess, channel: ClientConnection, command: Any, status: int, words: str
) -> None:
    answer = await ask(channel, command)
    error = answer["error"]
    assert error["code"] == status and words in error["message"], answer
    assert error["type"]  # the HTTP routes' error object: code, type, message
    valid_id = isinstance(command, dict) and command["id"] == 1
    assert answer["id"] == (1 if valid_id else None)
    assert listed(agent) == []
    # The channel serves on.
    assert (await ask(channel, {"id": 2, "op": "pull"})) == {"id": 2, "ok": None}


async def test_a_binary_frame_is_refused_and_the_channel_serves_on(
    channel: ClientConnection,
) -> None:
    await channel.send(b"\x00\x01")
    answer = json.loads(await asyncio.wait_for(channel.recv(), BOUND))
    assert answer["id"] is None and answer["error"]["code"] == 400
    assert (await ask(channel, {"id": 2, "op": "pull"})) == {"id": 2, "ok": None}


async def test_a_frame_over_the_limit_closes_that_channel_only(
    agent: AgentProcess, channel: ClientConnection
) -> None:
    await channel.send(json.dumps({"id": 1, "op": "pull", "pad": "x" * (2 << 20)}))
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(channel.recv(), BOUND)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big
    other = await open_channel(agent, "n2")
    assert (await ask(other, {"id": 1, "op": "pull"})) == {"id": 1, "ok": None}
    await other.close()


async def test_a_client_that_never_reads_is_held_to_the_bound(agent: AgentProcess) -> None:
    """Pushes keep coming, their answers (the payload echoed) are never read: once the
    kernel's buffers are full the answers wait, the agent's in-flight bound is reached and
    it stops reading the socket, so the client's sends block; the agent's memory stays
    bounded and other clients are served meanwhile."""
    # Small buffers on the client's side: the kernel there holds little of what is held up.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 << 10)
    sock.connect(_address(agent.url))
    given = {**agent.headers, "Scirocco-Node-Source": "hostile"}
    hostile = await websockets.connect(
        ws_url(agent), additional_headers=given, sock=sock, compression=None
    )
    agent_memory = psutil.Process(agent.process.pid)
    before = agent_memory.memory_info().rss
    # Random, so that nothing on the way compresses it (permessage-deflate would).
    payload = base64.b64encode(os.urandom(60 << 10)).decode()
    sent = 0
    blocked = False
    while sent < 256 << 20:
        command = {"id": sent, "op": "push", "destination": "hostile", "payload": payload}
        frame = json.dumps({**command, "content_type": BINARY_TYPE})
        try:
            await asyncio.wait_for(hostile.send(frame), 3.0)
        except TimeoutError:
            blocked = True
            break
        sent += len(frame)
    assert blocked, f"{sent} bytes sent and the agent still read them all"
    # Held: the agent's bound, plus what the kernel's buffers of the agent's socket take
    # (their most here: net.ipv4.tcp_rmem's 32 MiB and tcp_wmem's 4 MiB).
    assert sent < MAX_IN_FLIGHT_BYTES + (48 << 20)
    assert agent_memory.memory_info().rss - before < 64 << 20
    other = await open_channel(agent, "n2")
    assert (await ask(other, {"id": 1, "op": "pull"})) == {"id": 1, "ok": None}
    await other.close()
    hostile.transport.abort()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Scirocco-Node-Source": "n1"}, 401),
        ({"Authorization": "Bearer wrong", "Scirocco-Node-Source": "n1"}, 401),
        ({"Authorization": "wrong", "Scirocco-Node-Source": "n1"}, 401),
        (None, 400),  # credentials, but no node
        ("origin", 403),
    ],
    ids=["no-token", "wrong-agent-token", "wrong-inbox-token", "no-node", "browser-origin"],
)
async def test_the_handshake_wants_the_inbox_credentials(
    agent: AgentProcess, headers: Any, status: int
) -> None:
    if headers is None:
        headers = agent.headers
    elif headers == "origin":
        headers = {**agent.headers, "Scirocco-Node-Source": "n1", "Origin": "https://evil.test"}
    with pytest.raises(InvalidStatus) as refused:
        await open_channel(agent, headers=headers)
    assert refused.value.response.status_code == status


async def test_the_inbox_token_opens_the_channel(agent_factory) -> None:
    agent = agent_factory("--inbox-token", INBOX_TOKEN)
    channel = await open_channel(
        agent, headers={"Authorization": INBOX_TOKEN, "Scirocco-Node-Source": "n1"}
    )
    assert (await ask(channel, {"id": 1, "op": "pull"})) == {"id": 1, "ok": None}
    await channel.close()


async def test_the_adapter_uses_the_channel_and_raises_as_over_http(agent: AgentProcess) -> None:
    async with AgentClient(agent.endpoint()) as client:
        info = await client.info()
        assert "inbox.channel" in info.features
        inbox = client.inbox
        inbox.node_id = "ops"
        pushed = [
            await inbox.push("ops", {"a": [1]}, topic="t"),
            await inbox.push("ops", "plain ✓"),
            await inbox.push("ops", b"\x00\xff"),
        ]
        assert inbox.uses_channel
        assert [m.payload_type for m in pushed] == [JSON_TYPE, TEXT_TYPE, BINARY_TYPE]
        pulled = await inbox.pull()
        assert pulled is not None and pulled.content == {"a": [1]}
        assert (await inbox.ack(pulled.id)).status == MessageStatus.PROCESSED
        rest = await inbox.pull_many(10)
        assert [m.content for m in rest] == ["plain ✓", b"\x00\xff"]
        assert sorted(await inbox.ack_many([m.id for m in rest])) == sorted(m.id for m in rest)
        with pytest.raises(NotFound, match="no message nope is processing"):
            await inbox.ack("nope")
        big = b"\x01" * (900 << 10)  # its frame would be over the agent's limit: by HTTP
        assert (await inbox.push("ops", big)).payload == big
        assert inbox.uses_channel  # and the channel stays the way for the rest
        assert (await inbox.pull()).payload == big  # type: ignore[union-attr]


def older_agent_code(tmp_path: Path) -> Path:
    """The code of an agent from before the channel, from this repository's history."""
    repo = Path(__file__).resolve().parent.parent
    found = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "-e", f"{PRE_CHANNEL_COMMIT}^{{commit}}"],
        capture_output=True,
    )
    if found.returncode != 0:
        pytest.skip(f"commit {PRE_CHANNEL_COMMIT} (an agent without the channel) is not here")
    code = tmp_path / "older"
    code.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", PRE_CHANNEL_COMMIT, "console"],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive.stdout, check=True)
    return code


async def test_the_adapter_falls_back_to_http_on_an_agent_without_the_channel(
    tmp_path: Path,
) -> None:
    code = older_agent_code(tmp_path)
    older = start_agent(
        "--data-dir",
        str(tmp_path / "data"),
        "--inbox-token",
        INBOX_TOKEN,
        log=tmp_path / "older.log",
        env={"PYTHONPATH": str(code)},
        cwd=code,
    )
    try:
        endpoint = Endpoint(older.url, token=INBOX_TOKEN, agent_token=older.token)
        async with AgentClient(endpoint) as client:
            assert "inbox.channel" not in (await client.info()).features
            inbox = client.inbox
            inbox.node_id = "ops"
            started = time.monotonic()
            pushed = await inbox.push("ops", {"n": 1})
            pulled = await inbox.pull()
            assert pulled is not None and pulled.id == pushed.id
            assert (await inbox.ack(pushed.id)).status == MessageStatus.PROCESSED
            assert not inbox.uses_channel
            assert time.monotonic() - started < BOUND
    finally:
        older.stop()
        assert older.process.stdout is not None
        older.process.stdout.close()
