"""HTTP Basic auth (htpasswd) and TLS of a real agent, over HTTP, WebSocket and the adapter."""

from __future__ import annotations

import base64
import os
import ssl
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import websockets
from passlib.apache import HtpasswdFile
from passlib.hash import apr_md5_crypt, bcrypt, ldap_sha1
from websockets.exceptions import InvalidStatus

from console.adapters import AgentClient, AuthError, Endpoint, Unavailable
from console.models import RunEvent, RunFinished, RunOutput
from tests.conftest import AgentProcess

AgentFactory = Callable[..., AgentProcess]

USERS = {
    # user: (password, hash): one of each scheme Apache's htpasswd writes.
    "alice": ("alice-pw", bcrypt.using(rounds=4).hash("alice-pw")),
    "bob": ("bob-pw", apr_md5_crypt.hash("bob-pw")),
    "carol": ("carol-pw", ldap_sha1.hash("carol-pw")),
}


@pytest.fixture
def htpasswd(tmp_path: Path) -> Path:
    path = tmp_path / "htpasswd"
    path.write_text("".join(f"{user}:{hashed}\n" for user, (_, hashed) in USERS.items()))
    return path


@pytest.fixture
def auth_agent(agent_factory: AgentFactory, scripts_dir: Path, htpasswd: Path) -> AgentProcess:
    return agent_factory("--scripts", str(scripts_dir), "--htpasswd", str(htpasswd))


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic realm=")
    error = response.json()["error"]
    assert (error["code"], error["type"]) == (401, "Unauthorized")
    assert isinstance(error["message"], str)
    assert error["message"]


def bump_mtime(path: Path) -> None:
    """Make a rewrite visible however coarse the file system's clock is."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


async def collect(client: AgentClient, text: str) -> list[RunEvent]:
    return [e async for e in client.scripts.stream_run("echo", {"text": text})]


def outputs(events: list[RunEvent]) -> list[str]:
    return [e.text for e in events if isinstance(e, RunOutput)]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/"), ("GET", "/scripts"), ("OPTIONS", "/scripts/echo"), ("POST", "/scripts/echo")],
)
def test_no_credentials_get_a_401_challenge(
    auth_agent: AgentProcess, method: str, path: str
) -> None:
    response = httpx.request(method, auth_agent.url + path, json={"text": "x"}, timeout=10)
    assert_unauthorized(response)


def test_a_refused_run_does_not_run(auth_agent: AgentProcess) -> None:
    refused = httpx.post(
        f"{auth_agent.url}/scripts/echo", json={"text": "sneaky"}, headers=basic("bob", "nope")
    )
    assert_unauthorized(refused)
    runs = httpx.get(f"{auth_agent.url}/runs", headers=basic("bob", "bob-pw"), timeout=10)
    assert runs.json()["runs"] == []


@pytest.mark.parametrize(
    "headers",
    [
        basic("alice", "wrong"),
        basic("alice", ""),
        basic("mallory", "alice-pw"),
        basic("bob", "alice-pw"),
        {"Authorization": "Bearer alice-pw"},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + base64.b64encode(b"alice-no-colon").decode()},
    ],
    ids=["wrong", "empty", "unknown-user", "other-users-password", "bearer", "garbage", "no-colon"],
)
def test_bad_credentials_get_a_401(auth_agent: AgentProcess, headers: dict[str, str]) -> None:
    assert_unauthorized(httpx.get(f"{auth_agent.url}/scripts", headers=headers, timeout=10))


@pytest.mark.parametrize("user", sorted(USERS), ids=["bcrypt", "apr1", "sha"])
def test_each_hash_scheme_lets_its_user_list_and_run(auth_agent: AgentProcess, user: str) -> None:
    password = USERS[user][0]
    with httpx.Client(base_url=auth_agent.url, auth=(user, password), timeout=10) as http:
        listing = http.get("/scripts")
        assert listing.status_code == 200
        assert "echo" in listing.json()["scripts"]
        run = http.post("/scripts/echo", json={"text": f"hi {user}"})
        assert run.status_code == 200
        assert run.json() == {
            "retcode": 0,
            "stdout": [f"hi {user}"],
            "stderr": [],
            "return_values": {},
        }
        # Proven pairs are remembered; a second request must still be checked and pass.
        assert http.get("/scripts").status_code == 200
        assert http.get("/scripts", auth=(user, password + "x")).status_code == 401


def test_the_file_is_reloaded_when_it_changes(auth_agent: AgentProcess, htpasswd: Path) -> None:
    url = f"{auth_agent.url}/scripts"
    assert_unauthorized(httpx.get(url, headers=basic("dave", "dave-pw"), timeout=10))
    assert httpx.get(url, headers=basic("bob", "bob-pw"), timeout=10).status_code == 200

    file = HtpasswdFile(str(htpasswd))
    file.set_password("dave", "dave-pw")
    file.delete("bob")
    file.save()
    bump_mtime(htpasswd)

    assert httpx.get(url, headers=basic("dave", "dave-pw"), timeout=10).status_code == 200
    # Bob was proven before his removal: that must not keep him in.
    assert_unauthorized(httpx.get(url, headers=basic("bob", "bob-pw"), timeout=10))
    assert httpx.get(url, headers=basic("alice", "alice-pw"), timeout=10).status_code == 200


def test_a_changed_password_replaces_the_old_one(auth_agent: AgentProcess, htpasswd: Path) -> None:
    url = f"{auth_agent.url}/scripts"
    assert httpx.get(url, headers=basic("carol", "carol-pw"), timeout=10).status_code == 200
    file = HtpasswdFile(str(htpasswd))
    file.set_password("carol", "new-pw")
    file.save()
    bump_mtime(htpasswd)
    assert_unauthorized(httpx.get(url, headers=basic("carol", "carol-pw"), timeout=10))
    assert httpx.get(url, headers=basic("carol", "new-pw"), timeout=10).status_code == 200


async def test_the_stream_handshake_needs_credentials(auth_agent: AgentProcess) -> None:
    ws_url = auth_agent.url.replace("http://", "ws://") + "/scripts/echo/stream"
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(ws_url, open_timeout=10):
            pass
    assert refused.value.response.status_code == 401
    assert refused.value.response.headers["WWW-Authenticate"].startswith("Basic realm=")

    with pytest.raises(InvalidStatus) as wrong:
        async with websockets.connect(
            ws_url, additional_headers=basic("alice", "nope"), open_timeout=10
        ):
            pass
    assert wrong.value.response.status_code == 401


async def test_the_adapter_streams_with_credentials(auth_agent: AgentProcess) -> None:
    async with AgentClient(Endpoint(auth_agent.url, "alice", "alice-pw")) as client:
        info = await client.info()
        assert "scripts.stream" in info.features
        events = await collect(client, "x")
    assert outputs(events) == ["x"]
    assert isinstance(events[-1], RunFinished)
    assert events[-1].retcode == 0


async def test_the_adapter_without_credentials_raises_auth_error(
    auth_agent: AgentProcess,
) -> None:
    async with AgentClient(Endpoint(auth_agent.url)) as client:
        with pytest.raises(AuthError):
            await client.info()
        with pytest.raises(AuthError):
            await client.scripts.list_scripts()
        # Even told the agent streams, the handshake itself is refused.
        client.scripts.features = frozenset({"scripts.stream"})
        with pytest.raises(AuthError):
            await collect(client, "x")


async def test_the_adapter_with_a_wrong_password_raises_auth_error(
    auth_agent: AgentProcess,
) -> None:
    async with AgentClient(Endpoint(auth_agent.url, "bob", "wrong")) as client:
        with pytest.raises(AuthError) as refused:
            await client.info()
        assert refused.value.status == 401
        with pytest.raises(AuthError):
            await client.scripts.run("echo", {"text": "x"})
        client.scripts.features = frozenset({"scripts.stream"})
        with pytest.raises(AuthError):
            await collect(client, "x")
    async with httpx.AsyncClient(auth=("bob", "bob-pw"), timeout=10) as http:
        runs = await http.get(f"{auth_agent.url}/runs")
    assert runs.json()["runs"] == [], "nothing ran"


# --- TLS -------------------------------------------------------------------


def test_a_tls_agent_announces_https_and_serves_to_who_trusts_it(
    tls_agent: AgentProcess, tls_files: tuple[Path, Path]
) -> None:
    assert tls_agent.url.startswith("https://127.0.0.1:")
    trusted = ssl.create_default_context(cafile=str(tls_files[0]))
    response = httpx.post(
        f"{tls_agent.url}/scripts/echo",
        json={"text": "secure"},
        headers=tls_agent.headers,
        verify=trusted,
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["stdout"] == ["secure"]
    # Plain HTTP to the TLS port gets nothing useful.
    with pytest.raises(httpx.TransportError):
        httpx.get(tls_agent.url.replace("https://", "http://") + "/scripts", timeout=10)


def test_default_verification_refuses_the_self_signed_agent(tls_agent: AgentProcess) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{tls_agent.url}/scripts", timeout=10)


async def test_the_adapter_reports_a_tls_failure_as_unavailable(tls_agent: AgentProcess) -> None:
    async with AgentClient(tls_agent.endpoint()) as client:
        with pytest.raises(Unavailable):
            await client.info()
        client.scripts.features = frozenset({"scripts.stream"})
        with pytest.raises(Unavailable):
            await collect(client, "x")


async def test_the_adapter_streams_over_wss_with_the_cert(
    tls_agent: AgentProcess, tls_files: tuple[Path, Path]
) -> None:
    async with AgentClient(tls_agent.endpoint(verify=str(tls_files[0]))) as client:
        info = await client.info()
        assert "scripts.stream" in info.features
        assert client.endpoint.ws_url("/x").startswith("wss://")
        events = await collect(client, "over wss")
        assert outputs(events) == ["over wss"]
        assert "echo" in {s.name for s in await client.scripts.list_scripts()}


async def test_insecure_mode_trusts_any_certificate(tls_agent: AgentProcess) -> None:
    async with AgentClient(tls_agent.endpoint(verify=False)) as client:
        await client.info()
        assert outputs(await collect(client, "anyway")) == ["anyway"]


async def test_tls_and_basic_auth_together(
    agent_factory: AgentFactory,
    scripts_dir: Path,
    htpasswd: Path,
    tls_files: tuple[Path, Path],
) -> None:
    cert, key = tls_files
    agent = agent_factory(
        "--scripts", str(scripts_dir), "--htpasswd", str(htpasswd),
        "--tls-cert", str(cert), "--tls-key", str(key),
    )  # fmt: skip
    async with AgentClient(Endpoint(agent.url, "alice", "wrong", verify=str(cert))) as client:
        with pytest.raises(AuthError):
            await client.info()
    async with AgentClient(Endpoint(agent.url, "alice", "alice-pw", verify=str(cert))) as client:
        await client.info()
        assert outputs(await collect(client, "both")) == ["both"]
