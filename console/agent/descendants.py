"""Descendants that left their process group: daemons, double forks, ``setsid`` children.

A child that daemonizes (``redis-server --daemonize yes``) forks, starts a new
session and lets its first process exit: killing the child's process group no
longer reaches it. Two things keep such descendants in hand (Linux only):

- the agent is a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``): an
  orphaned descendant becomes the agent's child, not init's, so the agent
  reaps it (``reap``) and it cannot slip away by reparenting;
- every child is started with ``OPSCONSOLE_ORIGIN=AGENT_PID.SERIAL`` in its
  environment, which its descendants inherit: ``/proc/PID/environ`` says
  which child a process descends from (``marked``), even after ``setsid``.

A descendant that clears its environment before ``exec`` is not found this way.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Iterable

log = logging.getLogger(__name__)

ORIGIN = "OPSCONSOLE_ORIGIN"
_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Make orphaned descendants of this process its children (Linux); False when not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    return prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _status(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) from ``/proc/PID/stat``; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0].decode(), int(fields[1])


def marked(prefix: str) -> dict[int, str]:
    """Live (not zombie) processes whose ``OPSCONSOLE_ORIGIN`` starts with ``prefix``.

    Answers ``{pid: origin}``; processes of other users (unreadable) are skipped.
    """
    needle = f"{ORIGIN}={prefix}".encode()
    found: dict[int, str] = {}
    for pid in _pids():
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:
            continue
        for entry in environ.split(b"\0"):
            if entry.startswith(needle):
                status = _status(pid)
                if status is not None and status[0] not in "ZX":
                    found[pid] = entry.split(b"=", 1)[1].decode(errors="replace")
                break
    return found


def reap(exclude: Iterable[int] = ()) -> list[int]:
    """Collect every exited child of the agent not in ``exclude`` (adopted orphans); their pids.

    ``exclude`` holds the children asyncio waits for itself: reaping one of
    those would steal its exit status.
    """
    me, skip = os.getpid(), set(exclude)
    reaped = []
    for pid in _pids():
        status = _status(pid)
        if status is None or status[1] != me or status[0] != "Z" or pid in skip:
            continue
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                reaped.append(pid)
    return reaped


def _signal(pids: Iterable[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
        # A daemon usually leads a session and group of its own: take its group along.
        with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, sig)


async def wait_gone(pids: Iterable[int], seconds: float) -> set[int]:
    """Wait until every pid has exited, at most ``seconds``; the pids still running."""
    loop = asyncio.get_running_loop()
    waiting: dict[int, int] = {}
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, OSError):
            waiting[pid] = os.pidfd_open(pid)
    left = set(waiting)
    done = asyncio.Event()

    def exited(pid: int) -> None:
        loop.remove_reader(waiting[pid])
        left.discard(pid)
        if not left:
            done.set()

    for pid, fd in waiting.items():
        loop.add_reader(fd, exited, pid)
    try:
        if left:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), seconds)
    finally:
        for pid, fd in waiting.items():
            if pid in left:
                loop.remove_reader(fd)
            os.close(fd)
    return left


async def terminate(pids: Iterable[int], grace: float, exclude: Iterable[int] = ()) -> None:
    """The termination ladder for bare pids: SIGTERM, ``grace`` seconds, SIGKILL; then reap."""
    pids = set(pids)
    if not pids:
        return
    _signal(pids, signal.SIGTERM)
    left = await wait_gone(pids, grace)
    if left:
        log.warning("pids %s ignored SIGTERM for %.1fs; killing them", sorted(left), grace)
        _signal(left, signal.SIGKILL)
        await wait_gone(left, 5.0)
    reap(exclude)
