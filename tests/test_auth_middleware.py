"""The auth middleware in-process (httpx's ASGI transport): families, hosts, origins, answers."""

from __future__ import annotations

import pytest
from httpx import ASGITransport, AsyncClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from console.agent.auth import AuthMiddleware, AuthPolicy, FailureThrottle, family_of
from console.agent.browser_guard import host_name

TOKEN = "agent-token-for-tests"


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("in")


def client(policy: AuthPolicy, host: str = "127.0.0.1:8470") -> AsyncClient:
    app = Starlette(routes=[Route("/{path:path}", ok, methods=["GET", "POST"])])
    guarded = AuthMiddleware(app, policy, FailureThrottle(free=1000))
    return AsyncClient(transport=ASGITransport(app=guarded), base_url=f"http://{host}")


@pytest.mark.parametrize(
    ("path", "family"),
    [
        ("/", "processes"),
        ("/create-process", "processes"),
        ("/attach-console/a.b", "processes"),
        ("/search-log/a.b", "processes"),
        ("/messages", "inbox"),
        ("/messages/abc", "inbox"),
        ("/messagesX", "agent"),
        ("/messageQueue/1/ack", "inbox"),
        ("/scripts/echo/stream", "scripts"),
        ("/script_names", "scripts"),
        ("/runs/3", "scripts"),
        ("/queue", "modules"),
        ("/queueX", "agent"),
        ("/events", "events"),
        ("/nowhere", "agent"),
    ],
)
def test_each_path_belongs_to_one_family(path: str, family: str) -> None:
    assert family_of(path) == family


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("127.0.0.1:8470", "127.0.0.1"),
        ("[::1]:80", "::1"),
        ("LocalHost", "localhost"),
        ("::1", "::1"),
    ],
)
def test_host_names(host: str, name: str) -> None:
    assert host_name(host) == name


async def test_the_inbox_token_opens_the_inbox_only() -> None:
    policy = AuthPolicy(agent_tokens=(TOKEN,), inbox_tokens=("inbox-token",))
    async with client(policy) as http:
        inbox = {"Authorization": "inbox-token"}
        assert (await http.get("/messages", headers=inbox)).status_code == 200
        assert (await http.get("/scripts", headers=inbox)).status_code == 401
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        for path in ("/messages", "/scripts", "/", "/queue", "/nowhere"):
            assert (await http.get(path, headers=bearer)).status_code == 200, path
        assert (await http.get("/messages", headers={"Authorization": TOKEN})).status_code == 401
        latin1 = {"Authorization": "Bearer \xe9".encode("latin-1")}  # any byte may arrive
        assert (await http.get("/scripts", headers=latin1)).status_code == 401


@pytest.mark.parametrize(
    ("host", "origin", "site", "status"),
    [
        ("127.0.0.1:8470", None, None, 200),
        ("127.0.0.1:8470", "http://127.0.0.1:8470", "same-origin", 200),
        ("localhost", "http://localhost:80", None, 200),
        ("[::1]:8470", "http://[::1]:8470", None, 200),
        ("127.0.0.1:8470", "http://127.0.0.1:8471", None, 403),
        ("127.0.0.1:8470", "https://127.0.0.1:8470", None, 403),
        ("127.0.0.1:8470", "null", None, 403),
        ("127.0.0.1:8470", None, "cross-site", 403),
        ("127.0.0.1:8470", None, "same-site", 403),
        ("127.0.0.1:8470", None, "none", 200),
        ("evil.example:8470", None, None, 403),
        ("127.0.0.1.evil.example", None, None, 403),
        ("ops.example:8470", "http://ops.example:8470", None, 200),
    ],
)
async def test_the_browser_guard(host: str, origin: str | None, site: str | None, status: int):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if origin is not None:
        headers["Origin"] = origin
    if site is not None:
        headers["Sec-Fetch-Site"] = site
    policy = AuthPolicy(agent_tokens=(TOKEN,), allowed_hosts=frozenset({"ops.example"}))
    async with client(policy, host) as http:
        response = await http.post("/scripts/x", headers=headers)
    assert response.status_code == status, response.text


async def test_refusals_say_what_is_wanted() -> None:
    async with client(AuthPolicy(agent_tokens=(TOKEN,))) as http:
        refused = await http.get("/scripts")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer realm="opsconsole"'
    assert "Bearer" in refused.json()["error"]["message"]


async def test_no_auth_and_open_families() -> None:
    async with client(AuthPolicy(agent_tokens=(TOKEN,), no_auth=True)) as http:
        assert (await http.get("/scripts")).status_code == 200
    opened = AuthPolicy(agent_tokens=(TOKEN,), open_families=frozenset({"modules"}))
    async with client(opened) as http:
        assert (await http.post("/queue")).status_code == 200
        assert (await http.post("/pool")).status_code == 200
        assert (await http.get("/list-processes")).status_code == 401
        # Opened or not, a browser from elsewhere is still refused.
        cross = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
        assert (await http.post("/queue", headers=cross)).status_code == 403
