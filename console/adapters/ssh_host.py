"""A host's address as the operator gives it, and one host seen as remoto's ``Connection``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.adapters.ssh import RemoteResult, SshHosts
    from console.adapters.ssh_remote import RemoteModule

_ADDRESS = re.compile(
    r"^(?:(?P<user>[^@\s]+)@)?(?P<host>\[[^\]]+\]|[^:\s\[\]]+)(?::(?P<port>\d+))?$"
)


@dataclass(frozen=True)
class Host:
    """Where to reach a machine: ``name`` is what logs and the console call it.

    ``port`` and ``user`` are None when not given, so that ``~/.ssh/config`` decides them
    (``hostname`` may be an alias of the config too).
    """

    name: str
    hostname: str
    port: int | None = None
    user: str | None = None

    @classmethod
    def parse(cls, address: str, name: str | None = None) -> Host:
        """``[user@]host[:port]`` (IPv6 in brackets); ValueError for anything else."""
        found = _ADDRESS.match(address.strip())
        port = int(found["port"]) if found and found["port"] else None
        if found is None or (port is not None and not 0 < port < 65536):
            raise ValueError(f"not a host address: {address!r} (expected user@host:port)")
        hostname = found["host"].strip("[]")
        return cls(name or hostname, hostname, port, found["user"])

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return f"{user}{host}{f':{self.port}' if self.port is not None else ''}"


class HostConnection:
    """One host through an ``SshHosts`` (its connection is shared), shaped as remoto's
    ``Connection``: ``await conn.run(argv)``, ``await conn.check(argv)`` and
    ``remote = await conn.import_module(module)``. Keyword arguments are ``SshHosts``'s."""

    def __init__(self, hosts: SshHosts, host: Host) -> None:
        self.hosts = hosts
        self.host = host

    async def run(self, argv: list[str] | str, **options: Any) -> int:
        """The command's exit status on this host (``SshHosts.run``); raises BackendError when
        the host cannot be reached."""
        return await self.hosts.run(self.host, argv, **options)

    async def check(self, argv: list[str] | str, **options: Any) -> RemoteResult:
        """Run the command and keep its output: a ``RemoteResult`` (``SshHosts.check``); raises
        as ``run``."""
        return await self.hosts.check(self.host, argv, **options)

    async def import_module(
        self, module: ModuleType | Path, interpreter: str = "python3"
    ) -> RemoteModule:
        """The local ``module`` (or file) loaded on this host, its functions called remotely
        (remoto's way, ``SshHosts.import_module``); raises BackendError."""
        return await self.hosts.import_module(self.host, module, interpreter)
