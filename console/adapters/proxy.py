"""Which proxy a client of ours goes through to reach a backend: one rule for every client.

httpx, aiohttp, ``http.client`` and ``websockets`` each had their own answer (httpx and
websockets followed the environment even to a loopback agent, aiohttp and http.client
ignored it). Every client now asks ``proxy_for`` and is told explicitly (README, "Proxies").
The rule, as kubectl (Go's ``net/http``) and curl have it:

- A backend on loopback (``localhost``, ``127.0.0.0/8``, ``::1``) is reached directly,
  whatever the environment says: a local agent's token never goes through a proxy, and no
  proxy could reach this machine's loopback anyway.
- Otherwise the proxy in ``https_proxy`` (for an https:// backend, and wss://) or
  ``http_proxy`` (http://, ws://), else ``all_proxy``; each in lower case or upper case,
  lower case first; under CGI (``REQUEST_METHOD`` set) ``HTTP_PROXY`` is not trusted. These
  are ``urllib.request.getproxies_environment``'s readings.
- Unless ``no_proxy`` / ``NO_PROXY`` names the host: a comma list of host names, domain
  suffixes (``.example.com`` or ``example.com``), ``host:port``, or ``*`` for every host
  (``urllib.request.proxy_bypass_environment``).

Only http:// proxies are supported (CONNECT for TLS and WebSockets, absolute-form requests
for plain http), with credentials in the URL if the proxy wants them.
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from console.adapters.errors import BackendError

LOOPBACK_NAMES = ("localhost", "localhost.", "ip6-localhost")


class ProxyError(BackendError):
    """The environment names a proxy that cannot be used (not http://, no host)."""


@dataclass(frozen=True)
class Proxy:
    """An http:// proxy: where it is, and the ``Proxy-Authorization`` its URL's credentials
    make (None without any)."""

    url: str
    host: str
    port: int
    authorization: str | None = None


def is_loopback_host(host: str) -> bool:
    """True for a name or address of this machine's loopback (never proxied)."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def proxy_for(url: str) -> Proxy | None:
    """The proxy a request to ``url`` (http(s):// or ws(s)://) goes through, by the rule above;
    None: directly. Raises ProxyError when the variable that applies names something that is
    not an http:// proxy."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host or is_loopback_host(host):
        return None
    from urllib.request import getproxies_environment, proxy_bypass_environment

    proxies = getproxies_environment()
    secure = parts.scheme in ("https", "wss")
    chosen = proxies.get("https" if secure else "http") or proxies.get("all")
    where = host if parts.port is None else f"{host}:{parts.port}"
    if not chosen or proxy_bypass_environment(where, proxies):
        return None
    proxy = urlsplit(chosen if "://" in chosen else f"http://{chosen}")
    if proxy.scheme != "http" or not proxy.hostname:
        raise ProxyError(
            f"proxy {_redacted(chosen)!r}: only http://host:port proxies are supported"
        )
    authorization = None
    if proxy.username is not None:
        pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
        authorization = "Basic " + base64.b64encode(pair.encode()).decode()
    return Proxy(f"http://{proxy.netloc}", proxy.hostname, proxy.port or 80, authorization)


def _redacted(url: str) -> str:
    """``url`` without a password, for messages."""
    scheme, sep, rest = url.rpartition("://")
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    return f"{scheme}{sep}{netloc}{slash}{path}"
