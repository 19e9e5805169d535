"""Reaching the configured hosts: the SSH adapter, made on first use, each host's address
parsed once, and its connection made with the state shown in the hosts table as it goes.

asyncssh takes a fifth of a second to import, so nothing SSH is imported (nor any address
parsed) until a host is first needed, and then in a thread, so the screen never stalls.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from console.tui.contexts import CLOSE_BOUND
from console.tui.hosts.table import HostState

if TYPE_CHECKING:
    from console.adapters.ssh import Host, SshHosts
    from console.tui.hosts.table import HostTable

HostsConfig = Mapping[str, Mapping[str, Any]]
"""``[hosts.NAME]`` tables: ``address`` (``user@host:port``; the name when left out), and for
``c`` the agent there: ``remote_port``, ``start``, ``remote_command``, ``agent_args``."""


class HostReach:
    """The SSH adapter and the parsed hosts of a ``[hosts]`` config (tables by host name)."""

    def __init__(self, config: Mapping[str, Mapping[str, Any]], ssh: SshHosts | None) -> None:
        self.config = config
        self._ssh = ssh
        self.parsed: dict[str, Host] = {}
        """Hosts parsed so far, by name."""

    async def adapter(self) -> SshHosts:
        """The SSH adapter, made (and asyncssh imported, off the event loop) on first use."""
        if self._ssh is None:
            module = await asyncio.to_thread(importlib.import_module, "console.adapters.ssh")
            if self._ssh is None:  # another worker may have made it meanwhile
                self._ssh = module.SshHosts()
        return self._ssh

    async def host(self, name: str) -> tuple[SshHosts, Host]:
        """The adapter and the host ``name`` (its address parsed on first use; ValueError)."""
        ssh = await self.adapter()
        host = self.parsed.get(name)
        if host is None:
            from console.adapters.ssh import Host

            address = str(self.config[name].get("address", name))
            host = self.parsed[name] = Host.parse(address, name=name)
        return ssh, host

    async def connect(self, name: str, table: HostTable) -> tuple[SshHosts, Host]:
        """Reach a host (its connection is reused), its state in ``table`` as it goes; raises
        what the adapter raises (a host down, a key unknown...)."""
        before = table.rows[name].state
        if before is not HostState.CONNECTED:
            table.update(name, state=HostState.CONNECTING)
        try:
            ssh, host = await self.host(name)
            await ssh.connection(host)
        except asyncio.CancelledError:
            if table.is_attached:
                table.update(name, state=before)
            raise
        table.update(name, state=HostState.CONNECTED, error="")
        return ssh, host

    async def close(self) -> None:
        """Close the connections (and the forwards on them), if the adapter was ever made;
        waits ``CLOSE_BOUND`` seconds at most (a host gone silent never answers a goodbye)."""
        if self._ssh is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_BOUND):
                    await self._ssh.close()
