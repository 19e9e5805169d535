"""A real OpenSSH server on 127.0.0.1 for the tests: throw-away host key, one authorized key."""

from __future__ import annotations

import getpass
import shlex
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import console

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
THIS_CODE = f"env PYTHONPATH={shlex.quote(str(Path(console.__file__).parents[1]))} {sys.executable}"
"""How to run Python on the SSH side: sshd gives its sessions a fresh environment, so an
agent started there would run the installed package, not the code under test."""


@dataclass
class SshServer:
    port: int
    user: str
    client_key: Path
    host_public_key: str
    known_hosts: Path
    """A known_hosts file that trusts this server's key."""
    process: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def start_sshd(directory: Path) -> SshServer:
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    _keygen(directory / "host_key")
    _keygen(directory / "client_key")
    authorized = directory / "authorized_keys"
    authorized.write_text((directory / "client_key.pub").read_text())
    authorized.chmod(0o600)
    port = _free_port()
    config = directory / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {directory / 'host_key'}",
                f"AuthorizedKeysFile {authorized}",
                f"PidFile {directory / 'sshd.pid'}",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "PermitRootLogin prohibit-password",
                "AllowTcpForwarding yes",
                "UsePAM no",
                "StrictModes no",
                "LogLevel ERROR",
                "",
            ]
        )
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited: {process.stderr.read().decode()[-1000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    host_public_key = " ".join((directory / "host_key.pub").read_text().split()[:2])
    known_hosts = directory / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_public_key}\n")
    return SshServer(
        port, getpass.getuser(), directory / "client_key", host_public_key, known_hosts, process
    )


def stop_sshd(server: SshServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    if server.process.stderr is not None:
        server.process.stderr.close()
