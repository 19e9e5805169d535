"""What each pane asks of a backend, one protocol per pane kind (as Harlequin's adapter.py).

The console is coded against these; ``AgentClient`` holds one implementation of
each (our agent's wire formats: smartmob, scirocco, shmooze, jojo). Another
backend that offers the same methods plugs into the same panes. Errors are the
adapter hierarchy: AuthError, NotFound, Unavailable, BackendError.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from console.adapters.base import ScriptsBackend
from console.adapters.changes import Change
from console.models import (
    LogEvent,
    LogSearchResult,
    Message,
    ModuleInfo,
    ModuleSnapshot,
    ProcessDetails,
    ProcessStatus,
    ProcessUsage,
)

__all__ = ["InboxBackend", "ModulesBackend", "ProcessesBackend", "ScriptsBackend"]


class ProcessesBackend(Protocol):
    """Long-running processes: watch them, control them, read their logs."""

    features: frozenset[str]

    @property
    def controllable(self) -> bool:
        """True when restart, stop and start are offered."""

    def watch(self) -> AsyncIterator[Change[ProcessStatus]]:
        """Resync, Upsert, Removed(slug), Offline, for ever. Raises BackendError."""

    async def list(self) -> list[ProcessStatus]:
        """Every process's status. Raises Unavailable, BackendError."""

    async def details(self, slug: str) -> ProcessDetails:
        """Command, env (secrets masked), exits, usage. Raises NotFound, BackendError."""

    async def usage(self) -> dict[str, ProcessUsage]:
        """CPU and memory of running processes by slug ({} when not offered).
        Raises Unavailable, BackendError."""

    async def create(
        self,
        app: str,
        node: str,
        process_type: str,
        source_url: str,
        env: dict[str, str] | None = None,
    ) -> ProcessStatus:
        """A new process's first status. Raises BackendError."""

    async def restart(self, slug: str) -> ProcessStatus:
        """Its status once restarted. Raises NotFound, BackendError."""

    async def stop(self, slug: str) -> ProcessStatus:
        """Its status once stopped. Raises NotFound, BackendError."""

    async def start(self, slug: str) -> ProcessStatus:
        """Its status once started. Raises NotFound, BackendError."""

    async def control_many(
        self, action: str, *, app: str | None = None, slugs: list[str] | None = None
    ) -> list[ProcessStatus]:
        """Each status after one call on many. Raises NotFound, BackendError."""

    async def delete(self, slug: str) -> None:
        """Stop and forget it. Raises NotFound, BackendError."""

    def tail(self, slug: str, since: int | None = None) -> AsyncIterator[LogEvent]:
        """Its log from ``since`` on, following. Raises NotFound, BackendError."""

    @property
    def searchable(self) -> bool:
        """True when ``search_log`` is offered."""

    async def search_log(
        self,
        slug: str,
        text: str,
        *,
        before: int | None = None,
        after: int | None = None,
        context: int = ...,
    ) -> LogSearchResult:
        """The nearest line holding ``text`` older than ``before`` (or newer than ``after``)
        in its whole log, with its context. Raises NotFound, BackendError."""


class InboxBackend(Protocol):
    """This node's messages: watch, pull, ack, push, delete."""

    node_id: str

    def watch(self, limit: int = ...) -> AsyncIterator[Change[Any]]:
        """Resync, Upsert (metadata; see fetch_payloads), Removed(id), Offline, for ever.
        Raises AuthError, BackendError."""

    async def fetch_payloads(self, ids: set[str], limit: int = ...) -> list[Message]:
        """The messages of ``ids`` that still exist, payloads included. Raises BackendError."""

    async def pull(self) -> Message | None:
        """The oldest pending message, now processing; None: none. Raises BackendError."""

    async def ack(self, message_id: str) -> Message:
        """It, now processed. Raises NotFound, BackendError."""

    async def push(
        self,
        destination: str,
        content: Any,
        topic: str | None = None,
        scheduled_time: float | None = None,
    ) -> Message:
        """The message stored. Raises AuthError, BackendError."""

    async def delete(self, message_id: str) -> None:
        """Raises NotFound, BackendError."""

    async def delete_all(self) -> int:
        """How many were deleted. Raises BackendError."""


class ModulesBackend(Protocol):
    """One queue or pool of modules."""

    service: str

    def watch(self) -> AsyncIterator[Change[ModuleSnapshot | ModuleInfo]]:
        """Resync([snapshot]), Upsert(module), Offline, for ever. Raises BackendError."""

    async def snapshot(self) -> ModuleSnapshot:
        """The modules in order and the background. Raises NotFound, BackendError."""

    async def add(self, type_name: str, args: dict[str, Any] | None = None) -> str:
        """The new module's uid. Raises BackendError."""

    async def set_background(self, type_name: str, args: dict[str, Any] | None = None) -> str:
        """The new background's uid. Raises BackendError."""

    async def remove(self, *uids: str) -> None:
        """Raises BackendError."""

    async def move_to_front(self, *uids: str) -> None:
        """Raises BackendError."""

    async def tell(self, uid: str, cmd: str, args: dict[str, Any] | None = None) -> Any:
        """The module's answer. Raises BackendError."""

    async def available(self) -> tuple[list[str], list[str]]:
        """Module types and background types. Raises BackendError."""
