"""Ways to get an agent to talk to: one already running, or one spawned for this console."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from console.adapters.errors import Unavailable

if TYPE_CHECKING:
    # Imported when first connecting: httpx and websockets are slow to import,
    # and the console paints before it connects.
    from console.adapters.agent import AgentClient
    from console.adapters.base import Endpoint
    from console.adapters.ssh import Host, SshHosts

READY_TIMEOUT = 20.0
INBOX_TOKEN_ENV = "OPSCONSOLE_INBOX_TOKEN"
AGENT_TOKEN_ENV = "OPSCONSOLE_AGENT_TOKEN"
PASSWORD_ENV = "OPSCONSOLE_PASSWORD"
"""A client's agent token by environment (an agent takes it out of its own environment)."""
REMOTE_TOKEN_FILE = '"${XDG_DATA_HOME:-$HOME/.local/share}/opsconsole/agent/agent-token"'
"""Where an agent started with the default data dir keeps its token, as a remote shell sees it."""


class AgentConnector(Protocol):
    """Opens a client on an agent, and closes whatever it opened for it."""

    @property
    def description(self) -> str: ...

    async def connect(self) -> AgentClient: ...

    async def close(self) -> None: ...


class ExistingAgent:
    """An agent somebody else runs, reached at a known endpoint."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._client: AgentClient | None = None

    @property
    def description(self) -> str:
        return self.endpoint.base_url

    async def connect(self) -> AgentClient:
        from console.adapters.agent import AgentClient

        self._client = AgentClient(self.endpoint)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


class SpawnedAgent:
    """A local agent started as a child process on a free loopback port.

    Only the operator's user can use it: it requires its agent token on every
    route, and the token sits in a 0600 file in the agent's 0700 data dir, read
    from there once the agent announces its URL (never passed on argv or in the
    environment, which other users and the agent's children could see). Chosen
    over a Unix socket in a 0700 runtime dir because the same token works the
    same way for a standalone agent, one reached through an SSH forward, and TLS.

    The agent dies with the console: it gets SIGTERM when the console exits,
    even by a crash, through the Linux parent-death signal, and stops its own
    children in turn.
    """

    def __init__(self, agent_args: list[str] | None = None, log_file: Path | None = None) -> None:
        self.agent_args = agent_args or []
        self.log_file = log_file
        self.process: asyncio.subprocess.Process | None = None
        self._client: AgentClient | None = None

    @property
    def data_dir(self) -> Path:
        """The agent's data dir: its last ``--data-dir``, else the default one."""
        args = self.agent_args
        given = [args[i + 1] for i in range(len(args) - 1) if args[i] == "--data-dir"]
        if given:
            return Path(given[-1])
        from console.config import data_dir

        return data_dir() / "agent"

    @property
    def description(self) -> str:
        return "local agent"

    async def connect(self) -> AgentClient:
        from console.adapters.agent import AgentClient
        from console.adapters.base import Endpoint
        from console.config import agent_token

        url = await self._start()
        self._client = AgentClient(Endpoint(url, agent_token=agent_token(self.data_dir)))
        return self._client

    async def _start(self) -> str:
        log = _private_log(self.log_file) if self.log_file else asyncio.subprocess.DEVNULL
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "console",
                "agent",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                *self.agent_args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                env=_without_secrets(os.environ),
                preexec_fn=_terminate_with_parent,
            )
        finally:
            if log != asyncio.subprocess.DEVNULL:
                os.close(log)
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), READY_TIMEOUT)
        except TimeoutError:
            line = b""
        url = line.decode().strip()
        if not url.startswith(("http://", "https://")):
            await self.close()
            where = f"; see {self.log_file}" if self.log_file else ""
            raise Unavailable(f"the local agent did not start{where}")
        return url

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def _private_log(path: Path) -> int:
    """The agent's log opened for appending, readable by its owner only (it may hold paths
    and names an operator would not share)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def _without_secrets(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """The environment for an agent: no client secrets (it has its own token file)."""
    secrets = {AGENT_TOKEN_ENV, PASSWORD_ENV}
    return {key: value for key, value in environ.items() if key not in secrets}


def _terminate_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    # Keep the terminal's Ctrl-C away from the agent: the console decides when it stops.
    os.setpgrp()


class SshAgent:
    """An agent listening on another host's loopback, reached through an SSH port forward.

    When nothing answers there and ``start`` is set, an agent is started on
    the host (detached, so it outlives this console) and waited for.
    """

    def __init__(
        self,
        hosts: SshHosts,
        host: Host,
        remote_port: int = 8470,
        start: bool = True,
        remote_command: str = "opsconsole",
        agent_args: list[str] | None = None,
    ) -> None:
        self.hosts = hosts
        self.agent_args = agent_args or []
        self.host = host
        self.remote_port = remote_port
        self.start = start
        self.remote_command = remote_command
        self.started_pid: int | None = None
        self._client: AgentClient | None = None

    @property
    def description(self) -> str:
        return f"ssh://{self.host} → port {self.remote_port}"

    async def connect(self) -> AgentClient:
        from console.adapters.agent import AgentClient
        from console.adapters.base import Endpoint

        local_port = await self.hosts.forward(self.host, self.remote_port)
        url = f"http://127.0.0.1:{local_port}"
        client = AgentClient(Endpoint(url, agent_token=await self._remote_token()))
        try:
            await client.info()
        except Unavailable:
            await client.aclose()
            if not self.start:
                raise
            await self._start_remote()
            client = await self._wait_ready(url)
        self._client = client
        return client

    async def _remote_token(self) -> str | None:
        """The agent token in the remote agent's data dir, read over SSH as its owner would."""
        args = self.agent_args
        given = [args[i + 1] for i in range(len(args) - 1) if args[i] == "--data-dir"]
        path = shlex.quote(f"{given[-1]}/agent-token") if given else REMOTE_TOKEN_FILE
        result = await self.hosts.check(self.host, f"cat {path} 2>/dev/null")
        lines = [line.strip() for line in result.stdout if line.strip()]
        return lines[0] if result.exit_status == 0 and lines else None

    async def _start_remote(self) -> None:
        extra = shlex.join(self.agent_args)
        line = (
            f"nohup {self.remote_command} agent --host 127.0.0.1 --port {self.remote_port} "
            f"{extra} >>/tmp/opsconsole-agent-{self.remote_port}.log 2>&1 </dev/null & echo $!"
        )
        result = await self.hosts.check(self.host, line)
        if result.exit_status != 0 or not result.stdout or not result.stdout[-1].isdigit():
            raise Unavailable(
                f"{self.host.name}: could not start an agent: {' '.join(result.stderr)[:200]}"
            )
        self.started_pid = int(result.stdout[-1])

    async def _wait_ready(self, url: str) -> AgentClient:
        """A client on the agent just started, once it answers (its token made by then)."""
        from console.adapters.agent import AgentClient
        from console.adapters.base import Endpoint

        for _ in range(int(READY_TIMEOUT / 0.2)):
            await asyncio.sleep(0.2)
            token = await self._remote_token()
            if token is None:
                continue
            client = AgentClient(Endpoint(url, agent_token=token))
            try:
                await client.info()
            except Unavailable:
                await client.aclose()
                continue
            return client
        raise Unavailable(f"{self.host.name}: the agent started there did not answer")

    async def stop_remote(self) -> None:
        """Stop the agent this console started on the host (one it found running stays)."""
        if self.started_pid is not None:
            await self.hosts.check(self.host, ["kill", "-TERM", str(self.started_pid)])
            self.started_pid = None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        await self.hosts.close()
