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

Finding them must not cost a walk of every process on the machine per exit (a
stop of 200 children did 600 such walks, each reading thousands of
``/proc/PID/environ`` files on a busy host): as a subreaper the agent holds
every descendant in its own process tree, so ``marked_in_tree`` walks that tree
alone (``/proc/PID/task/TID/children``) and reads an environment only where the
tree cannot tell (an orphan adopted by the agent); ``reap`` lists the agent's
own children the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Iterable, Mapping

log = logging.getLogger(__name__)

ORIGIN = "OPSCONSOLE_ORIGIN"
_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper(enabled: bool = True) -> bool:
    """Make orphaned descendants of this process its children (Linux); False when not possible.

    ``enabled=False`` gives the role up, so a process that hosted an agent's children
    for a while (a test, a benchmark) does not collect orphans as zombies ever after.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    return prctl(_PR_SET_CHILD_SUBREAPER, int(enabled), 0, 0, 0) == 0


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


def children_of(pid: int) -> list[int] | None:
    """The direct children of ``pid`` (of any of its threads); None when /proc cannot say.

    Read from ``/proc/PID/task/TID/children`` (Linux 3.5+, ``CONFIG_PROC_CHILDREN``);
    a process that is gone has no children. None means the kernel has no such files.
    """
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as handle:
                found.extend(map(int, handle.read().split()))
        except FileNotFoundError:
            if not os.path.exists(f"/proc/{pid}/task/{tid}"):
                continue  # the thread ended while we looked
            return None  # no children lists in this kernel
        except OSError:
            continue
    return found


def _mark_of(pid: int, needle: bytes) -> str | None:
    """The ``OPSCONSOLE_ORIGIN`` of ``pid`` when it starts with ``needle``'s prefix; else None."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = handle.read()
    except OSError:
        return None
    for entry in environ.split(b"\0"):
        if entry.startswith(needle):
            return entry.split(b"=", 1)[1].decode(errors="replace")
    return None


def marked_in_tree(prefix: str, known: Mapping[int, str], top: list[int]) -> dict[int, str]:
    """As :func:`marked`, but walking this process's tree only; None when that cannot be done.

    Only sound in a subreaper (an orphaned descendant stays in the tree). ``known``
    gives the origin of direct children without reading their environment; what lies
    below a known child descends from it, so a known child whose origin does not start
    with ``prefix`` is not walked at all. Elsewhere (orphans adopted by this process and
    what lies below them) each process's environment says. ``top`` lists this process's
    children (:func:`children_of`). Answers ``{pid: origin}`` of live, non-zombie processes.
    """
    needle = f"{ORIGIN}={prefix}".encode()
    found: dict[int, str] = {}
    # (pid, origin by descent, or None when its environment must say)
    pending: list[tuple[int, str | None]] = []
    for pid in top:
        origin = known.get(pid)
        if origin is None or origin.startswith(prefix):
            pending.append((pid, origin))
    while pending:
        pid, origin = pending.pop()
        mark = origin if origin is not None else _mark_of(pid, needle)
        if mark is not None:
            status = _status(pid)
            if status is not None and status[0] not in "ZX":
                found[pid] = mark
        pending.extend((child, origin) for child in children_of(pid) or ())
    return found


def reap(exclude: Iterable[int] = ()) -> list[int]:
    """Collect every exited child of the agent not in ``exclude`` (adopted orphans); their pids.

    ``exclude`` holds the children asyncio waits for itself: reaping one of
    those would steal its exit status.
    """
    me, skip = os.getpid(), set(exclude)
    with contextlib.suppress(ChildProcessError):
        if os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            return []  # no child has exited: nothing to look at
    own = children_of(me)
    reaped = []
    for pid in _pids() if own is None else own:
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
