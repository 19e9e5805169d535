"""Starting a child fast and hearing of its exit at once.

Three choices keep a spawn on the fast path of ``_posixsubprocess`` (``vfork``)
and its exit free of threads and polling:

- no ``preexec_fn`` (it forces a full ``fork`` of the agent, a cost that grows
  with the agent's memory): the parent-death signal is set by a tiny exec
  wrapper in the child instead, ``setpriv --pdeathsig KILL`` (util-linux),
  followed by a ``/bin/sh`` check that the agent is still its parent (had the
  agent died before the signal was armed, nobody would send it);
- exits are watched with a pidfd per child on the running loop
  (:class:`PidfdWatcher`), not a thread per child;
- each child carries a future resolved the moment the loop reaps it
  (:meth:`Child.exited`), not after its pipes close.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
import sys
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None
"""util-linux's ``setpriv``; without it children are started the slow way (``preexec_fn``)."""

_STILL_OUR_CHILD = '[ "$PPID" = "$0" ] || exit 125; exec "$@"'
"""Run by /bin/sh after the death signal is armed: ``$0`` is the agent's pid."""


def lifeline_argv(argv: list[str], agent_pid: int) -> list[str]:
    """``argv`` behind the wrapper that kills it with the agent, or ``argv`` when none exists.

    The wrapper execs ``argv`` in place, so the pid (and its process group) stay the
    child's; a child whose agent died before the signal was armed exits with 125.
    """
    if SETPRIV is None:
        return argv
    return [SETPRIV, "--pdeathsig", "KILL", "--", "/bin/sh", "-c", _STILL_OUR_CHILD,
            str(agent_pid), *argv]  # fmt: skip


def check_executable(program: str, env: Mapping[str, str] | None, cwd: Path | None) -> None:
    """Raise what ``exec`` would (FileNotFoundError, PermissionError) before the wrapper hides it.

    ``program`` is looked up the way ``execvp`` does: on the child's ``PATH`` unless it
    holds a slash, then relative to ``cwd``.
    """
    if "/" in program:
        path = Path(program) if cwd is None else Path(cwd) / program
        if not path.exists():
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
        if path.is_dir() or not os.access(path, os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), program)
        return
    search = os.get_exec_path(dict(env) if env is not None else None)
    if shutil.which(program, path=os.pathsep.join(search)) is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)


class PidfdWatcher(asyncio.AbstractChildWatcher):
    """A child watcher for any running loop: one pidfd per child, read by that loop.

    Python 3.11's default starts a thread per child that blocks in ``waitpid``;
    this one is 3.12's design (the watcher holds no loop of its own), so it is
    safe to install for the whole process.
    """

    def __init__(self) -> None:
        self._watched: set[int] = set()

    def watched(self) -> frozenset[int]:
        """The pids whose exit status this watcher will read: no one else may reap them."""
        return frozenset(self._watched)

    def add_child_handler(self, pid: int, callback: Callable[..., object], *args: Any) -> None:
        loop = asyncio.get_running_loop()
        pidfd = os.pidfd_open(pid)
        self._watched.add(pid)
        loop._add_reader(pidfd, self._reap, loop, pid, pidfd, callback, args)  # type: ignore[attr-defined]

    def _reap(
        self,
        loop: asyncio.AbstractEventLoop,
        pid: int,
        pidfd: int,
        callback: Callable[..., object],
        args: tuple[Any, ...],
    ) -> None:
        loop._remove_reader(pidfd)  # type: ignore[attr-defined]
        try:
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            log.warning("the exit status of pid %d was read elsewhere", pid)
            code = 255
        finally:
            os.close(pidfd)
            self._watched.discard(pid)
        callback(pid, code, *args)

    def remove_child_handler(self, pid: int) -> bool:
        return False  # a handler ends with its child; nothing waits to be removed

    def attach_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        pass

    def close(self) -> None:
        pass

    def is_active(self) -> bool:
        return True

    def __enter__(self) -> PidfdWatcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


def watched_children() -> frozenset[int]:
    """The children asyncio is waiting for (registered at the fork, before the spawn returns)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        watcher = asyncio.get_child_watcher()
    return watcher.watched() if isinstance(watcher, PidfdWatcher) else frozenset()


def install_watcher() -> None:
    """Make :class:`PidfdWatcher` the process's child watcher (once; Linux 5.3+ only)."""
    if not hasattr(os, "pidfd_open"):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if not isinstance(asyncio.get_child_watcher(), PidfdWatcher):
            asyncio.set_child_watcher(PidfdWatcher())


class _ExitProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """The stream protocol, plus a future set when the child's exit status is known."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.exit_status: asyncio.Future[int] = loop.create_future()

    def process_exited(self) -> None:
        # Read before the base class may drop the transport (once the pipes are closed too).
        returncode = self._transport.get_returncode()  # type: ignore[union-attr]
        super().process_exited()
        if not self.exit_status.done() and returncode is not None:
            self.exit_status.set_result(returncode)


class Child(asyncio.subprocess.Process):
    """An asyncio child process that can be awaited for its exit alone."""

    def __init__(
        self,
        transport: asyncio.SubprocessTransport,
        protocol: _ExitProtocol,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        super().__init__(transport, protocol, loop)
        self._exit_status = protocol.exit_status

    async def exited(self) -> int:
        """The exit status, the moment the child is reaped (its pipes may stay open)."""
        return await asyncio.shield(self._exit_status)


async def spawn_child(argv: list[str], **options: Any) -> Child:
    """Start ``argv`` as :func:`asyncio.create_subprocess_exec` would; a :class:`Child`."""
    loop = asyncio.get_running_loop()
    limit = options.pop("limit", 1 << 16)
    transport, protocol = await loop.subprocess_exec(
        lambda: _ExitProtocol(limit, loop), *argv, **options
    )
    return Child(transport, protocol, loop)
