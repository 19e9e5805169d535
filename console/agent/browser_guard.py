"""What a browser may not do to the agent: the checks the auth middleware runs first.

A web page the operator opens can make the browser send requests to the agent
(forms, no-cors ``fetch``, WebSocket handshakes, DNS rebinding). Browsers mark
such requests: ``Origin`` names the page's origin, ``Sec-Fetch-Site`` says
``cross-site`` or ``same-site`` (Fetch Metadata, W3C), and a rebound name arrives
as the ``Host`` header. Our own clients (CLI, console, old clients) send no
``Origin`` and a loopback ``Host`` (or one the operator lists in ``allowed_hosts``).
"""

from __future__ import annotations

import functools

from starlette.datastructures import Headers
from starlette.types import Scope

from console.config import is_loopback

FETCH_SITES_ALLOWED = ("same-origin", "none")
"""``none`` is a navigation the user typed; ``same-site`` is another port or subdomain: refused."""

_DEFAULT_PORTS = {"http": "80", "https": "443"}


def host_name(host: str) -> str:
    """The name part of a ``Host`` header value: ``[::1]:80`` → ``::1``, ``a.b:8`` → ``a.b``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _origin(scheme: str, host: str) -> str:
    """``scheme://host[:port]`` with the scheme's default port left out, lower-cased."""
    host = host.strip().lower()
    default = _DEFAULT_PORTS.get(scheme)
    if default and host.endswith(f":{default}") and not host.endswith("]"):
        host = host.removesuffix(f":{default}")
    return f"{scheme}://{host}"


@functools.lru_cache(maxsize=256)
def host_refusal(host: str, allowed_hosts: frozenset[str]) -> str | None:
    """Why a ``Host`` header value is not served here; None if it is. Cached: every request
    of a client names the same host, and parsing it as an address is the guard's dearest step."""
    name = host_name(host)
    if not is_loopback(name) and name not in allowed_hosts:
        return f"the host {name!r} is not served here (add it to the agent's allowed_hosts)"
    return None


def refusal(scope: Scope, headers: Headers, allowed_hosts: frozenset[str]) -> str | None:
    """Why this request or handshake looks sent by a browser for another site; None if fine."""
    host = headers.get("host")
    if not host:
        return "a Host header is required"
    refused = host_refusal(host, allowed_hosts)
    if refused is not None:
        return refused
    site = headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in FETCH_SITES_ALLOWED:
        return f"a {site.strip().lower()} request from a browser is refused"
    origin = headers.get("origin")
    if origin is not None:
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        given = origin.strip().lower()
        if "://" in given:
            given = _origin(given.split("://", 1)[0], given.split("://", 1)[1])
        if given != _origin(scheme, host):
            return f"a request from the origin {origin.strip()[:100]!r} is refused"
    return None
