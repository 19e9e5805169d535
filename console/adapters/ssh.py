"""Remote commands over SSH (PROTOCOLS.md §5, remoto-like), on asyncssh.

Settings come as OpenSSH resolves them (``ssh_settings``); host keys are checked against
known_hosts and an unknown or changed key is refused with its fingerprint until the operator
accepts it (``ssh_keys``). One connection per host is kept and reused, with a keep-alive; it
also carries port forwards. Output never hangs a call: bytes that are not UTF-8 become U+FFFD,
a broken connection ends the call with an error (and is dropped from the cache), and every
call has a time limit. Lines are cut as ``str.splitlines`` cuts them, as remoto does.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import asyncssh

from console.adapters.errors import AuthError, Unavailable
from console.adapters.ssh_host import Host, HostConnection
from console.adapters.ssh_keys import (
    HostKeyRefused,
    OfferedKey,
    accept_command,
    fetch_offered_key,
    record,
    refusal,
)
from console.adapters.ssh_lines import LineSplitter
from console.adapters.ssh_results import (
    CallTimedOut,
    CommandFailed,
    CommandNotFound,
    RemoteResult,
)
from console.adapters.ssh_settings import (
    DEFAULT_CONFIG,
    HostSettings,
    SshDefaults,
    resolve,
)
from console.models import Stream

if TYPE_CHECKING:
    from console.adapters.ssh_remote import RemoteModule

__all__ = [
    "CallTimedOut",
    "CommandFailed",
    "CommandNotFound",
    "Host",
    "HostConnection",
    "HostKeyRefused",
    "LineSplitter",
    "OfferedKey",
    "RemoteResult",
    "SshHosts",
]

DEFAULT_TIME_LIMIT = 600.0
"""Seconds a call may take when the caller names no limit."""
_CHUNK = 65536
_Batch = tuple[Stream, list[str]]


class SshHosts:
    """Runs commands on hosts and forwards ports to them, one reused connection per host.

    ``known_hosts`` and ``client_keys`` given here win over ``~/.ssh/config``; every other
    setting is the config's when it has one (``config=None``: no config file at all).
    Times are in seconds; ``time_limit`` bounds each call that names none.
    """

    def __init__(
        self,
        known_hosts: Path | None = None,
        client_keys: list[Path] | None = None,
        config: Path | None = DEFAULT_CONFIG,
        connect_timeout: float = 10.0,
        keepalive_interval: float = 15.0,
        time_limit: float = DEFAULT_TIME_LIMIT,
    ) -> None:
        self.defaults = SshDefaults(
            known_hosts,
            tuple(client_keys) if client_keys is not None else None,
            config,
            connect_timeout,
            keepalive_interval,
        )
        self.time_limit = time_limit
        self._connections: dict[Host, asyncssh.SSHClientConnection] = {}
        self._locks: dict[Host, asyncio.Lock] = {}

    def sibling(self) -> SshHosts:
        """Another adapter with the same settings and connections of its own."""
        d = self.defaults
        return SshHosts(
            d.known_hosts,
            list(d.client_keys) if d.client_keys is not None else None,
            d.config,
            d.connect_timeout,
            d.keepalive_interval,
            self.time_limit,
        )

    async def settings(self, host: Host) -> HostSettings:
        """How ``host`` resolves (name, port, known_hosts files); ValueError for a bad config."""
        return await resolve(self.defaults, host.hostname, host.port, host.user)

    # -- connections ---------------------------------------------------------------------

    async def connection(self, host: Host) -> asyncssh.SSHClientConnection:
        """The host's open connection, made on first use. Raises HostKeyRefused, AuthError,
        Unavailable, or ValueError for a config that cannot be parsed."""
        # One lock per host: a host that is slow to answer holds up no other.
        async with self._locks.setdefault(host, asyncio.Lock()):
            connection = self._connections.get(host)
            if connection is not None and not connection.is_closed():
                return connection
            connection = await self._connect(host)
            self._connections[host] = connection
            return connection

    async def _connect(self, host: Host) -> asyncssh.SSHClientConnection:
        settings = await self.settings(host)
        try:
            return await asyncssh.connect(**settings.connect_kwargs)
        except asyncssh.HostKeyNotVerifiable:
            raise await self._refused(host, settings) from None
        except asyncssh.PermissionDenied as exc:
            raise AuthError(f"{host.name}: permission denied ({exc.reason})") from None
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            why = str(exc) or type(exc).__name__
            raise Unavailable(f"{host.name}: cannot connect to {settings.address}: {why}") from None

    async def _refused(self, host: Host, settings: HostSettings) -> HostKeyRefused:
        try:
            offered: OfferedKey | None = await self._offered(host, settings)
        except Unavailable:
            offered = None
        command = ""
        if offered is not None:
            command = accept_command(host.name, offered.fingerprint, self._cli_options())
        return refusal(host.name, settings, offered, command)

    def _cli_options(self) -> list[str]:
        """The CLI options that give the CLI this adapter's non-default settings."""
        options: list[str] = []
        if self.defaults.config not in (DEFAULT_CONFIG, None):
            options += ["-F", str(self.defaults.config)]
        if self.defaults.known_hosts is not None:
            options += ["--known-hosts", str(self.defaults.known_hosts)]
        for key in self.defaults.client_keys or ():
            options += ["--identity", str(key)]
        return options

    def evict(self, host: Host, connection: asyncssh.SSHClientConnection) -> None:
        """Forget a connection that broke, so the next call makes a new one."""
        if self._connections.get(host) is connection:
            del self._connections[host]
        connection.abort()

    # -- host keys -----------------------------------------------------------------------

    async def _offered(self, host: Host, settings: HostSettings) -> OfferedKey:
        return await fetch_offered_key(host.name, settings, self.defaults.connect_timeout)

    async def host_key(self, host: Host) -> OfferedKey:
        """The key the host offers now (type, SHA256 fingerprint), for the operator to check."""
        return await self._offered(host, await self.settings(host))

    async def host_key_fingerprint(self, host: Host) -> str:
        """The SHA256 fingerprint of the key the host offers now."""
        return (await self.host_key(host)).fingerprint

    async def accept_host_key(self, host: Host, fingerprint: str | None = None) -> str:
        """Record the host's key in known_hosts, replacing any line naming the host; with
        ``fingerprint``, only if the host offers that key. Raises HostKeyRefused otherwise."""
        settings = await self.settings(host)
        offered = await self._offered(host, settings)
        if fingerprint is not None and offered.fingerprint != fingerprint:
            raise HostKeyRefused(
                f"{host.name}: the host now offers {offered}, not {fingerprint}", offered
            )
        record(settings, offered)
        return offered.fingerprint

    # -- commands ------------------------------------------------------------------------

    def command_line(self, argv: list[str] | str, sudo: bool = False) -> str:
        """argv quoted for the remote shell; a str is a raw shell line (only when asked)."""
        line = argv if isinstance(argv, str) else shlex.join(argv)
        return f"sudo -n -- sh -c {shlex.quote(line)}" if sudo else line

    async def stream(
        self,
        host: Host,
        argv: list[str] | str,
        sudo: bool = False,
        time_limit: float | None = None,
    ) -> AsyncIterator[tuple[Stream, str] | int]:
        """Each output line as ``(stream, line)`` as it comes, then the exit status (an int).

        Raises Unavailable when the connection breaks (it is then dropped) and CallTimedOut
        after ``time_limit`` seconds (default: the adapter's), having closed its channel.
        """
        connection = await self.connection(host)
        limit = time_limit or self.time_limit
        deadline = asyncio.get_running_loop().time() + limit
        try:
            process = await connection.create_process(
                self.command_line(argv, sudo), errors="replace"
            )
        except (OSError, asyncssh.Error) as exc:
            self.evict(host, connection)
            raise Unavailable(f"{host.name}: {exc}") from None
        # Lines travel in batches (one per chunk read): the per-item cost is paid per chunk.
        # Bounded: a reader that falls behind holds the command back instead of filling memory.
        queue: asyncio.Queue[_Batch | BaseException | None] = asyncio.Queue(64)

        async def pump(reader: asyncssh.SSHReader[str], stream: Stream) -> None:
            lines = LineSplitter()
            try:
                while chunk := await reader.read(_CHUNK):
                    if batch := lines.feed(chunk):
                        await queue.put((stream, batch))
                if rest := lines.close():
                    await queue.put((stream, rest))
                await queue.put(None)
            except Exception as exc:  # any of them ends the call, never hangs it
                await queue.put(exc)

        pumps = [
            asyncio.create_task(pump(process.stdout, Stream.STDOUT)),
            asyncio.create_task(pump(process.stderr, Stream.STDERR)),
        ]
        shown = self.command_line(argv, sudo)
        try:
            finished = 0
            while finished < len(pumps):
                item = await self._next(queue, deadline, host, shown, limit)
                if item is None:
                    finished += 1
                elif isinstance(item, BaseException):
                    self.evict(host, connection)
                    raise Unavailable(f"{host.name}: the connection broke: {item}") from None
                else:
                    stream, batch = item
                    for line in batch:
                        yield stream, line
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                completed = await asyncio.wait_for(process.wait(), max(remaining, 0))
            except TimeoutError:
                raise self._timed_out(host, shown, limit) from None
            if completed.exit_status is None and completed.exit_signal is None:
                self.evict(host, connection)
                raise Unavailable(f"{host.name}: the connection closed before {shown} ended")
            yield completed.exit_status if completed.exit_status is not None else -1
        finally:
            for task in pumps:
                task.cancel()
            if process.exit_status is None:
                process.send_signal("TERM")  # where the server honours it
            process.close()

    async def _next(
        self,
        queue: asyncio.Queue[_Batch | BaseException | None],
        deadline: float,
        host: Host,
        shown: str,
        limit: float,
    ) -> _Batch | BaseException | None:
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            return await asyncio.wait_for(queue.get(), max(remaining, 0))
        except TimeoutError:
            raise self._timed_out(host, shown, limit) from None

    def _timed_out(self, host: Host, shown: str, limit: float) -> CallTimedOut:
        return CallTimedOut(f"{host.name}: {shown} did not finish within {limit:g} s")

    async def check(
        self,
        host: Host,
        argv: list[str] | str,
        sudo: bool = False,
        time_limit: float | None = None,
    ) -> RemoteResult:
        """``(stdout_lines, stderr_lines, exit_status)``, lines cut as ``str.splitlines``.

        Raises CommandNotFound when an argv's program is missing, CallTimedOut, Unavailable.
        """
        stdout: list[str] = []
        stderr: list[str] = []
        status = -1
        async for item in self.stream(host, argv, sudo, time_limit):
            if isinstance(item, int):
                status = item
            else:
                (stdout if item[0] is Stream.STDOUT else stderr).append(item[1])
        await self._check_found(host, argv, sudo, status)
        return RemoteResult(stdout, stderr, status)

    async def run(
        self,
        host: Host,
        argv: list[str] | str,
        sudo: bool = False,
        time_limit: float | None = None,
        raise_on_error: bool = False,
    ) -> int:
        """Log ``Running command: ...`` at INFO, then stdout at DEBUG and stderr at ERROR on
        the host's logger; the exit status (CommandFailed instead, when ``raise_on_error``)."""
        logger = logging.getLogger(host.name)
        logger.info("Running command: %s", self.command_line(argv, sudo))
        status = -1
        async for item in self.stream(host, argv, sudo, time_limit):
            if isinstance(item, int):
                status = item
            elif item[0] is Stream.STDOUT:
                logger.debug(item[1])
            else:
                logger.error(item[1])
        await self._check_found(host, argv, sudo, status)
        if raise_on_error and status != 0:
            raise CommandFailed(host.name, argv if isinstance(argv, list) else [argv], status)
        return status

    async def _check_found(
        self, host: Host, argv: list[str] | str, sudo: bool, status: int
    ) -> None:
        """127 is the shell's "not found", but a program may exit 127 too: ask the shell."""
        if status != 127 or isinstance(argv, str) or not argv:
            return
        probe = ["sh", "-c", 'command -v -- "$1" >/dev/null', "sh", argv[0]]
        async for item in self.stream(host, probe, sudo):
            if isinstance(item, int) and item != 0:
                raise CommandNotFound(host.name, argv[0])

    # -- remote functions and forwards ---------------------------------------------------

    def at(self, host: Host) -> HostConnection:
        """``host`` as remoto's ``Connection``: ``run``, ``check`` and ``import_module``."""
        return HostConnection(self, host)

    async def import_module(
        self, host: Host, module: ModuleType | Path, interpreter: str = "python3"
    ) -> RemoteModule:
        """``module`` (its source) loaded in a Python on the host; its functions as a proxy.
        See ``ssh_remote``."""
        from console.adapters.ssh_remote import RemoteModule

        return await RemoteModule.start(self, host, module, interpreter)

    async def forward(self, host: Host, remote_port: int, remote_host: str = "127.0.0.1") -> int:
        """Forward a free local loopback port to ``remote_host:remote_port`` seen from the host."""
        return (await self.forward_listener(host, remote_port, remote_host)).get_port()

    async def forward_listener(
        self, host: Host, remote_port: int, remote_host: str = "127.0.0.1", local_port: int = 0
    ) -> asyncssh.SSHListener:
        """Forward loopback ``local_port`` (0: a free one) to ``remote_host:remote_port`` seen
        from the host, over its connection; the listener closes when that connection goes.
        Raises Unavailable (and what ``connection`` raises)."""
        connection = await self.connection(host)
        try:
            return await connection.forward_local_port(
                "127.0.0.1", local_port, remote_host, remote_port
            )
        except (OSError, asyncssh.Error) as exc:
            raise Unavailable(f"{host.name}: cannot forward to port {remote_port}: {exc}") from None

    async def close(self) -> None:
        """Close every SSH connection held open (idempotent); a host call after it connects
        afresh."""
        connections, self._connections = list(self._connections.values()), {}
        for connection in connections:
            connection.close()
        for connection in connections:
            await connection.wait_closed()
