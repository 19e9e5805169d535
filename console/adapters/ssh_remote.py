"""Remote functions, as remoto's ``conn.import_module``: a module's source is sent to a Python
on the host and its functions are called there, over the host's SSH connection.

The remote program is ``ssh_remote_runner`` (its wire format is described there). Arguments
and results are JSON data (numbers, strings, lists, tuples, dicts with string keys); a remote
exception comes back as ``RemoteError`` carrying the remote traceback. Calls on one module run
one at a time, each within a time limit; a call that overruns closes the remote Python's
channel (it ends once that call returns), and the next call starts a fresh one (the module's
state is lost then).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import shlex
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn

import asyncssh

from console.adapters import ssh_remote_runner
from console.adapters.errors import BackendError, Unavailable
from console.adapters.ssh import CallTimedOut
from console.adapters.ssh_remote_runner import decode, encode

if TYPE_CHECKING:
    from console.adapters.ssh import Host, SshHosts

_RUNNER = Path(ssh_remote_runner.__file__).read_text()
_STDERR_KEPT = 20
_CHUNK = 65536
MAX_REPLY = 256 * 2**20
"""Characters of one reply (its JSON text) beyond which the remote Python is stopped."""


class RemoteError(BackendError):
    """A remote function (or the module, while loading) raised.

    ``remote_type`` is the exception's class name there, ``remote_message`` its text and
    ``remote_traceback`` the traceback as the remote Python printed it.
    """

    def __init__(self, where: str, error: dict[str, Any]) -> None:
        self.remote_type = str(error.get("type", "Exception"))
        self.remote_message = str(error.get("message", ""))
        self.remote_traceback = str(error.get("traceback", ""))
        super().__init__(
            f"{where} raised {self.remote_type}: {self.remote_message}\n"
            f"remote traceback:\n{self.remote_traceback.rstrip()}"
        )


def module_source(module: ModuleType | Path) -> tuple[str, str]:
    """``(name, source)`` of a module object or a ``.py`` file; ValueError without source."""
    try:
        if isinstance(module, ModuleType):
            return module.__name__.rsplit(".", 1)[-1], inspect.getsource(module)
        return module.stem, module.read_text()
    except (OSError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(f"no Python source to send for {module}: {exc}") from None


class RemoteModule:
    """A module loaded on a host: ``await remote.listdir(".")`` runs ``listdir`` there.

    ``functions`` are the names the module offers (public, callable, not classes).
    """

    def __init__(
        self, hosts: SshHosts, host: Host, name: str, source: str, interpreter: str
    ) -> None:
        self.hosts = hosts
        self.host = host
        self.name = name
        self.source = source
        self.interpreter = interpreter
        self.functions: list[str] = []
        self._process: asyncssh.SSHClientProcess[str] | None = None
        self._connection: asyncssh.SSHClientConnection | None = None
        self._stderr: deque[str] = deque(maxlen=_STDERR_KEPT)
        self._stderr_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._unread = ""
        """What was read past the last reply line."""

    @classmethod
    async def start(
        cls, hosts: SshHosts, host: Host, module: ModuleType | Path, interpreter: str = "python3"
    ) -> RemoteModule:
        """Send the module and load it there. Raises RemoteError when it fails to load,
        Unavailable when the host or its Python cannot be reached, ValueError without source."""
        name, source = module_source(module)
        remote = cls(hosts, host, name, source, interpreter)
        async with remote._lock:
            await remote._start(hosts.time_limit)
        return remote

    def __getattr__(self, function: str) -> Callable[..., Awaitable[Any]]:
        if function.startswith("_"):
            raise AttributeError(function)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self.call(function, *args, **kwargs)

        call.__name__ = function
        return call

    async def call(
        self, function: str, *args: Any, time_limit: float | None = None, **kwargs: Any
    ) -> Any:
        """``function(*args, **kwargs)`` run on the host; its result.

        Raises RemoteError (what it raised there), TypeError for arguments that are not
        JSON data, AttributeError for a function the module does not have, CallTimedOut
        after ``time_limit`` seconds (default: the adapter's), Unavailable.
        """
        if self.functions and function not in self.functions:
            raise AttributeError(
                f"{self.host.name}: module {self.name!r} has no function {function!r} "
                f"(it has: {', '.join(self.functions) or 'none'})"
            )
        request = {"function": function, "args": encode(list(args)), "kwargs": encode(kwargs)}
        limit = time_limit or self.hosts.time_limit
        async with self._lock:
            if self._process is None:
                await self._start(limit)
            reply = await self._exchange(request, limit, f"{self.name}.{function}()")
        if "error" in reply:
            raise RemoteError(f"{self.host.name}: {self.name}.{function}()", reply["error"])
        return decode(reply.get("result"))

    async def _start(self, limit: float) -> None:
        connection = self._connection = await self.hosts.connection(self.host)
        line = shlex.join([self.interpreter, "-c", _RUNNER])
        try:
            self._process = await connection.create_process(line, errors="replace")
        except (OSError, asyncssh.Error) as exc:
            self.hosts.evict(self.host, connection)
            raise Unavailable(f"{self.host.name}: {exc}") from None
        self._stderr.clear()
        self._unread = ""
        self._stderr_task = asyncio.create_task(self._keep_stderr(self._process))
        reply = await self._exchange(
            {"name": self.name, "source": self.source}, limit, f"loading {self.name}"
        )
        if "error" in reply:
            await self.close()
            raise RemoteError(f"{self.host.name}: loading module {self.name!r}", reply["error"])
        self.functions = [str(name) for name in reply.get("ready", [])]

    async def _exchange(self, request: dict[str, Any], limit: float, doing: str) -> dict[str, Any]:
        process = self._process
        assert process is not None
        try:
            async with asyncio.timeout(limit):
                process.stdin.write(json.dumps(request) + "\n")
                await process.stdin.drain()
                line = await self._reply_line(process)
        except TimeoutError:
            await self.close()
            raise CallTimedOut(
                f"{self.host.name}: {doing} did not finish within {limit:g} s; "
                "its channel was closed (the remote Python ends when the call returns)"
            ) from None
        except (OSError, asyncssh.Error) as exc:
            if self._connection is not None:
                self.hosts.evict(self.host, self._connection)
            await self._broken(f"the connection broke during {doing}: {exc}", last_words=False)
        if not line:
            await self._broken(f"the remote Python ended during {doing}")
        try:
            reply = json.loads(line)
        except ValueError:
            await self._broken(f"the remote Python answered garbage to {doing}: {line[:200]!r}")
        if not isinstance(reply, dict):
            await self._broken(f"the remote Python answered garbage to {doing}: {line[:200]!r}")
        return reply

    async def _reply_line(self, process: asyncssh.SSHClientProcess[str]) -> str:
        """The next reply line ("" at the end). Read in chunks: asyncssh's readline copies
        its buffer once per chunk, which takes minutes for a reply of some megabytes."""
        parts = [self._unread]
        self._unread = ""
        size = len(parts[0])
        while "\n" not in parts[-1]:
            chunk = await process.stdout.read(_CHUNK)
            if not chunk:
                return ""
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_REPLY:
                await self._broken(f"the reply passed {MAX_REPLY // 2**20} MiB")
        text = "".join(parts)
        end = text.index("\n") + 1
        self._unread = text[end:]
        return text[:end]

    async def _broken(self, why: str, last_words: bool = True) -> NoReturn:
        """Stop the remote Python and raise Unavailable with what it printed last."""
        if last_words and self._stderr_task is not None:
            # It ended: its stderr ends too, within a moment.
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 2)
        stderr = "\n".join(self._stderr)
        await self.close()
        tail = f"\nits last words:\n{stderr}" if stderr else ""
        raise Unavailable(f"{self.host.name}: {why}{tail}")

    async def _keep_stderr(self, process: asyncssh.SSHClientProcess[str]) -> None:
        logger = logging.getLogger(self.host.name)
        with contextlib.suppress(Exception):
            async for line in process.stderr:
                text = line.rstrip("\r\n")
                self._stderr.append(text)
                logger.error(text)

    async def close(self) -> None:
        """Stop the remote Python (the connection stays)."""
        process, self._process = self._process, None
        if process is not None:
            process.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(process.wait_closed(), 5)
        if self._stderr_task is not None:
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(self._stderr_task, 1)
            self._stderr_task = None

    async def __aenter__(self) -> RemoteModule:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
