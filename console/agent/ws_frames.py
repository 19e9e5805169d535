"""Many small WebSocket text frames in one socket write, uncompressed.

The compatible log stream sends one text frame per line. Through ASGI each
frame is one ``send``: one trip through the server, one compression (when the
client negotiated permessage-deflate) and one ``write`` system call, which caps
it near 50,000 lines a second. When the server is uvicorn's websockets
(sans-I/O) protocol, frames are instead built by the ``websockets`` library
(``Frame.serialize``) and written together; frames under ``COMPRESS_FROM``
bytes go uncompressed, which RFC 7692 §6 allows (RSV1 unset: not compressed).
The server's own ``send`` is kept in the scope by ``KeepServerSend`` (the
first middleware), since Starlette wraps the one a handler sees. Any other
server gets the frames one ``send`` at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN, Protocol

COMPRESS_FROM = 1024
"""Frames at least this long are compressed (when the client asked for it); smaller ones never."""


SERVER_SEND = "opsconsole.server_send"


class KeepServerSend:
    """ASGI middleware: keeps the server's ``send`` of a WebSocket in its scope."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[SERVER_SEND] = send
        await self.app(scope, receive, send)


def _server_protocol(websocket: WebSocket) -> Any | None:
    """uvicorn's protocol object behind ``websocket``, when it is the sans-I/O one."""
    protocol = getattr(websocket.scope.get(SERVER_SEND), "__self__", None)
    if isinstance(getattr(protocol, "conn", None), Protocol) and hasattr(protocol, "writable"):
        return protocol
    return None


async def send_text_frames(websocket: WebSocket, texts: Sequence[str]) -> None:
    """Send each of ``texts`` as its own text frame, in order, with as few writes as may be.

    Waits while the client's socket is full (as ``send_text`` does); raises
    ``WebSocketDisconnect`` when the client is gone.
    """
    protocol = _server_protocol(websocket)
    if protocol is None:
        for text in texts:
            await websocket.send_text(text)
        return
    await protocol.writable.wait()
    _write(protocol, texts)


def write_text_frames_now(websocket: WebSocket, texts: Sequence[str]) -> bool:
    """As ``send_text_frames`` without waiting: True once written, False when that cannot be
    done now (another server; the client's socket is full): then await ``send_text_frames``.
    Raises ``WebSocketDisconnect`` when the client is gone."""
    protocol = _server_protocol(websocket)
    if protocol is None or not protocol.writable.is_set():
        return False
    _write(protocol, texts)
    return True


def _write(protocol: Any, texts: Sequence[str]) -> None:
    conn: Protocol = protocol.conn
    if protocol.disconnected or protocol.close_sent or conn.state is not OPEN:
        raise WebSocketDisconnect(1006)
    extensions = conn.extensions
    out = []
    for text in texts:
        payload = text.encode()
        size = len(payload)
        if size < COMPRESS_FROM:
            out += (_header(size), payload)
        else:
            out.append(Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=extensions))
    protocol.transport.write(b"".join(out))


_headers: dict[int, bytes] = {}


def _header(size: int) -> bytes:
    """The header of an uncompressed, unmasked, final text frame of ``size`` bytes.

    It depends on the size alone, so the library builds it once per size and it is
    reused: ``Frame.serialize`` costs microseconds, a dictionary look-up does not.
    """
    header = _headers.get(size)
    if header is None:
        frame = Frame(Opcode.TEXT, b" " * size).serialize(mask=False, extensions=[])
        header = _headers[size] = frame[: len(frame) - size]
    return header
