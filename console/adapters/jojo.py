"""Scripts over the Jojo API (PROTOCOLS.md §1), with our streaming and history extensions.

Against a plain Jojo server (no extensions) a streamed run falls back to one
blocking run whose output is replayed as events, and the history is empty.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx

from console.adapters import websocket
from console.adapters.base import Endpoint, json_body, request
from console.adapters.errors import AuthError, BackendError, NotFound, Unavailable
from console.models import (
    RunEvent,
    RunFinished,
    RunOutput,
    RunRecord,
    RunResult,
    RunStarted,
    Script,
    Stream,
    run_event_from_wire,
)

STREAM_FEATURE = "scripts.stream"
HISTORY_FEATURE = "scripts.history"

# A run can take as long as the script does; only connecting is bounded.
RUN_TIMEOUT = httpx.Timeout(None, connect=5.0)


class JojoScripts:
    """A ScriptsBackend speaking the Jojo wire format."""

    def __init__(
        self, http: httpx.AsyncClient, endpoint: Endpoint, features: frozenset[str] = frozenset()
    ) -> None:
        self._http = http
        self._endpoint = endpoint
        self.features = features
        self._methods: dict[str, str] = {}

    @property
    def streams(self) -> bool:
        """True when the agent streams a run line by line (our extension); False: output at the
        end."""
        return STREAM_FEATURE in self.features

    async def list_scripts(self) -> list[Script]:
        """Every script of the catalog, in the agent's order. Raises AuthError without valid Basic
        credentials, Unavailable when the agent cannot be reached, BackendError for an answer
        that is not a catalog."""
        body = json_body(await request(self._http, "GET", "/scripts"))
        scripts = [Script.from_wire(meta) for meta in _field(body, "scripts").values()]
        self._methods = {s.name: s.http_method.value for s in scripts}
        return sorted(scripts, key=lambda s: s.name)

    async def get_script(self, name: str) -> Script:
        """One script's header (params, flags). Raises NotFound for an unknown name, BackendError
        otherwise."""
        body = json_body(await request(self._http, "OPTIONS", _script_path(name)))
        script = Script.from_wire(_field(body, "script"))
        self._methods[script.name] = script.http_method.value
        return script

    async def run(self, name: str, params: dict[str, str]) -> RunResult:
        """Run a script to its end with ``params``; its RunResult (retcode, output). Raises
        NotFound for an unknown script, BackendError otherwise."""
        method = self._methods.get(name) or (await self.get_script(name)).http_method.value
        response = await request(
            self._http, method.upper(), _script_path(name), json=params, timeout=RUN_TIMEOUT
        )
        return RunResult.from_wire(json_body(response))

    async def stream_run(self, name: str, params: dict[str, str]) -> AsyncIterator[RunEvent]:
        """Run a script, yielding RunWaiting / RunStarted / RunOutput per line / RunFinished as
        they happen (one RunFinished at the end from an agent without streaming). Raises
        NotFound for an unknown script, BackendError otherwise."""
        if not self.streams:
            async for event in self._replayed_run(name, params):
                yield event
            return
        path = f"{_script_path(name)}/stream"
        async with websocket.connect(self._endpoint, path) as ws:
            from websockets.exceptions import ConnectionClosed  # loaded by connect

            try:
                await ws.send(json.dumps({"params": params}))
                async for frame in ws:
                    wire = json.loads(frame)
                    if wire.get("event") == "error":
                        raise _stream_error(wire)
                    event = run_event_from_wire(wire)
                    yield event
                    if isinstance(event, RunFinished):
                        return
            except ConnectionClosed as exc:
                raise Unavailable(f"run stream of {name!r} dropped: {exc}") from exc
        raise Unavailable(f"run stream of {name!r} ended before the script finished")

    async def _replayed_run(self, name: str, params: dict[str, str]) -> AsyncIterator[RunEvent]:
        started = time.time()
        yield RunStarted(None, started)
        result = await self.run(name, params)
        for line in result.stdout:
            yield RunOutput(Stream.STDOUT, line)
        for line in result.stderr or []:
            yield RunOutput(Stream.STDERR, line)
        yield RunFinished(None, result.retcode, time.time() - started)

    async def history(self, name: str | None = None, limit: int = 50) -> list[RunRecord]:
        """The newest ``limit`` runs (of ``name``, or of every script), newest first, without
        output. Raises NotFound from an agent without run history, BackendError otherwise."""
        if HISTORY_FEATURE not in self.features:
            return []
        query: dict[str, str | int] = {"limit": limit}
        if name:
            query["script"] = name
        body = json_body(await request(self._http, "GET", "/runs", params=query))
        return [RunRecord.from_wire(run) for run in _field(body, "runs")]

    async def run_record(self, run_id: int) -> RunRecord:
        """One past run with its output. Raises NotFound for an unknown run id, BackendError
        otherwise."""
        if HISTORY_FEATURE not in self.features:
            raise NotFound("this server keeps no run history")
        body = json_body(await request(self._http, "GET", f"/runs/{run_id}"))
        return RunRecord.from_wire(_field(body, "run"))

    async def reload(self) -> None:
        """Have the agent re-read its scripts directory. Raises BackendError when it refuses."""
        await request(self._http, "POST", "/reload")
        self._methods.clear()


def _script_path(name: str) -> str:
    return f"/scripts/{quote(name, safe='')}"


def _field(body: object, key: str) -> dict | list:
    if not isinstance(body, dict) or not isinstance(body.get(key), dict | list):
        raise BackendError(f"unexpected answer: no {key!r} in {str(body)[:80]}")
    return body[key]


def _stream_error(wire: dict) -> BackendError:
    code = wire.get("code")
    message = str(wire.get("message", "run failed"))
    if code == 404:
        return NotFound(message, code)
    if code == 401:
        return AuthError(message, code)
    return BackendError(message, code if isinstance(code, int) else None)
