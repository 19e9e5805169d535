"""A module whose ``init`` pushes parameters and blocks until the agent answers each one."""

import json

from wire import connect, packets, send

commands, updates = connect()
replies = updates.makefile("rb")
for packet in packets(commands):
    if packet["cmd"] == "init":
        for step in range(int(packet["args"].get("steps", 20))):
            send(updates, {"cmd": "set_parameters", "args": {"parameters": {"step": step}}})
            assert json.loads(replies.readline())["success"]
    send(commands, {"success": True})
