"""Processes over the smartmob-agent API (PROTOCOLS.md §2), with our control and log extensions.

Against a server with only the compatible routes, restart/stop/start raise
BackendError, and a tail reads plain text frames: it numbers lines itself and
cannot resume exactly after a drop.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx

from console.adapters import websocket
from console.adapters.base import Endpoint, json_body, request
from console.adapters.changes import Backoff, Change, Removed, Upsert
from console.adapters.errors import BackendError, NotFound, Unavailable
from console.adapters.watch import EventSource, no_events, resyncing
from console.models import (
    AgentEvent,
    LogBatch,
    LogEvent,
    LogGap,
    LogPartial,
    LogSearchResult,
    ProcessDetails,
    ProcessStatus,
    ProcessUsage,
    Stream,
)
from console.models.processes import process_listing

CONTROL_FEATURE = "processes.control"
BULK_FEATURE = "processes.bulk"
JSON_LOGS_FEATURE = "processes.json-logs"
PARTIAL_LINES_FEATURE = "processes.partial-lines"
LOG_SEARCH_FEATURE = "processes.log-search"
DETAILS_FEATURE = "processes.details"
USAGE_FEATURE = "processes.usage"

# Close codes our agent uses when it refuses an attach.
CLOSE_UNKNOWN = 4404
CLOSE_BAD_REQUEST = 4400


class SmartmobProcesses:
    """A ProcessesBackend speaking the smartmob-agent wire format."""

    def __init__(
        self, http: httpx.AsyncClient, endpoint: Endpoint, features: frozenset[str] = frozenset()
    ) -> None:
        self._http = http
        self._endpoint = endpoint
        self.features = features
        self.events: EventSource = no_events
        """The agent's events (set by ``AgentClient``), for ``watch``."""

    @property
    def controllable(self) -> bool:
        """True when the agent has our restart/stop/start routes."""
        return CONTROL_FEATURE in self.features

    async def list(self) -> list[ProcessStatus]:
        """Every process's status. Raises Unavailable when the agent cannot be reached,
        BackendError for an answer that is not a listing."""
        body = json_body(await request(self._http, "GET", "/list-processes"))
        try:
            return process_listing(body)
        except ValueError as exc:
            raise BackendError(str(exc)) from None

    def watch(self) -> AsyncIterator[Change[ProcessStatus]]:
        """The processes as they change, for ever: a Resync of the listing after every
        (re)connection, Upsert of a new status, Removed(slug) of a deleted process, Offline
        when the stream drops. Listing errors raise BackendError; an agent without an events
        stream gives one Resync with ``live`` False and ends."""
        return resyncing(self.events(("process",)), self.list, _process_change)

    async def get(self, slug: str) -> ProcessStatus:
        """One process's status. Raises NotFound for an unknown slug, BackendError otherwise."""
        return await self._status("GET", f"/process-status/{_q(slug)}")

    async def details(self, slug: str) -> ProcessDetails:
        """Its status with command, workdir, environment (secrets masked by the agent), the
        last runs' ends and its usage. Raises NotFound for an unknown slug, BackendError
        otherwise (also for an agent without the details route)."""
        if DETAILS_FEATURE not in self.features:
            raise BackendError("this agent gives no process details (no details route)")
        body = json_body(await request(self._http, "GET", f"/process-details/{_q(slug)}"))
        if not isinstance(body, dict) or "slug" not in body:
            raise BackendError(f"unexpected process details: {str(body)[:80]}")
        return ProcessDetails.from_wire(body)

    async def usage(self) -> dict[str, ProcessUsage]:
        """CPU and memory of each running process, by slug; empty from an agent that does
        not sample them. Raises Unavailable, BackendError."""
        if USAGE_FEATURE not in self.features:
            return {}
        body = json_body(await request(self._http, "GET", "/process-usage"))
        usage = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(usage, dict):
            raise BackendError(f"unexpected process usage: {str(body)[:80]}")
        found = {str(slug): ProcessUsage.from_wire(wire) for slug, wire in usage.items()}
        return {slug: u for slug, u in found.items() if u is not None}

    async def create(
        self,
        app: str,
        node: str,
        process_type: str,
        source_url: str,
        env: dict[str, str] | None = None,
    ) -> ProcessStatus:
        """Create (and start) a process of ``process_type`` from the Procfile at ``source_url``;
        its first status. Raises BackendError with the agent's reason (slug taken, bad source)."""
        document = {
            "app": app,
            "node": node,
            "process_type": process_type,
            "source_url": source_url,
            "env": env or {},
        }
        return await self._status("POST", "/create-process", json=document)

    async def delete(self, slug: str) -> None:
        """Stop a process and forget it. Raises NotFound for an unknown slug, BackendError
        otherwise."""
        await request(self._http, "POST", f"/delete-process/{_q(slug)}", json={})

    async def restart(self, slug: str) -> ProcessStatus:
        """Restart a process; its status once settled. Raises NotFound, BackendError (also without
        control routes)."""
        return await self._control("restart", slug)

    async def stop(self, slug: str) -> ProcessStatus:
        """Stop a process; its status once settled. Raises NotFound, BackendError (also without
        control routes)."""
        return await self._control("stop", slug)

    async def start(self, slug: str) -> ProcessStatus:
        """Start a stopped or fatal process; its status once settled. Raises NotFound, BackendError
        (also without control routes)."""
        return await self._control("start", slug)

    async def control_many(
        self, action: str, *, app: str | None = None, slugs: list[str] | None = None
    ) -> list[ProcessStatus]:
        """Restart, stop or start every process of ``app``, the ``slugs`` given, or (neither)
        all of them, in one call; each one's status once settled.

        Raises NotFound for an unknown app or slug (then nothing was touched), BackendError
        when the agent has no bulk routes.
        """
        if action not in ("restart", "stop", "start"):
            raise ValueError(f"no process action {action!r}")
        if BULK_FEATURE not in self.features:
            raise BackendError(
                f"this agent cannot {action} many processes at once (no bulk routes)"
            )
        selection: dict[str, object] = (
            {"app": app} if app is not None else {"slugs": slugs} if slugs else {"all": True}
        )
        body = json_body(await request(self._http, "POST", f"/{action}-processes", json=selection))
        if not isinstance(body, dict) or not isinstance(body.get("processes"), list):
            raise BackendError(f"unexpected bulk answer: {str(body)[:80]}")
        return [ProcessStatus.from_wire(p) for p in body["processes"]]

    async def _control(self, action: str, slug: str) -> ProcessStatus:
        if not self.controllable:
            raise BackendError(f"this agent cannot {action} a process (no control routes)")
        return await self._status("POST", f"/{action}-process/{_q(slug)}")

    async def _status(self, method: str, path: str, **kwargs: object) -> ProcessStatus:
        body = json_body(await request(self._http, method, path, **kwargs))  # type: ignore[arg-type]
        if not isinstance(body, dict) or "slug" not in body:
            raise BackendError(f"unexpected process status: {str(body)[:80]}")
        return ProcessStatus.from_wire(body)

    @property
    def searchable(self) -> bool:
        """True when the agent searches a process's whole log ring (``search_log``)."""
        return LOG_SEARCH_FEATURE in self.features

    async def search_log(
        self,
        slug: str,
        text: str,
        *,
        before: int | None = None,
        after: int | None = None,
        context: int = 100,
    ) -> LogSearchResult:
        """The nearest line holding ``text`` (any case) older than sequence ``before``, or newer
        than ``after`` (neither: the newest), with ``context`` lines each side, from the agent's
        whole ring of the process's output (more than a view keeps).

        Raises NotFound for an unknown slug, BackendError for a refused search (an agent
        without the route, text too long) or an answer that is not a search result.
        """
        if not self.searchable:
            raise BackendError("this agent cannot search a log (no search route)")
        params: dict[str, str | int] = {"text": text, "context": context}
        if before is not None:
            params["before"] = before
        if after is not None:
            params["after"] = after
        path = f"/search-log/{_q(slug)}"
        body = json_body(await request(self._http, "GET", path, params=params))
        try:
            return LogSearchResult.from_wire(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendError(f"unexpected log search answer: {str(body)[:80]}") from exc

    async def tail(
        self, slug: str, since: int | None = None, partial: bool = False
    ) -> AsyncIterator[LogEvent]:
        """Every line from ``since`` on, following; re-attaches by itself after a drop.

        With ``partial`` (and an agent that offers it) a ``LogPartial`` shows the line
        a stream is still writing, until its complete line comes in a ``LogBatch``.

        Ends when the process is deleted. After a drop it resumes at the next
        sequence number it has not seen, so lines are neither lost nor repeated
        (a LogGap says so when the agent no longer holds them).
        """
        backoff = Backoff()
        while True:
            try:
                async for event in self._attach_once(slug, since, partial):
                    backoff.reset()
                    since = event.end
                    yield event
                return
            except Unavailable:
                await backoff.wait()

    async def _attach_once(
        self, slug: str, since: int | None, partial: bool
    ) -> AsyncIterator[LogEvent]:
        as_json = JSON_LOGS_FEATURE in self.features
        path = f"/attach-console/{_q(slug)}"
        if as_json:
            path += "?format=json" + (f"&since={since}" if since is not None else "")
            if partial and PARTIAL_LINES_FEATURE in self.features:
                path += "&partial=1"
        seq = since or 0
        async with websocket.connect(self._endpoint, path) as ws:
            from websockets.exceptions import ConnectionClosed, ConnectionClosedOK  # loaded

            try:
                async for frame in ws:
                    if as_json:
                        yield _log_event(json.loads(frame))
                    else:
                        text = frame if isinstance(frame, str) else frame.decode(errors="replace")
                        yield LogBatch(seq, time.time(), Stream.STDOUT, [text])
                        seq += 1
            except ConnectionClosed as exc:
                if ws.close_code == CLOSE_UNKNOWN:
                    raise NotFound(ws.close_reason or f"no process {slug!r}", 404) from None
                if ws.close_code == CLOSE_BAD_REQUEST:
                    raise BackendError(ws.close_reason or "attach refused", 400) from None
                if not isinstance(exc, ConnectionClosedOK):
                    raise Unavailable(f"log stream of {slug} dropped: {exc}") from exc


def _process_change(event: AgentEvent) -> Change[ProcessStatus] | None:
    if event.topic == "process":
        return Upsert(ProcessStatus.from_wire(event.data))
    if event.topic == "process.deleted":
        return Removed(str(event.data.get("slug", "")))
    return None


def _log_event(wire: dict) -> LogEvent:
    gap = wire.get("gap")
    if isinstance(gap, dict):
        return LogGap(int(gap["seq"]), int(gap["count"]))
    partial = wire.get("partial")
    if isinstance(partial, dict):
        return LogPartial(int(partial["seq"]), Stream(partial["stream"]), str(partial["text"]))
    return LogBatch.from_wire(wire)


def _q(slug: str) -> str:
    return quote(slug, safe="")
