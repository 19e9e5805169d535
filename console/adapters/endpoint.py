"""Where a backend is and the credentials it wants: what every way of reaching it shares.

Kept free of httpx (imported by ``http_client`` only) so that a one-shot command on the
command line can read it without paying for the async HTTP stack.
"""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from console.adapters.proxy import Proxy

INBOX_TOKEN_ENV = "OPSCONSOLE_INBOX_TOKEN"
AGENT_TOKEN_ENV = "OPSCONSOLE_AGENT_TOKEN"
PASSWORD_ENV = "OPSCONSOLE_PASSWORD"
"""A client's secrets by environment (an agent takes its own out of its environment)."""


@dataclass(frozen=True)
class Endpoint:
    """An HTTP(S) backend and the credentials it wants."""

    url: str
    username: str | None = None
    password: str | None = None
    verify: bool | str = True
    """True checks TLS against the system CAs, a path names a CA bundle, False trusts anything."""
    token: str | None = None
    """The inbox token (sent as ``Authorization`` to the inbox routes only)."""
    agent_token: str | None = None
    """Our agent's token, sent as ``Authorization: Bearer`` (to the inbox too, without ``token``).

    Basic credentials win over it where both are given (an older pyjojo wants Basic)."""

    @property
    def base_url(self) -> str:
        """The URL without a trailing slash."""
        return self.url.rstrip("/")

    @property
    def tls(self) -> bool:
        """True for an https:// backend."""
        return self.base_url.startswith("https://")

    def auth(self) -> httpx.BasicAuth | None:
        """HTTP Basic credentials for httpx, or None."""
        if self.username is None:
            return None
        import httpx

        return httpx.BasicAuth(self.username, self.password or "")

    def headers(self) -> dict[str, str]:
        """What every request and handshake carries: the credentials, as one Authorization."""
        if self.username is not None:
            token = base64.b64encode(f"{self.username}:{self.password or ''}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        if self.agent_token:
            return {"Authorization": f"Bearer {self.agent_token}"}
        return {}

    def inbox_authorization(self) -> str | None:
        """The ``Authorization`` value for the inbox routes: the inbox token, else the agent's."""
        if self.token:
            return self.token
        return f"Bearer {self.agent_token}" if self.agent_token else None

    def http_client(self, timeout: httpx.Timeout | None = None) -> httpx.AsyncClient:
        """An httpx client for this backend (its TLS and Basic credentials), to share;
        ``timeout`` defaults to ``base.DEFAULT_TIMEOUT``."""
        import httpx

        from console.adapters.base import DEFAULT_TIMEOUT, KEEPALIVE_EXPIRY

        # The same TLS as every other client (``ssl_context``); without TLS none at all:
        # loading the CA bundle would cost 20-90 ms for nothing.
        verify = self.ssl_context() if self.tls else False
        bearer = {} if self.username is not None else self.headers()
        proxy = self.proxy()
        return httpx.AsyncClient(
            base_url=self.base_url,
            auth=self.auth(),
            headers=bearer,
            verify=verify,
            timeout=timeout or DEFAULT_TIMEOUT,
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY),
            proxy=proxy.url if proxy else None,
            trust_env=False,  # the proxy rule is ours (``proxy``), not httpx's own
        )

    def proxy(self) -> Proxy | None:
        """The proxy every client of ours goes through to this backend, None: directly (never
        for a loopback one). Raises ProxyError (a BackendError) for a proxy the environment
        names that cannot be used. The rule, and why: ``adapters.proxy``."""
        from console.adapters.proxy import proxy_for

        return proxy_for(self.base_url)

    def ws_url(self, path: str) -> str:
        """The ws:// (or wss://) URL of ``path`` on this backend."""
        scheme, rest = self.base_url.split("://", 1)
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}{path}"

    def ws_headers(self) -> dict[str, str]:
        """Headers a WebSocket needs (its credentials, as ``headers``), possibly none."""
        return self.headers()

    def ws_ssl(self) -> ssl.SSLContext | None:
        """The TLS context of a wss:// connection (verification as set); None for ws://."""
        return self.ssl_context() if self.tls else None

    def ssl_context(self) -> ssl.SSLContext:
        """TLS as ``verify`` says: the system CAs, a CA bundle's, or no verification at all.
        The one place every client (httpx, WebSocket, the one-shot CLI) gets its TLS from."""
        if self.verify is False:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        if isinstance(self.verify, str):
            return ssl.create_default_context(cafile=self.verify)
        return ssl.create_default_context()
