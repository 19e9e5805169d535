"""Fetching a source archive: time and size limits, checked redirects, no internal addresses.

Downloads have an overall time limit and a size limit; a redirect is checked like
the first URL; link-local and cloud-metadata addresses are refused unless the
agent's config allows them, checked when connecting (``CheckedBackend``), on the
very address connected to, so a name that resolves elsewhere the second time
(DNS rebinding) gains nothing. Every message names the URL redacted
(``redact_url``): user info and query strings are secrets (signed URLs).

Downloads go through httpcore's connection pool, whose public API takes the network
backend, and never through a proxy: a proxy would connect in our place, past the
address check, so ``HTTP_PROXY`` and the like are not read (httpx would read them).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

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


REDIRECTS = frozenset((301, 302, 303, 307, 308))
TRANSFER_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
)
"""What httpcore raises when a download cannot be done (it has no common base class)."""
USER_AGENT = b"opsconsole-agent"


@dataclass(frozen=True)
class DownloadClient:
    """The connection pool downloads share, and the time limits of each of their requests."""

    pool: httpcore.AsyncConnectionPool
    timeouts: dict[str, float | None]
    """httpcore's ``timeout`` extension: connect, read, write and pool, in seconds."""

    async def aclose(self) -> None:
        await self.pool.aclose()


def download_client(limits: Limits, timeout: httpx.Timeout) -> DownloadClient:
    """The client downloads go through: every connection checked by CheckedBackend, no proxy;
    ``timeout``'s limits for each request (the whole download has ``limits``' own)."""
    pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        network_backend=CheckedBackend(limits.allow_link_local),
    )
    return DownloadClient(pool, timeout.as_dict())


def _header_map(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """An answer's headers by lower-case name (a repeated one: its last value)."""
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw}


def request_headers(url: str) -> list[tuple[bytes, bytes]]:
    """What a download sends: who we are, and Basic credentials given in the URL's user info."""
    headers = [(b"User-Agent", USER_AGENT), (b"Accept", b"*/*")]
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        headers.append((b"Authorization", b"Basic " + base64.b64encode(pair.encode())))
    return headers


async def download(url: str, target: Path, http: DownloadClient, limits: Limits) -> str:
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
    except TRANSFER_ERRORS as exc:
        # Our own refusal names the address; other errors by kind (their text may echo the URL).
        why = str(exc) if REFUSED in str(exc) else type(exc).__name__
        raise SourceError("download failure", f"GET {shown}: {why}") from None


async def _follow(url: str, target: Path, http: DownloadClient, limits: Limits) -> str:
    """Fetch with every redirect checked as the first URL was."""
    for _ in range(MAX_REDIRECTS + 1):
        _check_scheme(url)
        async with http.pool.stream(
            "GET", url, headers=request_headers(url), extensions={"timeout": http.timeouts}
        ) as response:
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers
            }
            if response.status in REDIRECTS and "location" in headers:
                url = urljoin(url, headers["location"])
                continue
            if response.status != 200:
                raise SourceError(
                    "download failure", f"GET {redact_url(url)}: HTTP {response.status}"
                )
            received = 0
            with target.open("wb") as out:
                async for chunk in response.aiter_stream():
                    received += len(chunk)
                    if received > limits.download:
                        raise SourceError(
                            "download failure",
                            f"{redact_url(url)} is larger than {limits.download} bytes",
                        )
                    out.write(chunk)
            return headers.get("content-type", "")
    raise SourceError(
        "download failure", f"GET {redact_url(url)}: more than {MAX_REDIRECTS} redirects"
    )
