"""Many small WebSocket text frames in one socket write, uncompressed.

The compatible log stream sends one text frame per line. Through ASGI each
frame is one ``send``: one trip through the server, one compression (when the
client negotiated permessage-deflate) and one ``write`` system call, which caps
it near 50,000 lines a second. When the server is uvicorn's websockets
(sans-I/O) protocol, frames are instead built by the ``websockets`` library
(``Frame.serialize``) and written together; frames under ``COMPRESS_FROM``
bytes go uncompressed, which RFC 7692 §6 allows (RSV1 unset: not compressed).
Any other server, or a wrapped ``send``, gets the frames one ``send`` at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN, Protocol

COMPRESS_FROM = 1024
"""Frames at least this long are compressed (when the client asked for it); smaller ones never."""


def _server_protocol(websocket: WebSocket) -> Any | None:
    """uvicorn's protocol object behind ``websocket``, when it is the sans-I/O one."""
    protocol = getattr(getattr(websocket, "_send", None), "__self__", None)
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
    conn: Protocol = protocol.conn
    if protocol.disconnected or protocol.close_sent or conn.state is not OPEN:
        raise WebSocketDisconnect(1006)
    extensions = conn.extensions
    out = []
    for text in texts:
        payload = text.encode()
        used = extensions if len(payload) >= COMPRESS_FROM else []
        out.append(Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=used))
    protocol.transport.write(b"".join(out))
