"""Secrets stay secret: tokens never reach children or argv; source URLs are shown redacted."""

from __future__ import annotations

import base64
import http.server
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from console.agent.downloads import redact_url
from tests.conftest import AgentProcess
from tests.processes_helpers import (
    EventsSocket,
    create_body,
    in_state,
    tar_folder,
    wait_status,
    write_app,
)

INBOX_SECRET = "inbox-secret-from-env-5e1f"
FILE_SECRET = "inbox-secret-from-file-77aa"


class HostileSources:
    """An HTTP server on 127.0.0.1 with the sources an attacker (or a slow mirror) offers."""

    def __init__(self, archive: bytes) -> None:
        seen: list[tuple[str, str | None]] = []
        self.seen = seen
        """Every request: its target and its Authorization header."""

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append((self.path, self.headers.get("Authorization")))
                path = self.path.split("?")[0]
                if path == "/to-metadata":
                    self.send_response(302)
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                    self.end_headers()
                elif path == "/to-app":
                    self.send_response(302)
                    self.send_header("Location", "/app.tgz")
                    self.end_headers()
                elif path == "/app.tgz":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-gtar")
                    self.send_header("Content-Length", str(len(archive)))
                    self.end_headers()
                    self.wfile.write(archive)
                elif path == "/slow":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-gtar")
                    self.end_headers()
                    try:
                        for _ in range(600):  # one byte every 0.1 s: never done in time
                            self.wfile.write(b"x")
                            self.wfile.flush()
                            time.sleep(0.1)
                    except OSError:
                        pass
                elif path == "/big":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-gtar")
                    self.end_headers()
                    self.wfile.write(b"x" * 5000)
                else:
                    self.send_error(404)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.port = self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sources(tmp_path: Path) -> Iterator[HostileSources]:
    app = write_app(tmp_path / "served-app", {"web": "echo served; exec sleep 60"})
    server = HostileSources(tar_folder(app, tmp_path / "app.tgz").read_bytes())
    yield server
    server.close()


@pytest.fixture
def limited_agent(agent_factory: Callable[..., AgentProcess], tmp_path: Path) -> AgentProcess:
    config = tmp_path / "limits.toml"
    config.write_text("[agent]\ndownload_timeout = 1.0\ndownload_max_bytes = 1000\n")
    return agent_factory("--config", str(config))


def create(agent: AgentProcess, app: str, source_url: str) -> dict:
    response = httpx.post(
        f"{agent.url}/create-process",
        json=create_body(app, "web.0", source_url),
        headers=agent.headers,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def settled(agent: AgentProcess, app: str) -> dict:
    return wait_status(agent, f"{app}.web.0", in_state("running", "download failure"))


def test_redact_url_hides_user_info_and_query() -> None:
    assert (
        redact_url("https://deploy:hunter2@files.example:8443/app.tgz?sig=abc&exp=1#frag")
        == "https://deploy:***@files.example:8443/app.tgz?***"
    )
    assert redact_url("http://files.example/app.tgz") == "http://files.example/app.tgz"
    assert redact_url("http://token@files.example/a") == "http://token@files.example/a"


def test_a_source_urls_secrets_never_show_in_list_status_events_or_log(
    limited_agent: AgentProcess, sources: HostileSources
) -> None:
    secrets = ("hunter2", "SIGSECRET")
    url = f"http://deploy:hunter2@127.0.0.1:{sources.port}/missing.tgz?sig=SIGSECRET&x=1"
    events = EventsSocket(limited_agent)
    try:
        create(limited_agent, "leaky", url)
        seen = events.states_of("leaky.web.0", in_state("download failure"))
    finally:
        events.close()
    status = settled(limited_agent, "leaky")
    assert status["state"] == "download failure"
    assert f"127.0.0.1:{sources.port}/missing.tgz" in status["message"]
    listing = httpx.get(
        f"{limited_agent.url}/list-processes", headers=limited_agent.headers, timeout=10
    ).text
    shown = [json.dumps(seen), json.dumps(status), listing, limited_agent.log.read_text()]
    assert "HTTP 404" in shown[1]
    for text in shown:
        for secret in secrets:
            assert secret not in text


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local or cloud-metadata"),
        ("http://[fd00:ec2::254]/latest/", "link-local or cloud-metadata"),
        ("LOCAL/to-metadata", "link-local or cloud-metadata"),
        ("LOCAL/slow", "not done within 1s"),
        ("LOCAL/big", "larger than 1000 bytes"),
        ("ftp://127.0.0.1/app.tgz", "unsupported source URL"),
    ],
    ids=["metadata", "metadata-v6", "redirect-to-metadata", "too-slow", "too-big", "ftp"],
)
def test_downloads_that_are_refused(
    limited_agent: AgentProcess, sources: HostileSources, path: str, words: str
) -> None:
    url = path.replace("LOCAL", f"http://127.0.0.1:{sources.port}")
    app = f"refused{abs(hash(path)) % 10_000}"
    create(limited_agent, app, url)
    status = settled(limited_agent, app)
    assert status["state"] == "download failure"
    assert words in status["message"], status["message"]


def test_a_redirect_to_a_fine_place_is_followed(
    limited_agent: AgentProcess, sources: HostileSources
) -> None:
    create(limited_agent, "moved", f"http://127.0.0.1:{sources.port}/to-app")
    assert settled(limited_agent, "moved")["state"] == "running"


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


def test_downloads_never_go_through_a_proxy_that_would_connect_past_the_check(
    agent_factory: Callable[..., AgentProcess], sources: HostileSources, tmp_path: Path
) -> None:
    """A proxy connects in the agent's place: given one by the environment, a download for
    the metadata service would have been fetched by it, unchecked. Downloads use none."""
    proxy = HostileSources(b"")  # would answer anything it is asked to fetch
    try:
        url = f"http://127.0.0.1:{proxy.port}"
        agent = agent_factory(env={**dict.fromkeys(PROXY_VARIABLES, url), "NO_PROXY": ""})
        create(agent, "metadata", "http://169.254.169.254/latest/meta-data/")
        refused = settled(agent, "metadata")
        assert refused["state"] == "download failure"
        assert "link-local or cloud-metadata" in refused["message"]
        # A fine source is fetched directly, with the Basic credentials its URL gives.
        create(agent, "direct", f"http://deploy:s%40cret@127.0.0.1:{sources.port}/app.tgz")
        assert settled(agent, "direct")["state"] == "running"
        assert proxy.seen == [], "nothing was asked of the proxy"
        token = base64.b64encode(b"deploy:s@cret").decode()
        assert sources.seen == [("/app.tgz", f"Basic {token}")]
    finally:
        proxy.close()


def environ_of(pid: int) -> bytes:
    return Path(f"/proc/{pid}/environ").read_bytes()


def test_tokens_reach_no_child_and_no_command_line(
    agent_factory: Callable[..., AgentProcess], scripts_dir: Path, tmp_path: Path
) -> None:
    token_file = tmp_path / "inbox-token"
    token_file.write_text(FILE_SECRET + "\n")
    token_file.chmod(0o600)
    agent = agent_factory(
        "--scripts",
        str(scripts_dir),
        "--inbox-token-file",
        str(token_file),
        env={"OPSCONSOLE_INBOX_TOKEN": INBOX_SECRET},
    )
    secrets = [INBOX_SECRET, FILE_SECRET, agent.token or "no token?"]
    # Both inbox tokens open the inbox.
    for token in (INBOX_SECRET, FILE_SECRET):
        listed = httpx.get(
            f"{agent.url}/messages",
            headers={"Authorization": token, "Scirocco-Node-Source": "op"},
            timeout=10,
        )
        assert listed.status_code == 200
    app = write_app(tmp_path / "app", {"web": "exec sleep 60"})
    create(agent, "child", str(app))
    child = wait_status(agent, "child.web.0", in_state("running"))["pid"]
    run = httpx.post(
        f"{agent.url}/scripts/env_dump", json={"text": "x"}, headers=agent.headers, timeout=30
    ).json()
    places = {
        "the process's environ": environ_of(child).decode(errors="replace"),
        "a script's environment": "\n".join(run["stdout"]),
        "the agent's own argv": Path(f"/proc/{agent.process.pid}/cmdline").read_text(),
        "ps": subprocess.run(
            ["ps", "-eww", "-o", "args"], capture_output=True, text=True, check=True
        ).stdout,
    }
    for where, text in places.items():
        for secret in secrets:
            assert secret not in text, f"a token shows in {where}"
    assert "OPSCONSOLE_INBOX_TOKEN" not in places["a script's environment"]


def test_filtered_params_hide_values_whatever_the_case_of_their_names(
    agent_factory: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    from tests.conftest import write_script

    scripts = tmp_path / "cased"
    write_script(scripts, "login.sh", "param: Token\nparam: user\nfiltered_params: TOKEN", "true")
    agent = agent_factory("--scripts", str(scripts))
    events = EventsSocket(agent, topics="script.run")
    try:
        ran = httpx.post(
            f"{agent.url}/scripts/login",
            json={"Token": "hunter2", "user": "ops"},
            headers=agent.headers,
            timeout=30,
        )
        assert ran.status_code == 200, ran.text
        finished = json.loads(events.ws.recv(timeout=10))
    finally:
        events.close()
    runs = httpx.get(f"{agent.url}/runs", headers=agent.headers, timeout=10).json()["runs"]
    assert runs[0]["params"] == {"Token": "FILTERED", "user": "ops"}
    assert finished["data"]["params"] == {"Token": "FILTERED", "user": "ops"}
    assert "hunter2" not in agent.log.read_text()
