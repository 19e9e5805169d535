"""The agent's one ASGI app: every service's routes, on one port, sharing one set of children."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from console import __version__
from console.agent import scripts_routes
from console.agent.auth import BasicAuthMiddleware, Htpasswd
from console.agent.children import Children
from console.agent.run_history import RunHistory
from console.agent.scripts import ScriptService
from console.config import AgentSettings


def create_app(settings: AgentSettings) -> Starlette:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    children = Children()
    history = RunHistory(settings.data_dir / "scripts.db", keep=settings.history_keep)
    scripts = ScriptService(settings.scripts, history, children)
    features = [*scripts_routes.FEATURES]

    async def index(request: Request) -> JSONResponse:
        """Where things are; older clients read their own keys and ignore ours."""
        return JSONResponse(
            {
                "scripts": str(request.url_for("scripts_index")),
                "opsconsole": {
                    "version": __version__,
                    "node_id": settings.node_id,
                    "features": features,
                },
            }
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await children.start()
        try:
            yield
        finally:
            await children.close()
            await scripts.close()
            history.close()

    middleware = []
    if settings.htpasswd is not None:
        middleware.append(Middleware(BasicAuthMiddleware, htpasswd=Htpasswd(settings.htpasswd)))
    app = Starlette(
        routes=[Route("/", index, methods=["GET"]), *scripts_routes.routes(scripts)],
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.scripts = scripts
    return app
