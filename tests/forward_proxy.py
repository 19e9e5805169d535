"""A tiny real HTTP forward proxy on loopback, for the proxy rule's tests.

It serves CONNECT (tunnels: TLS, WebSockets) and absolute-form requests (plain http), as
a corporate proxy does, and records the first request head of each connection. Names in
``hosts`` resolve to the address given; anything else not on loopback is refused (502), so
the tests never leave this machine. A host only the proxy can resolve proves a client went
through it.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from console.adapters.proxy import is_loopback_host

HEAD_LIMIT = 64 << 10


@dataclass
class Seen:
    """One connection's first request, as the proxy read it."""

    method: str
    target: str
    proxy_authorization: str | None


@dataclass
class ForwardProxy:
    url: str
    hosts: dict[str, str]
    seen: list[Seen] = field(default_factory=list)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@contextmanager
def forward_proxy(hosts: dict[str, str]) -> Iterator[ForwardProxy]:
    """A running proxy on 127.0.0.1 (its ``url``), stopped on exit."""
    proxy = ForwardProxy("", hosts)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            client: socket.socket = self.request
            head = b""
            while b"\r\n\r\n" not in head and len(head) < HEAD_LIMIT:
                chunk = client.recv(65536)
                if not chunk:
                    return
                head += chunk
            lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            method, target, _version = lines[0].split(" ", 2)
            fields = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
            fields = {name.strip().lower(): value.strip() for name, value in fields.items()}
            proxy.seen.append(Seen(method, target, fields.get("proxy-authorization")))
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
            else:
                parts = urlsplit(target)
                host, port = parts.hostname or "", str(parts.port or 80)
            address = hosts.get(host.strip("[]"), host.strip("[]"))
            if not is_loopback_host(address):
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            try:
                upstream = socket.create_connection((address, int(port)), timeout=10)
            except OSError:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            with upstream:
                if method == "CONNECT":
                    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                else:
                    upstream.sendall(head)  # the agent takes an absolute-form target too
                back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
                back.start()
                _pipe(client, upstream)
                back.join(timeout=30)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
