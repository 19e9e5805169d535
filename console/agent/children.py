"""Child processes of the agent: each in its own process group, none outliving the agent.

Every service (scripts, processes, modules) starts children here and stops them
with the one termination ladder, ``Children.stop``: an optional polite request,
then SIGTERM to the whole group, then SIGKILL.

Two guards keep children from outliving an agent that is killed outright:
each direct child gets the Linux parent-death signal (armed by the exec wrapper
of ``console.agent.spawning``), and a small reaper process
(``console.agent.reaper``) holds the list of live process groups and kills them
all when the agent's end of its pipe closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path

from console.agent import descendants
from console.agent.spawning import (
    SETPRIV,
    Child,
    check_executable,
    install_watcher,
    lifeline_argv,
    spawn_child,
    watched_children,
)
from console.models import Stream
from console.output.lines import MAX_LINE, LineSplitter, decode_lines
from console.output.pump import CHUNK, pump_output

log = logging.getLogger(__name__)

DRAIN_AFTER_EXIT = 1.0
"""Seconds a child's output may still flow after it exits, before its group is killed."""

REAP_AFTER = (0.1, 1.0)
"""Seconds after a release to collect orphans killed with its group (soon, then once more)."""

_PR_SET_PDEATHSIG = 1

REAPER = Path(__file__).with_name("reaper.py")


def _libc_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_prctl = _libc_prctl()


def _die_with_agent(agent_pid: int) -> Callable[[], None]:
    """A preexec hook: the child gets SIGKILL when the agent dies (only without setpriv)."""

    def hook() -> None:
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        # The agent may have died between fork and prctl; then nobody would signal us.
        if os.getppid() != agent_pid:
            os._exit(1)

    return hook


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Signal a whole process group; False when it is already gone."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


async def read_line_batches(stream: asyncio.StreamReader) -> AsyncIterator[list[str]]:
    """Yield the complete lines of each chunk read, decoded, as ``console.output`` renders them.

    Lines move in lists so that a chatty child costs one step per chunk, not per line.
    """
    splitter = LineSplitter()
    while chunk := await stream.read(CHUNK):
        if block := splitter.feed(chunk):
            yield decode_lines(block)
    if block := splitter.finish():
        yield decode_lines(block)


class Children:
    """Starts, tracks and stops every child process of one agent."""

    def __init__(self, umask: int = -1) -> None:
        self.umask = umask
        """The file mode mask children start with (-1: the agent's own): the agent keeps
        its files private with 077, which its children should not inherit."""
        self._reaper: asyncio.subprocess.Process | None = None
        self._live: dict[int, asyncio.subprocess.Process] = {}
        self._origins: dict[int, str] = {}
        """Each live child's OPSCONSOLE_ORIGIN, which its descendants inherit."""
        self._serial = 0
        self._leftover_pumps: set[asyncio.Future[object]] = set()
        self.subreaper = False
        self._reaper_removals: list[str] = []
        self._reaps_due: dict[float, asyncio.TimerHandle] = {}
        self._last_release = 0.0
        self._tree: list[int] | None = None
        install_watcher()

    async def start(self) -> None:
        # Run by path in isolated mode without site: it needs the stdlib alone, and so
        # starts sooner and holds ~5 MiB less than a full interpreter would.
        self._reaper = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-S",
            str(REAPER),
            stdin=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        self.subreaper = descendants.become_subreaper()
        await self._tell_reaper(f"={self._origin_prefix}")

    async def spawn(
        self,
        argv: list[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        merge_stderr: bool = False,
        stdin: int | None = asyncio.subprocess.DEVNULL,
    ) -> Child:
        """Start ``argv`` (never through a shell) in a new process group, output piped.

        Raises FileNotFoundError or PermissionError (OSError) when ``argv[0]`` cannot run.
        """
        self._serial += 1
        origin = f"{self._origin_prefix}{self._serial}"
        options: dict[str, object] = {}
        if SETPRIV is None:
            options["preexec_fn"] = _die_with_agent(os.getpid())
        else:
            check_executable(argv[0], env, cwd)
            argv = lifeline_argv(argv, os.getpid())
        proc = await spawn_child(
            argv,
            env=dict(env if env is not None else os.environ) | {descendants.ORIGIN: origin},
            cwd=cwd,
            stdin=stdin,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT if merge_stderr else asyncio.subprocess.PIPE,
            start_new_session=True,
            umask=self.umask,
            **options,
        )
        self._live[proc.pid] = proc
        self._origins[proc.pid] = origin
        await self._tell_reaper(f"+{proc.pid}")
        return proc

    @property
    def _origin_prefix(self) -> str:
        return f"{os.getpid()}."

    def origin(self, proc: asyncio.subprocess.Process) -> str | None:
        """The OPSCONSOLE_ORIGIN a live child and all its descendants carry."""
        return self._origins.get(proc.pid)

    def descendants(self, origin: str | None) -> list[int]:
        """Live processes carrying ``origin`` (those that left the child's group too), by pid."""
        if origin is None:
            return []
        return sorted(pid for pid, mark in self._marked(origin).items() if mark == origin)

    def _marked(self, prefix: str) -> dict[int, str]:
        """Live descendants whose origin starts with ``prefix``: from the agent's own process
        tree when it is a subreaper (a few reads), else from every process on the machine."""
        top = self._own_tree() if self.subreaper else None
        if top is None:
            return descendants.marked(prefix)
        known: dict[int, str] = self._origins
        if self._reaper is not None:  # no descendant of ours: never walked nor read
            known = {**known, self._reaper.pid: ""}
        return descendants.marked_in_tree(prefix, known, top)

    def _own_tree(self) -> list[int] | None:
        """The agent's children now, read once per turn of the loop (None: /proc cannot say).

        Every exit this turn reacts to happened before the loop polled, and the
        orphans it made were adopted by then: one reading serves all the stops of
        a turn (a stop of 200 children walks /proc a few times, not 600).
        """
        if self._tree is None:
            self._tree = descendants.children_of(os.getpid())
            with contextlib.suppress(RuntimeError):  # no loop: nothing to share it with
                asyncio.get_running_loop().call_soon(self._forget_tree)
                return self._tree
            tree, self._tree = self._tree, None
            return tree
        return self._tree

    def _forget_tree(self) -> None:
        self._tree = None

    async def find_descendants(self, origin: str | None) -> list[int]:
        """:meth:`descendants`, off the loop when that means reading all of /proc."""
        if self.subreaper:
            return self.descendants(origin)
        return await asyncio.to_thread(self.descendants, origin)

    async def stop_descendants(self, pids: list[int], grace: float) -> None:
        """The termination ladder for descendants that left the group (and reaping them)."""
        await descendants.terminate(pids, grace, self._own_children())

    def _own_children(self) -> set[int]:
        # A child that exits while its spawn still awaits its pipes is not in _live yet, but
        # the watcher already waits for it: a sweep that reaped it would take its status.
        own = set(self._live) | watched_children()
        if self._reaper is not None:
            own.add(self._reaper.pid)
        return own

    def _reap_later(self) -> None:
        """Collect adopted orphans that exit in the next moment (killed with their group).

        Each release is followed by a reap at least each of ``REAP_AFTER`` seconds later,
        but one pending reap per delay serves every release before it (a stop of 200
        children reaps a handful of times, not 400).
        """
        loop = asyncio.get_running_loop()
        self._last_release = loop.time()
        for delay in REAP_AFTER:
            if delay not in self._reaps_due:
                self._reaps_due[delay] = loop.call_later(delay, self._reap_now, delay)

    def _reap_now(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        due = self._reaps_due.pop(delay).when()
        descendants.reap(self._own_children())
        if self._last_release + delay > due:  # released since this reap was planned
            self._reaps_due[delay] = loop.call_at(self._last_release + delay, self._reap_now, delay)

    def holds(self, proc: asyncio.subprocess.Process) -> bool:
        """Whether ``proc`` is still this agent's to release (running, or what it left)."""
        return proc.pid in self._live

    async def release(self, proc: asyncio.subprocess.Process) -> None:
        """Forget an exited child, killing whatever it left running in its group.

        Only the first call for a child acts (stop and watch both release it).
        """
        if self._live.pop(proc.pid, None) is None:
            return
        signal_group(proc.pid, signal.SIGKILL)
        self._origins.pop(proc.pid, None)
        self._forget_in_reaper(proc.pid)
        if self.subreaper:
            self._reap_later()

    async def watch(
        self,
        proc: asyncio.subprocess.Process,
        sink: Callable[[Stream, bytes], None],
        time_limit: float | None = None,
        on_timeout: Callable[[], None] | None = None,
        partial: Callable[[Stream, bytes], None] | None = None,
        max_line: int = MAX_LINE,
        spare_descendants: bool = False,
    ) -> int | None:
        """Pump the child's output into ``sink`` until it exits, then release its group.

        ``sink`` gets blocks of complete lines (``console.output.lines``), ``partial``
        a line left unfinished for a while. After ``time_limit`` seconds the child is
        stopped by the ladder. Once it exits, its output gets a moment to drain:
        something it left running may hold the pipe. With ``spare_descendants``,
        what it left running is not killed: the caller watches it (``descendants``)
        and releases the child once it is gone.
        """

        async def pump(reader: asyncio.StreamReader | None, stream: Stream) -> None:
            if reader is not None:
                await pump_output(
                    reader.read,
                    lambda block: sink(stream, block),
                    (lambda text: partial(stream, text)) if partial is not None else None,
                    max_line,
                )

        pumps = asyncio.gather(pump(proc.stdout, Stream.STDOUT), pump(proc.stderr, Stream.STDERR))
        try:
            await asyncio.wait_for(exited(proc), time_limit)
        except TimeoutError:
            if on_timeout is not None:
                on_timeout()
            await self.stop(proc, grace=3.0)
        if not pumps.done():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DRAIN_AFTER_EXIT):
                    await asyncio.shield(pumps)
        # Released already (a stop ended it): its descendants were seen to then.
        if self.holds(proc) and not (spare_descendants and self.descendants(self.origin(proc))):
            await self.release(proc)
        if pumps.done():
            await pumps
        else:
            # A descendant outside the group (a daemon) holds the pipe: its output goes on
            # flowing to the sink until it closes it or is stopped.
            self._leftover_pumps.add(pumps)
            pumps.add_done_callback(self._leftover_pumps.discard)
        return proc.returncode

    async def stop(
        self,
        proc: asyncio.subprocess.Process,
        grace: float = 5.0,
        polite: Callable[[], Awaitable[object]] | None = None,
        polite_wait: float = 3.0,
    ) -> int | None:
        """The termination ladder: polite request, SIGTERM to the group, SIGKILL."""
        if polite is not None and proc.returncode is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(polite(), polite_wait)
            await _wait(proc, polite_wait)
        if proc.returncode is None:
            signal_group(proc.pid, signal.SIGTERM)
            await _wait(proc, grace)
        if proc.returncode is None:
            log.warning("pid %s ignored SIGTERM for %.1fs; killing it", proc.pid, grace)
            signal_group(proc.pid, signal.SIGKILL)
            await proc.wait()
        await self.stop_descendants(self.descendants(self.origin(proc)), grace)
        await self.release(proc)
        return proc.returncode

    async def close(self, grace: float = 5.0) -> None:
        """Stop every child still running, then let the reaper go."""
        await asyncio.gather(*(self.stop(p, grace) for p in list(self._live.values())))
        # Daemons whose first process is gone: anything still carrying this agent's mark.
        await self.stop_descendants(list(self._marked(self._origin_prefix)), grace)
        for pumps in list(self._leftover_pumps):
            pumps.cancel()
        self._flush_removals()
        if self._reaper is not None and self._reaper.stdin is not None:
            self._reaper.stdin.close()
            await self._reaper.wait()
            self._reaper = None
        if self.subreaper:
            self.subreaper = not descendants.become_subreaper(False)

    async def _tell_reaper(self, line: str) -> None:
        if self._reaper is None or self._reaper.stdin is None:
            return
        self._reaper.stdin.write(f"{line}\n".encode())
        with contextlib.suppress(ConnectionError):
            await self._reaper.stdin.drain()

    def _forget_in_reaper(self, pid: int) -> None:
        """Tell the reaper a group is gone, in one write per loop turn for all such news
        (a stop of 200 children makes one system call, not 200); a new group is told at once.
        """
        self._reaper_removals.append(f"-{pid}\n")
        if len(self._reaper_removals) == 1:
            asyncio.get_running_loop().call_soon(self._flush_removals)

    def _flush_removals(self) -> None:
        news, self._reaper_removals = "".join(self._reaper_removals), []
        if news and self._reaper is not None and self._reaper.stdin is not None:
            self._reaper.stdin.write(news.encode())


async def _wait(proc: asyncio.subprocess.Process, seconds: float) -> None:
    # asyncio.timeout, not wait_for: no task per child (3.11's wait_for makes one).
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await exited(proc)


async def exited(proc: asyncio.subprocess.Process) -> int:
    """The child's exit status, as soon as it exits.

    ``Process.wait()`` (Python 3.11) also waits for its pipes to close, which a
    grandchild left running can hold open for ever; the exit itself is what
    supervision needs, and a :class:`Child` knows it the moment it is reaped.
    """
    if isinstance(proc, Child):
        return await proc.exited()
    return await proc.wait()
