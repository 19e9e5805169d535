"""Ways to get an agent to talk to: one already running, or one spawned for this console."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shlex
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from console.adapters.endpoint import AGENT_TOKEN_ENV, PASSWORD_ENV
from console.adapters.endpoint import INBOX_TOKEN_ENV as INBOX_TOKEN_ENV  # where clients look
from console.adapters.errors import BackendError, Unavailable

if TYPE_CHECKING:
    # Imported when first connecting: httpx and websockets are slow to import,
    # and the console paints before it connects.
    import asyncssh

    from console.adapters.agent import AgentClient
    from console.adapters.endpoint import Endpoint
    from console.adapters.ssh import Host, SshHosts

READY_TIMEOUT = 20.0
REMOTE_TOKEN_FILE = '"${XDG_DATA_HOME:-$HOME/.local/share}/opsconsole/agent/agent-token"'
"""Where an agent started with the default data dir keeps its token, as a remote shell sees it."""


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


class SshAgent:
    """An agent listening on another host's loopback, reached through an SSH port forward.

    When nothing answers there and ``start`` is set, an agent is started on the host
    (detached, so it outlives this console) and waited for; if it dies or stays silent, the
    error gives the last lines of its log on the host and the log's path. The log lives in
    ``remote_log_dir`` (default ``$XDG_STATE_HOME/opsconsole``, made 0700): never in /tmp,
    where another user of the host could plant a link under the predictable name.
    ``progress`` is told each step in a few words, for a console to show.
    """

    def __init__(
        self,
        hosts: SshHosts,
        host: Host,
        remote_port: int = 8470,
        start: bool = True,
        remote_command: str = "opsconsole",
        agent_args: list[str] | None = None,
        remote_log_dir: str | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.hosts = hosts
        self.agent_args = agent_args or []
        self.host = host
        self.remote_port = remote_port
        self.start = start
        self.remote_command = remote_command
        self.remote_log_dir = remote_log_dir
        self.progress = progress
        self.started_pid: int | None = None
        self.remote_log: str | None = None
        """The started agent's log, as a path on the host."""
        self._client: AgentClient | None = None
        self._keeper: asyncio.Task[None] | None = None
        """Rebuilds the forward when its SSH connection goes (``_keep_forward``)."""

    @property
    def description(self) -> str:
        """The ssh:// address of the host's agent."""
        return f"ssh://{self.host} → port {self.remote_port}"

    def _say(self, step: str) -> None:
        if self.progress is not None:
            self.progress(step)

    async def connect(self) -> AgentClient:
        """Reach the agent on the host through a forward (starting it there if so configured); a
        client of it. Raises Unavailable, AuthError (SSH), BackendError."""
        from console.adapters.agent import AgentClient
        from console.adapters.endpoint import Endpoint

        self._say(f"forwarding a local port to port {self.remote_port} on the host")
        await self._stop_keeping()
        listener = await self.hosts.forward_listener(self.host, self.remote_port)
        self._keeper = asyncio.create_task(self._keep_forward(listener))
        url = f"http://127.0.0.1:{listener.get_port()}"
        client = AgentClient(Endpoint(url, agent_token=await self._remote_token()))
        try:
            await client.info()
        except Unavailable:
            await client.aclose()
            if not self.start:
                raise
            self._say("no agent answers there: starting one")
            try:
                await self._start_remote()
                self._say(
                    f"agent started (pid {self.started_pid}), waiting for it to answer; "
                    f"its log: {self.remote_log}"
                )
                client = await self._wait_ready(url)
            except BackendError as exc:  # kept where the steps are, past the toast
                self._say(f"failed: {exc.message.removeprefix(f'{self.host.name}: ')}")
                raise
        self._say("the agent answers")
        self._client = client
        return client

    async def _keep_forward(self, listener: asyncssh.SSHListener) -> None:
        """Build the forward again, on the same local port, each time its SSH connection goes
        (the listener closes with it): the client keeps its URL, and its reconnecting loops
        get through once the host answers again. Retried with backoff until then."""
        from console.adapters.watch import Backoff

        port = listener.get_port()
        while True:
            await listener.wait_closed()
            backoff = Backoff()
            while True:
                try:
                    listener = await self.hosts.forward_listener(
                        self.host, self.remote_port, local_port=port
                    )
                    break
                except (BackendError, OSError, ValueError):
                    await backoff.wait()

    async def _stop_keeping(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
            self._keeper = None

    async def _remote_token(self) -> str | None:
        """The agent token in the remote agent's data dir, read over SSH as its owner would."""
        args = self.agent_args
        given = [args[i + 1] for i in range(len(args) - 1) if args[i] == "--data-dir"]
        path = shlex.quote(f"{given[-1]}/agent-token") if given else REMOTE_TOKEN_FILE
        result = await self.hosts.check(self.host, f"cat {path} 2>/dev/null")
        lines = [line.strip() for line in result.stdout if line.strip()]
        return lines[0] if result.exit_status == 0 and lines else None

    async def _start_remote(self) -> None:
        folder = _remote_folder(self.remote_log_dir)
        agent = (
            f"{self.remote_command} agent --host 127.0.0.1 --port {self.remote_port} "
            f"{shlex.join(self.agent_args)}"
        )
        line = (
            f'd={folder} && mkdir -p "$d" && chmod 700 "$d" && '
            f'log="$d/agent-{self.remote_port}.log" && : >"$log" && '
            f'{{ nohup {agent} >>"$log" 2>&1 </dev/null & }} && echo "$! $log"'
        )
        result = await self.hosts.check(self.host, line)
        pid, _, log = (result.stdout[-1] if result.stdout else "").partition(" ")
        if result.exit_status != 0 or not pid.isdigit() or not log:
            raise Unavailable(
                f"{self.host.name}: could not start an agent: {' '.join(result.stderr)[:300]}"
            )
        self.started_pid, self.remote_log = int(pid), log

    async def _wait_ready(self, url: str) -> AgentClient:
        """A client on the agent just started, once it answers (with the token it made at
        start); Unavailable with its log's last lines if it dies first, or says nothing for
        READY_TIMEOUT seconds."""
        from console.adapters.agent import AgentClient
        from console.adapters.endpoint import Endpoint

        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_TIMEOUT
        next_look = loop.time()
        client: AgentClient | None = None
        try:
            while loop.time() < deadline:
                if client is None and (token := await self._remote_token()) is not None:
                    client = AgentClient(Endpoint(url, agent_token=token))
                if client is not None:
                    with contextlib.suppress(Unavailable):
                        await client.info()
                        return client
                if loop.time() >= next_look:
                    next_look = loop.time() + 0.5
                    if not await self._remote_alive():
                        raise Unavailable(await self._log_tail("the agent started there exited"))
                await asyncio.sleep(0.1)
            raise Unavailable(
                await self._log_tail(
                    f"the agent started there did not answer in {READY_TIMEOUT:g} s"
                )
            )
        except BaseException:
            if client is not None:
                await client.aclose()
            raise

    async def _remote_alive(self) -> bool:
        probe = ["kill", "-0", str(self.started_pid)]
        return (await self.hosts.check(self.host, probe, time_limit=10)).exit_status == 0

    async def _log_tail(self, what: str, lines: int = 12) -> str:
        """``what``, then the last lines of the started agent's log and where it is."""
        try:
            found = await self.hosts.check(
                self.host, ["tail", "-n", str(lines), str(self.remote_log)], time_limit=10
            )
            tail = "\n".join(found.stdout) or "(empty)"
        except BackendError as exc:
            tail = f"(unreadable: {exc.message})"
        return f"{self.host.name}: {what}; its log {self.remote_log} ends with:\n{tail}"

    async def stop_remote(self) -> None:
        """Stop the agent this console started on the host (one it found running stays)."""
        if self.started_pid is not None:
            await self.hosts.check(self.host, ["kill", "-TERM", str(self.started_pid)])
            self.started_pid = None

    async def close(self) -> None:
        """Close the client and the forward (an agent started here is stopped)."""
        await self._stop_keeping()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        await self.hosts.close()


def _remote_folder(path: str | None) -> str:
    """A folder on the host as a shell word: ``~/`` means the remote user's home there."""
    if not path:
        return '"${XDG_STATE_HOME:-$HOME/.local/state}/opsconsole"'
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        return '"$HOME"' + shlex.quote(path[1:])
    return shlex.quote(path)
