"""An agent on another host, reached through an SSH port forward (and started there if asked).

The forward is asyncssh's own; when its SSH connection goes, it is built again on the same
local port (``SshAgent._keep_forward``), so a client keeps its URL and comes back by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING

from console.adapters.connect import READY_TIMEOUT
from console.adapters.errors import BackendError, Unavailable

if TYPE_CHECKING:
    # Imported when first connecting: asyncssh, httpx and websockets are slow to import.
    import asyncssh

    from console.adapters.agent import AgentClient
    from console.adapters.ssh import Host, SshHosts

REMOTE_TOKEN_FILE = '"${XDG_DATA_HOME:-$HOME/.local/share}/opsconsole/agent/agent-token"'
"""Where an agent started with the default data dir keeps its token, as a remote shell sees it."""


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
        from console.adapters.changes import Backoff

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
