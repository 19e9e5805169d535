"""Spawning children: the parent-death wrapper, exits known at once, no thread per child."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from console.agent.children import Children, exited
from console.agent.spawning import SETPRIV, lifeline_argv
from tests.test_agent_lifecycle import eventually, markers, pids_with_argument, process_state

needs_setpriv = pytest.mark.skipif(SETPRIV is None, reason="no setpriv (util-linux) here")

EXIT_BOUND = 10.0
"""Seconds an exit may take to be noticed: a correctness bound, not a timing."""


@needs_setpriv
def test_the_wrapper_execs_the_command_in_place() -> None:
    child = subprocess.Popen(
        lifeline_argv(["/bin/sh", "-c", 'echo "$$ $0"; exit 4', "named"], os.getpid()),
        stdout=subprocess.PIPE,
        text=True,
    )
    output, _ = child.communicate(timeout=30)
    assert child.returncode == 4
    assert output.split() == [str(child.pid), "named"], "same pid, arguments intact"


@needs_setpriv
def test_a_child_whose_agent_is_gone_never_runs_its_command(tmp_path: Path) -> None:
    # Told of an agent that is not its parent (as when the agent died before the
    # death signal was armed), the wrapper stops before the command runs.
    witness = tmp_path / "ran"
    not_the_parent = os.getppid()
    child = subprocess.run(
        lifeline_argv(["touch", str(witness)], not_the_parent), timeout=30, capture_output=True
    )
    assert child.returncode == 125
    assert not witness.exists()


@needs_setpriv
def test_a_wrapped_child_dies_with_its_parent() -> None:
    marker, _ = markers()
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, subprocess, sys, time\n"
            "from console.agent.spawning import lifeline_argv\n"
            f"child = subprocess.Popen(lifeline_argv(['sleep', '{marker}'], os.getpid()),"
            " start_new_session=True)\n"
            "print(child.pid, flush=True)\n"
            "time.sleep(300)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    assert eventually(lambda: child_pid in pids_with_argument(marker)), "the command never ran"
    parent.kill()
    parent.wait(30)
    parent.stdout.close()
    # Its own session and group: only the parent-death signal can reach it.
    assert eventually(lambda: process_state(child_pid) is None), "it outlived its parent"


async def test_a_missing_or_unrunnable_program_is_an_error_at_spawn(tmp_path: Path) -> None:
    not_executable = tmp_path / "script.sh"
    not_executable.write_text("#!/bin/sh\necho hi\n")
    runnable = tmp_path / "run.sh"
    runnable.write_text("#!/bin/sh\nexit 5\n")
    runnable.chmod(0o755)
    children = Children()
    await children.start()
    try:
        with pytest.raises(FileNotFoundError):
            await children.spawn(["no-such-program-anywhere"])
        with pytest.raises(FileNotFoundError):
            await children.spawn([str(tmp_path / "absent.sh")])
        with pytest.raises(PermissionError):
            await children.spawn([str(not_executable)])
        with pytest.raises(PermissionError):
            await children.spawn([str(tmp_path)])
        with pytest.raises(FileNotFoundError):
            await children.spawn(["sleep", "1"], env={"PATH": str(tmp_path)})
        relative = await children.spawn(["./run.sh"], cwd=tmp_path, env={"PATH": "/nowhere"})
        assert await asyncio.wait_for(exited(relative), EXIT_BOUND) == 5
    finally:
        await children.close()


async def test_exit_is_known_while_a_grandchild_holds_the_output_open() -> None:
    marker, _ = markers()
    children = Children()
    await children.start()
    try:
        proc = await children.spawn(["/bin/sh", "-c", f"sleep {marker} & exit 3"])
        assert await asyncio.wait_for(exited(proc), EXIT_BOUND) == 3
        assert eventually(lambda: pids_with_argument(marker)), "the grandchild runs on"
        assert proc.stdout is not None and not proc.stdout.at_eof(), "and holds the pipe"
        await children.release(proc)
        assert eventually(lambda: not pids_with_argument(marker))
    finally:
        await children.close()


async def test_children_are_watched_without_a_thread_each() -> None:
    children = Children()
    await children.start()
    threads = threading.active_count()
    try:
        procs = [await children.spawn(["sleep", "60"]) for _ in range(20)]
        assert threading.active_count() == threads
        for proc in procs:
            os.kill(proc.pid, signal.SIGTERM)
        statuses = await asyncio.wait_for(
            asyncio.gather(*(exited(proc) for proc in procs)), EXIT_BOUND
        )
        assert statuses == [-signal.SIGTERM] * 20
        assert threading.active_count() == threads
    finally:
        await children.close()


async def test_a_child_that_exits_while_its_spawn_is_still_settling_keeps_its_status() -> None:
    # Each release schedules a sweep for adopted orphans; a sweep that fell between the
    # fork of a fast child and the end of its spawn took its exit status (255 for exit 0).
    children = Children()
    await children.start()
    try:

        async def run_quick_ones(count: int) -> list[int | None]:
            codes = []
            for _ in range(count):
                proc = await children.spawn(["/bin/sh", "-c", "exit 0"])
                codes.append(await asyncio.wait_for(children.watch(proc, lambda *_: None), 30))
            return codes

        batches = await asyncio.gather(*(run_quick_ones(30) for _ in range(4)))
        assert [code for batch in batches for code in batch] == [0] * 120
    finally:
        await children.close()
