"""The inbox service: the store, its clock (scheduled and expired messages), events, alerts.

No HTTP here. Store calls run in a worker thread: with synchronous commits a
push waits for the disk, and the event loop must not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from console.agent.disk import SpaceReserve
from console.agent.events import EventBus
from console.agent.inbox_store import InboxStore
from console.models import JSON_TYPE, Message, MessageStatus

log = logging.getLogger(__name__)
T = TypeVar("T")

CLOCK_RETRY = 5.0
"""Seconds before the clock tries again after a failure."""

AGENT_SOURCE = "opsconsole-agent"
"""The node the agent's own alerts come from."""


class InboxService:
    """Push, pull, ack and manage messages; tells the events stream of every change."""

    def __init__(self, store: InboxStore, events: EventBus, node_id: str) -> None:
        self.store = store
        self.events = events
        self.node_id = node_id
        self._wake = asyncio.Event()
        self._clock: asyncio.Task[None] | None = None
        self.reserve: SpaceReserve | None = None
        """Space given up so that deletes work on a full disk (set by the app)."""

    def start(self) -> None:
        self._clock = asyncio.create_task(self._run_clock(), name="inbox clock")

    async def close(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock
        self.store.close()

    def _publish(self, messages: list[Message]) -> None:
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
        message = await asyncio.to_thread(
            self.store.push, source, destination, payload, payload_type, topic, scheduled_time
        )
        self._publish([message])
        if scheduled_time is not None:
            self._wake.set()
        return message

    async def pull(self, destination: str, quantity: int = 1) -> list[Message]:
        await self._release_due()
        messages = await asyncio.to_thread(self.store.pull, destination, quantity)
        self._publish(messages)
        if messages:
            self._wake.set()
        return messages

    async def ack(self, destination: str, message_id: str) -> Message | None:
        message = await asyncio.to_thread(self.store.ack, destination, message_id)
        if message is not None:
            self._publish([message])
        return message

    async def update(self, message_id: str, payload: bytes, payload_type: str) -> Message | None:
        message = await asyncio.to_thread(
            self.store.update_payload, message_id, payload, payload_type
        )
        if message is not None:
            self._publish([message])
        return message

    async def delete(self, message_id: str) -> bool:
        deleted = await asyncio.to_thread(self._freeing, lambda: self.store.delete(message_id))
        if deleted:
            self.events.publish("message.deleted", {"id": message_id})
        return deleted

    async def delete_all(self) -> int:
        count = await asyncio.to_thread(self._freeing, self.store.delete_all)
        self.events.publish("message.deleted", {"all": True, "count": count})
        return count

    def _freeing(self, delete: Callable[[], T]) -> T:
        """A delete works even on a full disk: the space reserve is given up for it."""
        return delete() if self.reserve is None else self.reserve.retrying(delete)

    async def alert(self, topic: str, details: dict[str, object]) -> None:
        """The agent itself tells the operator's node: the inbox is where alerts wait for an ack."""
        try:
            await self.push(
                AGENT_SOURCE, self.node_id, json.dumps(details).encode(), JSON_TYPE, topic
            )
        except Exception:  # an alert that cannot be stored must not break what raised it
            log.exception("could not store the alert %s", topic)

    async def _release_due(self) -> None:
        changed = await asyncio.to_thread(self.store.release_due)
        self._publish(changed)

    async def _run_clock(self) -> None:
        """Sleep until the next scheduled or expiring message, then release what is due.

        A failure (a full disk, a row it cannot read) is logged and retried after
        CLOCK_RETRY seconds: the clock serves every message, so it never stops for one.
        """
        while True:
            # Cleared before looking: a push while we look wakes the next wait, not this one.
            self._wake.clear()
            try:
                await self._release_due()
                due = await asyncio.to_thread(self.store.next_due)
            except Exception:
                log.exception("the inbox clock failed; retrying in %.0f s", CLOCK_RETRY)
                due = time.time() + CLOCK_RETRY
            delay = None if due is None else max(0.0, due - time.time()) + 0.01
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)


def parse_status(text: str | None) -> MessageStatus | None:
    if not text:
        return None
    try:
        return MessageStatus(text)
    except ValueError:
        raise ValueError(f"unknown status {text!r}") from None
