"""What a fleet is made of, as data: rows tagged with their agent, each agent's standing,
and the summary counts. No network stack behind it (the console imports it at start-up)."""

from __future__ import annotations

from dataclasses import dataclass

from console.models import ConnectionState, MessageStatus, ProcessStatus

WAITING = frozenset({MessageStatus.PENDING, MessageStatus.SCHEDULED, MessageStatus.PROCESSING})
"""Message states that still wait for the operator's ack: what the summary counts as alerts."""


@dataclass(frozen=True)
class FleetProcess:
    """One process of one agent: ``context`` names the agent; ``online`` False while the
    agent is unreachable (the status is then the last one seen, stale)."""

    context: str
    status: ProcessStatus
    online: bool = True

    @property
    def key(self) -> str:
        """``CONTEXT/SLUG``: unique over the fleet (a slug is unique on one agent only)."""
        return fleet_key(self.context, self.status.slug)


def fleet_key(context: str, slug: str) -> str:
    """A row's key over the fleet: ``CONTEXT/SLUG`` (or any one-agent key for ``slug``)."""
    return f"{context}/{slug}"


@dataclass(frozen=True)
class MemberStatus:
    """How the console stands with one agent; ``reason`` says why when not connected."""

    context: str
    description: str
    state: ConnectionState
    reason: str = ""


@dataclass(frozen=True)
class FleetCounts:
    """The fleet summary: agents by connection state, fatal processes, alerts waiting."""

    connected: int = 0
    degraded: int = 0
    offline: int = 0
    connecting: int = 0
    fatal: int = 0
    waiting: int = 0

    @property
    def agents(self) -> int:
        """How many agents the fleet has, whatever their state."""
        return self.connected + self.degraded + self.offline + self.connecting

    def line(self, local: int = 0) -> str:
        """One short line (fits 80 columns), e.g. ``3 agents: 2 up 1 offline · 1 fatal · 4
        alerts``: states with no agent in them are left out. ``local``: how many of the
        agents are the console's own (spawned) one, named apart: ``local + 3 agents: 4 up
        · 0 fatal · 0 alerts``, or ``local agent: 1 up ...`` alone."""
        states = [
            f"{count} {word}"
            for count, word in (
                (self.connected, "up"),
                (self.degraded, "degraded"),
                (self.offline, "offline"),
                (self.connecting, "connecting"),
            )
            if count
        ]
        others = self.agents - local
        agents = f"{others} agent{'s' if others != 1 else ''}"
        if local:
            agents = f"local + {agents}" if others else "local agent"
        alerts = f"{self.waiting} alert{'s' if self.waiting != 1 else ''}"
        return f"{agents}: {' '.join(states) or 'none'} · {self.fatal} fatal · {alerts}"
