"""Supervising 200 processes: opsconsole's agent beside supervisord, in the same run.

Both supervisors run the same command, ``/bin/sh -c 'exec sleep 100000'``, 200
times (quiet processes: this measures supervision, not log handling) and are
driven the way their own clients drive them: the agent through our adapter over
HTTP (bulk routes for start-all and stop-all), supervisord through its XML-RPC
interface (``startAllProcesses``, ``stopAllProcesses``, ``stopProcess`` +
``startProcess`` as ``supervisorctl restart`` does) with ``startsecs=0`` so that
"running" means the same thing on both sides: spawned and not yet exited. Every
step is checked (all running, all stopped, a new pid) before it counts.

Rounds alternate between the two sides so that load on a shared machine falls on
both alike; figures are medians. When supervisor is not installed
(``pip install supervisor``, a bench extra, never a runtime dependency) the
agent's figures are printed alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from collections.abc import Awaitable, Callable, Sequence, Set
from pathlib import Path

from console.adapters.agent import AgentClient
from console.adapters.connect import SpawnedAgent

COMMAND = "exec sleep 100000"
SUCCESS = 80
"""supervisor's ``Faults.SUCCESS``: the status of each result of a ``*AllProcesses`` call."""
APP = "bench"
READY_BOUND = 60.0
"""Seconds either supervisor may take to come up or settle: a correctness bound."""

Measure = Callable[[], Awaitable[None]]


class Side:
    """One supervisor under test: the steps, each checked, and its memory."""

    name = ""

    async def start_all(self) -> None: ...
    async def stop_all(self) -> None: ...
    async def restart_one(self) -> None: ...
    async def list_all(self) -> None: ...
    def cli_status(self) -> list[str]: ...
    def rss_kib(self) -> int: ...


class Agent(Side):
    """Our agent, spawned as ``opsconsole`` spawns it, reached through the adapter."""

    name = "opsconsole"

    def __init__(self, home: Path, count: int) -> None:
        self.home, self.count = home, count
        self.spawned = SpawnedAgent(["--data-dir", str(home / "agent")])
        self.client: AgentClient | None = None
        self.url = ""
        self.pid: int | None = None
        """worker 0's pid, to tell that a restart gave it a new one."""

    async def begin(self) -> None:
        app = self.home / "app"
        app.mkdir()
        (app / "Procfile").write_text(f"worker: {COMMAND}\n")
        self.client = await self.spawned.connect()
        await self.client.info()  # features: the bulk routes
        self.url = self.client.endpoint.base_url
        processes = self.client.processes
        for index in range(self.count):
            await processes.create(APP, f"worker.{index}", "worker", str(app))
        await self._until(lambda states: states == {"running"})
        await processes.control_many("stop")

    async def _until(self, done: Callable[[set[str]], bool]) -> None:
        assert self.client is not None
        deadline = time.monotonic() + READY_BOUND
        while not done({p.state.value for p in await self.client.processes.list()}):
            if time.monotonic() > deadline:
                raise RuntimeError("the agent's processes did not settle")
            await asyncio.sleep(0.05)

    async def start_all(self) -> None:
        assert self.client is not None
        answered = await self.client.processes.control_many("start")
        _check(len(answered) == self.count, [s.state.value for s in answered], {"running"})
        self.pid = next(s.pid for s in answered if s.slug == f"{APP}.worker.0")

    async def stop_all(self) -> None:
        assert self.client is not None
        answered = await self.client.processes.control_many("stop")
        _check(len(answered) == self.count, [s.state.value for s in answered], {"stopped"})

    async def restart_one(self) -> None:
        assert self.client is not None
        after = await self.client.processes.restart(f"{APP}.worker.0")
        _check(after.pid not in (None, self.pid), [after.state.value], {"running"})
        self.pid = after.pid

    async def list_all(self) -> None:
        assert self.client is not None
        _check(len(await self.client.processes.list()) == self.count)

    def cli_status(self) -> list[str]:
        return [sys.executable, "-m", "console", "ps", "--json", "--agent", self.url]

    def rss_kib(self) -> int:
        assert self.spawned.process is not None
        agent = self.spawned.process.pid
        return _rss_kib(agent) + sum(_rss_kib(pid) for pid in _helpers_of(agent))

    async def end(self) -> None:
        await self.spawned.close()


class Supervisord(Side):
    """supervisord with the same 200 programs, over its XML-RPC interface on loopback."""

    name = "supervisord"

    def __init__(self, home: Path, count: int) -> None:
        self.home, self.count = home, count
        self.config = home / "supervisord.conf"
        self.process: subprocess.Popen[bytes] | None = None
        self.rpc: xmlrpc.client.ServerProxy | None = None
        self.pid = 0

    async def begin(self) -> None:
        port = _free_port()
        logs = self.home / "supervisor-logs"
        logs.mkdir()
        programs = "".join(
            f"\n[program:worker{index}]\ncommand=/bin/sh -c '{COMMAND}'\nautostart=false\n"
            f"startsecs=0\nautorestart=true\nstopsignal=TERM\nstopwaitsecs=5\n"
            f"stdout_logfile={logs}/worker{index}.out\nstderr_logfile={logs}/worker{index}.err\n"
            for index in range(self.count)
        )
        self.config.write_text(
            f"[supervisord]\nnodaemon=true\nlogfile={self.home}/supervisord.log\n"
            f"pidfile={self.home}/supervisord.pid\nchildlogdir={logs}\n"
            f"[inet_http_server]\nport=127.0.0.1:{port}\n"
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
            f"[supervisorctl]\nserverurl=http://127.0.0.1:{port}\n{programs}"
        )
        self.process = _start_supervisord(self.config)
        self.rpc = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
        deadline = time.monotonic() + READY_BOUND
        while True:
            with contextlib.suppress(OSError, xmlrpc.client.Fault):
                if self.rpc.supervisor.getState()["statename"] == "RUNNING":
                    break
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"supervisord did not start; see {self.home}")
            await asyncio.sleep(0.05)

    async def start_all(self) -> None:
        assert self.rpc is not None
        results = self.rpc.supervisor.startAllProcesses(True)
        _check(len(results) == self.count, [r["status"] for r in results], {SUCCESS})

    async def stop_all(self) -> None:
        assert self.rpc is not None
        results = self.rpc.supervisor.stopAllProcesses(True)
        _check(len(results) == self.count, [r["status"] for r in results], {SUCCESS})

    async def restart_one(self) -> None:
        assert self.rpc is not None
        # What ``supervisorctl restart`` does: stop, then start, each waited for.
        _check(self.rpc.supervisor.stopProcess("worker0", True) is True)
        _check(self.rpc.supervisor.startProcess("worker0", True) is True)

    async def list_all(self) -> None:
        assert self.rpc is not None
        _check(len(self.rpc.supervisor.getAllProcessInfo()) == self.count)

    def cli_status(self) -> list[str]:
        return [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(self.config), "status"]

    def rss_kib(self) -> int:
        assert self.process is not None
        return _rss_kib(self.process.pid)

    async def end(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # it stops its programs, then exits
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _start_supervisord(config: Path) -> subprocess.Popen[bytes]:
    """supervisord in the foreground, in a session of its own (its programs are its children)."""
    return subprocess.Popen(
        [sys.executable, "-m", "supervisor.supervisord", "-c", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


class StepFailed(RuntimeError):
    """A step did not leave the processes where it should have."""


def _check(ok: bool, outcomes: Sequence[object] = (), wanted: Set[object] = frozenset()) -> None:
    """Raise StepFailed unless ``ok`` and every outcome is one of ``wanted`` (when given)."""
    if not ok or (wanted and not set(outcomes) <= wanted):
        seen = {str(o): list(outcomes).count(o) for o in set(outcomes)}
        raise StepFailed(f"a step did not leave the processes where it should: {seen}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` in KiB (``VmRSS`` of /proc/PID/status); 0 once it is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _helpers_of(agent: int) -> list[int]:
    """The agent's reaper: the child that runs ``console/agent/reaper.py``."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and b"reaper.py" in (entry / "cmdline").read_bytes():
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[1]) == agent:
                    found.append(int(entry.name))
    return found


async def timed(step: Measure) -> float:
    started = time.perf_counter()
    await step()
    return time.perf_counter() - started


def timed_command(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


STEPS = ("start all", "restart one", "list all", "status CLI", "stop all")
LABEL_WIDTH = 34
"""Characters of the table's first column (after a two-space indent)."""


async def one_round(side: Side, samples: dict[str, list[float]], repeats: int) -> None:
    """start all, restart one (``repeats`` times), list, the CLI's status, stop all."""
    samples["start all"].append(await timed(side.start_all))
    for _ in range(repeats):
        samples["restart one"].append(await timed(side.restart_one))
        samples["list all"].append(await timed(side.list_all))
        samples["status CLI"].append(timed_command(side.cli_status()))
    samples["memory"].append(side.rss_kib() / 1024)
    samples["stop all"].append(await timed(side.stop_all))


async def run(count: int, rounds: int, repeats: int) -> int:
    with_peer = importlib.util.find_spec("supervisor") is not None
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        sides: list[Agent | Supervisord] = [Agent(home, count)]
        if with_peer:
            sides.append(Supervisord(home, count))
        results = {side.name: {step: [] for step in (*STEPS, "memory")} for side in sides}
        try:
            for side in sides:
                await side.begin()
            for turn in range(rounds):
                # Who goes first alternates too: the second may find a warmer machine.
                for side in sides if turn % 2 == 0 else sides[::-1]:
                    await one_round(side, results[side.name], repeats)
        finally:
            for side in sides:
                await side.end()
    report(results, count, rounds, repeats)
    return 0


def report(results: dict[str, dict[str, list[float]]], count: int, rounds: int, reps: int) -> None:
    names = list(results)
    print(
        f"supervising {count} processes ('{COMMAND}'), {rounds} alternating rounds,"
        f" {reps} restarts/lists/CLI runs per round; medians"
    )
    header = f"  {'measure':<{LABEL_WIDTH}}" + "".join(f"{name:>14}" for name in names)
    print(header + ("   ratio (ours / peer; < 1 is faster)" if len(names) > 1 else ""))
    for step in (*STEPS, "memory"):
        unit, scale = ("MiB", 1.0) if step == "memory" else ("ms", 1000.0)
        label = {
            "start all": f"start all {count} (all running)",
            "restart one": "restart one (new pid running)",
            "stop all": f"stop all {count}",
            "list all": f"list {count} (API)",
            "status CLI": "ps --json / supervisorctl status",
            "memory": "memory (RSS, with the reaper)",
        }[step]
        figures = [statistics.median(results[name][step]) * scale for name in names]
        cells = "".join(f"{figure:>10.1f} {unit:<3}" for figure in figures)
        line = f"  {label:<{LABEL_WIDTH}}{cells}"
        if len(figures) > 1 and figures[1]:
            line += f"   {figures[0] / figures[1]:.2f}x"
        print(line)
    if len(names) == 1:
        print("  (supervisord not installed: pip install supervisor to measure it beside)")


def main(rounds: int = 5, count: int = 200, repeats: int = 10) -> int:
    if shutil.which("sleep") is None:
        raise SystemExit("opsconsole: bench supervise needs sleep(1)")
    return asyncio.run(run(count, rounds, repeats))
