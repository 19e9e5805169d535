"""One proxy rule for every client of ours (``adapters.proxy``), through a real forward proxy.

A loopback agent is always reached directly, whatever the environment says; any other goes
through ``http_proxy`` / ``https_proxy`` / ``all_proxy`` unless ``no_proxy`` names it. The
agent here is named ``agent.proxied.test``, a name only the test proxy resolves: a command
that answers reached it through the proxy, and one that bypasses the proxy cannot reach it.
Each client is tried: http.client (one-shot ``ps``, ``inbox``), httpx (``scripts``),
aiohttp (the inbox adapter, ``inbox list`` over a fleet) and websockets (the events stream).
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from console.adapters import websocket
from console.adapters.endpoint import Endpoint
from console.adapters.proxy import ProxyError, proxy_for
from tests.conftest import AgentProcess, run_cli
from tests.forward_proxy import ForwardProxy, forward_proxy

NAME = "agent.proxied.test"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "REQUEST_METHOD")


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    with forward_proxy({NAME: "127.0.0.1"}) as running:
        yield running


@pytest.fixture
def clean_env() -> dict[str, str]:
    """This process's environment without any proxy setting."""
    names = {*PROXY_VARIABLES, *(n.upper() for n in PROXY_VARIABLES)}
    return {k: v for k, v in os.environ.items() if k not in names}


def named_agent(
    agent_factory: Callable[..., AgentProcess], tmp_path: Path, *tls: str
) -> tuple[AgentProcess, str, Path]:
    """An agent that answers to ``NAME``, its URL by that name, and a file with its token."""
    agent = agent_factory("--allowed-host", NAME, *tls)
    port = agent.url.rsplit(":", 1)[1]
    return agent, f"{agent.url.split('://')[0]}://{NAME}:{port}", token_file(agent, tmp_path)


def token_file(agent: AgentProcess, tmp_path: Path) -> Path:
    """A file holding the agent's token, for ``--token-file`` (0600, as the CLI insists)."""
    path = tmp_path / "token"
    path.write_text(agent.token or "")
    path.chmod(0o600)
    return path


def cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = run_cli(*args, env=env)
    return result.returncode, result.stdout + result.stderr


def events_hello(endpoint: Endpoint) -> str:
    """The first event of the agent's events stream (a WebSocket), by ``endpoint``."""

    async def first() -> str:
        async with websocket.connect(endpoint, "/events") as ws:
            return str(await asyncio.wait_for(ws.recv(), 10))

    return asyncio.run(first())


def test_a_loopback_agent_is_never_reached_through_a_proxy(
    agent_factory: Callable[..., AgentProcess],
    proxy: ForwardProxy,
    clean_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent = agent_factory()
    token = token_file(agent, tmp_path)
    proxied = {**clean_env, "HTTP_PROXY": proxy.url, "https_proxy": proxy.url}
    proxied["ALL_PROXY"] = "http://127.0.0.1:9"  # nothing listens there
    config = tmp_path / "console.toml"
    config.write_text(f'[contexts.one]\nagent = "{agent.url}"\n')
    for command in (
        ("ps", "--agent", agent.url),
        ("inbox", "push", "node", "hi", "--agent", agent.url),
        ("inbox", "list", "--agent", agent.url),
        (
            "scripts",
            "list",
            "--agent",
            agent.url.replace("127.0.0.1", "localhost"),
            "--token-file",
            str(token),
        ),
        ("inbox", "list", "--context", "one,one", "--config", str(config)),
    ):
        status, output = cli(proxied, *command)
        assert status == 0, (command, output)
    for name, value in proxied.items():
        monkeypatch.setenv(name, value)
    assert "hello" in events_hello(agent.endpoint())
    assert proxy.seen == []
    for url in ("http://127.0.0.1:1", "https://localhost", "http://[::1]:1", "ws://127.9.0.1"):
        assert proxy_for(url) is None, url


def test_another_agent_is_reached_through_the_proxy_the_environment_names(
    agent_factory: Callable[..., AgentProcess],
    proxy: ForwardProxy,
    clean_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent, url, token = named_agent(agent_factory, tmp_path)
    env = {**clean_env, "http_proxy": proxy.url}
    flags = ("--agent", url, "--token-file", str(token))
    config = tmp_path / "console.toml"
    config.write_text(f'[contexts.far]\nagent = "{url}"\ntoken_file = "{token}"\n')
    assert cli(env, "inbox", "push", "node", "through", *flags)[0] == 0  # http.client
    status, listed = cli(env, "inbox", "list", *flags)
    assert status == 0 and "through" in listed
    assert cli(env, "ps", *flags)[0] == 0
    assert cli(env, "scripts", "list", *flags)[0] == 0  # httpx
    status, fleet = cli(env, "inbox", "list", "--context", "far,far", "--config", str(config))
    assert status == 0 and "through" in fleet, fleet  # aiohttp
    # Plain http goes in absolute form (the first request of each connection is recorded).
    assert {seen.target.split("/")[2] for seen in proxy.seen} == {url.split("/")[2]}
    assert all(seen.target.startswith(url + "/") for seen in proxy.seen), proxy.seen
    assert len(proxy.seen) >= 5, "one connection a command at least"

    monkeypatch.setenv("http_proxy", proxy.url)
    endpoint = Endpoint(url, agent_token=agent.token)
    assert "hello" in events_hello(endpoint)  # websockets, a tunnel
    assert proxy.seen[-1].method == "CONNECT" and proxy.seen[-1].target == url.split("/")[2]

    # no_proxy names it: straight to a name nobody resolves, and the proxy sees nothing.
    before = len(proxy.seen)
    for bypass in (NAME, ".proxied.test", "*"):
        status, output = cli({**env, "NO_PROXY": bypass}, "inbox", "list", *flags)
        assert status == 1 and NAME in output, output
    assert len(proxy.seen) == before


def test_a_tls_agent_is_tunnelled_and_the_proxys_credentials_are_sent(
    agent_factory: Callable[..., AgentProcess],
    proxy: ForwardProxy,
    clean_env: dict[str, str],
    tls_files: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cert, key = tls_files
    _agent, url, token = named_agent(
        agent_factory, tmp_path, "--tls-cert", str(cert), "--tls-key", str(key)
    )
    assert url.startswith("https://")
    credentials = proxy.url.replace("http://", "http://ops:p%40ss@")
    env = {**clean_env, "HTTPS_PROXY": credentials}
    # The certificate names 127.0.0.1, not the name the proxy resolves: --insecure.
    flags = ("--agent", url, "--token-file", str(token), "--insecure")
    for command in (("ps",), ("inbox", "list"), ("scripts", "list")):
        status, output = cli(env, *command, *flags)
        assert status == 0, (command, output)
    expected = "Basic " + base64.b64encode(b"ops:p@ss").decode()
    assert [(s.method, s.proxy_authorization) for s in proxy.seen] == [("CONNECT", expected)] * len(
        proxy.seen
    )
    assert len(proxy.seen) >= 3

    status, output = cli({**clean_env, "HTTPS_PROXY": "socks5://127.0.0.1:1"}, "ps", *flags)
    assert status == 1 and "only http://host:port proxies" in output, output
    monkeypatch.setenv("HTTPS_PROXY", "socks5://127.0.0.1:1")
    with pytest.raises(ProxyError, match="only http://"):
        Endpoint(url).proxy()
