"""A queue/pool module written with shmooze 1.2.4's own helper (JSONParentPoller), Python 2.7.

Both the real shmooze Queue/Pool and our agent run this same program, so that the
side-by-side in ``test_shmooze.py`` compares the servers, not two modules. Each handler
that changes parameters waits a moment before it answers, so that the update stream is
applied (on either server) by the time the next command is sent.
"""

import json
import os
import sys
import time

from shmooze.modules import JSONParentPoller

SETTLE = 0.15
"""Seconds a handler waits after an update, before its answer (within the 1 s timeout)."""


class Echo(JSONParentPoller):
    def __init__(self):
        super(Echo, self).__init__()
        self.running = True
        # The helper's recv_cmd spins for ever on a closed socket: leave when the parent goes.
        self.connection.recv_cmd = self.recv_or_leave

    def recv_or_leave(self):
        connection = self.connection
        while "\n" not in connection.cs_buffer:
            chunk = connection.cs.recv(4096)
            if not chunk:
                sys.exit(0)
            connection.cs_buffer += chunk
        line, connection.cs_buffer = connection.cs_buffer.split("\n", 1)
        return json.loads(line)

    def updated(self, **parameters):
        self.set_parameters(parameters)
        time.sleep(SETTLE)

    def cmd_init(self, **args):
        if args.get("fail"):
            raise Exception("refusing to start: " + str(args["fail"]))
        if args.get("slow"):
            time.sleep(1.5)
        self.set_parameters({"state": "init", "init_args": args})

    def cmd_play(self):
        self.updated(state="play")

    def cmd_suspend(self):
        self.updated(state="suspend")

    def cmd_rm(self):
        self.running = False

    def do_echo(self, **args):
        return {"echo": args}

    def do_fail(self, **args):
        raise Exception("module says no")

    def do_slow(self, **args):
        time.sleep(1.5)
        return "late"

    def do_set(self, **args):
        self.updated(**args)

    def do_unset(self, names):
        self.unset_parameters(names)
        time.sleep(SETTLE)

    def do_nothing(self):
        return None

    def do_unicode(self):
        return "h\u00e9llo \u2603"

    def do_crash(self):
        sys.stdout.flush()
        os._exit(3)

    commands = {
        "init": cmd_init,
        "play": cmd_play,
        "suspend": cmd_suspend,
        "rm": cmd_rm,
        "do_echo": do_echo,
        "do_fail": do_fail,
        "do_slow": do_slow,
        "do_set": do_set,
        "do_unset": do_unset,
        "do_nothing": do_nothing,
        "do_unicode": do_unicode,
        "do_crash": do_crash,
    }


if __name__ == "__main__":
    module = Echo()
    while module.running:
        module.handle_one_command()
    module.close()
