"""A module that says yes to ``rm`` but goes on, and ignores SIGTERM (noting it in ``log``)."""

import signal

from wire import connect, forever, note, packets, send

log = None


def ignore(signum, frame):
    if log:
        note(log, "SIGTERM")


signal.signal(signal.SIGTERM, ignore)
commands, updates = connect()
for packet in packets(commands):
    if packet["cmd"] == "init":
        log = packet["args"]["log"]
    note(log, packet["cmd"])
    send(commands, {"success": True})
forever()
