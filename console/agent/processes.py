"""The process service: Procfile processes, supervised and restarted with backoff. No HTTP here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from console.agent.children import Children
from console.agent.disk import describe_full_disk, is_disk_full
from console.agent.downloads import download, download_client
from console.agent.events import EventBus
from console.agent.process_logs import ProcessLog, RotatingFile
from console.agent.sources import (
    DEFAULT_LIMITS,
    Limits,
    SourceError,
    local_path,
    read_procfile,
    unpack,
)
from console.models import ProcessState, ProcessStatus, RestartPolicy

log = logging.getLogger(__name__)

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class ProcessSpec:
    """What a create request asks for."""

    app: str
    node: str
    process_type: str
    source_url: str
    env: dict[str, str]

    @property
    def slug(self) -> str:
        return f"{self.app}.{self.node}"


DEFAULT_POLICY = RestartPolicy()


class InvalidSpec(ValueError):
    pass


class UnknownProcess(LookupError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"No process with slug '{slug}'")


class SlugTaken(ValueError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"A process with slug '{slug}' exists already")


def parse_spec(body: dict[str, object]) -> ProcessSpec:
    """Validate a create request; every problem is one InvalidSpec with a clear message."""
    fields = {}
    for key in ("app", "node", "process_type", "source_url"):
        value = body.get(key)
        if not isinstance(value, str) or not value.strip():
            raise InvalidSpec(f"'{key}' must be a non-empty string")
        fields[key] = value.strip()
    for key in ("app", "node"):
        if not NAME.match(fields[key]):
            raise InvalidSpec(f"'{key}' may hold only letters, digits, '_', '.' and '-'")
    env = body.get("env", {})
    if env is None:
        env = {}
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise InvalidSpec("'env' must map strings to strings")
    return ProcessSpec(env=dict(env), **fields)


class ManagedProcess:
    """One process: its source, its runs, its restarts and its log, driven by one task."""

    def __init__(self, spec: ProcessSpec, service: ProcessService) -> None:
        self.spec = spec
        self.service = service
        self.log = ProcessLog()
        self.status = ProcessStatus(
            spec.app, spec.node, spec.slug, ProcessState.PENDING, spec.process_type
        )
        self.workdir: Path | None = None
        self.command: str | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._wanted = True
        self._deleted = False
        self._stops = 0
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def begin(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name=f"process {self.spec.slug}")

    def _set(self, state: ProcessState, **changes: object) -> None:
        self.status = replace(self.status, state=state, next_seq=self.log.next_seq, **changes)
        self.service.events.publish("process", self.status.to_wire())
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
                continue  # stopped or restarted on purpose: not a failure
            stable = time.time() - started >= policy.stable_after
            quick_failures = 0 if stable else quick_failures + 1
            if quick_failures >= policy.max_quick_failures:
                self._set(
                    ProcessState.FATAL,
                    pid=None,
                    message=f"exited {quick_failures} times in a row within "
                    f"{policy.stable_after:g}s (last exit {exit_code})",
                )
                self._wanted = False
                await self._wait_until_wanted()
                quick_failures = 0
                continue
            delay = policy.delay(quick_failures)
            self._set(ProcessState.BACKOFF, pid=None, message=f"restarting in {delay:.1f}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()

    async def _wait_until_wanted(self) -> None:
        while not self._wanted and not self._deleted:
            self._wake.clear()
            await self._wake.wait()
        self._wake.clear()

    async def _prepare(self) -> None:
        source = self.spec.source_url
        folder = local_path(source)
        if folder is not None and folder.is_dir():
            self.workdir = folder
        else:
            self.workdir = self.service.apps_dir / self.spec.slug
            shutil.rmtree(self.workdir, ignore_errors=True)
            with tempfile.TemporaryDirectory(dir=self.service.apps_dir) as scratch:
                archive = Path(scratch) / "source"
                content_type = ""
                if folder is not None:
                    if not folder.is_file():
                        raise SourceError("download failure", f"no such file or folder: {folder}")
                    archive = folder
                else:
                    self._set(ProcessState.DOWNLOADING)
                    content_type = await download(
                        source, archive, self.service.http, self.service.limits
                    )
                self._set(ProcessState.UNPACKING)
                await asyncio.to_thread(
                    unpack, archive, self.workdir, content_type, self.service.limits
                )
        self._set(ProcessState.PROCESSING)
        commands = await asyncio.to_thread(read_procfile, self.workdir)
        if self.spec.process_type not in commands:
            known = ", ".join(sorted(commands)) or "none"
            raise SourceError(
                "unknown process type",
                f"the Procfile has no '{self.spec.process_type}' (it has: {known})",
            )
        self.command = commands[self.spec.process_type]

    async def _run_once(self) -> int | None:
        """Start the command, pump its output into the log, and wait for it to exit."""
        assert self.command is not None and self.workdir is not None
        self._set(ProcessState.STARTING, message=None)
        try:
            proc = await self.service.children.spawn(
                ["/bin/sh", "-c", self.command],
                env=os.environ | self.spec.env,
                cwd=self.workdir,
            )
        except OSError as exc:
            self._set(ProcessState.STARTING, message=f"cannot start: {exc}")
            return None
        self._proc = proc
        if not self._wanted:
            # A stop arrived while it was being spawned: honour it now.
            await self.service.children.stop(proc, self.service.policy.stop_grace)
            self._proc = None
            return proc.returncode
        self._set(
            ProcessState.RUNNING,
            pid=proc.pid,
            started_at=time.time(),
            restarts=self.status.restarts + (1 if self.status.started_at else 0),
        )
        exit_code = await self.service.children.watch(proc, self.log.append)
        self._proc = None
        self.status = replace(self.status, last_exit=exit_code)
        return exit_code

    async def stop(self) -> None:
        self._wanted = False
        self._stops += 1
        self._wake.set()
        proc = self._proc
        if proc is not None:
            self._set(ProcessState.STOPPING)
            await self.service.children.stop(proc, self.service.policy.stop_grace)

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
        await self.stop()
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


async def finish(task: asyncio.Task[None], patience: float = 1.0) -> None:
    """Wait for ``task`` to end, cancelling it if it takes longer than ``patience``.

    Cancelling is repeated: on Python 3.11 ``wait_for`` can swallow a cancellation.
    """
    while not task.done():
        await asyncio.wait({task}, timeout=patience)
        task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception:  # it ended the process's supervision: logged, never the deleter's error
        log.exception("process supervision failed")


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
    ) -> None:
        self.apps_dir = data_dir / "apps"
        self.apps_dir.mkdir(parents=True, exist_ok=True)
        self.children = children
        self.events = events
        self.policy = policy
        self.limits = limits
        self.log_dir = log_dir
        self.http = download_client(limits, httpx.Timeout(30.0, connect=10.0))
        self._processes: dict[str, ManagedProcess] = {}

    def list(self) -> list[ProcessStatus]:
        return [self._current(p) for p in self._processes.values()]

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

    def create(self, spec: ProcessSpec) -> ProcessStatus:
        if spec.slug in self._processes:
            raise SlugTaken(spec.slug)
        process = ManagedProcess(spec, self)
        if self.log_dir is not None:
            process.log.file = RotatingFile(self.log_dir / f"{spec.slug}.log")
        self._processes[spec.slug] = process
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
