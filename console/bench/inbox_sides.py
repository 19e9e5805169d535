"""The sides of the inbox benchmark: Redis Streams itself, and opsconsole agents through the
inbox adapter, over its command channel (``channel``) or the scirocco HTTP routes (``HTTP``)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Protocol

from console.adapters.agent import AgentClient
from console.adapters.base import Endpoint
from console.adapters.connect import SpawnedAgent
from console.agent.inbox_store import SqliteInboxStore
from console.models import TEXT_TYPE, MessageStatus

BENCH_PAYLOAD = b'{"service": "shop-web", "version": "1.4.2", "status": "succeeded"}'


class Side(Protocol):
    """One thing measured: a name, and clients numbered 0.. that each work on their own node."""

    name: str

    async def start(self) -> None: ...

    async def cycles(self, client: int, count: int) -> list[bool]:
        """``count`` push → pull → ack cycles by one client; whether each came out right."""
        ...

    async def fill(self, clients: int, count: int, payload: bytes) -> None:
        """``count`` messages waiting for each of ``clients`` clients (not timed)."""
        ...

    async def drain(self, clients: int, batch: int) -> list[bool]:
        """Each client pulls ``batch`` a request and acks them in one, until none is left;
        one outcome per message."""
        ...

    async def close(self) -> None: ...


class RedisPeer:
    """Redis Streams as a queue user would drive it: XADD, XREADGROUP, XACK; one stream each."""

    GROUP = "bench"

    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self.name = "Redis Streams, appendfsync always (peer)"
        self._connections = [aioredis.Redis.from_url(url) for _ in range(8)]
        self._run = uuid.uuid4().hex[:6]

    def _stream(self, client: int) -> str:
        return f"peer-{self._run}:{client}"

    async def start(self) -> None:
        for k, connection in enumerate(self._connections):
            await connection.xgroup_create(self._stream(k), self.GROUP, "0", mkstream=True)

    async def cycles(self, client: int, count: int) -> list[bool]:
        redis, stream = self._connections[client], self._stream(client)
        outcomes = []
        for _ in range(count):
            pushed = await redis.xadd(stream, {"payload": BENCH_PAYLOAD})
            got = await redis.xreadgroup(self.GROUP, "c", {stream: ">"}, count=1)
            entry = got[0][1][0][0] if got else None
            acked = await redis.xack(stream, self.GROUP, entry) if entry else 0
            outcomes.append(entry == pushed and acked == 1)
        return outcomes

    async def fill(self, clients: int, count: int, payload: bytes) -> None:
        for k in range(clients):
            async with self._connections[k].pipeline(transaction=False) as pipe:
                for _ in range(count):
                    pipe.xadd(self._stream(k), {"payload": payload})
                await pipe.execute()

    async def drain(self, clients: int, batch: int) -> list[bool]:
        async def one(k: int) -> list[bool]:
            redis, stream, outcomes = self._connections[k], self._stream(k), []
            while got := await redis.xreadgroup(self.GROUP, "c", {stream: ">"}, count=batch):
                entries = [entry for entry, _ in got[0][1]]
                if not entries:
                    break
                acked = await redis.xack(stream, self.GROUP, *entries)
                outcomes += [acked == len(entries)] * len(entries)
            return outcomes

        return [
            ok for outcomes in await asyncio.gather(*map(one, range(clients))) for ok in outcomes
        ]

    async def close(self) -> None:
        for k, connection in enumerate(self._connections):
            await connection.delete(self._stream(k))
            await connection.aclose()


class StoreSide:
    """The agent's SQLite store called straight from Python: the agent minus HTTP and adapter."""

    def __init__(self, home: Path) -> None:
        self.name = "SQLite store alone, no HTTP (group commit)"
        self._home = home
        self._store: SqliteInboxStore | None = None

    async def start(self) -> None:
        self._home.mkdir(parents=True, exist_ok=True)
        self._store = SqliteInboxStore(self._home / "inbox.db")

    async def cycles(self, client: int, count: int) -> list[bool]:
        store, node, outcomes = self._store, f"bench-{client}", []
        assert store is not None
        for _ in range(count):
            pushed = await store.push(node, node, BENCH_PAYLOAD, TEXT_TYPE)
            pulled = await store.pull(node)
            acked = await store.ack(node, [pushed.id])
            outcomes.append([m.id for m in pulled] == [pushed.id] == [m.id for m in acked])
        return outcomes

    async def fill(self, clients: int, count: int, payload: bytes) -> None:
        assert self._store is not None
        for k in range(clients):
            for _ in range(count):
                await self._store.push(f"bench-{k}", f"bench-{k}", payload, TEXT_TYPE)

    async def drain(self, clients: int, batch: int) -> list[bool]:
        store = self._store
        assert store is not None

        async def one(k: int) -> list[bool]:
            outcomes: list[bool] = []
            while messages := await store.pull(f"bench-{k}", batch):
                acked = await store.ack(f"bench-{k}", [m.id for m in messages])
                outcomes += [len(acked) == len(messages)] * len(messages)
            return outcomes

        return [
            ok for outcomes in await asyncio.gather(*map(one, range(clients))) for ok in outcomes
        ]

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()


class AgentSide:
    """opsconsole agents (one, or several sharing one Redis) driven through the adapter."""

    def __init__(
        self, name: str, home: Path, redis_url: str | None, agents: int, transport: str = "auto"
    ) -> None:
        self.name = f"{name}, {'HTTP' if transport == 'http' else 'channel'}"
        self._transport = transport
        self._home = home
        self._redis_url = redis_url
        self._spawned: list[SpawnedAgent] = []
        self._count = agents
        self._clients: list[AgentClient] = []

    async def start(self) -> None:
        namespace = f"bench-{uuid.uuid4().hex[:6]}"
        endpoints: list[Endpoint] = []
        for n in range(self._count):
            data = self._home / f"agent-{n}"
            data.mkdir(parents=True, exist_ok=True)
            args = ["--data-dir", str(data), "--node-id", "bench"]
            if self._redis_url is not None:
                config = data / "agent.toml"
                config.write_text(
                    f'[agent.inbox]\nstore = "{self._redis_url}"\nnamespace = "{namespace}"\n'
                    f'agent_name = "agent-{n}"\n'
                )
                args += ["--config", str(config)]
            spawned = SpawnedAgent(args)
            self._spawned.append(spawned)
            endpoints.append((await spawned.connect()).endpoint)
        for k in range(8):
            client = AgentClient(endpoints[k % self._count])
            client.inbox.node_id = f"bench-{k}"
            client.inbox.transport = self._transport
            self._clients.append(client)

    async def cycles(self, client: int, count: int) -> list[bool]:
        inbox = self._clients[client].inbox
        outcomes = []
        for _ in range(count):
            pushed = await inbox.push(inbox.node_id, BENCH_PAYLOAD.decode())
            pulled = await inbox.pull()
            acked = await inbox.ack(pushed.id)
            outcomes.append(
                pulled is not None
                and pulled.id == pushed.id
                and acked.status == MessageStatus.PROCESSED
            )
        return outcomes

    async def fill(self, clients: int, count: int, payload: bytes) -> None:
        async def one(k: int) -> None:
            inbox = self._clients[k].inbox
            for _ in range(count):
                await inbox.push(inbox.node_id, payload.decode())

        await asyncio.gather(*map(one, range(clients)))

    async def drain(self, clients: int, batch: int) -> list[bool]:
        async def one(k: int) -> list[bool]:
            inbox, outcomes = self._clients[k].inbox, []
            while messages := await inbox.pull_many(batch):
                acked = await inbox.ack_many([m.id for m in messages])
                outcomes += [len(acked) == len(messages)] * len(messages)
            return outcomes

        return [
            ok for outcomes in await asyncio.gather(*map(one, range(clients))) for ok in outcomes
        ]

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()
        for spawned in self._spawned:
            await spawned.close()
