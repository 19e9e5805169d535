"""Fetching a source archive: time and size limits, checked redirects, no internal addresses.

Downloads have an overall time limit and a size limit; a redirect is checked like
the first URL; link-local and cloud-metadata addresses are refused unless the
agent's config allows them, checked when connecting (``CheckedBackend``), on the
very address connected to, so a name that resolves elsewhere the second time
(DNS rebinding) gains nothing. Every message names the URL redacted
(``redact_url``): user info and query strings are secrets (signed URLs).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpcore
import httpx

from console.agent.sources import Limits, SourceError

MAX_REDIRECTS = 5
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
"""Cloud instance-metadata services (AWS, ECS, GCP, Azure, Alibaba, Oracle): they hand out
credentials to whoever asks from the machine."""
REFUSED = "is a link-local or cloud-metadata address"


def redact_url(url: str) -> str:
    """``url`` as it may be shown or logged: password and query (signatures, tokens) hidden.

    ``https://u:p@h/a.tgz?sig=x`` → ``https://u:***@h/a.tgz?***``; a URL that does
    not parse is replaced whole.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparsable URL>"
    if not parts.scheme or not parts.netloc:
        return url if "?" not in url else url.split("?", 1)[0] + "?***"
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    if parts.username is not None or parts.password is not None:
        user = parts.username or ""
        netloc = f"{user}:***@{netloc}" if parts.password is not None else f"{user}@{netloc}"
    query = "***" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _refused_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_link_local or address in METADATA_ADDRESSES


def _check_scheme(url: str) -> None:
    """Refuse a URL that is not http(s) with a host (``file:`` and the rest are not fetched)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise SourceError("download failure", f"not a usable URL: {redact_url(url)}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceError("download failure", f"unsupported source URL {redact_url(url)!r}")


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, resolving names itself and connecting only to addresses
    that are not link-local or cloud-metadata ones (unless ``allow_link_local``)."""

    def __init__(self, allow_link_local: bool = False) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.allow_link_local = allow_link_local

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror or exc}") from None
        addresses = list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
        if not self.allow_link_local:
            for address in addresses:
                if _refused_address(ipaddress.ip_address(address)):
                    raise httpcore.ConnectError(
                        f"{address} {REFUSED} (refused unless the agent's "
                        "source_allow_link_local is set)"
                    )
        failure: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("sources are not fetched over Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def download_client(limits: Limits, timeout: httpx.Timeout) -> httpx.AsyncClient:
    """The HTTP client downloads go through: every connection checked by CheckedBackend."""
    transport = httpx.AsyncHTTPTransport()
    # httpx offers no public hook for the network backend; its pool is httpcore's, which does.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        network_backend=CheckedBackend(limits.allow_link_local),
    )
    return httpx.AsyncClient(transport=transport, timeout=timeout)


async def download(url: str, target: Path, http: httpx.AsyncClient, limits: Limits) -> str:
    """Fetch ``url`` into ``target``; the answer's content type, for telling zip from tar.

    Raises SourceError (state ``download failure``) for a refused or unreachable
    URL, an error answer, too many redirects, or a download past the size or time limit.
    """
    shown = redact_url(url)
    try:
        async with asyncio.timeout(limits.download_seconds):
            return await _follow(url, target, http, limits)
    except TimeoutError:
        raise SourceError(
            "download failure", f"GET {shown}: not done within {limits.download_seconds:g}s"
        ) from None
    except httpx.HTTPError as exc:
        # Our own refusal names the address; other errors by kind (their text may echo the URL).
        why = str(exc) if REFUSED in str(exc) else type(exc).__name__
        raise SourceError("download failure", f"GET {shown}: {why}") from None


async def _follow(url: str, target: Path, http: httpx.AsyncClient, limits: Limits) -> str:
    """Fetch with every redirect checked as the first URL was."""
    for _ in range(MAX_REDIRECTS + 1):
        _check_scheme(url)
        async with http.stream("GET", url, follow_redirects=False) as response:
            if response.is_redirect and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                continue
            if response.status_code != 200:
                raise SourceError(
                    "download failure", f"GET {redact_url(url)}: HTTP {response.status_code}"
                )
            received = 0
            with target.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    received += len(chunk)
                    if received > limits.download:
                        raise SourceError(
                            "download failure",
                            f"{redact_url(url)} is larger than {limits.download} bytes",
                        )
                    out.write(chunk)
            return response.headers.get("content-type", "")
    raise SourceError(
        "download failure", f"GET {redact_url(url)}: more than {MAX_REDIRECTS} redirects"
    )
