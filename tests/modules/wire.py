"""The bare protocol for the misbehaving test modules: blocking sockets, no helper class.

Each such module is started as ``python THIS.py [MARKER...] HOST CMD_PORT UPDATE_PORT``;
the extra words only make it easy to find in /proc.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from typing import Any


def connect() -> tuple[socket.socket, socket.socket]:
    """Both streams: commands (the agent asks), updates (we tell)."""
    host, command_port, update_port = sys.argv[-3:]
    commands = socket.create_connection((host, int(command_port)))
    updates = socket.create_connection((host, int(update_port)))
    return commands, updates


def packets(stream: socket.socket):
    """Each JSON packet the agent sends, until it hangs up."""
    for line in stream.makefile("rb"):
        yield json.loads(line)


def send(stream: socket.socket, packet: Any) -> None:
    stream.sendall(json.dumps(packet).encode() + b"\n")


def note(path: str, what: str) -> None:
    """Append one line ``TIME WHAT`` to ``path``."""
    with open(path, "a") as handle:
        handle.write(f"{time.time()} {what}\n")


def forever() -> None:
    while True:
        time.sleep(60)
