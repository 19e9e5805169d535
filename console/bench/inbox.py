"""Inbox cycles (push → pull → ack) a second through the adapter, beside Redis Streams.

Sides, each durable on every answer:

- the peer, **Redis Streams** with ``appendonly yes`` / ``appendfsync always``:
  XADD, XREADGROUP, XACK from redis-py's asyncio client (skipped, and plain
  figures printed, when redis-server is not installed);
- **opsconsole, SQLite store** (the default: WAL, ``synchronous=FULL``, group commit), over
  the adapter's command channel (one WebSocket, ``inbox.channel``), and over the scirocco
  HTTP routes (the transport of older agents and scirocco servers);
- **opsconsole, Redis store**: an agent whose inbox is on that same redis-server (channel);
- **opsconsole, Redis store, N agents** sharing it, the clients spread over them (channel);
- the **SQLite store alone**, called from Python in this process: what is left of
  its ratio to the agent is the price of the transport, the agent and the adapter.

Each side runs a cycle per client one after another (1 client), then 8
clients at once, then batches (100 messages pulled per request and acked in
one request). Rounds alternate between the sides so that load on a shared
machine falls on all alike; every cycle is checked (the pull gives back the
message just pushed, the ack answers ``processed``).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from console.bench.inbox_sides import AgentSide, RedisPeer, Side, StoreSide
from console.bench.redis_server import redis_server_path, start_redis

PAYLOAD = {"service": "shop-web", "version": "1.4.2", "status": "succeeded"}
PAYLOAD_BYTES = json.dumps(PAYLOAD).encode()
CONCURRENT = 8
BATCH = 100


@dataclass
class Tally:
    """Work done (cycles or messages), the seconds it took, and any that went wrong."""

    done: int = 0
    seconds: float = 0.0
    faults: int = 0

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0


@dataclass
class SideTallies:
    single: Tally = field(default_factory=Tally)
    concurrent: Tally = field(default_factory=Tally)
    batch: Tally = field(default_factory=Tally)


async def timed(tally: Tally, work: asyncio.Future[list[bool]] | asyncio.Task[list[bool]]) -> None:
    started = time.perf_counter()
    outcomes = await work
    tally.seconds += time.perf_counter() - started
    tally.done += len(outcomes)
    tally.faults += outcomes.count(False)


async def one_round(side: Side, tallies: SideTallies, cycles: int, batch_messages: int) -> None:
    await timed(tallies.single, asyncio.ensure_future(side.cycles(0, cycles)))
    per_client = max(1, cycles // 2)
    runs = [side.cycles(k, per_client) for k in range(CONCURRENT)]
    await timed(tallies.concurrent, asyncio.ensure_future(_flat(asyncio.gather(*runs))))
    await side.fill(CONCURRENT, batch_messages, PAYLOAD_BYTES)
    await timed(tallies.batch, asyncio.ensure_future(side.drain(CONCURRENT, BATCH)))


async def _flat(gathered: asyncio.Future[list[list[bool]]]) -> list[bool]:
    return [ok for outcomes in await gathered for ok in outcomes]


def report(
    sides: list[Side], tallies: list[SideTallies], cycles: int, rounds: int, batch_messages: int
) -> None:
    print(
        f"inbox push → pull → ack, durable on every answer; {rounds} alternating rounds"
        f" ({cycles} cycles by 1 client, {cycles // 2} by each of {CONCURRENT} clients;"
        f" batch: {CONCURRENT} clients drain {batch_messages} messages each, pulling up to"
        f" {BATCH} a request and acking them in one)"
    )
    print(f"  {'side':<44} {'1 client':>16} {f'{CONCURRENT} clients':>18} {'batch msgs/s':>20}")
    peer = tallies[0] if isinstance(sides[0], RedisPeer) else None
    for side, tally in zip(sides, tallies, strict=True):
        cells = []
        for name, width in (("single", 16), ("concurrent", 18), ("batch", 20)):
            mine: Tally = getattr(tally, name)
            text = f"{mine.rate:,.0f}/s"
            if peer is not None and side is not sides[0]:
                theirs: Tally = getattr(peer, name)
                text += f" ({mine.rate / theirs.rate:.2f}x)" if theirs.rate else ""
            cells.append(f"{text:>{width}}")
        faults = sum(t.faults for t in (tally.single, tally.concurrent, tally.batch))
        ok = "" if faults == 0 else f"  FAULTY ({faults})"
        print(f"  {side.name:<44} {''.join(cells)}{ok}")
    if peer is None:
        print("  (redis-server is not installed: no Redis Streams beside it)")
    else:
        print("  ratios: each side ÷ Redis Streams (appendfsync always); above 1.00x is faster")


async def run(cycles: int, rounds: int, agents: int, batch_messages: int = 250) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        redis = start_redis(home / "redis") if redis_server_path() else None
        sides: list[Side] = []
        try:
            if redis is not None:
                sides.append(RedisPeer(redis.url))
            sides.append(AgentSide("opsconsole, SQLite store", home / "sqlite", None, 1))
            sides.append(
                AgentSide("opsconsole, SQLite store", home / "sqlite-http", None, 1, "http")
            )
            if redis is not None:
                sides.append(AgentSide("opsconsole, Redis store", home / "r1", redis.url, 1))
                sides.append(
                    AgentSide(
                        f"opsconsole, Redis store, {agents} agents", home / "rn", redis.url, agents
                    )
                )
            sides.append(StoreSide(home / "store"))
            for side in sides:
                await side.start()
                await side.cycles(0, 20)  # warm up: connections, scripts, caches
            tallies = [SideTallies() for _ in sides]
            for _ in range(rounds):
                for side, tally in zip(sides, tallies, strict=True):
                    await one_round(side, tally, cycles, batch_messages)
        finally:
            for side in sides:
                await side.close()
            if redis is not None:
                redis.stop()
    report(sides, tallies, cycles, rounds, batch_messages)
    faults = sum(t.faults for s in tallies for t in (s.single, s.concurrent, s.batch))
    return 1 if faults else 0


def main(cycles: int = 200, rounds: int = 5, agents: int = 3) -> int:
    return asyncio.run(run(cycles, rounds, agents))
