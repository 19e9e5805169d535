"""The inbox service: the store, its clock (scheduled and expired messages), events, alerts.

No HTTP here. Each request is one call (one hop) to the store, which never
blocks the event loop (SQLite's writer thread, or Redis's asyncio client).
Releasing due and expired messages is the clock task's alone: requests never
scan for them; they only wake the clock when they make a deadline earlier
than the one it sleeps towards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from console.agent.disk import SpaceReserve
from console.agent.events import EventBus
from console.agent.inbox_backend import InboxStore, StoreUnavailable
from console.models import JSON_TYPE, Message, MessageStatus
from console.output.budget import DEFAULT_BUDGET

log = logging.getLogger(__name__)
T = TypeVar("T")

CLOCK_RETRY = 5.0
"""Seconds before the clock tries again after a failure."""

CLOCK_POLL = 1.0
"""Seconds the clock sleeps at most: deadlines made by other agents sharing a store (Redis)
and the store's own clock are seen at least this often."""

AGENT_SOURCE = "opsconsole-agent"
"""The node the agent's own alerts come from."""


class InboxService:
    """Push, pull, ack and manage messages; tells the events stream of every change."""

    def __init__(self, store: InboxStore, events: EventBus, node_id: str) -> None:
        self.store = store
        self.events = events
        self.node_id = node_id
        self._wake = asyncio.Event()
        self._wake_at = float("inf")
        """When the clock will next look (epoch seconds); earlier deadlines wake it."""
        self._tasks: list[asyncio.Task[None]] = []
        self.reserve: SpaceReserve | None = None
        """Space given up so that deletes work on a full disk (set by the app)."""
        self.answer_bytes = DEFAULT_BUDGET.answer_bytes
        """The largest listing answer, bytes (``[agent.output] answer_bytes``; set by the app)."""

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run_clock(), name="inbox clock"),
            asyncio.create_task(self._follow_others(), name="inbox changes"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.store.close()

    async def _follow_others(self) -> None:
        """Other agents sharing the store (Redis) change messages too: tell our consoles."""
        try:
            async for change in self.store.changes():
                self.events.publish(change.topic, change.data)
        except Exception:  # the requests still work; only the relay of others' changes stops
            log.exception("inbox: no more changes from the other agents sharing the store")

    def _publish(self, messages: list[Message]) -> None:
        if not self.events.wanted("message"):
            return  # no console follows: the metadata would be built for no one
        for message in messages:
            self.events.publish("message", {**message.metadata(), "size": len(message.payload)})

    async def push(
        self,
        source: str,
        destination: str,
        payload: bytes,
        payload_type: str,
        topic: str | None = None,
        scheduled_time: float | None = None,
    ) -> Message:
        message = await self.store.push(
            source, destination, payload, payload_type, topic, scheduled_time
        )
        self._publish([message])
        if scheduled_time is not None:
            self._deadline(scheduled_time)
        return message

    async def pull(self, destination: str, quantity: int = 1) -> list[Message]:
        messages = await self.store.pull(destination, quantity)
        self._publish(messages)
        if messages:
            self._deadline(time.time() + self.store.policy.visibility_timeout)
        return messages

    async def ack(self, destination: str, message_ids: list[str]) -> list[Message]:
        """The messages acked: those of ``message_ids`` that were processing for ``destination``."""
        messages = await self.store.ack(destination, message_ids)
        self._publish(messages)
        return messages

    async def update(self, message_id: str, payload: bytes, payload_type: str) -> Message | None:
        message = await self.store.update_payload(message_id, payload, payload_type)
        if message is not None:
            self._publish([message])
        return message

    async def delete(self, message_id: str) -> bool:
        deleted = await self._freeing(lambda: self.store.delete(message_id))
        if deleted:
            self.events.publish("message.deleted", {"id": message_id})
        return deleted

    async def delete_all(self) -> int:
        count = await self._freeing(self.store.delete_all)
        self.events.publish("message.deleted", {"all": True, "count": count})
        return count

    async def _freeing(self, delete: Callable[[], Awaitable[T]]) -> T:
        """A delete works even on a full disk: the space reserve is given up for it."""
        return await (delete() if self.reserve is None else self.reserve.retrying_async(delete))

    async def alert(self, topic: str, details: dict[str, object]) -> None:
        """The agent itself tells the operator's node: the inbox is where alerts wait for an ack."""
        try:
            await self.push(
                AGENT_SOURCE, self.node_id, json.dumps(details).encode(), JSON_TYPE, topic
            )
        except Exception:  # an alert that cannot be stored must not break what raised it
            log.exception("could not store the alert %s", topic)

    def _deadline(self, when: float) -> None:
        """Something falls due at ``when``: wake the clock if it would look later than that."""
        if when < self._wake_at:
            self._wake.set()

    async def _run_clock(self) -> None:
        """Sleep until the next scheduled or expiring message, then release what is due.

        A failure (a full disk, a row it cannot read) is logged and retried after
        CLOCK_RETRY seconds: the clock serves every message, so it never stops for one.
        """
        while True:
            # Cleared before looking: a push while we look wakes the next wait, not this one.
            self._wake.clear()
            self._wake_at = float("inf")  # while looking, every new deadline wakes the next wait
            now = time.time()
            wake_at = now + CLOCK_POLL
            try:
                self._publish(await self.store.release_due())
                due = await self.store.next_due()
                if due is not None:
                    wake_at = min(wake_at, due)
            except StoreUnavailable as exc:  # Redis restarting: try again at the next look
                log.warning("inbox clock: %s", exc)
            except Exception:  # a full disk, a row it cannot read: never stop for one
                log.exception("the inbox clock failed; retrying in %.0f s", CLOCK_RETRY)
                wake_at = now + CLOCK_RETRY
            self._wake_at = wake_at
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, self._wake_at - now) + 0.01)


def parse_status(text: str | None) -> MessageStatus | None:
    if not text:
        return None
    try:
        return MessageStatus(text)
    except ValueError:
        raise ValueError(f"unknown status {text!r}") from None
