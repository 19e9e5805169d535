"""What every inbox store offers the inbox service, and how the agent's settings pick one.

Two stores implement it: SQLite (``inbox_store.SqliteInboxStore``, the embedded
default, one agent) and Redis Streams (``inbox_redis.RedisInboxStore``, one
inbox shared by many agents). Every method is one atomic change (or read) and
one hop to the store; an answered call is durable as the store is configured.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from console.models import DeliveryPolicy, Message, MessageStatus

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
STORE_KEYS = ("store", "namespace", "agent_name", "redis")
"""Keys of ``[agent.inbox]`` that choose the store (the rest is the DeliveryPolicy)."""


class StoreUnavailable(Exception):
    """The store cannot be reached just now (a lost Redis connection): answer 503, retry later."""


class Change(NamedTuple):
    """A change made by another agent sharing the store: an event for this agent's feed."""

    topic: str
    """``message`` or ``message.deleted``, as the agent's own events."""
    data: dict[str, Any]


class InboxStore(Protocol):
    """Messages kept durably; pulls are atomic, so no two pullers ever get the same message."""

    policy: DeliveryPolicy

    async def push(
        self,
        source: str,
        destination: str,
        payload: bytes,
        payload_type: str,
        topic: str | None = None,
        scheduled_time: float | None = None,
    ) -> Message:
        """A new message, ``pending`` (or ``scheduled`` when a time in epoch seconds is given)."""
        ...

    async def pull(self, destination: str, quantity: int = 1) -> list[Message]:
        """Up to ``quantity`` of the oldest pending messages for ``destination``, now processing."""
        ...

    async def ack(self, destination: str, message_ids: list[str]) -> list[Message]:
        """``processing`` → ``processed`` for those of the ids delivered to ``destination``.

        Ids that are not processing for ``destination`` are left alone and absent
        from the answer (the caller tells them apart by id).
        """
        ...

    async def release_due(self) -> list[Message]:
        """Due scheduled messages → pending; expired deliveries → pending, or error after
        ``policy.max_tries`` deliveries. Only the inbox's clock calls it, never a request."""
        ...

    async def next_due(self) -> float | None:
        """Epoch seconds when ``release_due`` may next have something to do; None: nothing."""
        ...

    async def get(self, message_id: str) -> Message | None: ...

    async def list(
        self,
        destination: str | None = None,
        status: MessageStatus | None = None,
        limit: int = 500,
    ) -> list[Message]:
        """Newest first (every store: ``list_within`` with no byte bound)."""
        return (await self.list_within(destination, status, limit))[0]

    async def list_within(
        self,
        destination: str | None = None,
        status: MessageStatus | None = None,
        limit: int = 500,
        max_bytes: int | None = None,
    ) -> tuple[list[Message], int]:
        """As ``list``, reading payloads only while they fit in ``max_bytes`` (the newest is
        always read; None: no bound), so a listing's memory stays near its answer's budget
        whatever the messages weigh: the messages read, and how many more matched (of
        ``limit``) but were left unread. Payload bytes as stored (a listing shows them as JSON
        or base64), so they fill an answer of ``max_bytes`` or come close."""
        ...

    async def update_payload(
        self, message_id: str, payload: bytes, payload_type: str
    ) -> Message | None: ...

    async def delete(self, message_id: str) -> bool: ...

    async def delete_all(self) -> int:
        """Every message gone; answers how many there were."""
        ...

    def changes(self) -> AsyncIterator[Change]:
        """Changes made by the other agents sharing this store, for ever (none for SQLite)."""
        ...

    async def close(self) -> None: ...


def is_redis(store: str) -> bool:
    return store.startswith(REDIS_SCHEMES)


def check_store_settings(table: dict[str, Any]) -> None:
    """Refuse an ``[agent.inbox]`` store choice that cannot work; raises ValueError saying why."""
    store = table.get("store", "sqlite")
    if not isinstance(store, str) or not (store == "sqlite" or is_redis(store)):
        raise ValueError(f'store must be "sqlite" or a redis:// URL, not {store!r}')
    for key in ("namespace", "agent_name"):
        if key in table and (not isinstance(table[key], str) or not table[key]):
            raise ValueError(f"{key} must be a non-empty string")
    if not isinstance(table.get("redis", {}), dict):
        raise ValueError("redis must be a table of redis-py connection options")


def open_store(
    table: dict[str, Any], data_dir: Path, policy: DeliveryPolicy, default_name: str
) -> InboxStore:
    """The store ``[agent.inbox]`` names: SQLite in ``data_dir`` unless ``store`` is a Redis URL.

    ``table`` keys: ``store`` ("sqlite" or ``redis://[:password@]host:port/db``,
    ``rediss://`` for TLS, ``unix://path``, with redis-py's URL query options),
    ``redis`` (more redis-py connection options, e.g. ``ssl_ca_certs``, ``password``),
    ``namespace`` (Redis key prefix; agents sharing one inbox share it) and
    ``agent_name`` (recorded on each message this agent accepts; on Redis
    ``default_name``, the host's name, unless given; on SQLite none unless given).
    """
    check_store_settings(table)
    store = table.get("store", "sqlite")
    if is_redis(store):
        from console.agent.inbox_redis import RedisInboxStore

        return RedisInboxStore(
            store,
            policy,
            agent_name=table.get("agent_name", default_name),
            namespace=table.get("namespace", "opsconsole"),
            options=dict(table.get("redis", {})),
        )
    from console.agent.inbox_store import SqliteInboxStore

    # One agent per file: its messages name the agent only when it is given a name.
    return SqliteInboxStore(data_dir / "inbox.db", policy, agent_name=table.get("agent_name"))
