"""The inbox on Redis Streams: one inbox shared by every agent configured with the same Redis.

Consumer groups give the delivery semantics (see ``inbox_redis_lua`` for the
layout): pull is XREADGROUP, ack is XACK, the pending entries list's idle time
is the visibility timeout and its delivery count the message's ``tries``;
expired deliveries are claimed back (XCLAIM) by whichever agent's clock gets
there first, once, because every change is one Lua script run atomically on
the server. Durability is Redis's: with ``appendonly yes`` and ``appendfsync
always`` a reply is sent only after the change is fsynced (README: "Redis").

A lost connection is ``StoreUnavailable`` (the routes answer 503); redis-py
reconnects on the next call, so the inbox comes back by itself.
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, ResponseError, TimeoutError
from redis.retry import Retry

from console.agent import inbox_redis_lua as lua
from console.agent.inbox_backend import Change, InboxStore, StoreUnavailable
from console.models import DeliveryPolicy, Message, MessageStatus

SCRIPTS = (
    *("PUSH", "PULL", "ACK", "RELEASE_DUE", "NEXT_SCHEDULED"),
    *("LIST", "UPDATE", "DELETE", "DELETE_ALL"),
)
"""The names of ``inbox_redis_lua``'s scripts."""
RELEASE_LIMIT = 1000
"""Scheduled messages released by one clock tick at most (the next tick takes the rest)."""
UNAVAILABLE_REPLIES = ("LOADING", "MISCONF", "READONLY", "NOREPLICAS", "MASTERDOWN")
"""Error replies that mean Redis cannot take writes just now, not that the call was wrong."""


class RedisInboxStore(InboxStore):
    """Messages in Redis under one namespace; every method is one script (one round trip)."""

    def __init__(
        self,
        url: str,
        policy: DeliveryPolicy | None = None,
        agent_name: str | None = None,
        namespace: str = "opsconsole",
        options: dict[str, Any] | None = None,
    ) -> None:
        """``url`` and ``options`` as ``redis.asyncio.from_url`` takes them (password, TLS...)."""
        self.policy = policy or DeliveryPolicy()
        self.agent_name = agent_name or socket.gethostname()
        prefix = "{" + namespace + "}"
        self._origin = f"{prefix}:agent:{uuid.uuid4().hex}"
        self._keys = [prefix, self._origin]
        # Fail fast and let the client retry: a request must never hang on a Redis that is away.
        settings: dict[str, Any] = {
            "socket_connect_timeout": 2.0,
            "socket_timeout": 10.0,
            "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
            "health_check_interval": 15,
            **(options or {}),
        }
        # Blocking: a burst of requests waits for a free connection instead of failing.
        settings.setdefault("max_connections", 64)
        settings.setdefault("timeout", 10.0)
        pool = aioredis.BlockingConnectionPool.from_url(url, **settings)
        self._redis = aioredis.Redis.from_pool(pool)
        self._where = _redacted(url)
        self._scripts = {name: self._redis.register_script(getattr(lua, name)) for name in SCRIPTS}

    async def _run(self, script: str, *args: str | bytes | int | float) -> Any:
        try:
            return await self._scripts[script](keys=self._keys, args=list(args))
        except (ConnectionError, TimeoutError) as exc:
            raise StoreUnavailable(f"the inbox's Redis at {self._where} is away: {exc}") from None
        except ResponseError as exc:
            if str(exc).startswith(UNAVAILABLE_REPLIES):
                raise StoreUnavailable(
                    f"the inbox's Redis at {self._where} cannot take it now: {exc}"
                ) from None
            raise

    async def push(
        self,
        source: str,
        destination: str,
        payload: bytes,
        payload_type: str,
        topic: str | None = None,
        scheduled_time: float | None = None,
    ) -> Message:
        optional: list[str] = []
        if topic is not None:
            optional += ["topic", topic]
        if scheduled_time is not None:
            optional += ["scheduled_time", repr(float(scheduled_time))]
        reply = await self._run(
            "PUSH",
            uuid.uuid4().hex,
            source,
            destination,
            payload,
            payload_type,
            self.agent_name,
            *optional,
        )
        return _message(reply)

    async def pull(self, destination: str, quantity: int = 1) -> list[Message]:
        """The oldest pending messages for ``destination``, now ``processing``."""
        reply = await self._run("PULL", destination, quantity, self.agent_name)
        return [_message(fields) for fields in reply]

    async def ack(self, destination: str, message_ids: list[str]) -> list[Message]:
        if not message_ids:
            return []
        reply = await self._run("ACK", destination, *message_ids)
        return [_message(fields) for fields in reply]

    async def release_due(self) -> list[Message]:
        """Due scheduled messages join their stream; expired deliveries are claimed back."""
        reply = await self._run(
            "RELEASE_DUE",
            int(self.policy.visibility_timeout * 1000),
            self.policy.max_tries,
            RELEASE_LIMIT,
        )
        return [_message(fields) for fields in reply]

    async def next_due(self) -> float | None:
        """The next scheduled time; expiries are found by the clock's regular look (XPENDING)."""
        first, _server_time = await self._run("NEXT_SCHEDULED")
        return float(first) if first else None

    async def get(self, message_id: str) -> Message | None:
        try:
            fields = await self._redis.hgetall(f"{self._keys[0]}:m:{message_id}")
        except (ConnectionError, TimeoutError) as exc:
            raise StoreUnavailable(f"the inbox's Redis at {self._where} is away: {exc}") from None
        return _message(fields) if fields else None

    async def list_within(
        self,
        destination: str | None = None,
        status: MessageStatus | None = None,
        limit: int = 500,
        max_bytes: int | None = None,
    ) -> tuple[list[Message], int]:
        """Newest first, payloads read only while they fit in ``max_bytes`` (the first always),
        in one script: the messages read, and how many more matched (of ``limit``)."""
        unread, reply = await self._run(
            "LIST", destination or "", status.value if status else "", max(0, limit), max_bytes or 0
        )
        return [_message(fields) for fields in reply], int(unread)

    async def update_payload(
        self, message_id: str, payload: bytes, payload_type: str
    ) -> Message | None:
        reply = await self._run("UPDATE", message_id, payload, payload_type)
        return _message(reply) if reply else None

    async def delete(self, message_id: str) -> bool:
        return bool(await self._run("DELETE", message_id))

    async def delete_all(self) -> int:
        return int(await self._run("DELETE_ALL"))

    async def changes(self) -> AsyncIterator[Change]:
        """Changes made through the other agents sharing this inbox, as they happen (pub/sub);
        after a lost connection it subscribes again by itself (changes meanwhile are missed:
        a console re-lists on its own reconnections)."""
        channel = f"{self._keys[0]}:changes"
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                while True:
                    # A bounded wait (None when quiet), not the socket timeout's error.
                    note = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                    change = None if note is None else _change(note.get("data"), self._origin)
                    if change is not None:
                        yield change
            except (ConnectionError, TimeoutError):
                await asyncio.sleep(1.0)  # Redis is away: the requests say so, we wait
            finally:
                await pubsub.aclose()

    async def close(self) -> None:
        await self._redis.aclose()


def _message(reply: list[bytes] | dict[bytes, bytes]) -> Message:
    """A message from its hash (HGETALL: a flat field, value list from scripts, or a dict)."""
    pairs = zip(reply[::2], reply[1::2], strict=True) if isinstance(reply, list) else ()
    fields = reply if isinstance(reply, dict) else dict(pairs)

    def text(name: str) -> str | None:
        value = fields.get(name.encode())
        return None if value is None else value.decode()

    def moment(name: str) -> float | None:
        value = fields.get(name.encode())
        return None if value is None else float(value)

    return Message(
        id=text("id") or "",
        node_source=text("node_source") or "",
        node_destination=text("node_destination") or "",
        status=MessageStatus(text("status")),
        payload=fields.get(b"payload", b""),
        payload_type=text("payload_type") or "",
        topic=text("topic"),
        created_time=moment("created_time") or 0.0,
        update_time=moment("update_time") or 0.0,
        scheduled_time=moment("scheduled_time"),
        processing_time=moment("processing_time"),
        processed_time=moment("processed_time"),
        error_time=moment("error_time"),
        tries=int(fields.get(b"tries", b"0")),
        accepted_by=text("accepted_by"),
    )


def _change(data: object, own_origin: str) -> Change | None:
    """One published change (see ``inbox_redis_lua``), unless it was our own or is garbled."""
    try:
        event = json.loads(data)  # type: ignore[arg-type]
        if not isinstance(event, dict) or event.pop("origin", own_origin) == own_origin:
            return None
        if "deleted" in event:
            return Change("message.deleted", {"id": str(event["deleted"])})
        if "deleted_all" in event:
            return Change("message.deleted", {"all": True, "count": int(event["deleted_all"])})
        size = int(event.pop("size", 0))
        message = _message({str(k).encode(): str(v).encode() for k, v in event.items()})
    except (TypeError, ValueError):
        return None
    return Change("message", {**message.metadata(), "size": size})


def _redacted(url: str) -> str:
    """The URL without its password, for error messages."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest
