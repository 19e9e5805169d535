"""The client side of a fleet: 1,000 processes over 20 agents, beside 1,000 on one agent.

Both sides are real: 21 ``opsconsole agent`` processes on loopback (20 with 50 processes
each, one with 1,000; each process a quiet ``sleep``), set up once. Each round starts a
fresh client process (``console.bench.fleet_client``) on one side, then the other,
alternating so that load on a shared machine falls on both alike. The figures that
matter are the ratios of the medians: what following 20 agents costs the console beside
following one with the same total.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from console.adapters.connect import INBOX_TOKEN_ENV
from console.models import ProcessState

AGENTS = 20
PER_AGENT = 50
TOTAL = AGENTS * PER_AGENT
FOLLOW_SECONDS = 3.0
INBOX_TOKEN = secrets.token_urlsafe(24)
"""This run's inbox token: the client follows each agent's inbox too, as the console does."""
SETUP_LIMIT = 300.0
"""Seconds the agents and their processes may take to be up (a shared machine is slow)."""

FIGURES = (
    ("view_s", "first full view", 1000, "ms"),
    ("view_cpu_s", "CPU to that view", 1000, "ms"),
    ("rss_mib", "RSS at that view", 1, "MiB"),
    ("follow_cpu_s_per_s", "CPU following, idle", 100, "%"),
)


def start_agents(count: int, home: Path) -> list[tuple[subprocess.Popen[str], str]]:
    """``count`` agents, each with its own data dir under ``home`` and the inbox token of
    this run (from the environment, as a spawned agent gets it); (process, URL) each."""
    processes = []
    for index in range(count):
        data = home / f"agent-{index}"
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "console", "agent", "--port", "0", "--data-dir", str(data)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                text=True,
                env={**os.environ, INBOX_TOKEN_ENV: INBOX_TOKEN},
            )
        )
    started = []
    for process in processes:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("an agent did not start")
        started.append((process, url))
    return started


async def populate(url: str, app: Path, count: int) -> None:
    """``count`` processes (half ``web``, half ``worker``) on the agent at ``url``, running."""
    from console.bench.fleet_client import connector

    agent = connector(url)
    try:
        processes = (await agent.connect()).processes
        for index in range(count):
            kind = "web" if index % 2 == 0 else "worker"
            await processes.create("shop", f"{kind}.{index}", kind, str(app))
        deadline = time.monotonic() + SETUP_LIMIT
        while sum(p.state is ProcessState.RUNNING for p in await processes.list()) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url}: not all {count} processes ran")
            await asyncio.sleep(0.2)
    finally:
        await agent.close()


def measure(urls: list[str]) -> dict[str, float]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "console.bench.fleet_client",
            str(TOTAL),
            str(FOLLOW_SECONDS),
            *urls,
        ],
        capture_output=True,
        text=True,
        timeout=SETUP_LIMIT,
        env={**os.environ, INBOX_TOKEN_ENV: INBOX_TOKEN},
    )
    if result.returncode != 0:
        raise RuntimeError(f"the client failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout)


KEY_FIGURES = (
    ("view_s", "first full table", 1000, "ms"),
    ("key_p50_ms", "key to screen p50", 1, "ms"),
    ("key_p99_ms", "key to screen p99", 1, "ms"),
    ("rss_mib", "console RSS", 1, "MiB"),
)


def measure_keys(urls: list[str]) -> dict[str, float]:
    """One run of the real console (``console.bench.fleet_keys``) on ``urls``: "all" scope
    over them, or one agent when one URL is given."""
    result = subprocess.run(
        [sys.executable, "-m", "console.bench.fleet_keys", str(TOTAL), *urls],
        capture_output=True,
        text=True,
        timeout=SETUP_LIMIT,
        env={**os.environ, INBOX_TOKEN_ENV: INBOX_TOKEN},
    )
    if result.returncode != 0:
        raise RuntimeError(f"the console failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout)


def stop(agents: list[tuple[subprocess.Popen[str], str]]) -> None:
    for process, _ in agents:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process, _ in agents:
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def main(rounds: int = 5, key_rounds: int = 3) -> int:
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        app = home / "app"
        app.mkdir()
        (app / "Procfile").write_text("web: exec sleep 36000\nworker: exec sleep 36000\n")
        print(f"setting up {AGENTS + 1} agents and {2 * TOTAL} processes...", flush=True)
        agents = start_agents(AGENTS + 1, home)
        try:
            fleet_urls = [url for _, url in agents[:AGENTS]]
            single_url = agents[AGENTS][1]

            async def setup() -> None:
                await asyncio.gather(
                    *(populate(url, app, PER_AGENT) for url in fleet_urls),
                    populate(single_url, app, TOTAL),
                )

            asyncio.run(setup())
            sides = {
                f"{AGENTS} agents x {PER_AGENT}": fleet_urls,
                f"1 agent x {TOTAL}": [single_url],
            }
            samples: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
            measure([single_url])  # unmeasured: warms the OS file cache for both alike
            for _ in range(rounds):
                for name, urls in sides.items():
                    samples[name].append(measure(urls))
            keys: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
            for _ in range(key_rounds):
                for name, urls in sides.items():
                    keys[name].append(measure_keys(urls))
        finally:
            stop(agents)
    report(samples, rounds)
    report_keys(keys, key_rounds)
    return 0


def report(samples: dict[str, list[dict[str, float]]], rounds: int) -> None:
    print(
        f"fleet client, {TOTAL} processes, {rounds} rounds each (alternating), medians; "
        f"{os.cpu_count()} CPUs"
    )
    _table(samples, FIGURES)
    names = list(samples)
    base = statistics.median(s["base_rss_mib"] for s in samples[names[0]])
    print(f"  (RSS before the fleet started: {base:.1f} MiB, imports included)")


def report_keys(samples: dict[str, list[dict[str, float]]], rounds: int) -> None:
    """The console's figures ("all" scope beside one agent), medians of the runs."""
    keys = statistics.median(s["keys"] for runs in samples.values() for s in runs)
    print(
        f"console (Textual pilot, 80x24), {rounds} runs each (alternating), medians; "
        f"{keys:.0f} keys a run (filter letters, cursor moves)"
    )
    _table(samples, KEY_FIGURES)


def _table(
    samples: dict[str, list[dict[str, float]]], figures: tuple[tuple[str, str, int, str], ...]
) -> None:
    """One line per figure: each side's median and their ratio (first side over second)."""
    names = list(samples)
    print(f"  {'':<22}" + "".join(f"{name:>20}" for name in names) + f"{'ratio':>9}")
    for key, label, scale, unit in figures:
        medians = [statistics.median(s[key] for s in samples[name]) for name in names]
        cells = "".join(f"{m * scale:>16.1f} {unit:<3}" for m in medians)
        ratio = medians[0] / medians[1] if medians[1] else float("inf")
        print(f"  {label:<22}{cells}{ratio:>8.2f}x")
