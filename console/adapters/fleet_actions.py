"""Actions across hosts: one call on many agents of a ``Fleet``, one result per host.

Every host runs at once and within its own time limit: a slow or dead one gives its own
failed ``HostResult`` and never holds back the others' answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from console.adapters.errors import BackendError
from console.adapters.smartmob import BULK_FEATURE
from console.models import ProcessStatus, RunResult

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.fleet import Fleet

Value = TypeVar("Value")

HOST_TIME_LIMIT = 30.0
"""Seconds one host may take over one action before its result says it timed out."""


@dataclass(frozen=True)
class HostResult(Generic[Value]):
    """What one host answered: ``value``, or ``error`` (a message) when it failed."""

    context: str
    value: Value | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


async def across(
    fleet: Fleet,
    call: Callable[[str, AgentClient], Awaitable[Value]],
    contexts: Iterable[str] | None = None,
    time_limit: float | None = HOST_TIME_LIMIT,
) -> list[HostResult[Value]]:
    """``call(context, client)`` on each context (all when None) at once; the results in
    the order of the contexts. A host not connected, one whose call raises BackendError,
    and one over ``time_limit`` seconds (None: no limit) each get a result with ``error``.
    Raises NotFound (before calling anything) when a context is not in the fleet."""
    chosen = fleet.select(contexts)

    async def one(context: str) -> HostResult[Value]:
        try:
            client = fleet.client(context)
            async with asyncio.timeout(time_limit):
                return HostResult(context, value=await call(context, client))
        except BackendError as exc:
            return HostResult(context, error=exc.message)
        except TimeoutError:
            return HostResult(context, error=f"no answer in {time_limit or 0:g} s")

    return list(await asyncio.gather(*(one(context) for context in chosen)))


async def processes_of_type(client: AgentClient, process_type: str) -> list[str]:
    """The slugs of ``process_type`` on one agent, as it lists them now."""
    return [p.slug for p in await client.processes.list() if p.process_type == process_type]


async def control_type(
    fleet: Fleet,
    action: str,
    process_type: str,
    contexts: Iterable[str] | None = None,
    time_limit: float = HOST_TIME_LIMIT,
) -> list[HostResult[list[ProcessStatus]]]:
    """Restart, stop or start every process of ``process_type`` (a Procfile's ``web``) on
    each host: one bulk call per agent that has the bulk routes, one call per process on
    one that has not. A host with no such process gives an empty list (nothing touched).
    ValueError for an unknown action."""
    if action not in ("restart", "stop", "start"):
        raise ValueError(f"no process action {action!r}")

    async def on_host(context: str, client: AgentClient) -> list[ProcessStatus]:
        slugs = await processes_of_type(client, process_type)
        if not slugs:
            return []
        if BULK_FEATURE in client.processes.features:
            return await client.processes.control_many(action, slugs=slugs)
        control = getattr(client.processes, action)
        return list(await asyncio.gather(*(control(slug) for slug in slugs)))

    return await across(fleet, on_host, contexts, time_limit)


async def run_script(
    fleet: Fleet,
    name: str,
    params: dict[str, str],
    contexts: Iterable[str] | None = None,
    time_limit: float = HOST_TIME_LIMIT,
) -> list[HostResult[RunResult]]:
    """Run script ``name`` with ``params`` on each host, to its end; each host's output
    stays in its own result."""

    async def on_host(context: str, client: AgentClient) -> RunResult:
        return await client.scripts.run(name, params)

    return await across(fleet, on_host, contexts, time_limit)
