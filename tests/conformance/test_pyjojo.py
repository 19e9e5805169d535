"""The scripts API side by side with the real pyjojo 0.9 (Python 2.7, from the registry).

The same script folder and the same htpasswd file serve both; every request goes to
both and the answers (status, Content-Type, JSON body with key order ignored) must be
equal, except the upstream bugs we fixed on purpose (``DELIBERATE``), whose upstream
answer is checked too, so that the list stays true.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from passlib.hash import apr_md5_crypt

from tests.conformance.upstream_servers import running, wait_for
from tests.conftest import AgentProcess, write_script

USER, PASSWORD = "operator", "s3cret"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}

SAME: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/scripts", {}),
    ("GET", "/scripts/", {}),
    ("GET", "/scripts?tags=echo", {}),
    ("GET", "/scripts?tags=echo,misc", {}),
    ("GET", "/scripts?any_tags=misc,echo", {}),
    ("GET", "/scripts?not_tags=echo", {}),
    ("GET", "/script_names?tags=echo", {}),
    ("GET", "/script_names/?any_tags=misc,nothing", {}),
    ("OPTIONS", "/scripts/echo", {}),
    ("OPTIONS", "/scripts/sub_putter/", {}),
    ("OPTIONS", "/scripts/nope", {}),
    ("POST", "/scripts/echo", {"json": {"text": "hi"}}),
    ("POST", "/scripts/echo/", {"json": {"text": "slash", "undeclared": "x"}}),
    ("POST", "/scripts/echo", {"content": b'{"text": "untyped"}'}),
    ("POST", "/scripts/echo", {"content": b"{}", "headers": {"Content-Type": "text/plain"}}),
    ("GET", "/scripts/echo", {}),
    ("POST", "/scripts/sub_putter", {"json": {}}),
    ("PUT", "/scripts/sub_putter", {"json": {"n": "7"}}),
    ("DELETE", "/scripts/deleter", {}),
    ("GET", "/scripts/getter", {}),
    ("POST", "/scripts/answers", {}),
    ("POST", "/scripts/nope", {"json": {}}),
    ("POST", "/reload", {}),
    ("POST", "/reload/", {}),
]
"""Requests whose answers must be identical."""

DELIBERATE: dict[str, tuple[tuple[str, str, dict[str, Any]], int, int]] = {
    "a missing param reaches the script as an empty value, not shell-quoted twice": (
        ("POST", "/scripts/echo", {"json": {}}),
        200,
        200,
    ),
    "combined output is split into lines, not on every blank": (
        ("GET", "/scripts/spaced", {}),
        200,
        200,
    ),
    "a body that is not JSON is a 400, not a 500": (
        (
            "POST",
            "/scripts/echo",
            {"content": b"{nope", "headers": {"Content-Type": "application/json"}},
        ),
        400,
        500,
    ),
    "a lock: True script runs (pyjojo's self.lock.aquire typo made it a 500)": (
        ("POST", "/scripts/locked", {}),
        200,
        500,
    ),
}
"""Upstream bugs we fixed: request, our status, pyjojo's status."""


@pytest.fixture
def script_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "scripts"
    # pyjojo runs scripts with only their params in the environment: builtins only.
    write_script(
        folder,
        "echo.sh",
        "description: echo the text\nparam: text - Text to echo\nfiltered_params: text\ntags: echo",
        'printf "%s\\n" "$TEXT"',
    )
    write_script(
        folder,
        "getter.sh",
        "http_method: get\noutput: combined\ntags: misc, echo",
        "echo out; echo err >&2; exit 3",
    )
    write_script(folder, "sub/putter.sh", "http_method: put\nparam: n", 'echo "n=$N"')
    write_script(folder, "deleter.sh", "http_method: delete\ntags: misc", "echo gone")
    write_script(
        folder,
        "answers.sh",
        "description: gives values",
        "echo 'jojo_return_value answer=42'; echo 'jojo_return_value  spaced = yes '; echo done",
    )
    write_script(folder, "spaced.sh", "http_method: get\noutput: combined", "echo 'a b'; echo c")
    write_script(folder, "locked.sh", "lock: True", "echo locked")
    return folder


@pytest.fixture
def htpasswd(tmp_path: Path) -> Path:
    path = tmp_path / "htpasswd"
    path.write_text(f"{USER}:{apr_md5_crypt.hash(PASSWORD)}\n")
    return path


@pytest.fixture
def servers(
    pyjojo_env: Path,
    conformance_agent: Callable[..., AgentProcess],
    script_folder: Path,
    htpasswd: Path,
    tmp_path: Path,
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """(pyjojo, ours), each an httpx client with pymojo's Basic credentials."""
    agent = conformance_agent("--scripts", str(script_folder), "--htpasswd", str(htpasswd))
    sock = tmp_path / "pyjojo.sock"
    argv = [str(pyjojo_env / "bin" / "pyjojo"), "--dir", str(script_folder), "-u", str(sock)]
    with running([*argv, str(htpasswd)], tmp_path / "pyjojo.log", sock.exists):
        transport = httpx.HTTPTransport(uds=str(sock))
        with (
            httpx.Client(transport=transport, base_url="http://pyjojo", timeout=30) as real,
            httpx.Client(base_url=agent.url, timeout=30) as ours,
        ):
            wait_for(lambda: _answers(real), "pyjojo", _NoProcess())
            yield real, ours


class _NoProcess:
    """``wait_for`` needs a process to watch; the server's own is watched by ``running``."""

    returncode = None

    def poll(self) -> None:
        return None


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/scripts").status_code == 401
    except httpx.TransportError:
        return False


def answer(client: httpx.Client, request: tuple[str, str, dict[str, Any]]) -> tuple:
    """(status, Content-Type, body): JSON parsed; our META extensions dropped."""
    method, path, options = request
    headers = {**AUTH, **options.get("headers", {})}
    kwargs = {k: v for k, v in options.items() if k != "headers"}
    response = client.request(method, path, headers=headers, **kwargs)
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return response.status_code, response.headers.get("content-type"), _without_extensions(body)


def _without_extensions(body: Any) -> Any:
    """Our META's extra keys (``timeout``, ``confirm``) are extensions old clients ignore."""
    if isinstance(body, dict):
        return {
            k: _without_extensions(v) for k, v in body.items() if k not in ("timeout", "confirm")
        }
    if isinstance(body, list):
        return [_without_extensions(v) for v in body]
    return body


def test_the_scripts_api_answers_as_pyjojo(servers: tuple[httpx.Client, httpx.Client]) -> None:
    real, ours = servers
    differences = []
    for request in SAME:
        theirs, mine = answer(real, request), answer(ours, request)
        if request[1].startswith("/script_names"):
            # Upstream lists names in dict order (arbitrary): compare them as sets.
            theirs = (*theirs[:2], sorted(theirs[2]["script_names"]))
            mine = (*mine[:2], sorted(mine[2]["script_names"]))
        if theirs != mine:
            differences.append(f"{request[:2]}:\n  pyjojo {theirs}\n  ours   {mine}")
    assert not differences, "\n".join(differences)


def test_the_upstream_bugs_we_fixed_are_still_upstream_bugs(
    servers: tuple[httpx.Client, httpx.Client],
) -> None:
    real, ours = servers
    for reason, (request, our_status, their_status) in DELIBERATE.items():
        assert answer(ours, request)[0] == our_status, reason
        assert answer(real, request)[0] == their_status, reason
    empty = answer(ours, DELIBERATE[next(iter(DELIBERATE))][0])[2]
    assert empty["stdout"] == [""]
    assert answer(real, ("POST", "/scripts/echo", {"json": {}}))[2]["stdout"] == [
        "''\"'\"''\"'\"''"
    ]
    assert answer(ours, ("GET", "/scripts/spaced", {}))[2]["stdout"] == ["a b", "c"]
    assert answer(real, ("GET", "/scripts/spaced", {}))[2]["stdout"] == ["a", "b", "c"]


def test_without_credentials_both_refuse_with_a_basic_challenge(
    servers: tuple[httpx.Client, httpx.Client],
) -> None:
    for client in servers:
        refused = client.get("/scripts")
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Basic realm=")
