"""Only the operator's user can drive its agents; its secrets reach no one else.

Another local user is played by ``runuser -u nobody`` (the tests run as root), with the
system Python and only the standard library, as any user of the machine could.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from console.adapters.connect import SpawnedAgent
from console.config import AGENT_TOKEN_FILE
from tests.conftest import AgentProcess
from tests.processes_helpers import create_body, in_state, wait_status, write_app

SYSTEM_PYTHON = "/usr/bin/python3"
AS_NOBODY = """
import sys, urllib.request, urllib.error
url, token_file = sys.argv[1], sys.argv[2]
try:
    open(token_file).read()
    print("token readable")
except OSError as exc:
    print("token unreadable", type(exc).__name__)
for method, path, body in (("GET", "/list-processes", None), ("POST", "/create-process", BODY)):
    request = urllib.request.Request(url + path, data=body, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            print(method, path, answer.status)
    except urllib.error.HTTPError as exc:
        print(method, path, exc.code)
"""

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("runuser") or not Path(SYSTEM_PYTHON).exists(),
    reason="needs root, runuser and /usr/bin/python3 to act as another user",
)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder every user can traverse (pytest's own is 0700, which would hide the point:
    here only the agent's own modes keep others out)."""
    path = Path(tempfile.mkdtemp(prefix="opsconsole-sec-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def as_nobody(url: str, token_file: Path, body: bytes) -> list[str]:
    script = AS_NOBODY.replace("BODY", repr(body))
    result = subprocess.run(
        ["runuser", "-u", "nobody", "--", SYSTEM_PYTHON, "-c", script, url, str(token_file)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def assert_locked_out(url: str, data_dir: Path, app: Path, headers: dict[str, str]) -> None:
    body = httpx.Request("POST", "/", json=create_body("intruder", "web.0", str(app))).read()
    lines = as_nobody(url, data_dir / AGENT_TOKEN_FILE, body)
    assert lines == [
        "token unreadable PermissionError",
        "GET /list-processes 401",
        "POST /create-process 401",
    ]
    # The operator (holding the token) sees nothing was created.
    listing = httpx.get(f"{url}/list-processes", headers=headers, timeout=10).json()
    assert "intruder.web.0" not in [p["slug"] for p in listing["processes"]]
    # And the operator's own request goes through: the refusal above was for the user.
    created = httpx.post(
        f"{url}/create-process",
        json=create_body("mine", "web.0", str(app)),
        headers=headers,
        timeout=10,
    )
    assert created.status_code == 201, created.text


async def test_another_user_cannot_use_the_consoles_spawned_agent(open_dir: Path) -> None:
    app = write_app(open_dir / "app", {"web": "exec sleep 60"})
    app.chmod(0o755)
    data_dir = open_dir / "data"
    spawned = SpawnedAgent(["--data-dir", str(data_dir)], log_file=open_dir / "agent.log")
    try:
        client = await spawned.connect()
        await client.info()
        assert client.endpoint.agent_token, "the console found its agent's token by itself"
        headers = client.endpoint.headers()
        assert_locked_out(client.endpoint.base_url, data_dir, app, headers)
    finally:
        await spawned.close()


def test_another_user_cannot_use_a_standalone_agent_without_the_token(
    agent_factory: Callable[..., AgentProcess], open_dir: Path
) -> None:
    app = write_app(open_dir / "app", {"web": "exec sleep 60"})
    data_dir = open_dir / "data"
    agent = agent_factory("--data-dir", str(data_dir))
    assert_locked_out(agent.url, data_dir, app, agent.headers)
    wait_status(agent, "mine.web.0", in_state("running"))


def test_the_data_dir_is_its_owners_alone(
    agent_factory: Callable[..., AgentProcess], open_dir: Path, scripts_dir: Path
) -> None:
    data_dir = open_dir / "data"
    data_dir.mkdir(mode=0o755)
    (data_dir / "left-by-an-old-version.db").write_text("x")
    (data_dir / "left-by-an-old-version.db").chmod(0o644)
    config = open_dir / "agent.toml"
    config.write_text("[agent]\nprocess_log_files = true\n")
    agent = agent_factory(
        "--data-dir", str(data_dir), "--scripts", str(scripts_dir), "--config", str(config)
    )
    app = write_app(open_dir / "app", {"web": "echo hello; exec sleep 60"})
    created = httpx.post(
        f"{agent.url}/create-process",
        json=create_body("perm", "web.0", str(app)),
        headers=agent.headers,
        timeout=10,
    )
    assert created.status_code == 201
    wait_status(agent, "perm.web.0", lambda s: s["state"] == "running" and s["next_seq"] >= 1)
    ran = httpx.post(
        f"{agent.url}/scripts/echo", json={"text": "x"}, headers=agent.headers, timeout=30
    )
    assert ran.status_code == 200
    everything = [data_dir, *data_dir.rglob("*")]
    assert len(everything) > 5, everything
    for path in everything:
        if not path.is_symlink():
            mode = path.stat().st_mode & 0o777
            assert mode & 0o077 == 0, f"{path} is {mode:o}"
    # What the agent's children create is theirs to decide: they keep the usual umask.
    out = open_dir / "child-made"
    ran = httpx.post(
        f"{agent.url}/scripts/locked",
        json={"label": "x", "out": str(out)},
        headers=agent.headers,
        timeout=30,
    )
    assert ran.status_code == 200
    assert out.stat().st_mode & 0o044 == 0o044
