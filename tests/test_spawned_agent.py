"""The local agent the console spawns: ready before use, gone after, even if the console crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from console.adapters.connect import SpawnedAgent
from console.adapters.errors import Unavailable


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pid: int, bound: float = 10.0) -> bool:
    deadline = time.monotonic() + bound
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


async def test_spawned_agent_serves_and_is_stopped_on_close(
    scripts_dir: Path, tmp_path: Path
) -> None:
    spawned = SpawnedAgent(
        ["--scripts", str(scripts_dir), "--data-dir", str(tmp_path / "data")],
        log_file=tmp_path / "agent.log",
    )
    client = await spawned.connect()
    assert spawned.process is not None
    agent_pid = spawned.process.pid
    helpers = children_of(agent_pid)  # the reaper
    assert (await client.scripts.run("echo", {"text": "up"})).stdout == ["up"]
    await spawned.close()
    assert not alive(agent_pid)
    assert all(wait_gone(pid) for pid in helpers)
    assert "agent ready" in (tmp_path / "agent.log").read_text()


async def test_an_agent_that_cannot_start_is_reported(tmp_path: Path) -> None:
    spawned = SpawnedAgent(["--scripts", str(tmp_path / "missing")], log_file=tmp_path / "log")
    with pytest.raises(Unavailable, match="did not start"):
        await spawned.connect()
    assert spawned.process is None
    assert "no such directory" in (tmp_path / "log").read_text()


def test_agent_dies_with_a_console_killed_by_sigkill(scripts_dir: Path, tmp_path: Path) -> None:
    console = textwrap.dedent(
        f"""
        import asyncio
        from console.adapters.connect import SpawnedAgent

        async def main():
            spawned = SpawnedAgent(["--scripts", {str(scripts_dir)!r},
                                    "--data-dir", {str(tmp_path / "data")!r}])
            await spawned.connect()
            print(spawned.process.pid, flush=True)
            await asyncio.sleep(600)

        asyncio.run(main())
        """
    )
    process = subprocess.Popen([sys.executable, "-c", console], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    agent_pid = int(process.stdout.readline())
    reaper_pids = children_of(agent_pid)
    assert alive(agent_pid)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stdout.close()
    assert wait_gone(agent_pid), "the agent outlived its console"
    assert all(wait_gone(pid) for pid in reaper_pids)
