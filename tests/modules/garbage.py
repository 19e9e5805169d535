"""A module that answers garbage: to everything, or (with the word ``later``) after ``init``."""

import sys

from wire import connect, packets, send

later = "later" in sys.argv[:-3]
commands, updates = connect()
for packet in packets(commands):
    if later and packet["cmd"] in ("init", "play", "suspend"):
        send(commands, {"success": True})
    else:
        commands.sendall(b"this is not json\n")
