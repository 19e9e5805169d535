"""Remote commands over SSH (PROTOCOLS.md §5, remoto-like), on asyncssh.

Host keys are checked against known_hosts, as OpenSSH does: an unknown or a
changed key is refused unless the operator accepts it (then it is recorded).
Keys, the SSH agent and ``~/.ssh/config`` are used as OpenSSH uses them. One
connection per host is kept and reused; it also carries port forwards.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shlex
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from console.adapters.errors import AuthError, BackendError, Unavailable
from console.models import Stream
from console.output.lines import decode_lines
from console.output.pump import pump_output

DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts").expanduser()
DEFAULT_CONFIG = Path("~/.ssh/config").expanduser()
_ADDRESS = re.compile(r"^(?:(?P<user>[^@\s]+)@)?(?P<host>\[[^\]]+\]|[^:\s]+)(?::(?P<port>\d+))?$")


class HostKeyRefused(AuthError):
    """The host's key is unknown or has changed; nothing was sent to it."""


class CommandFailed(BackendError):
    """A remote command exited non-zero and the caller asked for that to raise."""

    def __init__(self, host: str, argv: list[str], status: int) -> None:
        super().__init__(f"{host}: {shlex.join(argv)} exited {status}")
        self.exit_status = status


@dataclass(frozen=True)
class Host:
    """Where to reach a machine: ``name`` is what logs and the console call it."""

    name: str
    hostname: str
    port: int = 22
    user: str | None = None

    @classmethod
    def parse(cls, address: str, name: str | None = None) -> Host:
        """``[user@]host[:port]`` (IPv6 in brackets)."""
        found = _ADDRESS.match(address.strip())
        if found is None:
            raise ValueError(f"not a host address: {address!r} (expected user@host:port)")
        hostname = found["host"].strip("[]")
        return cls(name or hostname, hostname, int(found["port"] or 22), found["user"])

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        return f"{user}{self.hostname}:{self.port}"


@dataclass(frozen=True)
class RemoteResult:
    stdout: list[str]
    stderr: list[str]
    exit_status: int


class SshHosts:
    """Runs commands on hosts and forwards ports to them, one reused connection per host."""

    def __init__(
        self,
        known_hosts: Path = DEFAULT_KNOWN_HOSTS,
        client_keys: list[Path] | None = None,
        config: Path | None = DEFAULT_CONFIG,
        connect_timeout: float = 10.0,
    ) -> None:
        self.known_hosts = known_hosts
        self.client_keys = client_keys
        self.config = config
        self.connect_timeout = connect_timeout
        self._connections: dict[Host, asyncssh.SSHClientConnection] = {}
        self._lock = asyncio.Lock()

    async def connection(self, host: Host) -> asyncssh.SSHClientConnection:
        async with self._lock:
            connection = self._connections.get(host)
            if connection is not None and not connection.is_closed():
                return connection
            connection = await self._connect(host)
            self._connections[host] = connection
            return connection

    async def _connect(self, host: Host) -> asyncssh.SSHClientConnection:
        options: dict[str, object] = {
            "port": host.port,
            # No file at all: every key is unknown, so every host is refused.
            "known_hosts": str(self.known_hosts) if self.known_hosts.exists() else ([], [], []),
            "connect_timeout": self.connect_timeout,
        }
        if host.user:
            options["username"] = host.user
        if self.client_keys is not None:
            options["client_keys"] = [str(key) for key in self.client_keys]
        if self.config is not None and self.config.exists():
            options["config"] = [str(self.config)]
        try:
            return await asyncssh.connect(host.hostname, **options)  # type: ignore[arg-type]
        except asyncssh.HostKeyNotVerifiable as exc:
            raise HostKeyRefused(
                f"{host.name}: the host key of {host} is not in {self.known_hosts} or has "
                f"changed ({exc.reason}); accept it explicitly to connect"
            ) from None
        except asyncssh.PermissionDenied as exc:
            raise AuthError(f"{host.name}: permission denied ({exc.reason})") from None
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            raise Unavailable(f"{host.name}: cannot connect to {host}: {exc}") from None

    async def host_key_fingerprint(self, host: Host) -> str:
        """The key the host offers now (SHA256 fingerprint), for the operator to check."""
        return (await self._fetch_host_key(host)).get_fingerprint()

    async def accept_host_key(self, host: Host, fingerprint: str | None = None) -> str:
        """Record the host's key in known_hosts; with ``fingerprint``, only if it matches."""
        key = await self._fetch_host_key(host)
        if fingerprint is not None and key.get_fingerprint() != fingerprint:
            raise HostKeyRefused(
                f"{host.name}: the host now offers {key.get_fingerprint()}, not {fingerprint}"
            )
        pattern = host.hostname if host.port == 22 else f"[{host.hostname}]:{host.port}"
        self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
        with self.known_hosts.open("a") as known:
            known.write(f"{pattern} {key.export_public_key().decode().strip()}\n")
        return key.get_fingerprint()

    async def _fetch_host_key(self, host: Host) -> asyncssh.SSHKey:
        try:
            async with asyncio.timeout(self.connect_timeout):
                key = await asyncssh.get_server_host_key(host.hostname, host.port)
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            raise Unavailable(f"{host.name}: cannot fetch the host key: {exc}") from None
        if key is None:
            raise Unavailable(f"{host.name}: the server offered no host key")
        return key

    def command_line(self, argv: list[str] | str, sudo: bool = False) -> str:
        """argv quoted for the remote shell; a str is a raw shell line (only when asked)."""
        line = argv if isinstance(argv, str) else shlex.join(argv)
        return f"sudo -n -- sh -c {shlex.quote(line)}" if sudo else line

    async def stream(
        self, host: Host, argv: list[str] | str, sudo: bool = False
    ) -> AsyncIterator[tuple[Stream, str] | int]:
        """Each output line as ``(stream, line)`` as it comes, then the exit status (an int).

        Lines are rendered as the agent renders a process's (``console.output``):
        ``\r`` rewrites, colour kept, other control sequences removed, long lines cut,
        invalid UTF-8 replaced.
        """
        connection = await self.connection(host)
        try:
            process = await connection.create_process(self.command_line(argv, sudo), encoding=None)
        except (OSError, asyncssh.Error) as exc:
            raise Unavailable(f"{host.name}: {exc}") from None
        queue: asyncio.Queue[tuple[Stream, str] | None] = asyncio.Queue()

        async def pump(reader: asyncssh.SSHReader[bytes], stream: Stream) -> None:
            def lines(block: bytes) -> None:
                for line in decode_lines(block):
                    queue.put_nowait((stream, line))

            try:
                await pump_output(reader.read, lines)
            finally:
                queue.put_nowait(None)

        pumps = [
            asyncio.create_task(pump(process.stdout, Stream.STDOUT)),
            asyncio.create_task(pump(process.stderr, Stream.STDERR)),
        ]
        try:
            finished = 0
            while finished < len(pumps):
                item = await queue.get()
                if item is None:
                    finished += 1
                else:
                    yield item
            completed = await process.wait()
            yield completed.exit_status if completed.exit_status is not None else -1
        finally:
            for task in pumps:
                task.cancel()
            process.close()

    async def check(
        self, host: Host, argv: list[str] | str, sudo: bool = False, time_limit: float | None = None
    ) -> RemoteResult:
        """``(stdout_lines, stderr_lines, exit_status)``, lines without their newlines."""
        stdout: list[str] = []
        stderr: list[str] = []
        status = -1
        async with asyncio.timeout(time_limit):
            async for item in self.stream(host, argv, sudo):
                if isinstance(item, int):
                    status = item
                else:
                    (stdout if item[0] is Stream.STDOUT else stderr).append(item[1])
        return RemoteResult(stdout, stderr, status)

    async def run(
        self,
        host: Host,
        argv: list[str] | str,
        sudo: bool = False,
        time_limit: float | None = None,
        raise_on_error: bool = False,
    ) -> int:
        """Log stdout at DEBUG and stderr at ERROR on the host's logger; the exit status."""
        logger = logging.getLogger(host.name)
        status = -1
        async with asyncio.timeout(time_limit):
            async for item in self.stream(host, argv, sudo):
                if isinstance(item, int):
                    status = item
                elif item[0] is Stream.STDOUT:
                    logger.debug(item[1])
                else:
                    logger.error(item[1])
        if raise_on_error and status != 0:
            raise CommandFailed(host.name, argv if isinstance(argv, list) else [argv], status)
        return status

    async def forward(self, host: Host, remote_port: int, remote_host: str = "127.0.0.1") -> int:
        """Forward a free local loopback port to ``remote_host:remote_port`` seen from the host."""
        connection = await self.connection(host)
        try:
            listener = await connection.forward_local_port("127.0.0.1", 0, remote_host, remote_port)
        except (OSError, asyncssh.Error) as exc:
            raise Unavailable(f"{host.name}: cannot forward to port {remote_port}: {exc}") from None
        return listener.get_port()

    async def close(self) -> None:
        connections, self._connections = list(self._connections.values()), {}
        for connection in connections:
            connection.close()
        for connection in connections:
            await connection.wait_closed()
