"""The measured side of ``bench fleet``: one client process following a fleet of agents.

Run as ``python -m console.bench.fleet_client EXPECTED FOLLOW_SECONDS URL...``; prints one
JSON line: ``view_s`` (seconds from the fleet's start to the first merged view holding
all EXPECTED rows with every agent connected), ``view_cpu_s`` (this process's CPU
seconds over the same span), ``rss_mib`` (resident memory then, and ``base_rss_mib``
before the fleet started, both from /proc/self/status), ``follow_cpu_s_per_s`` (CPU per
second while following an idle fleet for FOLLOW_SECONDS: heartbeats and nothing else).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from console.adapters.changes import Removed, Resync, Upsert
from console.adapters.connect import AgentConnector
from console.adapters.fleet import Fleet
from console.cli_connect import connector_for

VIEW_LIMIT = 120.0
"""Seconds the first full view may take before the run fails (saying what it saw)."""


def rss_mib() -> float:
    """This process's resident set, in MiB (VmRSS of /proc/self/status)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


async def full_view(fleet: Fleet, rows: dict[str, object], expected: int) -> None:
    """Until ``rows`` (kept from the fleet's merged stream) holds ``expected`` rows and every
    agent is connected (both its feeds live)."""
    async for change in fleet.watch():
        match change:
            case Resync(items):
                rows.clear()
                rows.update((row.key, row) for row in items)
            case Upsert(row):
                rows[row.key] = row
            case Removed(key):
                rows.pop(str(key), None)
        counts = fleet.counts()
        if len(rows) >= expected and counts.connected == counts.agents:
            return


def connector(url: str) -> AgentConnector:
    """The agent at ``url`` as ``opsconsole --agent URL`` reaches it, with the credentials
    a local client of this user finds (the inbox token from the environment)."""
    return connector_for(argparse.Namespace(agent=url))


async def measure(expected: int, follow_seconds: float, urls: list[str]) -> dict:
    connectors = {f"agent{i}": connector(url) for i, url in enumerate(urls)}
    base_rss = rss_mib()
    started, cpu_started = time.perf_counter(), time.process_time()
    async with Fleet(connectors) as fleet:
        rows: dict[str, object] = {}
        try:
            async with asyncio.timeout(VIEW_LIMIT):
                await full_view(fleet, rows, expected)
        except TimeoutError:
            raise RuntimeError(f"no full view: {len(rows)} rows, {fleet.statuses()}") from None
        view_s = time.perf_counter() - started
        view_cpu = time.process_time() - cpu_started
        view_rss = rss_mib()
        cpu_following = time.process_time()
        await asyncio.sleep(follow_seconds)  # a span to measure, not a wait for a condition
        following = (time.process_time() - cpu_following) / follow_seconds
    return {
        "view_s": view_s,
        "view_cpu_s": view_cpu,
        "rss_mib": view_rss,
        "base_rss_mib": base_rss,
        "follow_cpu_s_per_s": following,
    }


def main(argv: list[str]) -> int:
    expected, follow_seconds, *urls = argv
    result = asyncio.run(measure(int(expected), float(follow_seconds), urls))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
