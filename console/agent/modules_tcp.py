"""shmooze's own control protocol for a queue or pool: newline-delimited JSON over plain TCP.

shmooze's Queue and Pool were TCP servers; its HTTP proxy came on top, and musicazoo's
services (nlp, top, volume) talk TCP to the queue directly. ``[queue] tcp_port = N`` in
the agent's config serves that here too: one JSON text per line, answered by one line,
many on one connection, in order. A line that is not JSON closes the connection without
an answer, as shmooze did. Loopback only: this protocol has no credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from console.agent.module_process import MAX_PACKET
from console.agent.modules import ModuleService

log = logging.getLogger(__name__)

HOST = "127.0.0.1"


async def serve_tcp(service: ModuleService, port: int) -> asyncio.Server:
    """Listen on ``127.0.0.1:port`` (0: any free port) for ``service``'s commands."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    packet = json.loads(line)
                except ValueError:
                    break
                writer.write(json.dumps(await service.execute(packet)).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, ValueError):  # ValueError: a line past MAX_PACKET
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(connection, HOST, port, limit=MAX_PACKET)
    bound = server.sockets[0].getsockname()[1]
    log.info("%s: raw JSON commands on tcp://%s:%s", service.name, HOST, bound)
    return server
