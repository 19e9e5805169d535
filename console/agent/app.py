"""The agent's one ASGI app: every service's routes on one port, sharing one set of children."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from console import __version__
from console.agent import (
    inbox_channel,
    inbox_routes,
    modules_routes,
    processes_routes,
    scripts_routes,
)
from console.agent.auth import AuthMiddleware, AuthPolicy
from console.agent.children import Children
from console.agent.credentials import (
    ensure_agent_token,
    inbox_tokens,
    keep_files_private,
    make_tree_private,
)
from console.agent.disk import SpaceReserve
from console.agent.events import EventBus
from console.agent.header_case import TitleCaseHeaders
from console.agent.htpasswd import Htpasswd
from console.agent.http import send_until_gone
from console.agent.inbox import InboxService
from console.agent.inbox_backend import open_store
from console.agent.module_process import ModuleTimeouts
from console.agent.modules import MAX_MODULES, ModuleService, new_uid, sequential_uids
from console.agent.modules_tcp import serve_tcp
from console.agent.processes import ProcessService
from console.agent.run_history import RunHistory
from console.agent.scripts import ScriptService
from console.agent.sources import Limits
from console.agent.ws_frames import KeepServerSend
from console.config import AgentSettings
from console.demo import load_demo
from console.models import ProcessState


def create_app(settings: AgentSettings) -> Starlette:
    """The agent's app, behind its auth middleware; creates the agent token if there is none.

    Raises ConfigError when a secret's file cannot be used.
    """
    children = Children(umask=keep_files_private())
    # Before the data dir is tightened: a token file others could read is refused, not hidden.
    policy = auth_policy(settings)
    make_tree_private(settings.data_dir)
    events = EventBus()
    history = RunHistory(settings.data_dir / "scripts.db", keep=settings.history_keep)
    scripts = ScriptService(settings.scripts, history, children)
    inbox = InboxService(
        open_store(
            settings.inbox, settings.data_dir, settings.delivery_policy(), socket.gethostname()
        ),
        events,
        settings.node_id,
    )
    scripts.events = events
    scripts.budget = settings.output_budget()
    inbox.answer_bytes = scripts.budget.answer_bytes
    inbox.reserve = SpaceReserve(settings.data_dir / "space-reserve")
    inbox.reserve.ensure()
    timeouts = ModuleTimeouts(**settings.module_timeouts)
    uids = sequential_uids() if settings.module_uids == "sequential" else new_uid
    module_services = [
        ModuleService(
            name,
            name == "queue",
            settings.module_types(name),
            settings.module_types(name, "backgrounds"),
            children,
            events,
            timeouts,
            uids,
            settings.module_limit(name, MAX_MODULES),
        )
        for name in ("queue", "pool")
    ]
    processes = ProcessService(
        settings.data_dir,
        children,
        events,
        policy=settings.restart_policy(),
        limits=Limits(
            download=settings.download_max_bytes,
            download_seconds=settings.download_timeout,
            allow_link_local=settings.source_allow_link_local,
        ),
        log_dir=settings.data_dir / "logs" if settings.process_log_files else None,
        budget=settings.output_budget(),
    )
    features = [
        *scripts_routes.FEATURES,
        *processes_routes.FEATURES,
        *inbox_routes.FEATURES,
        *inbox_channel.FEATURES,
        "events",
        "modules.events",
    ]

    async def index(request: Request) -> JSONResponse:
        """Where things are: the smartmob keys first, then ours (older clients ignore extras)."""
        return JSONResponse(
            {
                "list": str(request.url_for("list_processes")),
                "create": str(request.url_for("create_process")),
                "scripts": str(request.url_for("scripts_index")),
                "events": str(request.url_for("events")).replace("http", "ws", 1),
                "opsconsole": {
                    "version": __version__,
                    "node_id": settings.node_id,
                    "features": features,
                },
            }
        )

    async def event_stream(websocket: WebSocket) -> None:
        """Every state change as a JSON frame; ``?topics=a,b`` keeps those topic prefixes."""
        topics = tuple(t for t in websocket.query_params.get("topics", "").split(",") if t)
        subscription = events.subscribe(topics)
        await websocket.accept()
        # Subscribed before this frame: a client that lists after it misses nothing.
        await websocket.send_text(json.dumps({"topic": "hello", "data": {}}))
        frames = (json.dumps(event.to_wire()) async for event in subscription)
        try:
            await send_until_gone(websocket, frames)
        finally:
            subscription.close()

    async def stop_children() -> None:
        """Stop every child; runs in flight end (and answer) at once. Safe to call twice."""
        await asyncio.gather(*(service.close() for service in module_services))
        await processes.close()
        await children.close()
        await scripts.close()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await children.start()
        inbox.start()
        watcher = asyncio.create_task(raise_alerts(events, inbox)) if settings.alerts else None
        tcp_servers = [
            await serve_tcp(service, port)
            for service in module_services
            if (port := settings.module_tcp_port(service.name)) is not None
        ]
        if settings.demo:
            await load_demo(processes, inbox, *module_services)
        try:
            yield
        finally:
            for server in tcp_servers:
                server.close()
            await stop_children()
            if watcher is not None:
                watcher.cancel()
            await inbox.close()
            history.close()

    # scirocco-server refuses a schedule before its own start (its schema's ``min: Date.now()``).
    inbox_started = time.time()
    # First: it must see the server's own ``send``, before anything wraps it.
    # Then names are title-cased whatever answered (a route, auth, a 404).
    middleware = [
        Middleware(KeepServerSend),
        Middleware(TitleCaseHeaders),
        Middleware(AuthMiddleware, policy=policy),
    ]
    app = Starlette(
        routes=[
            # The inbox first: routes are tried in order, and its calls come most often.
            *inbox_routes.routes(inbox, inbox_started),
            inbox_channel.route(inbox, inbox_started),
            Route("/", index, methods=["GET"]),
            WebSocketRoute("/events", event_stream, name="events"),
            *scripts_routes.routes(scripts),
            *processes_routes.routes(processes),
            *modules_routes.routes(module_services),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.data_dir = settings.data_dir  # the disk a full-disk error names
    app.state.body_timeout = settings.connection_limits().body_timeout
    app.state.scripts = scripts
    app.state.processes = processes
    app.state.inbox = inbox
    app.state.module_services = module_services
    app.state.stop_children = stop_children
    return app


def auth_policy(settings: AgentSettings) -> AuthPolicy:
    """Who may in, from the settings (the agent token is read, or made, here)."""
    token, _ = ensure_agent_token(settings.agent_token_file)
    allowed = {host.strip().lower().strip("[]") for host in settings.allowed_hosts}
    if settings.host not in ("0.0.0.0", "::", ""):
        allowed.add(settings.host.lower().strip("[]"))
    return AuthPolicy(
        agent_tokens=(token,),
        inbox_tokens=tuple(inbox_tokens(settings)),
        htpasswd=Htpasswd(settings.htpasswd) if settings.htpasswd is not None else None,
        open_families=frozenset(settings.open_families),
        no_auth=settings.no_auth,
        allowed_hosts=frozenset(allowed),
    )


async def raise_alerts(events: EventBus, inbox: InboxService) -> None:
    """Turn a process gone fatal, or a failed script run, into a message for the operator."""
    subscription = events.subscribe(("process", "script.run"))
    try:
        async for event in subscription:
            data = event.data
            if event.topic == "process" and data.get("state") == ProcessState.FATAL:
                await inbox.alert(
                    "alert.process.fatal",
                    {
                        "summary": f"{data['slug']} is fatal: {data.get('message')}",
                        "slug": data["slug"],
                        "last_exit": data.get("last_exit"),
                        "restarts": data.get("restarts"),
                    },
                )
            elif event.topic == "script.run" and data.get("retcode") not in (0, None):
                await inbox.alert(
                    "alert.script.failed",
                    {
                        "summary": f"script {data['script']} exited {data['retcode']}",
                        **data,
                    },
                )
    finally:
        subscription.close()
