"""No browser can drive the agent, whatever its auth settings: the exact headers Chromium sends.

A page on another site makes the browser send a no-cors ``fetch``, a form POST, or a
WebSocket handshake; or rebinds its own name to 127.0.0.1 (``Host: evil.example``).
The agents here run with ``--no-auth`` (the weakest setting) so that only the browser
guard stands between the page and the agent; a request without the browser's marks
shows that the same thing would otherwise have worked.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from tests.conftest import AgentProcess, write_script
from tests.processes_helpers import BOUND, create_body, in_state, wait_status, write_app

EVIL = "http://evil.example"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def no_cors_fetch(origin: str = EVIL) -> dict[str, str]:
    """Chromium's headers for ``fetch(url, {method: "POST", mode: "no-cors", body: "..."})``."""
    return {
        "Origin": origin,
        "Sec-Fetch-Site": "cross-site",
        "Sec-Fetch-Mode": "no-cors",
        "Sec-Fetch-Dest": "empty",
        "Content-Type": "text/plain;charset=UTF-8",
        "Referer": f"{origin}/",
        "User-Agent": CHROME,
        "Accept": "*/*",
    }


def form_post(origin: str = EVIL) -> dict[str, str]:
    """Chromium's headers for a ``<form method=post>`` submitted by a page of ``origin``."""
    return {
        "Origin": origin,
        "Sec-Fetch-Site": "cross-site",
        "Sec-Fetch-Mode": "navigate",
        "Sec-Fetch-Dest": "document",
        "Sec-Fetch-User": "?1",
        "Content-Type": "application/x-www-form-urlencoded",
        "Referer": f"{origin}/",
        "User-Agent": CHROME,
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    }


@pytest.fixture
def open_agent(
    agent_factory: Callable[..., AgentProcess], scripts_dir: Path, tmp_path: Path
) -> AgentProcess:
    write_script(scripts_dir, "mark.sh", "param: out", 'echo ran > "$OUT"')
    return agent_factory("--scripts", str(scripts_dir), "--no-auth")


def assert_forbidden(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == 403


def test_a_cross_site_text_plain_post_creates_no_process(
    open_agent: AgentProcess, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    app = write_app(tmp_path / "app", {"web": f"touch {marker}; exec sleep 60"})
    body = json.dumps(create_body("evil", "web.0", str(app)))
    response = httpx.post(
        f"{open_agent.url}/create-process", content=body, headers=no_cors_fetch(), timeout=10
    )
    assert_forbidden(response)
    listing = httpx.get(f"{open_agent.url}/list-processes", timeout=10).json()["processes"]
    assert listing == []
    # The same body from a client (no browser marks) runs: the check above could fail.
    created = httpx.post(f"{open_agent.url}/create-process", content=body, timeout=10)
    assert created.status_code == 201, created.text
    wait_status(open_agent, "evil.web.0", in_state("running"), BOUND)
    assert marker.exists()
    httpx.post(f"{open_agent.url}/delete-process/evil.web.0", timeout=30)


def test_a_cross_site_form_post_runs_no_script_and_restarts_nothing(
    open_agent: AgentProcess, tmp_path: Path
) -> None:
    out = tmp_path / "ran"
    form = f"out={out}"
    refused = httpx.post(
        f"{open_agent.url}/scripts/mark", content=form, headers=form_post(), timeout=10
    )
    assert_forbidden(refused)
    assert not out.exists()
    app = write_app(tmp_path / "app", {"web": "exec sleep 60"})
    create = httpx.post(
        f"{open_agent.url}/create-process", json=create_body("kept", "web.0", str(app)), timeout=10
    )
    assert create.status_code == 201
    pid = wait_status(open_agent, "kept.web.0", in_state("running"))["pid"]
    for action in ("restart", "stop", "delete"):
        response = httpx.post(
            f"{open_agent.url}/{action}-process/kept.web.0", headers=form_post(), timeout=10
        )
        assert_forbidden(response)
    status = httpx.get(f"{open_agent.url}/process-status/kept.web.0", timeout=10).json()
    assert (status["state"], status["pid"], status["restarts"]) == ("running", pid, 0)
    # Without the browser's marks, the same script runs.
    assert httpx.post(f"{open_agent.url}/scripts/mark", json={"out": str(out)}, timeout=30)
    assert out.read_text() == "ran\n"
    httpx.post(f"{open_agent.url}/delete-process/kept.web.0", timeout=30)


def ws_routes(agent: AgentProcess, tmp_path: Path) -> list[str]:
    """Every WebSocket route, with a real process to attach to."""
    app = write_app(tmp_path / "wsapp", {"web": "echo hi; exec sleep 60"})
    slug = f"ws{uuid.uuid4().hex[:6]}.web.0"
    body = create_body(slug.split(".")[0], "web.0", str(app))
    assert httpx.post(f"{agent.url}/create-process", json=body, timeout=10).status_code == 201
    base = agent.url.replace("http", "ws", 1)
    return [
        f"{base}/events",
        f"{base}/attach-console/{slug}",
        f"{base}/scripts/echo/stream",
    ]


def test_a_websocket_handshake_from_another_origin_is_refused_on_every_route(
    open_agent: AgentProcess, tmp_path: Path
) -> None:
    browser = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "websocket", "User-Agent": CHROME}
    for url in ws_routes(open_agent, tmp_path):
        with pytest.raises(InvalidStatus) as refused:
            ws_connect(url, origin=EVIL, additional_headers=browser, open_timeout=10)
        assert refused.value.response.status_code == 403, url
        # Origin alone (an older browser without Fetch Metadata) is refused as well.
        with pytest.raises(InvalidStatus) as refused:
            ws_connect(url, origin=EVIL, open_timeout=10)
        assert refused.value.response.status_code == 403, url
        # No Origin (our clients, the CLI): accepted.
        with ws_connect(url, open_timeout=10):
            pass


def test_a_rebound_host_name_is_refused_on_http_and_websocket(open_agent: AgentProcess) -> None:
    port = httpx.URL(open_agent.url).port
    response = httpx.get(
        f"{open_agent.url}/list-processes", headers={"Host": f"evil.example:{port}"}, timeout=10
    )
    assert_forbidden(response)
    assert "evil.example" in response.json()["error"]["message"]
    # The handshake as a rebound page sends it: its own name, on the agent's socket.
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
        pytest.raises(InvalidStatus) as refused,
    ):
        ws_connect(f"ws://evil.example:{port}/events", sock=sock, open_timeout=10)
    assert refused.value.response.status_code == 403


def test_the_agents_own_origin_and_a_cli_without_origin_still_work(
    open_agent: AgentProcess,
) -> None:
    own = {
        "Origin": open_agent.url,
        "Sec-Fetch-Site": "same-origin",
        "Sec-Fetch-Mode": "cors",
        "User-Agent": CHROME,
    }
    assert httpx.get(f"{open_agent.url}/scripts", headers=own, timeout=10).status_code == 200
    ran = httpx.post(
        f"{open_agent.url}/scripts/echo",
        json={"text": "same origin"},
        headers=own,
        timeout=30,
    )
    assert ran.json()["stdout"] == ["same origin"]
    assert httpx.get(f"{open_agent.url}/scripts", timeout=10).status_code == 200
    with ws_connect(
        open_agent.url.replace("http", "ws", 1) + "/events", origin=open_agent.url, open_timeout=10
    ):
        pass
    # localhost by name is loopback too.
    port = httpx.URL(open_agent.url).port
    by_name = httpx.get(
        f"{open_agent.url}/scripts", headers={"Host": f"localhost:{port}"}, timeout=10
    )
    assert by_name.status_code == 200


def test_a_same_site_page_on_another_port_is_refused(open_agent: AgentProcess) -> None:
    other_port = {"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"}
    response = httpx.post(f"{open_agent.url}/reload", headers=other_port, timeout=10)
    assert_forbidden(response)


def test_the_guard_runs_before_credentials_on_an_agent_with_them(
    agent: AgentProcess, tmp_path: Path
) -> None:
    """Even holding the token (a page cannot, but say it did), a cross-site request is refused."""
    response = httpx.post(
        f"{agent.url}/scripts/echo",
        content='{"text": "x"}',
        headers={**no_cors_fetch(), **agent.headers},
        timeout=10,
    )
    assert_forbidden(response)


def test_allowed_hosts_lets_a_listed_name_in(
    agent_factory: Callable[..., AgentProcess], scripts_dir: Path
) -> None:
    agent = agent_factory("--scripts", str(scripts_dir), "--allowed-host", "ops.example")
    port = httpx.URL(agent.url).port
    listed = {**agent.headers, "Host": f"ops.example:{port}"}
    assert httpx.get(f"{agent.url}/scripts", headers=listed, timeout=10).status_code == 200
    other = {**agent.headers, "Host": f"evil.example:{port}"}
    assert_forbidden(httpx.get(f"{agent.url}/scripts", headers=other, timeout=10))
