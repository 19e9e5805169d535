"""~/.ssh/config as OpenSSH honours it, and host keys refused with their fingerprint and
accepted in place of the old line; against the real OpenSSH server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from console.adapters.ssh import Host, HostKeyRefused, SshHosts
from tests.ssh_server import SshServer, _keygen


def fingerprint_of(public_key_file: Path) -> str:
    """What ssh-keygen (not our code) says the key's SHA256 fingerprint is."""
    out = subprocess.run(
        ["ssh-keygen", "-lf", str(public_key_file)], capture_output=True, text=True, check=True
    ).stdout
    return out.split()[1]


def write_config(tmp_path: Path, sshd: SshServer, known_hosts: Path) -> Path:
    """An alias that gives the port, user, key and known_hosts, partly through Include and Match."""
    included = tmp_path / "conf.d" / "web.conf"
    included.parent.mkdir()
    included.write_text(
        "Host web1\n"
        "  HostName 127.0.0.1\n"
        f"  Port {sshd.port}\n"
        f"  IdentityFile {sshd.client_key}\n"
        "  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {known_hosts}\n"
        "  ServerAliveInterval 7\n"
        "  ConnectTimeout 9\n"
    )
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Include {included.parent}/*.conf\n"
        "Match originalhost web1\n"
        f"  User {sshd.user}\n"
        "Host *\n"
        "  Port 22\n"  # first value wins, as in OpenSSH: the alias's port stays
        "  User nobody-at-all\n"
    )
    return config


@pytest.fixture
async def aliased(tmp_path: Path, sshd: SshServer) -> AsyncIterator[tuple[SshHosts, Path]]:
    """An adapter with nothing of its own but the config file, and that config's known_hosts."""
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(sshd.known_hosts.read_text())
    ssh = SshHosts(config=write_config(tmp_path, sshd, known_hosts))
    yield ssh, known_hosts
    await ssh.close()


async def test_a_config_alias_gives_port_user_key_and_known_hosts_to_run_check_and_forwards(
    aliased: tuple[SshHosts, Path], sshd: SshServer
) -> None:
    ssh, _ = aliased
    host = Host.parse("web1")
    assert host.port is None and host.user is None
    result = await ssh.check(host, ["sh", "-c", 'echo "$SSH_CONNECTION"; id -un'])
    assert result.exit_status == 0, result.stderr
    assert result.stdout == [result.stdout[0], sshd.user]  # Match's user, not Host *'s
    assert result.stdout[0].split()[-1] == str(sshd.port)  # the alias's port, not 22
    assert await ssh.run(host, ["true"], raise_on_error=True) == 0

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    try:
        local = await ssh.forward(host, server.sockets[0].getsockname()[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", local)
        writer.write(b"through the alias\n")
        assert await asyncio.wait_for(reader.readline(), 10) == b"through the alias\n"
        writer.close()
    finally:
        server.close()


async def test_our_defaults_never_override_what_the_config_says(
    aliased: tuple[SshHosts, Path], sshd: SshServer
) -> None:
    ssh, known_hosts = aliased
    settings = await ssh.settings(Host.parse("web1"))
    assert (settings.hostname, settings.port) == ("127.0.0.1", sshd.port)
    assert settings.known_hosts == (known_hosts,)
    for ours in ("port", "username", "client_keys", "connect_timeout", "keepalive_interval"):
        assert ours not in settings.connect_kwargs, f"{ours} would override the config"
    # Given in the address, the port and user win, as they do on ssh's command line.
    explicit = await ssh.settings(Host.parse("someone@web1:2200"))
    assert explicit.port == 2200 and explicit.connect_kwargs["username"] == "someone"
    assert explicit.known_hosts_pattern == "[127.0.0.1]:2200"


async def test_an_unknown_key_is_refused_with_its_type_fingerprint_and_the_command_to_accept_it(
    tmp_path: Path, sshd: SshServer
) -> None:
    known_hosts = tmp_path / "known_hosts"  # not there at all
    ssh = SshHosts(config=write_config(tmp_path, sshd, known_hosts))
    expected = fingerprint_of(sshd.known_hosts.parent / "host_key.pub")
    try:
        with pytest.raises(HostKeyRefused) as refused:
            await ssh.check(Host.parse("web1"), ["true"])
    finally:
        await ssh.close()
    message = refused.value.message
    assert f"ssh-ed25519 {expected}" in message
    assert f"[127.0.0.1]:{sshd.port}" in message and "unknown" in message
    command = refused.value.accept_command
    assert command and message.endswith(command)
    assert f"--accept-host-key {expected}" in command and "-F" in command
    # The command works as printed, and records the key under the resolved name and port.
    done = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console", *shlex.split(command)[1:], stderr=subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(done.communicate(), 60)
    assert done.returncode == 0, stderr.decode()
    assert known_hosts.read_text() == f"[127.0.0.1]:{sshd.port} {sshd.host_public_key}\n"


async def test_accepting_a_changed_key_replaces_the_old_line_and_keeps_the_others(
    tmp_path: Path, sshd: SshServer
) -> None:
    _keygen(tmp_path / "old")
    old_key = " ".join((tmp_path / "old.pub").read_text().split()[:2])
    known_hosts = tmp_path / "known_hosts"
    others = f"# kept\nelsewhere.example {old_key}\n[127.0.0.1]:1 {old_key}\n"
    known_hosts.write_text(f"{others}[127.0.0.1]:{sshd.port} {old_key}\n")
    known_hosts.chmod(0o644)
    ssh = SshHosts(known_hosts=known_hosts, client_keys=[sshd.client_key], config=None)
    host = Host("box", "127.0.0.1", sshd.port, sshd.user)
    try:
        with pytest.raises(HostKeyRefused, match="CHANGED") as refused:
            await ssh.check(host, ["true"])
        offered = refused.value.offered
        assert offered is not None and offered.changed
        assert offered.fingerprint == fingerprint_of(sshd.known_hosts.parent / "host_key.pub")
        with pytest.raises(HostKeyRefused, match="now offers"):
            await ssh.accept_host_key(host, "SHA256:not-what-the-operator-saw")
        assert await ssh.accept_host_key(host, offered.fingerprint) == offered.fingerprint
        assert known_hosts.read_text() == (
            f"{others}[127.0.0.1]:{sshd.port} {sshd.host_public_key}\n"
        )
        assert known_hosts.stat().st_mode & 0o777 == 0o644
        assert (await ssh.check(host, ["echo", "in"])).stdout == ["in"]
        # Accepting the same key again leaves one line, not two.
        await ssh.accept_host_key(host, offered.fingerprint)
        assert known_hosts.read_text().count(sshd.host_public_key) == 1
    finally:
        await ssh.close()


async def test_no_config_setting_turns_the_host_key_check_off(
    tmp_path: Path, sshd: SshServer
) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(
        "Host web1\n  HostName 127.0.0.1\n"
        f"  Port {sshd.port}\n  User {sshd.user}\n  IdentityFile {sshd.client_key}\n"
        "  UserKnownHostsFile none\n  StrictHostKeyChecking no\n"
    )
    ssh = SshHosts(config=config)
    try:
        with pytest.raises(HostKeyRefused, match="nothing can be accepted"):
            await ssh.check(Host.parse("web1"), ["true"])
    finally:
        await ssh.close()
