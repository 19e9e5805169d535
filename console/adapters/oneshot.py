"""One request, answered, then exit: the command line's synchronous way to an agent.

A command that asks an agent one thing and prints the answer (``opsconsole ps``)
spends most of its life starting up; the async stack (asyncio, httpx, httpcore,
anyio) costs more to import than the request takes. This speaks HTTP/1.1 through
the standard library's ``http.client`` instead, with what the adapters use: the
``Endpoint``'s credentials and TLS, and the adapter error hierarchy (transport
failures are ``Unavailable``, error answers are read by ``errors.error_words``).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit

from console.adapters import scirocco_wire as wire
from console.adapters.endpoint import Endpoint
from console.adapters.errors import BackendError, NotFound, Unavailable
from console.adapters.http_answer import Answer, json_body, raise_for_status
from console.models import AgentInfo, Message, MessageStatus

ONE_SHOT_TIMEOUT = 10.0
"""Seconds to connect, and then between bytes of the answer (as the adapters' read timeout)."""


class OneShot:
    """Blocking JSON requests to one backend over one kept-alive connection."""

    def __init__(self, endpoint: Endpoint, timeout: float = ONE_SHOT_TIMEOUT) -> None:
        """Raises BackendError for a URL without a host, ProxyError for an unusable proxy."""
        self.endpoint = endpoint
        parts = urlsplit(endpoint.base_url)
        self._prefix = parts.path
        self._proxy_headers: dict[str, str] = {}
        if parts.hostname is None:
            raise BackendError(f"{endpoint.base_url}: no host in the URL")
        host, port = parts.hostname, parts.port
        proxy = endpoint.proxy()
        if proxy is not None:
            # Through the proxy (``adapters.proxy``): a tunnel (CONNECT) for TLS, else
            # requests in absolute form, each with the proxy's credentials if it has some.
            auth = {"Proxy-Authorization": proxy.authorization} if proxy.authorization else {}
            if not endpoint.tls:
                self._prefix = f"{parts.scheme}://{parts.netloc}{parts.path}"
                self._proxy_headers = auth
            host, port = proxy.host, proxy.port
        if endpoint.tls:
            self._connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=endpoint.ssl_context()
            )
        else:
            self._connection = http.client.HTTPConnection(host, port, timeout=timeout)
        if proxy is not None and endpoint.tls:
            self._connection.set_tunnel(parts.hostname, parts.port, headers=auth)

    def send(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        content: bytes | None = None,
    ) -> Answer:
        """Send ``method path`` (``params`` as its query, ``content`` as its body) with the
        endpoint's credentials unless ``headers`` bring their own ``Authorization``; the answer,
        read whole. Raises Unavailable when the backend cannot be reached (refused, timed out,
        TLS failed, dropped), AuthError / NotFound / BackendError for an error answer (as the
        adapters do: ``http_answer.raise_for_status``)."""
        target = self._prefix + path + (f"?{urlencode(params)}" if params else "")
        sent = {
            "Accept": "application/json",
            **self._proxy_headers,
            **self.endpoint.headers(),
            **(headers or {}),
        }
        try:
            self._connection.request(method, target, content, sent)
            response = self._connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._connection.close()
            raise Unavailable(f"{self.endpoint.base_url}: {exc or type(exc).__name__}") from exc
        answer = Answer(
            response.status, response.reason, response.headers, data, self.endpoint.base_url + path
        )
        raise_for_status(answer)
        return answer

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Send ``method path`` (``body`` as JSON when not None) and return the JSON answer.

        Raises as ``send``, and BackendError for a success that is not JSON.
        """
        if body is None:
            return json_body(self.send(method, path))
        payload = json.dumps(body).encode()
        answer = self.send(method, path, {"Content-Type": "application/json"}, content=payload)
        return json_body(answer)

    def info(self) -> AgentInfo:
        """What the agent says of itself (``GET /``); an older server's is empty. Raises as
        ``request``."""
        try:
            return AgentInfo.from_index(self.endpoint.base_url, self.request("GET", "/"))
        except NotFound:
            return AgentInfo.from_index(self.endpoint.base_url, {})

    def close(self) -> None:
        """Close the connection (a request after this opens a new one)."""
        self._connection.close()

    def __enter__(self) -> OneShot:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class OneShotInbox:
    """The inbox (scirocco API) over a ``OneShot``, acting as the agent's own node (or
    ``node_id``): what ``scirocco.SciroccoInbox`` sends, blocking. Each method raises as
    ``OneShot.send``, and AuthError without an inbox token to send."""

    def __init__(self, agent: OneShot, node_id: str = "") -> None:
        self._agent = agent
        self.node_id = node_id

    def _send(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        content: bytes | None = None,
    ) -> Answer:
        if not self.node_id:
            self.node_id = self._agent.info().node_id or ""
        sent = wire.inbox_headers(self._agent.endpoint, self.node_id, headers)
        return self._agent.send(method, path, sent, params, content)

    def listing(
        self, status: MessageStatus | None = None, limit: int = 500
    ) -> tuple[list[Message], int]:
        """Messages, newest first, at most ``limit``, and how many of those the agent left out
        to keep its answer within its byte budget."""
        answer = self._send("GET", "/messages", params=wire.list_params(status, None, limit))
        listed = [Message.from_wire(m) for m in wire.json_array(json_body(answer))]
        return listed, wire.left_out(answer)

    def push(self, destination: str, content: Any, topic: str | None = None) -> Message:
        """Push ``content`` (bytes, text or JSON) to ``destination``; the stored Message."""
        payload, headers = wire.push_request(destination, content, topic)
        return wire.message_from_answer(self._send("POST", "/messageQueue", headers, None, payload))

    def pull(self) -> Message | None:
        """The oldest pending message for this node (now processing), or None."""
        answer = self._send("GET", "/messageQueue")
        return None if answer.status_code == 204 else wire.message_from_answer(answer)

    def ack(self, message_id: str) -> Message:
        """Mark a processing message processed. Raises NotFound for an unknown id."""
        return wire.message_from_answer(self._send("PATCH", f"/messageQueue/{message_id}/ack"))
