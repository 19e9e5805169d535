"""A module that connects both streams, reads every command, and never answers."""

from wire import connect, forever, packets

commands, updates = connect()
for _packet in packets(commands):
    pass
forever()
