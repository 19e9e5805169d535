"""The smartmob-agent-compatible process API, over real HTTP and WebSockets to the agent."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosedOK, InvalidStatus
from websockets.sync.client import connect as ws_connect

from tests.conftest import AgentProcess, start_agent
from tests.processes_helpers import (
    EventsSocket,
    FileServer,
    create_body,
    in_state,
    tar_folder,
    tar_member,
    tar_with,
    wait_status,
    write_app,
    write_config,
    zip_folder,
)
from tests.test_agent_lifecycle import eventually, group_members

TICKER = 'echo "hello $GREETING"; i=0; while :; do echo "tick $i"; i=$((i+1)); sleep 0.05; done'
SLEEPER = "echo started; exec sleep 60"


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """One agent for the module (fast restarts, log files on); tests use their own slugs."""
    home = tmp_path_factory.mktemp("agent")
    config = write_config(home / "config.toml", process_log_files=True)
    agent = start_agent(
        "--config", str(config), "--data-dir", str(home / "data"), log=home / "agent.log"
    )
    yield agent
    assert agent.stop() == 0
    assert agent.process.stdout is not None
    agent.process.stdout.close()


@pytest.fixture(scope="module")
def files() -> Iterator[FileServer]:
    server = FileServer()
    yield server
    server.close()


@pytest.fixture
def node() -> str:
    """A node name no other test uses on the shared agent."""
    return f"web.{uuid.uuid4().hex[:8]}"


def create(agent: AgentProcess, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
    return httpx.post(
        f"{agent.url}/create-process", json=body, headers=agent.headers, timeout=10, **kwargs
    )


def delete(agent: AgentProcess, slug: str) -> None:
    assert (
        httpx.post(
            f"{agent.url}/delete-process/{slug}", headers=agent.headers, timeout=30
        ).status_code
        == 200
    )


def attach_lines(attach_url: str, count: int, headers: dict[str, str]) -> list[str]:
    with ws_connect(attach_url, additional_headers=headers, open_timeout=10) as ws:
        return [ws.recv(timeout=10) for _ in range(count)]


def test_the_walk_through_of_the_old_readme(
    agent_factory: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    # The old client sends no credentials: the documented option opens its family alone.
    agent = agent_factory("--open", "processes")
    source = write_app(tmp_path / "app", {"web": TICKER, "other": "exit 1"})
    # Index: absolute links to the listing and to creation.
    response = httpx.get(agent.url, timeout=10)
    assert response.status_code == 200
    index = response.json()
    assert index["list"] == f"{agent.url}/list-processes"
    assert index["create"] == f"{agent.url}/create-process"
    assert httpx.get(index["list"], timeout=10).json() == {"processes": []}

    # Create, the way the old client posts: a JSON string with no content type.
    body = create_body("myapp", "web.0", str(source), env={"GREETING": "world"})
    response = httpx.post(index["create"], content=json.dumps(body), timeout=10)
    assert "content-type" not in response.request.headers
    assert response.status_code == 201, response.text
    process = response.json()
    host = agent.url.removeprefix("http://")
    assert {k: process[k] for k in ("app", "node", "slug", "state")} == {
        "app": "myapp",
        "node": "web.0",
        "slug": "myapp.web.0",
        "state": "pending",
    }
    assert process["attach"] == f"ws://{host}/attach-console/myapp.web.0"
    assert process["details"] == f"http://{host}/process-status/myapp.web.0"
    assert process["delete"] == f"http://{host}/delete-process/myapp.web.0"
    assert response.headers["location"] == process["details"]

    listing = httpx.get(index["list"], timeout=10).json()["processes"]
    assert [p["slug"] for p in listing] == ["myapp.web.0"]
    assert {k: listing[0][k] for k in ("attach", "details", "delete")} == {
        k: process[k] for k in ("attach", "details", "delete")
    }

    running = wait_status(agent, "myapp.web.0", in_state("running"))
    pid = running["pid"]
    assert group_members(pid), "the Procfile command runs in its own group"

    # Attach: each line of the command's output is one text frame.
    with ws_connect(process["attach"], open_timeout=10) as ws:
        frames = [ws.recv(timeout=10) for _ in range(4)]
        assert frames == ["hello world", "tick 0", "tick 1", "tick 2"]

        # Delete: {} back, the process is gone, and the attached console ends.
        response = httpx.post(process["delete"], content=json.dumps({}), timeout=30)
        assert response.status_code == 200
        assert response.json() == {}
        with pytest.raises(ConnectionClosedOK):
            while True:
                assert ws.recv(timeout=10).startswith("tick")
    assert eventually(lambda: not group_members(pid)), f"left running: {group_members(pid)}"
    gone = httpx.get(process["details"], timeout=10)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == 404
    assert httpx.get(index["list"], timeout=10).json() == {"processes": []}


def test_create_accepts_json_as_the_old_client_declares_it(
    agent: AgentProcess, tmp_path: Path, node: str
) -> None:
    """aiohttp (the smartmob client) posts ``data=json.dumps(...)`` as octet-stream."""
    source = write_app(tmp_path / "app", {"web": SLEEPER})
    response = httpx.post(
        f"{agent.url}/create-process",
        content=json.dumps(create_body("octets", node, str(source))),
        headers={**agent.headers, "Content-Type": "application/octet-stream"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    delete(agent, f"octets.{node}")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data"],
)
def test_create_refuses_the_types_a_browser_sends_without_asking(
    agent: AgentProcess, tmp_path: Path, node: str, content_type: str
) -> None:
    source = write_app(tmp_path / "app", {"web": SLEEPER})
    response = httpx.post(
        f"{agent.url}/create-process",
        content=json.dumps(create_body("plain", node, str(source))),
        headers={**agent.headers, "Content-Type": content_type},
        timeout=10,
    )
    assert response.status_code == 400, response.text
    listed = httpx.get(f"{agent.url}/list-processes", headers=agent.headers, timeout=10).json()
    assert f"plain.{node}" not in [p["slug"] for p in listed["processes"]]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "'app'"),
        ({"app": "a", "node": "n", "process_type": "web"}, "'source_url'"),
        ({"app": "a", "node": "n", "source_url": "/x", "process_type": 5}, "'process_type'"),
        ({"app": "", "node": "n", "process_type": "web", "source_url": "/x"}, "'app'"),
        (create_body("a", "n", "/x", env={"A": 1}), "'env'"),
        (create_body("a", "n", "/x", env=["A=1"]), "'env'"),
        (create_body("my app", "n", "/x"), "'app' may hold only"),
        (create_body("../etc", "n", "/x"), "'app' may hold only"),
        (create_body("a", "web/0", "/x"), "'node' may hold only"),
        ("{not json", "is not JSON"),
        ([create_body("a", "n", "/x")], "JSON object"),
        ('"a string"', "JSON object"),
        ({**create_body("a", "n", "/x"), "bogus": 1}, "unknown keys ['bogus']"),
    ],
    ids=[
        "empty",
        "no-source",
        "type-not-str",
        "blank-app",
        "env-int",
        "env-list",
        "app-space",
        "app-dotdot",
        "node-slash",
        "not-json",
        "list",
        "string",
        "unknown-key",
    ],
)
def test_invalid_create_bodies_are_400(agent: AgentProcess, body: Any, words: str) -> None:
    content = body if isinstance(body, str) else json.dumps(body)
    response = httpx.post(
        f"{agent.url}/create-process", content=content, headers=agent.headers, timeout=10
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == 400
    assert words in error["message"]
    listed = httpx.get(f"{agent.url}/list-processes", headers=agent.headers, timeout=10).json()[
        "processes"
    ]
    assert not [p for p in listed if p["app"] in ("a", "my app", "../etc")]


def test_an_existing_slug_is_409_and_unknown_slugs_are_404(
    agent: AgentProcess, tmp_path: Path, node: str
) -> None:
    source = write_app(tmp_path / "app", {"web": SLEEPER})
    assert create(agent, create_body("dup", node, str(source))).status_code == 201
    again = create(agent, create_body("dup", node, str(source)))
    assert again.status_code == 409
    assert f"dup.{node}" in again.json()["error"]["message"]
    delete(agent, f"dup.{node}")

    for method, path in [
        ("GET", "/process-status/nope.web.0"),
        ("POST", "/delete-process/nope.web.0"),
        ("POST", "/restart-process/nope.web.0"),
        ("POST", "/stop-process/nope.web.0"),
        ("POST", "/start-process/nope.web.0"),
    ]:
        response = httpx.request(method, agent.url + path, headers=agent.headers, timeout=10)
        assert response.status_code == 404, path
        assert "nope.web.0" in response.json()["error"]["message"]
    ws_url = agent.url.replace("http", "ws", 1) + "/attach-console/nope.web.0"
    # As smartmob-agent: the handshake itself is answered 404, no WebSocket opens.
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(ws_url, additional_headers=agent.headers, open_timeout=10)
    assert refused.value.response.status_code == 404


# Sources: where the code comes from, and the states on the way to running.


def states_until_settled(
    agent: AgentProcess, body: dict[str, Any], settled: tuple[str, ...] = ("running",)
) -> list[dict[str, Any]]:
    """Create the process; every state pushed for it until one of ``settled``."""
    events = EventsSocket(agent)
    try:
        assert create(agent, body).status_code == 201
        return events.states_of(f"{body['app']}.{body['node']}", in_state(*settled))
    finally:
        events.close()


@pytest.mark.parametrize(
    "kind", ["folder", "file-url-folder", "file-url-zip", "file-url-tar", "http-zip", "http-tgz"]
)
def test_sources_run_through_their_states(
    agent: AgentProcess, files: FileServer, tmp_path: Path, node: str, kind: str
) -> None:
    marker = uuid.uuid4().hex
    source = write_app(tmp_path / "app", {"web": f"echo {marker} $KIND; exec sleep 60"})
    steps = ["unpacking", "processing", "starting", "running"]
    match kind:
        case "folder":
            url, steps = str(source), steps[1:]
        case "file-url-folder":
            url, steps = source.as_uri(), steps[1:]
        case "file-url-zip":
            url = zip_folder(source, tmp_path / "app.zip").as_uri()
        case "file-url-tar":
            url = tar_folder(source, tmp_path / "app.tar", "w").as_uri()
        case "http-zip":
            body = zip_folder(source, tmp_path / "app.zip").read_bytes()
            url, steps = (
                files.serve(f"/{marker}.zip", body, "application/zip"),
                ["downloading", *steps],
            )
        case "http-tgz":
            body = tar_folder(source, tmp_path / "app.tgz").read_bytes()
            url, steps = (
                files.serve(f"/{marker}", body, "application/x-gtar"),
                ["downloading", *steps],
            )
    statuses = states_until_settled(
        agent, create_body("src", node, url, env={"KIND": kind}), ("running", "download failure")
    )
    assert [s["state"] for s in statuses] == ["pending", *steps]
    assert statuses[-1]["pid"]
    details = f"{agent.url}/process-status/src.{node}"
    attach = httpx.get(details, headers=agent.headers, timeout=10).json()["attach"]
    assert attach_lines(attach, 1, agent.headers) == [f"{marker} {kind}"]
    delete(agent, f"src.{node}")


@pytest.mark.parametrize("kind", ["http-404", "no-procfile", "unknown-type", "missing-file"])
def test_sources_that_cannot_run(
    agent: AgentProcess, files: FileServer, tmp_path: Path, node: str, kind: str
) -> None:
    source = write_app(tmp_path / "app", {"web": SLEEPER, "worker": SLEEPER})
    process_type = "web"
    match kind:
        case "http-404":
            url, state, words = f"{files.url}/nothing-{node}.zip", "download failure", "HTTP 404"
        case "no-procfile":
            (source / "Procfile").rename(source / "Procfile.txt")
            body = zip_folder(source, tmp_path / "a.zip").read_bytes()
            url = files.serve(f"/noproc-{node}.zip", body, "application/zip")
            state, words = "no procfile", "Procfile"
        case "unknown-type":
            url, process_type = str(source), "clock"
            state, words = "unknown process type", "'clock' (it has: web, worker)"
        case "missing-file":
            url = (tmp_path / "nowhere.zip").as_uri()
            state, words = "download failure", "nowhere.zip"
    failed = states_until_settled(
        agent, create_body("bad", node, url, process_type), (state, "running")
    )[-1]
    assert failed["state"] == state
    assert words in failed["message"]
    assert failed["pid"] is None
    # It stays there, and deleting it still works.
    assert wait_status(agent, f"bad.{node}", lambda s: True)["state"] == state
    # Attached, it closes at once (1000, as smartmob-agent): nothing will ever come.
    attach_url = agent.url.replace("http", "ws", 1) + f"/attach-console/bad.{node}"
    with (
        ws_connect(attach_url, additional_headers=agent.headers, open_timeout=10) as ws,
        pytest.raises(ConnectionClosedOK),
    ):
        ws.recv(timeout=10)
    delete(agent, f"bad.{node}")


def test_a_hostile_archive_over_http_writes_nothing_outside(
    agent: AgentProcess, files: FileServer, tmp_path: Path, node: str
) -> None:
    data_dir = agent.log.parent / "data"
    escape = f"pwned-{node}"
    archive = tar_with(
        tmp_path / "evil.tgz",
        (tar_member("Procfile"), b"web: sleep 60\n"),
        (tar_member(f"../../{escape}"), b"gotcha"),
    )
    url = files.serve(f"/evil-{node}.tgz", archive.read_bytes(), "application/x-gtar")
    failed = states_until_settled(
        agent, create_body("evil", node, url), ("download failure", "running")
    )[-1]
    assert failed["state"] == "download failure"
    assert f"'../../{escape}'" in failed["message"]
    assert not [p for p in agent.log.parent.rglob(f"*{escape}*")], "nothing escaped"
    assert not (data_dir / "apps" / f"evil.{node}").exists(), "the half-made folder is gone"
    delete(agent, f"evil.{node}")


def test_output_also_goes_to_a_log_file_when_configured(
    agent: AgentProcess, tmp_path: Path, node: str
) -> None:
    source = write_app(tmp_path / "app", {"web": "echo to-file; echo to-err >&2; exec sleep 60"})
    assert create(agent, create_body("logged", node, str(source))).status_code == 201
    log_file = agent.log.parent / "data" / "logs" / f"logged.{node}.log"
    assert eventually(lambda: log_file.exists() and "to-err" in log_file.read_text(), 10), (
        "the log file holds both streams"
    )
    text = log_file.read_text()
    assert " out to-file\n" in text
    assert " err to-err\n" in text
    delete(agent, f"logged.{node}")
