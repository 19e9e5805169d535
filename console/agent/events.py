"""The agent's events stream: state changes pushed to whoever listens, so no console polls."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from console.models import AgentEvent

QUEUE_LIMIT = 1000
"""Events a listener may fall behind by; past that its oldest are dropped and it is told."""


class Subscription:
    """One listener's bounded queue of events; ``lost`` counts what overflowed."""

    def __init__(self, bus: EventBus, prefixes: tuple[str, ...]) -> None:
        self._bus = bus
        self.prefixes = prefixes
        self._queue: deque[AgentEvent] = deque()
        self._ready = asyncio.Event()
        self.lost = 0

    def takes(self, topic: str) -> bool:
        """True when events of ``topic`` are for this listener."""
        return not self.prefixes or topic.startswith(self.prefixes)

    def offer(self, event: AgentEvent) -> None:
        if not self.takes(event.topic):
            return
        if len(self._queue) >= QUEUE_LIMIT:
            self._queue.popleft()
            self.lost += 1
        self._queue.append(event)
        self._ready.set()

    async def __aiter__(self) -> AsyncIterator[AgentEvent]:
        while True:
            while not self._queue:
                self._ready.clear()
                await self._ready.wait()
            if self.lost:
                lost, self.lost = self.lost, 0
                yield AgentEvent("lost", {"count": lost})
            yield self._queue.popleft()

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    """Fans each published event out to every subscription whose topic prefixes match."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()

    def publish(self, topic: str, data: dict[str, Any]) -> None:
        event = AgentEvent(topic, data)
        for subscription in self._subscriptions:
            subscription.offer(event)

    def wanted(self, topic: str) -> bool:
        """True when someone listens to ``topic``: an event nobody takes need not be built."""
        return any(subscription.takes(topic) for subscription in self._subscriptions)

    def subscribe(self, prefixes: tuple[str, ...] = ()) -> Subscription:
        subscription = Subscription(self, prefixes)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)
