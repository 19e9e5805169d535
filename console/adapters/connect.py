"""Ways to get an agent to talk to: one already running, or one spawned for this console
(one on another host, through SSH: ``ssh_agent.SshAgent``)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from console.adapters.endpoint import AGENT_TOKEN_ENV, PASSWORD_ENV
from console.adapters.endpoint import INBOX_TOKEN_ENV as INBOX_TOKEN_ENV  # where clients look
from console.adapters.errors import Unavailable

if TYPE_CHECKING:
    # Imported when first connecting: httpx and websockets are slow to import,
    # and the console paints before it connects.
    from console.adapters.agent import AgentClient
    from console.adapters.endpoint import Endpoint

READY_TIMEOUT = 20.0


class AgentConnector(Protocol):
    """Opens a client on an agent, and closes whatever it opened for it."""

    @property
    def description(self) -> str:
        """Which agent, in words that stay the same between runs ("local agent", a URL)."""

    async def connect(self) -> AgentClient:
        """A client of the agent (spawning or tunnelling first if that is the way). Raises
        Unavailable, AuthError, BackendError."""

    async def close(self) -> None:
        """Close the client (and stop what was spawned or opened for it)."""


class ExistingAgent:
    """An agent somebody else runs, reached at a known endpoint."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._client: AgentClient | None = None

    @property
    def description(self) -> str:
        """The agent's URL."""
        return self.endpoint.base_url

    async def connect(self) -> AgentClient:
        """A client of the agent at the endpoint (nothing is sent yet; raises nothing)."""
        from console.adapters.agent import AgentClient

        self._client = AgentClient(self.endpoint)
        return self._client

    async def close(self) -> None:
        """Close the client's connections."""
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
        """ "local agent"."""
        return "local agent"

    async def connect(self) -> AgentClient:
        """Start the agent process on a free port and a client of it. Raises Unavailable when it
        does not start (its log says why)."""
        from console.adapters.agent import AgentClient
        from console.adapters.endpoint import Endpoint
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
        """Close the client and stop the agent (and its children)."""
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
