"""The scripts service: the catalog, runs with params, and their history. No HTTP here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from console.agent.children import Children
from console.agent.events import EventBus
from console.agent.run_history import RunHistory
from console.agent.script_catalog import CatalogEntry, scan
from console.models import (
    OutputMode,
    RunEvent,
    RunFinished,
    RunOutput,
    RunResult,
    RunStarted,
    RunWaiting,
    Script,
    Stream,
)
from console.output.budget import DEFAULT_BUDGET
from console.output.lines import decode_lines

log = logging.getLogger(__name__)


class HeldOutput:
    """A run's output lines, the newest kept within a byte budget; says how many went."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.lines: deque[tuple[Stream, str]] = deque()
        self.size = 0
        self.dropped = 0

    def add(self, stream: Stream, text: str) -> None:
        self.lines.append((stream, text))
        self.size += len(text) + LINE_COST
        while self.size > self.budget and len(self.lines) > 1:
            self.size -= len(self.lines.popleft()[1]) + LINE_COST
            self.dropped += 1

    def kept(self) -> list[tuple[Stream, str]]:
        """The lines kept, led by a note of how many older ones were dropped."""
        note = [(Stream.STDERR, f"[opsconsole: {self.dropped} lines dropped]")]
        return (note if self.dropped else []) + list(self.lines)


LINE_COST = 80
"""Bytes a held line costs beyond its text (its string header, its tuple, its deque slot)."""


class UnknownScript(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"Script with name '{name}' not found")


class ScriptService:
    """Runs catalog scripts, one lock per ``lock: True`` script, and records every run."""

    def __init__(self, directory: Path | None, history: RunHistory, children: Children) -> None:
        self.directory = directory
        self.history = history
        self.children = children
        self._catalog: dict[str, CatalogEntry] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._runs: set[asyncio.Task[None]] = set()
        self.events: EventBus | None = None
        self.budget = DEFAULT_BUDGET
        self.reload()

    def reload(self) -> None:
        self._catalog = scan(self.directory) if self.directory else {}
        log.info("script catalog: %d scripts from %s", len(self._catalog), self.directory)

    @property
    def scripts(self) -> dict[str, Script]:
        return {name: entry.script for name, entry in self._catalog.items()}

    def get(self, name: str) -> Script:
        try:
            return self._catalog[name].script
        except KeyError:
            raise UnknownScript(name) from None

    async def run(self, name: str, params: dict[str, object]) -> RunResult:
        """Run to the end and answer as the compatible API does."""
        script = self.get(name)
        held = HeldOutput(self.budget.script_output_bytes)
        retcode = -1
        async for event in self.stream(name, params):
            if isinstance(event, RunOutput):
                held.add(event.stream, event.text)
            elif isinstance(event, RunFinished):
                retcode = event.retcode
        kept = held.kept()
        stdout = [text for stream, text in kept if stream is not Stream.STDERR]
        stderr = [text for stream, text in kept if stream is Stream.STDERR]
        if script.output is not OutputMode.SPLIT:
            return RunResult(retcode, [text for _, text in kept], None)
        return RunResult(retcode, stdout, stderr)

    async def stream(self, name: str, params: dict[str, object]) -> AsyncIterator[RunEvent]:
        """Run and yield its events as they happen.

        The run goes on to its end even when the caller stops listening (a
        dropped client must not leave a deploy half done); it is recorded either way.
        """
        entry = self._catalog.get(name)
        if entry is None:
            raise UnknownScript(name)
        queue: asyncio.Queue[RunEvent | BaseException] = asyncio.Queue()
        listeners = [queue.put_nowait]
        task = asyncio.create_task(self._execute(entry, _declared(entry.script, params), listeners))
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)
        # A run that fails before its end (its history cannot be written: a full disk)
        # raises here, rather than leaving its caller waiting for a RunFinished.
        task.add_done_callback(lambda done: _put_failure(done, queue))
        try:
            while True:
                event = await queue.get()
                if isinstance(event, BaseException):
                    raise event
                yield event
                if isinstance(event, RunFinished):
                    return
        finally:
            listeners.clear()

    async def _execute(
        self, entry: CatalogEntry, params: dict[str, str], listeners: list[Callable]
    ) -> None:
        def emit(event: RunEvent) -> None:
            for listener in listeners:
                listener(event)

        script = entry.script
        lock = self._locks.setdefault(script.name, asyncio.Lock()) if script.lock else None
        if lock is not None and lock.locked():
            emit(RunWaiting(script.name))
        async with lock or contextlib.nullcontext():
            started = time.time()
            run_id = await asyncio.to_thread(
                self.history.begin, script.name, script.mask(params), started
            )
            emit(RunStarted(run_id, started))
            output = HeldOutput(self.budget.script_output_bytes)

            def collect(stream: Stream, text: str) -> None:
                output.add(stream, text)
                emit(RunOutput(stream, text))

            retcode = await self._spawn_and_wait(entry, params, collect)
            duration = time.time() - started
            try:
                await asyncio.to_thread(
                    self.history.finish, run_id, retcode, duration, output.kept()
                )
            except (OSError, sqlite3.Error) as exc:
                # The run happened: say so to its caller, and why its record stays unfinished.
                log.error("script %s run %s not recorded: %s", script.name, run_id, exc)
                collect(Stream.STDERR, f"opsconsole: this run could not be recorded: {exc}")
        log.info("script %s run %s ended with %s in %.2fs", script.name, run_id, retcode, duration)
        emit(RunFinished(run_id, retcode, duration))
        if self.events is not None:
            self.events.publish(
                "script.run",
                {
                    "script": script.name,
                    "run_id": run_id,
                    "retcode": retcode,
                    "duration": duration,
                    "params": script.mask(params),
                },
            )

    async def _spawn_and_wait(
        self, entry: CatalogEntry, params: dict[str, str], collect: Callable[[Stream, str], None]
    ) -> int:
        env = os.environ | {key.upper(): value for key, value in params.items()}
        try:
            proc = await self.children.spawn(
                # Absolute: the child starts in the script's own directory (cwd below).
                [str(entry.path.absolute())],
                env=env,
                cwd=entry.path.parent,
                merge_stderr=entry.script.output is OutputMode.COMBINED,
            )
        except OSError as exc:
            collect(Stream.STDERR, f"cannot start {entry.script.filename}: {exc.strerror or exc}")
            return 126

        def on_timeout() -> None:
            collect(Stream.STDERR, f"timed out after {entry.script.timeout:g}s; stopping it")

        def sink(stream: Stream, block: bytes) -> None:
            for line in decode_lines(block):
                collect(stream, line)

        retcode = await self.children.watch(
            proc, sink, entry.script.timeout, on_timeout, max_line=self.budget.max_line_bytes
        )
        return retcode if retcode is not None else -1

    async def close(self) -> None:
        """Wait for the runs in flight (their children are being stopped by now)."""
        if self._runs:
            await asyncio.wait(self._runs, timeout=10)


def _put_failure(task: asyncio.Task[None], queue: asyncio.Queue[RunEvent | BaseException]) -> None:
    if not task.cancelled() and task.exception() is not None:
        queue.put_nowait(task.exception())


def _declared(script: Script, params: dict[str, object]) -> dict[str, str]:
    """Only declared params reach the script; a missing one is an empty string."""
    return {p.name: _text(params.get(p.name, "")) for p in script.params}


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
