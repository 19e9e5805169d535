"""The inbox's scirocco API (PROTOCOLS.md §4) over plain HTTP, against real agent processes.

Every test runs on both stores (``inbox_store``: SQLite, and a real redis-server).
"""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from passlib.hash import bcrypt

from console.adapters import AgentClient
from console.models import MessageStatus, ProcessState
from tests.conftest import AgentProcess, start_agent, write_inbox_table
from tests.processes_helpers import BOUND, write_app, write_config

TOKEN = "inbox-secret"
AgentFactory = Callable[..., AgentProcess]

ROUTES = [
    ("POST", "/messageQueue"),
    ("GET", "/messageQueue"),
    ("GET", "/messageQueue?quantity=5"),
    ("PATCH", "/messageQueue/some-id/ack"),
    ("PATCH", "/messageQueue/ack"),
    ("GET", "/messages"),
    ("DELETE", "/messages"),
    ("GET", "/messages/some-id"),
    ("PATCH", "/messages/some-id"),
    ("DELETE", "/messages/some-id"),
    ("DELETE", "/globalDataSpace"),
]


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory, inbox_store: str) -> Iterator[AgentProcess]:
    """One agent for the tests that keep to nodes of their own (none wipes the inbox)."""
    home = tmp_path_factory.mktemp("inbox")
    config = write_inbox_table(home / "agent.toml", inbox_store)
    agent = start_agent(
        "--data-dir",
        str(home / "data"),
        "--config",
        str(config),
        "--inbox-token",
        TOKEN,
        log=home / "agent.log",
    )
    yield agent
    assert agent.stop() == 0
    assert agent.process.stdout is not None
    agent.process.stdout.close()


@pytest.fixture
def node(agent: AgentProcess) -> Iterator[Callable[..., httpx.Client]]:
    """``node()`` is an HTTP client acting as a node of its own (a fresh name each call)."""
    clients: list[httpx.Client] = []

    def open_node(name: str | None = None, url: str | None = None) -> httpx.Client:
        client = httpx.Client(
            base_url=url or agent.url,
            headers={"Authorization": TOKEN, "Scirocco-Node-Source": name or fresh_name()},
            timeout=10,
        )
        clients.append(client)
        return client

    yield open_node
    for client in clients:
        client.close()


def fresh_name() -> str:
    return f"node-{uuid.uuid4().hex[:8]}"


def name_of(client: httpx.Client) -> str:
    return client.headers["Scirocco-Node-Source"]


def push(
    sender: httpx.Client,
    destination: str,
    body: bytes = b'{"hello": "world"}',
    content_type: str = "application/json",
    **headers: str,
) -> httpx.Response:
    all_headers = {"Scirocco-Node-Destination": destination, "Content-Type": content_type}
    all_headers.update({f"Scirocco-{k.replace('_', '-').title()}": v for k, v in headers.items()})
    return sender.post("/messageQueue", content=body, headers=all_headers)


def pushed_id(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    return response.headers["Scirocco-Id"]


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status
    assert isinstance(error["type"], str) and error["type"]
    assert isinstance(error["message"], str) and error["message"]
    return error


def assert_iso(text: str) -> float:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, text
    return moment.timestamp()


def wait_for(read: Callable[[], Any], until: Callable[[Any], bool], what: str) -> Any:
    """Poll ``read()`` until ``until`` accepts it: a correctness bound, not a timing."""
    deadline = time.monotonic() + BOUND
    while True:
        value = read()
        if until(value):
            return value
        assert time.monotonic() < deadline, f"{what}; last: {value}"
        time.sleep(0.03)


# Auth and bad requests


@pytest.mark.parametrize(
    "authorization",
    [None, "wrong-token", b"t\xf6ken", f"Basic {base64.b64encode(b'u:p').decode()}", TOKEN[:-1]],
    ids=["none", "wrong", "non-ascii", "basic", "truncated"],
)
def test_every_route_wants_the_token(agent: AgentProcess, node, authorization) -> None:
    owner = node()
    kept = pushed_id(push(owner, name_of(owner)))
    headers: dict[str, Any] = {"Scirocco-Node-Source": "intruder"}
    if authorization is not None:
        headers["Authorization"] = authorization
    with httpx.Client(base_url=agent.url, timeout=10) as intruder:
        for method, path in ROUTES:
            response = intruder.request(method, path.replace("some-id", kept), headers=headers)
            assert_error(response, 401)
            # The refused DELETEs and pulls did nothing. The owner's answer, from the same
            # address, also starts its failure count afresh: past five refusals the throttle
            # (tested on its own) would slow each next one down, 16 s for these eleven.
            message = owner.get(f"/messages/{kept}")
            assert message.status_code == 200
            assert message.headers["Scirocco-Status"] == "pending"


def test_node_source_is_required_everywhere(agent: AgentProcess) -> None:
    with httpx.Client(base_url=agent.url, headers={"Authorization": TOKEN}, timeout=10) as client:
        # The global wipe asks only for the token, as scirocco's (its test suites' reset).
        for method, path in (route for route in ROUTES if route[1] != "/globalDataSpace"):
            error = assert_error(client.request(method, path), 400)
            assert "Scirocco-Node-Source" in error["message"]


def test_bad_pushes_are_400(node) -> None:
    sender = node()
    me = name_of(sender)
    no_destination = sender.post("/messageQueue", content=b"{}", headers={"Content-Type": "a/b"})
    assert "Scirocco-Node-Destination" in assert_error(no_destination, 400)["message"]
    assert_error(push(sender, me, b"{not json"), 400)
    assert_error(push(sender, me, b"\xff\xfe", "text/plain"), 400)
    for bad_time in ("tomorrow", "2026-13-40T00:00:00Z", ""):
        assert_error(push(sender, me, status="scheduled", scheduled_time=bad_time), 400)
    assert_error(push(sender, me, status="scheduled"), 400)
    assert_error(push(sender, me, status="processed"), 400)
    for quantity in ("0", "-1", "x", "1001"):
        assert_error(sender.get("/messageQueue", params={"quantity": quantity}), 400)
    assert_error(sender.get("/messages", params={"status": "lost"}), 400)
    # Nothing was stored by any of them.
    assert sender.get("/messages", params={"node_destination": me}).json() == []


# Push, pull, ack


def test_push_answers_201_with_the_payload_and_its_metadata(node) -> None:
    sender, receiver = node(), node()
    before = time.time()
    response = push(sender, name_of(receiver), b'{"n": 1}', topic="deploy")
    assert response.status_code == 201
    assert response.content == b'{"n": 1}'
    assert response.headers["Content-Type"].startswith("application/json")
    headers = response.headers
    assert headers["Scirocco-Node-Source"] == name_of(sender)
    assert headers["Scirocco-Node-Destination"] == name_of(receiver)
    assert headers["Scirocco-Status"] == "pending"
    assert headers["Scirocco-Tries"] == "0"
    assert headers["Scirocco-Topic"] == "deploy"
    assert headers["Scirocco-Payload-Type"] == "application/json"
    created = assert_iso(headers["Scirocco-Created-Time"])
    assert before - 1 <= created <= time.time() + 1
    assert assert_iso(headers["Scirocco-Update-Time"]) == created
    for absent in ("Processing", "Processed", "Error", "Scheduled"):
        assert f"Scirocco-{absent}-Time" not in headers
    again = push(sender, name_of(receiver))
    assert len({headers["Scirocco-Id"], pushed_id(again)}) == 2


def test_pull_gives_the_callers_oldest_message_and_ack_finishes_it(node) -> None:
    sender, receiver, bystander = node(), node(), node()
    assert bystander.get("/messageQueue").status_code == 204
    first = pushed_id(push(sender, name_of(receiver), b'"first"'))
    second = pushed_id(push(sender, name_of(receiver), b'"second"'))
    assert bystander.get("/messageQueue").status_code == 204  # not addressed to it
    assert sender.get("/messageQueue").status_code == 204

    pulled = receiver.get("/messageQueue")
    assert pulled.status_code == 200
    assert pulled.content == b'"first"'
    assert pulled.headers["Scirocco-Id"] == first
    assert pulled.headers["Scirocco-Status"] == "processing"
    assert pulled.headers["Scirocco-Tries"] == "1"
    assert_iso(pulled.headers["Scirocco-Processing-Time"])

    assert_error(bystander.patch(f"/messageQueue/{first}/ack"), 404)  # another node's
    assert_error(receiver.patch(f"/messageQueue/{second}/ack"), 404)  # pending, not pulled
    assert_error(receiver.patch("/messageQueue/no-such-id/ack"), 404)
    acked = receiver.patch(f"/messageQueue/{first}/ack")
    assert acked.status_code == 200
    assert acked.headers["Scirocco-Status"] == "processed"
    assert_iso(acked.headers["Scirocco-Processed-Time"])
    assert_error(receiver.patch(f"/messageQueue/{first}/ack"), 404)  # acked already

    assert receiver.get("/messageQueue").headers["Scirocco-Id"] == second
    assert receiver.get("/messageQueue").status_code == 204


def test_batch_pull_is_a_json_array_of_typed_objects(node) -> None:
    sender, receiver = node(), node()
    blob = bytes(range(256))
    ids = [
        pushed_id(push(sender, name_of(receiver), b'{"k": [1, 2]}')),
        pushed_id(push(sender, name_of(receiver), "héllo ✓".encode(), "text/plain")),
        pushed_id(push(sender, name_of(receiver), blob, "application/octet-stream")),
    ]
    response = receiver.get("/messageQueue", params={"quantity": 10})
    assert response.status_code == 200
    batch = response.json()
    assert [m["id"] for m in batch] == ids
    assert [m["payload"] for m in batch] == [
        {"k": [1, 2]},
        "héllo ✓",
        base64.b64encode(blob).decode(),
    ]
    for message in batch:
        assert message["tries"] == 1
        assert message["status"] == "processing"
        assert message["node_source"] == name_of(sender)
        assert message["node_destination"] == name_of(receiver)
        assert message["scheduled_time"] is None
        assert_iso(message["processing_time"])
    assert receiver.get("/messageQueue", params={"quantity": 10}).json() == []


def test_payloads_of_each_kind_come_back_as_sent(node) -> None:
    sender = node()
    me = name_of(sender)
    blob = bytes(range(256)) * 64 + b"\x00\r\n\xff"
    text = "línea ✓\r\nzwei\x00"
    message_id = pushed_id(response := push(sender, me, blob, "application/octet-stream"))
    assert response.content == blob
    text_id = pushed_id(push(sender, me, text.encode(), "text/plain; charset=utf-8"))
    pulled = sender.get("/messageQueue")
    # As scirocco: bytes come back raw only in the push's echo, later as a JSON base64 string.
    assert base64.b64decode(pulled.json()) == blob
    assert pulled.headers["Content-Type"] == "application/json; charset=utf-8"
    assert pulled.headers["Scirocco-Payload-Type"] == "application/octet-stream"
    assert base64.b64decode(sender.get(f"/messages/{message_id}").json()) == blob
    listing = {m["id"]: m for m in sender.get("/messages", params={"node_destination": me}).json()}
    assert base64.b64decode(listing[message_id]["payload"]) == blob
    assert listing[text_id]["payload"] == text
    assert listing[text_id]["payload_type"] == "text/plain"
    assert sender.get("/messageQueue").content.decode() == text


def test_a_huge_body_is_refused_and_the_agent_keeps_serving(node) -> None:
    sender = node()
    me = name_of(sender)
    too_big = b"x" * ((8 << 20) + 1)
    assert_error(push(sender, me, too_big, "application/octet-stream"), 413)

    def chunks() -> Iterator[bytes]:
        for _ in range(9):
            yield b"y" * (1 << 20)

    chunked = sender.post(
        "/messageQueue",
        content=chunks(),
        headers={"Scirocco-Node-Destination": me, "Content-Type": "application/octet-stream"},
    )
    assert_error(chunked, 413)
    kept = pushed_id(push(sender, me, b"small", "text/plain"))
    assert_error(sender.patch(f"/messages/{kept}", content=too_big), 413)
    assert [m["id"] for m in sender.get("/messages", params={"node_destination": me}).json()] == [
        kept
    ]
    assert sender.get("/messageQueue").content == b"small"


def test_batch_ack_acks_what_is_processing_for_the_caller(node) -> None:
    sender, receiver = node(), node()
    ids = [pushed_id(push(sender, name_of(receiver), b"%d" % i)) for i in range(4)]
    pulled = [m["id"] for m in receiver.get("/messageQueue", params={"quantity": 3}).json()]
    assert pulled == ids[:3]
    # Another node cannot ack them, in a batch either.
    refused = sender.patch("/messageQueue/ack", json={"ids": pulled})
    assert refused.status_code == 200, refused.text
    assert refused.json() == {"acked": [], "not_processing": pulled}
    answer = receiver.patch("/messageQueue/ack", json={"ids": [*pulled[:2], ids[3], "nope"]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [m["id"] for m in body["acked"]] == pulled[:2]
    assert all(m["status"] == "processed" for m in body["acked"])
    assert body["not_processing"] == [ids[3], "nope"]
    statuses = [receiver.get(f"/messages/{i}").headers["Scirocco-Status"] for i in ids]
    assert statuses == ["processed", "processed", "processing", "pending"]
    for bad in (b"", b"[]", b'{"ids": []}', b'{"ids": "x"}', b'{"ids": [1]}', b'{"ids": [""]}'):
        assert_error(receiver.patch("/messageQueue/ack", content=bad), 400)
    too_many = {"ids": [f"id{i}" for i in range(1001)]}
    assert_error(receiver.patch("/messageQueue/ack", json=too_many), 400)
    assert receiver.get(f"/messages/{ids[2]}").headers["Scirocco-Status"] == "processing"


# Management routes


def test_list_read_update_delete(node) -> None:
    sender, receiver = node(), node()
    me, them = name_of(sender), name_of(receiver)
    mine = pushed_id(push(sender, me, b"[1]"))
    theirs = [pushed_id(push(sender, them, b"%d" % i)) for i in range(3)]
    receiver.get("/messageQueue")

    listing = sender.get("/messages", params={"node_destination": them}).json()
    assert [m["id"] for m in listing] == theirs  # in the order they came, as scirocco
    newest = sender.get("/messages", params={"node_destination": them, "order": "newest"})
    assert [m["id"] for m in newest.json()] == theirs[::-1]
    assert all(isinstance(m["tries"], int) for m in listing)
    processing = sender.get("/messages", params={"status": "processing", "node_destination": them})
    assert [m["id"] for m in processing.json()] == [theirs[0]]
    assert sender.get("/messages", params={"node_destination": me}).json()[0]["id"] == mine
    assert len(sender.get("/messages", params={"node_destination": them, "limit": 2}).json()) == 2

    read = receiver.get(f"/messages/{mine}")  # any node with the token may read
    assert read.status_code == 200
    assert read.content == b"[1]"
    assert read.headers["Scirocco-Status"] == "pending"
    assert_error(sender.get("/messages/no-such-id"), 404)

    updated = sender.patch(
        f"/messages/{mine}", content=b"new text", headers={"Content-Type": "text/plain"}
    )
    assert updated.status_code == 200
    # As scirocco, the payload changes and its type stays: text in a JSON message is a string.
    assert updated.json() == "new text"
    assert updated.headers["Scirocco-Payload-Type"] == "application/json"
    assert sender.get(f"/messages/{mine}").json() == "new text"
    assert_error(
        sender.patch(
            f"/messages/{mine}", content=b"{", headers={"Content-Type": "application/json"}
        ),
        400,
    )
    assert_error(sender.patch("/messages/no-such-id", content=b"x"), 404)

    assert sender.delete(f"/messages/{mine}").json() == {"n": 1, "ok": 1}
    assert_error(sender.get(f"/messages/{mine}"), 404)
    # scirocco answers every delete 200 with MongoDB's count, 0 when nothing matched.
    again = sender.delete(f"/messages/{mine}")
    assert (again.status_code, again.json()) == (200, {"n": 0, "ok": 1})


def test_a_listing_of_large_messages_stays_within_its_byte_budget(
    agent_factory: AgentFactory, inbox_store: str, tmp_path: Path
) -> None:
    budget = 1 << 20
    config = tmp_path / "agent.toml"
    config.write_text(f"[agent.output]\nanswer_bytes = {budget}\n")
    agent = agent_factory(
        "--config", str(write_inbox_table(config, inbox_store)), "--inbox-token", TOKEN
    )
    headers = {"Authorization": TOKEN, "Scirocco-Node-Source": "op"}
    with httpx.Client(base_url=agent.url, headers=headers, timeout=30) as client:
        # Each lists as about 400 KB of base64: two fit in 1 MiB, not three.
        pushed = [
            pushed_id(push(client, "big", bytes([i]) * (300 << 10), "application/octet-stream"))
            for i in range(6)
        ]
        for limit in ("10000", "999999999999"):
            listing = client.get("/messages", params={"limit": limit})
            assert listing.status_code == 200
            assert len(listing.content) <= budget
            assert [m["id"] for m in listing.json()] == pushed[-2:], "the newest, oldest first"
            assert listing.headers["Opsconsole-Left-Out"] == "4"
            payloads = [base64.b64decode(m["payload"]) for m in listing.json()]
            assert payloads == [bytes([4]) * (300 << 10), bytes([5]) * (300 << 10)]
        newest = client.get("/messages", params={"limit": 3, "order": "newest"})
        assert [m["id"] for m in newest.json()] == pushed[:-3:-1]
        assert newest.headers["Opsconsole-Left-Out"] == "1"
        small = client.get("/messages", params={"limit": 2})
        assert [m["id"] for m in small.json()] == pushed[-2:]
        assert "Opsconsole-Left-Out" not in small.headers
        # One message larger than the budget (its base64 is 1.3 MB) is still given, alone.
        huge = pushed_id(push(client, "big", b"h" * (999 << 10), "application/octet-stream"))
        alone = client.get("/messages", params={"limit": 10000})
        assert [m["id"] for m in alone.json()] == [huge]
        assert alone.headers["Opsconsole-Left-Out"] == "6"
        assert_error(client.get("/messages", params={"limit": "-1"}), 400)
        assert_error(client.get("/messages", params={"limit": "1" * 40}), 400)


def test_delete_all_and_the_global_data_space(
    agent_factory: AgentFactory, inbox_store: str, tmp_path: Path
) -> None:
    config = write_inbox_table(tmp_path / "agent.toml", inbox_store)
    agent = agent_factory(
        "--config", str(config), "--inbox-token", TOKEN, "--inbox-token", "second-token"
    )
    headers = {"Authorization": "second-token", "Scirocco-Node-Source": "op"}
    with httpx.Client(base_url=agent.url, headers=headers, timeout=10) as client:
        for destination in ("a", "b", "a"):
            pushed_id(push(client, destination))
        assert client.delete("/messages").json() == {"n": 3, "ok": 1}
        assert client.get("/messages").json() == []
        for destination in ("a", "b"):
            pushed_id(push(client, destination))
        assert_error(client.delete("/globalDataSpace", headers={"Authorization": "nope"}), 401)
        assert len(client.get("/messages").json()) == 2
        wiped = client.delete("/globalDataSpace", headers={"Scirocco-Node-Source": ""})
        assert (wiped.status_code, wiped.json()) == (200, {"n": 2, "ok": 1})
        assert client.get("/messages").json() == []


def test_with_htpasswd_the_inbox_still_takes_its_token(
    agent_factory: AgentFactory, inbox_store: str, tmp_path: Path
) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"alice:{bcrypt.using(rounds=4).hash('alice-pw')}\n")
    config = write_inbox_table(tmp_path / "agent.toml", inbox_store)
    agent = agent_factory(
        "--config", str(config), "--htpasswd", str(htpasswd), "--inbox-token", TOKEN
    )
    basic = httpx.BasicAuth("alice", "alice-pw")
    inbox = {"Authorization": TOKEN, "Scirocco-Node-Source": "op"}
    with (
        httpx.Client(base_url=agent.url, headers=inbox, timeout=10) as operator,
        httpx.Client(base_url=agent.url, timeout=10) as client,
    ):
        message_id = pushed_id(push(operator, "op"))
        assert operator.get("/messageQueue").headers["Scirocco-Id"] == message_id
        # Basic credentials are not the inbox's: without the token, a 401 all the same.
        no_token = client.get("/messages", auth=basic, headers={"Scirocco-Node-Source": "op"})
        assert_error(no_token, 401)
        # The other routes still want Basic auth, and the inbox token does not open them.
        for headers in ({}, inbox):
            refused = client.get("/", headers=headers)
            assert_error(refused, 401)
            assert refused.headers["WWW-Authenticate"].startswith("Basic")
        assert client.get("/", auth=basic).status_code == 200


# Concurrency and durability


def test_two_racing_pullers_get_each_message_exactly_once(node) -> None:
    sender, first, second = node(), node("racer"), node("racer")
    pushed: list[str] = []

    def push_some(count: int) -> None:
        with httpx.Client(base_url=str(sender.base_url), headers=sender.headers) as client:
            pushed.extend(pushed_id(push(client, "racer", b"%d" % i)) for i in range(count))

    pushers = [threading.Thread(target=push_some, args=(500,)) for _ in range(2)]
    for thread in pushers:
        thread.start()
    for thread in pushers:
        thread.join(60)
    assert len(set(pushed)) == 1000

    got: dict[str, list[str]] = {"single": [], "batch": []}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def pull_singles() -> None:
        start.wait()
        while (response := first.get("/messageQueue")).status_code == 200:
            got["single"].append(response.headers["Scirocco-Id"])
        assert response.status_code == 204, response.text

    def pull_batches() -> None:
        start.wait()
        while batch := second.get("/messageQueue", params={"quantity": 3}).json():
            got["batch"] += [m["id"] for m in batch]

    def guarded(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # reported in the main thread
                errors.append(exc)

        return run

    pullers = [threading.Thread(target=guarded(f)) for f in (pull_singles, pull_batches)]
    for thread in pullers:
        thread.start()
    for thread in pullers:
        thread.join(60)
    assert not errors, errors
    singles, batches = set(got["single"]), set(got["batch"])
    assert singles and batches, "one puller got everything: no race happened"
    assert len(singles) + len(batches) == len(got["single"]) + len(got["batch"]) == 1000
    assert not singles & batches
    assert singles | batches == set(pushed)


def test_what_got_a_201_survives_kill_9(
    agent_factory: AgentFactory, inbox_store: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "kept"
    config = str(write_inbox_table(tmp_path / "agent.toml", inbox_store))
    agent = agent_factory("--data-dir", str(data_dir), "--config", config, "--inbox-token", TOKEN)
    headers = {"Authorization": TOKEN, "Scirocco-Node-Source": "op"}
    with httpx.Client(base_url=agent.url, headers=headers, timeout=10) as client:
        acked = pushed_id(push(client, "op", b'"acked"'))
        unacked = pushed_id(push(client, "op", b'"unacked"'))
        assert client.get("/messageQueue").headers["Scirocco-Id"] == acked
        assert client.patch(f"/messageQueue/{acked}/ack").status_code == 200
        assert client.get("/messageQueue").headers["Scirocco-Id"] == unacked
        pushed: dict[str, int] = {}

        def push_some(offset: int) -> None:
            with httpx.Client(base_url=agent.url, headers=headers, timeout=10) as mine:
                for i in range(offset, offset + 100):
                    pushed[pushed_id(push(mine, "op", json.dumps({"i": i}).encode()))] = i

        threads = [threading.Thread(target=push_some, args=(k * 100,)) for k in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        agent.process.send_signal(signal.SIGKILL)  # right after the last 201
        assert agent.process.wait(10) == -signal.SIGKILL
    assert len(pushed) == 300

    again = agent_factory("--data-dir", str(data_dir), "--config", config, "--inbox-token", TOKEN)
    with httpx.Client(base_url=again.url, headers=headers, timeout=10) as client:
        kept = {m["id"]: m for m in client.get("/messages", params={"limit": 1000}).json()}
        assert set(kept) == {acked, unacked, *pushed}
        for message_id, i in pushed.items():
            assert (kept[message_id]["status"], kept[message_id]["payload"]) == (
                "pending",
                {"i": i},
            )
        assert kept[acked]["status"] == "processed"
        assert (kept[unacked]["status"], kept[unacked]["tries"]) == ("processing", 1)
        assert_error(client.patch(f"/messageQueue/{acked}/ack"), 404)
        assert client.get("/messageQueue").status_code == 200  # and it serves pulls


# Time: scheduling and redelivery


def test_a_scheduled_message_waits_and_the_clock_releases_it(node) -> None:
    sender, receiver = node(), node()
    them = name_of(receiver)
    in_an_hour = datetime.fromtimestamp(time.time() + 3600).astimezone().isoformat()
    far = push(sender, them, b'"later"', status="scheduled", scheduled_time=in_an_hour)
    assert far.headers["Scirocco-Status"] == "scheduled"
    assert assert_iso(far.headers["Scirocco-Scheduled-Time"]) == pytest.approx(
        assert_iso(in_an_hour)
    )
    assert receiver.get("/messageQueue").status_code == 204

    due = time.time() + 1.0
    soon = pushed_id(push(sender, them, b'"soon"', status="scheduled", scheduled_time=_utc(due)))
    early = receiver.get("/messageQueue")
    if early.status_code != 204:  # only fair if a whole second went by: then it is due
        assert time.time() >= due and early.headers["Scirocco-Id"] == soon, early.headers
        return

    def read() -> tuple[str, float]:
        status = sender.get(f"/messages/{soon}").headers["Scirocco-Status"]
        return status, time.time()

    # Reading never releases anything: only the agent's own clock can turn it pending.
    status, answered = wait_for(read, lambda seen: seen[0] != "scheduled", "never released")
    assert status == "pending"
    assert answered >= due, "released before its time"
    pulled = receiver.get("/messageQueue")
    assert (pulled.status_code, pulled.headers["Scirocco-Id"]) == (200, soon)
    assert receiver.get("/messageQueue").status_code == 204  # the other one still waits
    assert sender.get(f"/messages/{pushed_id(far)}").headers["Scirocco-Status"] == "scheduled"


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def test_unacked_messages_are_delivered_again_then_go_to_error(
    agent_factory: AgentFactory, inbox_store: str, tmp_path: Path
) -> None:
    config = write_inbox_table(
        tmp_path / "inbox.toml", inbox_store, visibility_timeout=0.5, max_tries=2
    )
    agent = agent_factory("--config", str(config), "--inbox-token", TOKEN)
    headers = {"Authorization": TOKEN, "Scirocco-Node-Source": "op"}
    with httpx.Client(base_url=agent.url, headers=headers, timeout=10) as client:
        flaky = pushed_id(push(client, "op", b'"flaky"'))
        first = client.get("/messageQueue")
        assert (first.headers["Scirocco-Id"], first.headers["Scirocco-Tries"]) == (flaky, "1")
        # Another node's message, acked in time: the clock must leave it alone.
        other = {**headers, "Scirocco-Node-Source": "op2"}
        done = pushed_id(push(client, "op2", b'"done"'))
        assert client.get("/messageQueue", headers=other).headers["Scirocco-Id"] == done
        assert client.patch(f"/messageQueue/{done}/ack", headers=other).status_code == 200

        def read(message_id: str) -> httpx.Headers:
            return client.get(f"/messages/{message_id}").headers

        back = wait_for(lambda: read(flaky), lambda h: h["Scirocco-Status"] != "processing", "")
        assert (back["Scirocco-Status"], back["Scirocco-Tries"]) == ("pending", "1")
        assert "Scirocco-Error-Time" not in back
        assert_error(client.patch(f"/messageQueue/{flaky}/ack"), 404)  # its delivery expired
        second = client.get("/messageQueue")
        assert (second.headers["Scirocco-Id"], second.headers["Scirocco-Tries"]) == (flaky, "2")

        failed = wait_for(lambda: read(flaky), lambda h: h["Scirocco-Status"] != "processing", "")
        assert (failed["Scirocco-Status"], failed["Scirocco-Tries"]) == ("error", "2")
        assert assert_iso(failed["Scirocco-Error-Time"]) >= assert_iso(
            second.headers["Scirocco-Processing-Time"]
        )
        assert client.get("/messageQueue").status_code == 204
        assert read(done)["Scirocco-Status"] == "processed"


# Alerts


async def crash_and_fail(client: AgentClient, app: Path) -> str:
    """Turn a process fatal, then run a script that fails: what alerts are raised for. The slug."""
    created = await client.processes.create("crashy", "ops", "crash", str(app))
    deadline = time.monotonic() + BOUND
    while (status := await client.processes.get(created.slug)).state != ProcessState.FATAL:
        assert time.monotonic() < deadline, f"never fatal: {status}"
        await asyncio.sleep(0.03)
    assert (await client.scripts.run("fail", {})).retcode == 3
    return created.slug


async def test_a_fatal_process_and_a_failed_run_alert_the_operator_unless_alerts_are_off(
    agent_factory: AgentFactory, inbox_store: str, scripts_dir: Path, tmp_path: Path
) -> None:
    # Any run under 9 s fails quickly: on a loaded machine a run of `exit 3` took over 1 s.
    restart = {"first_delay": 0.05, "max_delay": 0.2, "stable_after": 9, "max_quick_failures": 2}
    agents = {}
    for alerts in (False, True):
        config = write_config(
            tmp_path / f"agent-{alerts}.toml", restart, alerts=alerts, node_id="ops"
        )
        write_inbox_table(config, inbox_store, agent_name="host-a")
        agents[alerts] = agent_factory(
            "--config", str(config), "--scripts", str(scripts_dir), "--inbox-token", TOKEN
        )
    app = write_app(tmp_path / "app", {"crash": "exit 3"})
    # The quiet agent goes first, the alerting one (the control) after it: once the control's
    # alerts are in, the quiet agent has had longer than an alert takes, on this machine now.
    async with (
        AgentClient(agents[False].endpoint(token=TOKEN)) as quiet,
        AgentClient(agents[True].endpoint(token=TOKEN)) as alerting,
    ):
        assert (await quiet.info()).node_id == (await alerting.info()).node_id == "ops"
        await crash_and_fail(quiet, app)
        slug = await crash_and_fail(alerting, app)
        wanted = {"alert.process.fatal", "alert.script.failed"}
        deadline = time.monotonic() + BOUND
        while True:
            found = await alerting.inbox.list(destination="ops")
            if {m.topic for m in found} == wanted:
                break
            assert time.monotonic() < deadline, f"alerts so far: {found}"
            await asyncio.sleep(0.03)
        assert await quiet.inbox.list() == []
    alerts_by_topic = {m.topic: m for m in found}
    fatal = alerts_by_topic["alert.process.fatal"]
    assert (fatal.node_source, fatal.status) == ("opsconsole-agent", MessageStatus.PENDING)
    assert fatal.accepted_by == "host-a"
    assert fatal.content["slug"] == slug
    assert fatal.content["last_exit"] == 3
    assert slug in fatal.content["summary"]
    failed = alerts_by_topic["alert.script.failed"]
    assert (failed.content["script"], failed.content["retcode"]) == ("fail", 3)
    assert "fail" in failed.content["summary"]
