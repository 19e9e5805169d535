"""The SSH adapter against a real OpenSSH server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path

import pytest

from console.adapters import AgentClient, Endpoint, Unavailable
from console.adapters.ssh import CommandFailed, Host, HostKeyRefused, SshHosts
from console.config import agent_token
from tests.conftest import AgentProcess
from tests.fleet_helpers import until
from tests.ssh_server import THIS_CODE, SshServer
from tests.test_spawned_agent import alive


def test_addresses_parse() -> None:
    assert Host.parse("deploy@web1.internal:2222") == Host(
        "web1.internal", "web1.internal", 2222, "deploy"
    )
    # Left out, the port and user are ~/.ssh/config's to decide: nothing fills in 22.
    assert Host.parse("web1") == Host("web1", "web1", None, None)
    assert Host.parse("root@[::1]:22", name="v6").hostname == "::1"
    assert str(Host.parse("root@[::1]:22")) == "root@[::1]:22"
    for bad in ("bad host name", "web1:0", "web1:70000", "web1:"):
        with pytest.raises(ValueError):
            Host.parse(bad)


async def test_check_returns_both_streams_and_the_exit_status(hosts: SshHosts, host: Host) -> None:
    result = await hosts.check(host, ["sh", "-c", "echo out; echo err >&2; echo more; exit 3"])
    assert result.stdout == ["out", "more"]
    assert result.stderr == ["err"]
    assert result.exit_status == 3
    missing = await hosts.check(host, ["ls", "/nonexistent/path"])
    assert missing.exit_status != 0
    assert missing.stdout == [] and "nonexistent" in missing.stderr[0]


async def test_arguments_with_quotes_and_spaces_arrive_intact(
    hosts: SshHosts, host: Host, tmp_path: Path
) -> None:
    tricky = ["a b", "it's", 'say "hi"', "$(touch " + str(tmp_path / "pwned") + ")", "; ls", "*"]
    result = await hosts.check(host, ["printf", "%s\\n", *tricky])
    assert result.stdout == tricky
    assert not (tmp_path / "pwned").exists()


async def test_run_logs_stdout_at_debug_and_stderr_at_error_on_the_host_logger(
    hosts: SshHosts, host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="testhost")
    status = await hosts.run(host, ["sh", "-c", "echo fine; echo broken >&2"])
    assert status == 0
    records = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert ("testhost", "DEBUG", "fine") in records
    assert ("testhost", "ERROR", "broken") in records
    with pytest.raises(CommandFailed) as failed:
        await hosts.run(host, ["false"], raise_on_error=True)
    assert failed.value.exit_status == 1


async def test_a_raw_shell_line_only_when_asked(hosts: SshHosts, host: Host) -> None:
    quoted = await hosts.check(host, ["echo", "$HOME"])
    raw = await hosts.check(host, "echo $HOME")
    assert quoted.stdout == ["$HOME"]
    assert raw.stdout != ["$HOME"]


async def test_connections_are_reused(hosts: SshHosts, host: Host) -> None:
    first = await hosts.connection(host)
    await hosts.check(host, ["true"])
    assert await hosts.connection(host) is first


async def test_an_unknown_host_key_is_refused_until_accepted(
    sshd: SshServer, host: Host, tmp_path: Path
) -> None:
    known_hosts = tmp_path / "known_hosts"
    ssh = SshHosts(known_hosts=known_hosts, client_keys=[sshd.client_key], config=None)
    try:
        with pytest.raises(HostKeyRefused, match="not in"):
            await ssh.check(host, ["true"])
        known_hosts.write_text("")
        with pytest.raises(HostKeyRefused):
            await ssh.check(host, ["true"])
        fingerprint = await ssh.host_key_fingerprint(host)
        assert fingerprint.startswith("SHA256:")
        with pytest.raises(HostKeyRefused, match="now offers"):
            await ssh.accept_host_key(host, "SHA256:not-what-the-operator-saw")
        assert known_hosts.read_text() == ""
        assert await ssh.accept_host_key(host, fingerprint) == fingerprint
        assert sshd.host_public_key in known_hosts.read_text()
        assert (await ssh.check(host, ["echo", "in"])).stdout == ["in"]
    finally:
        await ssh.close()


async def test_a_changed_host_key_is_refused(sshd: SshServer, host: Host, tmp_path: Path) -> None:
    from tests.ssh_server import _keygen

    _keygen(tmp_path / "other")
    other = " ".join((tmp_path / "other.pub").read_text().split()[:2])
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {other}\n")
    ssh = SshHosts(known_hosts=known_hosts, client_keys=[sshd.client_key], config=None)
    try:
        with pytest.raises(HostKeyRefused):
            await ssh.check(host, ["true"])
    finally:
        await ssh.close()


async def test_a_forward_reaches_an_agent_started_on_the_remote_side(
    hosts: SshHosts, host: Host, tmp_path: Path, scripts_dir: Path
) -> None:
    # Start the agent through SSH, as the console starts one on a host that has none.
    command = (
        f"echo $$; exec {THIS_CODE} -m console agent --port 0 "
        f"--scripts {scripts_dir} --data-dir {tmp_path / 'remote-data'} 2>/dev/null"
    )
    lines = hosts.stream(host, command)
    pid = int((await anext(lines))[1])  # type: ignore[index]
    url = (await anext(lines))[1]  # type: ignore[index]
    try:
        remote_port = int(url.rsplit(":", 1)[1])
        local_port = await hosts.forward(host, remote_port)
        assert local_port != remote_port
        token = agent_token(tmp_path / "remote-data")  # what the SSH user reads there
        async with AgentClient(
            Endpoint(f"http://127.0.0.1:{local_port}", agent_token=token)
        ) as client:
            await client.info()
            assert (await client.scripts.run("echo", {"text": "via ssh"})).stdout == ["via ssh"]
            events = [e async for e in client.scripts.stream_run("echo", {"text": "ws too"})]
            assert events[-1].retcode == 0  # type: ignore[union-attr]
            assert await client.processes.list() == []
    finally:
        os.kill(pid, signal.SIGTERM)
        await lines.aclose()


async def test_an_ssh_context_starts_an_agent_on_the_host_and_reaches_it(
    sshd: SshServer, host: Host, tmp_path: Path, scripts_dir: Path
) -> None:
    from console.adapters.ssh_agent import SshAgent
    from tests.ssh_server import _free_port

    ssh = SshHosts(known_hosts=sshd.known_hosts, client_keys=[sshd.client_key], config=None)
    connector = SshAgent(
        ssh,
        host,
        remote_port=_free_port(),
        remote_command=f"{THIS_CODE} -m console",
        agent_args=["--scripts", str(scripts_dir), "--data-dir", str(tmp_path / "remote")],
    )
    try:
        client = await connector.connect()
        assert connector.started_pid is not None
        scripts = {s.name for s in await client.scripts.list_scripts()}
        assert "echo" in scripts
        pid = connector.started_pid
        await connector.stop_remote()
        for _ in range(100):
            if not alive(pid):
                break
            await asyncio.sleep(0.05)
        assert not alive(pid), "the agent started over SSH kept running"
    finally:
        if connector.started_pid is not None:
            os.kill(connector.started_pid, signal.SIGTERM)
        await connector.close()


async def test_a_host_slow_to_answer_holds_up_no_other(hosts: SshHosts, host: Host) -> None:
    accepted = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        await reader.read()  # accepts, never says a word of SSH
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    slow = Host("slow", "127.0.0.1", server.sockets[0].getsockname()[1], host.user)
    stuck = asyncio.create_task(hosts.check(slow, ["true"]))
    try:
        async with asyncio.timeout(5):
            await accepted.wait()  # the slow host's connection is under way
        assert not stuck.done()
        async with asyncio.timeout(5):  # well inside the slow host's 10 s connect timeout
            assert (await hosts.check(host, ["echo", "quick"])).stdout == ["quick"]
    finally:
        stuck.cancel()
        server.close()


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children first), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo += children.get(child, [])
    return found


async def test_an_ssh_context_whose_connection_dies_comes_back_by_itself(
    sshd: SshServer, host: Host, hosts: SshHosts, agent: AgentProcess, tmp_path: Path
) -> None:
    """The SSH connection under a tunnel dies (its sshd session killed): the tunnel is built
    again on the same local port, and the same client gets through without being told."""
    from console.adapters.ssh_agent import SshAgent

    tunnel = SshAgent(
        hosts,
        host,
        remote_port=int(agent.url.rsplit(":", 1)[1]),
        start=False,
        agent_args=["--data-dir", str(tmp_path / "agent-data-0")],  # the agent fixture's
    )
    try:
        client = await tunnel.connect()
        url = client.endpoint.base_url
        first = await hosts.connection(host)
        for pid in descendants(sshd.process.pid):  # the sessions of the sshd this test run started
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        await until(first.is_closed, why="the SSH connection is seen gone")
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            try:
                await client.info()
                break
            except Unavailable:
                assert asyncio.get_running_loop().time() < deadline, "the tunnel never came back"
                await asyncio.sleep(0.05)
        assert client.endpoint.base_url == url
        assert await client.processes.list() == []
        assert (await hosts.connection(host)) is not first, "over a new SSH connection"
    finally:
        await tunnel.close()
