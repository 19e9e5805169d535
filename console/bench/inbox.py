"""Inbox cycles (push → pull → ack) a second: agent + adapter over HTTP, beside the bare store.

The baseline is the agent's own store (``InboxStore``, SQLite in WAL mode,
every change committed with ``synchronous=FULL`` as the agent does) called
straight from Python in this process: what is left of the ratio is the price
of HTTP, the agent and the adapter. Rounds alternate between the two sides so
that load on a shared machine falls on both alike. Every cycle is checked: the
pull gives back the message just pushed, and its ack answers ``processed``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from console.adapters.agent import AgentClient
from console.adapters.connect import SpawnedAgent
from console.agent.inbox_store import InboxStore
from console.models import JSON_TYPE, MessageStatus

PAYLOAD = {"service": "shop-web", "version": "1.4.2", "status": "succeeded"}
PAYLOAD_BYTES = json.dumps(PAYLOAD).encode()
NODE = "bench"
WARMUP = 50


@dataclass
class Tally:
    """Cycles done, their durations, and any that went wrong."""

    cycles: int = 0
    seconds: float = 0.0
    faults: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, started: float, ok: bool) -> None:
        elapsed = time.perf_counter() - started
        self.cycles += 1
        self.seconds += elapsed
        self.latencies.append(elapsed * 1000)
        self.faults += not ok

    @property
    def rate(self) -> float:
        return self.cycles / self.seconds if self.seconds else 0.0


def store_cycles(store: InboxStore, count: int, tally: Tally | None) -> None:
    """The baseline: the same three steps on the store, as the agent's handlers call it."""
    for _ in range(count):
        started = time.perf_counter()
        pushed = store.push(NODE, NODE, PAYLOAD_BYTES, JSON_TYPE)
        pulled = store.pull(NODE)
        acked = store.ack(NODE, pushed.id)
        ok = [m.id for m in pulled] == [pushed.id] and acked is not None
        if tally is not None:
            tally.add(started, ok and acked.status == MessageStatus.PROCESSED)  # type: ignore[union-attr]


async def http_cycles(client: AgentClient, count: int, tally: Tally | None) -> None:
    """Push, pull and ack through the adapter, one request after another."""
    inbox = client.inbox
    for _ in range(count):
        started = time.perf_counter()
        pushed = await inbox.push(NODE, PAYLOAD)
        pulled = await inbox.pull()
        acked = await inbox.ack(pushed.id)
        ok = pulled is not None and pulled.id == pushed.id
        if tally is not None:
            tally.add(started, ok and acked.status == MessageStatus.PROCESSED)


def report(cycles: int, rounds: int, store: Tally, http: Tally) -> None:
    print(
        f"inbox push → pull → ack, {cycles:,} cycles each in {rounds} alternating rounds"
        " (SQLite WAL, synchronous=FULL on both sides)"
    )
    for name, tally in (
        ("InboxStore direct (baseline)", store),
        ("agent + adapter over HTTP", http),
    ):
        cuts = statistics.quantiles(tally.latencies, n=100)
        ok = "ok" if tally.faults == 0 else f"FAULTY ({tally.faults})"
        print(
            f"  {name:<30} {tally.rate:9,.0f} cycles/s   p50 {cuts[49]:6.2f} ms"
            f"   p99 {cuts[98]:6.2f} ms   [{ok}]"
        )
    ratio = http.rate / store.rate if store.rate else 0.0
    print(f"  ratio (HTTP / store)           {ratio:.2f}   (three requests a cycle over loopback)")


async def run(cycles: int, rounds: int) -> int:
    per_round = max(1, cycles // rounds)
    store_tally, http_tally = Tally(), Tally()
    with tempfile.TemporaryDirectory() as tmp:
        store = InboxStore(Path(tmp) / "baseline.db")
        spawned = SpawnedAgent(["--data-dir", str(Path(tmp) / "agent"), "--node-id", NODE])
        try:
            client = await spawned.connect()
            await client.info()
            store_cycles(store, WARMUP, None)
            await http_cycles(client, WARMUP, None)
            for _ in range(rounds):
                store_cycles(store, per_round, store_tally)
                await http_cycles(client, per_round, http_tally)
        finally:
            await spawned.close()
            store.close()
    report(per_round * rounds, rounds, store_tally, http_tally)
    return 1 if store_tally.faults or http_tally.faults else 0


def main(cycles: int = 2_000, rounds: int = 5) -> int:
    return asyncio.run(run(cycles, rounds))
