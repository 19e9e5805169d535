"""The process service: Procfile processes, supervised and restarted with backoff. No HTTP here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections import deque
from dataclasses import replace
from pathlib import Path

import httpx

from console.agent import descendants
from console.agent.children import Children
from console.agent.disk import describe_full_disk, is_disk_full
from console.agent.downloads import download_client
from console.agent.events import EventBus
from console.agent.process_logs import ProcessLog, RotatingFile
from console.agent.process_source import prepare_source, workdir_of
from console.agent.process_spec import (
    NAME,
    InvalidSpec,
    ProcessSpec,
    SlugTaken,
    UnknownProcess,
    parse_spec,
)
from console.agent.procfile import ProcfileEntry
from console.agent.sources import DEFAULT_LIMITS, Limits, SourceError
from console.agent.supervision_end import finish
from console.models import ProcessExit, ProcessState, ProcessStatus, RestartPolicy
from console.output.budget import DEFAULT_BUDGET, OutputBudget

log = logging.getLogger(__name__)

__all__ = [
    "NAME",
    "InvalidSpec",
    "ManagedProcess",
    "ProcessService",
    "ProcessSpec",
    "SlugTaken",
    "UnknownProcess",
    "parse_spec",
]

DEFAULT_POLICY = RestartPolicy()
EXIT_HISTORY = 20
"""Ends of runs each process remembers (its details show them)."""


class ManagedProcess:
    """One process: its source, its runs, its restarts and its log, driven by one task."""

    def __init__(self, spec: ProcessSpec, service: ProcessService) -> None:
        self.spec = spec
        self.service = service
        self.log = ProcessLog(service.budget, service.ring_share)
        self.status = ProcessStatus(
            spec.app, spec.node, spec.slug, ProcessState.PENDING, spec.process_type
        )
        self.workdir: Path | None = None
        self.entry: ProcfileEntry | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._origin: str | None = None
        self._daemons: list[int] = []
        self._spared: asyncio.subprocess.Process | None = None
        """The last run's main process, kept by Children until what it left running is gone."""
        """Descendants left running when the main process exited (it daemonized)."""
        self._wanted = True
        self._deleted = False
        self._stops = 0
        self._request: str | None = None
        """What the operator asked last (``"restart"``, ``"stop"``): the end it causes is theirs."""
        self.exits: deque[ProcessExit] = deque(maxlen=EXIT_HISTORY)
        """How the last runs ended, oldest first."""
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def begin(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name=f"process {self.spec.slug}")

    def _set(self, state: ProcessState, **changes: object) -> None:
        if state is not ProcessState.BACKOFF:
            changes.setdefault("retry_at", None)
        self.status = replace(self.status, state=state, next_seq=self.log.next_seq, **changes)
        events = self.service.events
        if events.wanted("process"):  # a stop of 200 changes 400 states: build none unheard
            events.publish("process", self.status.to_wire())
        self._changed.set()
        if state.failed:
            log.warning("process %s: %s (%s)", self.spec.slug, state, self.status.message)

    async def _supervise(self) -> None:
        try:
            await self._prepare()
        except SourceError as exc:
            self._set(ProcessState(exc.state), message=exc.message)
            return
        except OSError as exc:  # the apps dir cannot be written (a full disk): fail, never hang
            where = self.service.apps_dir / self.spec.slug
            message = describe_full_disk(where) if is_disk_full(exc) else f"cannot prepare: {exc}"
            self._set(ProcessState.DOWNLOAD_FAILURE, message=message)
            return
        quick_failures = 0
        policy = self.service.policy
        while not self._deleted:
            self.status = replace(self.status, failures=quick_failures)
            if not self._wanted:
                self._set(ProcessState.STOPPED, pid=None)
                await self._wait_until_wanted()
                quick_failures = 0
            if self._deleted:
                return
            started = time.time()
            stops = self._stops
            exit_code = await self._run_once()
            if not self._wanted or self._stops != stops:
                # Stopped or restarted on purpose: not a failure, and a fresh start after.
                quick_failures = 0
                continue
            await self._watch_daemons(exit_code, stops)
            if not self._wanted or self._stops != stops:
                continue
            stable = time.time() - started >= policy.stable_after
            quick_failures = 0 if stable else quick_failures + 1
            if quick_failures >= policy.max_quick_failures:
                self._set(
                    ProcessState.FATAL,
                    pid=None,
                    failures=quick_failures,
                    message=f"exited {quick_failures} times in a row within "
                    f"{policy.stable_after:g}s (last exit {exit_code})",
                )
                self._wanted = False
                await self._wait_until_wanted()
                quick_failures = 0
                continue
            delay = policy.delay(quick_failures)
            self._set(
                ProcessState.BACKOFF,
                pid=None,
                message=f"restarting in {delay:.1f}s",
                failures=quick_failures,
                retry_at=time.time() + delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            if self._stops != stops:
                quick_failures = 0  # restarted or stopped by the operator while waiting

    async def _watch_daemons(self, exit_code: int | None, stops: int) -> None:
        """When the main process left descendants running, report them and wait for their end.

        Restarting would start one more copy each time (a daemon leak); instead they are
        watched, and ``stop``, ``delete`` and the agent's exit end them by the ladder.
        """
        children = self.service.children
        try:
            await self._report_daemons(exit_code, stops)
        finally:
            if self._spared is not None:
                await children.release(self._spared)  # its group, if anything is left
                self._spared = None

    async def _report_daemons(self, exit_code: int | None, stops: int) -> None:
        children = self.service.children
        if self._spared is not None and not children.holds(self._spared):
            return  # released when it exited: it left nothing running
        self._daemons = await children.find_descendants(self._origin)
        if not self._daemons:
            return
        pids = ", ".join(map(str, self._daemons))
        self._set(
            ProcessState.DAEMONIZED,
            pid=None,
            message=f"main process exited {exit_code}, leaving pid {pids} running; "
            "not restarted, stopped with the process",
        )
        while self._daemons and self._wanted and self._stops == stops:
            await descendants.wait_gone(self._daemons, 1.0)
            self._daemons = await children.find_descendants(self._origin)
        self._daemons = []

    async def _wait_until_wanted(self) -> None:
        while not self._wanted and not self._deleted:
            self._wake.clear()
            await self._wake.wait()
        self._wake.clear()

    async def _prepare(self) -> None:
        service = self.service
        self.workdir = workdir_of(self.spec, service.apps_dir)
        self.entry = await prepare_source(
            self.spec, self.workdir, service.http, service.limits, self._set
        )

    @property
    def command(self) -> str | None:
        return self.entry.command if self.entry is not None else None

    def own_environment(self) -> dict[str, str]:
        """PORT (foreman's convention), the Procfile line's, the request's: what the process
        gets on top of the agent's environment (only the request's before it is prepared)."""
        if self.entry is None:
            return dict(self.spec.env)
        return {"PORT": str(self.entry.port)} | self.entry.env | self.spec.env

    def _environment(self) -> dict[str, str]:
        return os.environ | self.own_environment()

    async def _run_once(self) -> int | None:
        """Start the command, pump its output into the log, and wait for it to exit."""
        assert self.command is not None and self.workdir is not None
        stops = self._stops
        self._set(ProcessState.STARTING, message=None)
        try:
            proc = await self.service.children.spawn(
                ["/bin/sh", "-c", self.command],
                env=self._environment(),
                cwd=self.workdir,
            )
        except OSError as exc:
            self._set(ProcessState.STARTING, message=f"cannot start: {exc}")
            return None
        self._proc = proc
        self._origin = self.service.children.origin(proc)
        if not self._wanted:
            # A stop arrived while it was being spawned: honour it now.
            await self.service.children.stop(proc, self.service.policy.stop_grace)
            self._proc = None
            self._note_exit(proc.returncode, stops, time.time())
            return proc.returncode
        started = time.time()
        self._set(
            ProcessState.RUNNING,
            pid=proc.pid,
            started_at=started,
            restarts=self.status.restarts + (1 if self.status.started_at else 0),
        )
        exit_code = await self.service.children.watch(
            proc,
            self.log.append,
            partial=self.log.set_partial,
            max_line=self.service.budget.max_line_bytes,
            spare_descendants=True,
        )
        self._spared = proc
        self._proc = None
        self._note_exit(exit_code, stops, started)
        return exit_code

    def _note_exit(self, code: int | None, stops: int, started: float) -> None:
        """Remember how a run ended; a stop or restart asked since it began is the operator's."""
        request = self._request if self._stops != stops else None
        now = time.time()
        self.exits.append(ProcessExit(now, code, request, max(0.0, now - started)))
        self.status = replace(self.status, last_exit=code, last_exit_request=request)

    async def stop(self, request: str = "stop") -> None:
        """End the run (the termination ladder) and start no other; ``request`` names why."""
        self._wanted = False
        self._request = request
        self._stops += 1
        self._wake.set()
        proc = self._proc
        if proc is not None:
            self._set(ProcessState.STOPPING)
            await self.service.children.stop(proc, self.service.policy.stop_grace)
        if self._daemons:
            self._set(ProcessState.STOPPING)
            await self.service.children.stop_descendants(
                self._daemons, self.service.policy.stop_grace
            )

    async def settle(self, limit: float = 2.0) -> ProcessStatus:
        """The status once it stops moving on its own (or after ``limit`` seconds)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):
                while not self._settled():
                    self._changed.clear()
                    await self._changed.wait()
        return self.status

    def _settled(self) -> bool:
        state = self.status.state
        if state is ProcessState.STOPPED:
            return not self._wanted  # stopped on the way to a restart does not count
        return state.settled or state is ProcessState.BACKOFF

    def start(self) -> None:
        self._wanted = True
        self._wake.set()

    async def restart(self) -> None:
        await self.stop("restart")
        self.start()

    async def delete(self) -> None:
        """Stop for good; the supervising task ends by itself (cancelled if still preparing)."""
        self._deleted = True
        await self.stop()
        if self._task is not None:
            await finish(self._task)
        self.log.close()
        # What we unpacked goes with it (a full disk is freed by deleting); a folder
        # given as the source is the operator's own and stays.
        if self.workdir == self.service.apps_dir / self.spec.slug:
            await asyncio.to_thread(shutil.rmtree, self.workdir, True)


class ProcessService:
    """Every process of this agent, by slug."""

    def __init__(
        self,
        data_dir: Path,
        children: Children,
        events: EventBus,
        policy: RestartPolicy = DEFAULT_POLICY,
        limits: Limits = DEFAULT_LIMITS,
        log_dir: Path | None = None,
        budget: OutputBudget = DEFAULT_BUDGET,
    ) -> None:
        self.apps_dir = data_dir / "apps"
        self.apps_dir.mkdir(parents=True, exist_ok=True)
        self.children = children
        self.events = events
        self.policy = policy
        self.limits = limits
        self.log_dir = log_dir
        self.budget = budget
        self.http = download_client(limits, httpx.Timeout(30.0, connect=10.0))
        self._processes: dict[str, ManagedProcess] = {}

    def list(self) -> list[ProcessStatus]:
        return [self._current(p) for p in self._processes.values()]

    def processes(self) -> list[ManagedProcess]:
        """Every process, in the order they were created."""
        return list(self._processes.values())

    def get(self, slug: str) -> ManagedProcess:
        try:
            return self._processes[slug]
        except KeyError:
            raise UnknownProcess(slug) from None

    def status(self, slug: str) -> ProcessStatus:
        return self._current(self.get(slug))

    @staticmethod
    def _current(process: ManagedProcess) -> ProcessStatus:
        return replace(process.status, next_seq=process.log.next_seq)

    def ring_share(self) -> int:
        """Bytes each process's log ring may hold: an equal share of the budget of all rings."""
        return self.budget.total_ring_bytes // max(1, len(self._processes))

    def create(self, spec: ProcessSpec) -> ProcessStatus:
        if spec.slug in self._processes:
            raise SlugTaken(spec.slug)
        process = ManagedProcess(spec, self)
        if self.log_dir is not None:
            process.log.file = RotatingFile(self.log_dir / f"{spec.slug}.log")
        self._processes[spec.slug] = process
        for other in self._processes.values():
            other.log.trim()  # one more process: every ring's share shrinks now
        self.events.publish("process", process.status.to_wire())
        process.begin()
        return process.status

    async def delete(self, slug: str) -> None:
        process = self.get(slug)
        del self._processes[slug]
        await process.delete()
        self.events.publish("process.deleted", {"slug": slug})

    async def close(self) -> None:
        """Stop every process (in parallel) and wait for them."""
        await asyncio.gather(*(p.delete() for p in self._processes.values()))
        self._processes.clear()
        await self.http.aclose()
