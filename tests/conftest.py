"""Fixtures shared by the tests: script directories and real agent processes."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from console.adapters.base import Endpoint
from console.config import agent_token, data_dir

if TYPE_CHECKING:  # asyncssh loads only for the tests that use SSH
    from console.adapters.ssh import Host, SshHosts
    from tests.ssh_server import SshServer

READY_TIMEOUT = 30


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m console ARGS`` as an operator runs it, with exactly ``env``: its output
    captured as text, no stdin, 60 s at most."""
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def write_script(directory: Path, relative: str, header: str, body: str, mode: int = 0o755) -> Path:
    """An executable /bin/sh script with a ``-- jojo --`` header made of ``header``'s lines."""
    path = directory / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["#!/bin/sh", "# -- jojo --"]
    lines += [f"# {line}" for line in textwrap.dedent(header).strip().splitlines()]
    lines += ["# -- jojo --", textwrap.dedent(body).strip(), ""]
    path.write_text("\n".join(lines))
    path.chmod(mode)
    return path


@pytest.fixture
def scripts_dir(tmp_path: Path) -> Path:
    """A small catalog covering every header key the tests rely on."""
    directory = tmp_path / "scripts"
    write_script(
        directory,
        "echo.sh",
        """
        description: echo the text
        param: text - Text to echo
        tags: basic, demo
        """,
        'printf "%s\\n" "$TEXT"',
    )
    write_script(
        directory,
        "env_dump.sh",
        """
        description: print the environment
        param: text
        param: secret - a password
        filtered_params: secret
        """,
        "env",
    )
    write_script(
        directory,
        "fail.sh",
        "description: fails with 3",
        'echo "out"; echo "bad thing" >&2; exit 3',
    )
    write_script(
        directory,
        "combined.sh",
        "output: combined",
        'echo "one"; echo "two" >&2; echo "three"',
    )
    write_script(directory, "getter.sh", "http_method: get", "echo got")
    write_script(directory, "putter.sh", "http_method: put", "echo put")
    write_script(
        directory,
        "locked.sh",
        """
        lock: True
        param: label
        param: out - file the start and end times go to
        """,
        'echo "$LABEL start $(date +%s.%N)" >> "$OUT"; sleep 0.5; '
        'echo "$LABEL end $(date +%s.%N)" >> "$OUT"',
    )
    write_script(
        directory,
        "slow.sh",
        """
        description: prints, then waits for a file
        param: go - the file to wait for
        """,
        'echo "first line"; while [ ! -e "$GO" ]; do sleep 0.05; done; echo "last line"',
    )
    write_script(directory, "deploy/web.sh", "description: nested", "echo nested")
    return directory


@dataclass
class AgentProcess:
    """A real ``opsconsole agent`` child process and the URL it announced."""

    process: subprocess.Popen[str]
    url: str
    log: Path
    token: str | None = None
    """The agent token, read from the agent's data dir as a local client of its user does."""

    @property
    def headers(self) -> dict[str, str]:
        """What a client must send to be let in: the one place every test gets credentials."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def endpoint(self, **credentials: Any) -> Endpoint:
        """The agent as the adapters reach it, with its credentials (Basic ones win if given)."""
        return Endpoint(self.url, **{"agent_token": self.token, **credentials})

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)


def start_agent(
    *args: str,
    log: Path,
    env: dict[str, str] | None = None,
    file_limit: int | None = None,
    cwd: Path | None = None,
) -> AgentProcess:
    """Start ``python -m console agent --port 0 ARGS`` and wait for its URL line.

    ``file_limit``: its soft and hard RLIMIT_NOFILE (as a small system's would be);
    ``cwd``: where it runs (``-m`` finds ``console`` there first: another version's code).
    """

    def limit_files() -> None:
        if file_limit is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (file_limit, file_limit))

    with log.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "console", "agent", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            env={**os.environ, **(env or {})},
            preexec_fn=limit_files if file_limit is not None else None,
            cwd=cwd,
        )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http"):
        process.kill()
        process.wait(READY_TIMEOUT)
        raise RuntimeError(f"agent did not start: {log.read_text()[-2000:]}")
    return AgentProcess(process, url, log, token=agent_token(data_dir_of(args)))


def data_dir_of(args: tuple[str, ...]) -> Path:
    """The ``--data-dir`` an agent was started with (the last one wins), else the default one."""
    given = [args[i + 1] for i in range(len(args) - 1) if args[i] == "--data-dir"]
    return Path(given[-1]) if given else data_dir() / "agent"


@pytest.fixture
def agent_factory(tmp_path: Path) -> Iterator:
    """Start agents with extra flags; every one is stopped after the test."""
    started: list[AgentProcess] = []

    def start(
        *args: str, env: dict[str, str] | None = None, file_limit: int | None = None
    ) -> AgentProcess:
        data_dir = tmp_path / f"agent-data-{len(started)}"
        log = tmp_path / f"agent-{len(started)}.log"
        agent = start_agent(
            "--data-dir", str(data_dir), *args, log=log, env=env, file_limit=file_limit
        )
        started.append(agent)
        return agent

    yield start
    for agent in started:
        if agent.process.poll() is None:
            agent.process.kill()
            agent.process.wait(10)
        if agent.process.stdout is not None:
            agent.process.stdout.close()


@pytest.fixture
def agent(agent_factory, scripts_dir: Path) -> AgentProcess:
    """An agent serving ``scripts_dir``."""
    return agent_factory("--scripts", str(scripts_dir))


@pytest.fixture
def host(sshd: SshServer) -> Host:
    """The test sshd as a host, by address (no config file involved)."""
    from console.adapters.ssh import Host

    return Host("testhost", "127.0.0.1", sshd.port, sshd.user)


@pytest.fixture
async def hosts(sshd: SshServer) -> AsyncIterator[SshHosts]:
    """SSH to the test sshd: its host key known, the test client key offered, no config file."""
    from console.adapters.ssh import SshHosts

    ssh = SshHosts(known_hosts=sshd.known_hosts, client_keys=[sshd.client_key], config=None)
    yield ssh
    await ssh.close()


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """OpenSSH's sshd on 127.0.0.1, for the whole session (it starts in ~0.1 s, but why twice)."""
    from tests.ssh_server import start_sshd, stop_sshd

    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    stop_sshd(server)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A real redis-server (appendfsync always) on a free loopback port, for the whole session."""
    from console.bench.redis_server import redis_server_path, start_redis

    if redis_server_path() is None:
        pytest.skip("redis-server is not installed (tests/system-packages.sh installs it)")
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def inbox_store(request: pytest.FixtureRequest) -> str:
    """The store an inbox test runs on: "sqlite", or the URL of the session's real redis-server."""
    if request.param == "sqlite":
        return "sqlite"
    return request.getfixturevalue("redis_server").url


def write_inbox_table(path: Path, store: str, **inbox: Any) -> Path:
    """Append ``[agent.inbox]`` to the config at ``path``: the store (on Redis, under a
    namespace of its own unless ``namespace`` is given) and ``inbox``'s other keys."""
    import uuid

    table = dict(inbox)
    if store != "sqlite":
        table = {"store": store, "namespace": f"test-{uuid.uuid4().hex[:8]}", **table}
    lines = ["", "[agent.inbox]"] + [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    with path.open("a") as config:
        config.write("\n".join(lines) + "\n")
    return path


# --- TLS -------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@pytest.fixture
def tls_agent(
    agent_factory: Callable[..., AgentProcess], scripts_dir: Path, tls_files: tuple[Path, Path]
) -> AgentProcess:
    """An agent serving ``scripts_dir`` over https with ``tls_files``' certificate."""
    cert, key = tls_files
    return agent_factory(
        "--scripts", str(scripts_dir), "--tls-cert", str(cert), "--tls-key", str(key)
    )
