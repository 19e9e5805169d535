"""Runs the real shmooze 1.2.4 Queue and Pool (Python 2.7), bound to loopback.

``python shmooze_servers.py SETTINGS_JSON MODULE_PROGRAM [ARG...]`` serves the Queue on
``ports.queue`` and the Pool on ``ports.pool`` of the settings file, with the module
types ``echo`` (queue and pool) and ``echo_bg`` (queue background), each running
MODULE_PROGRAM (and its ARGs) with this interpreter. Upstream binds every interface; here
``listen`` is overridden to bind 127.0.0.1 only. Stops on SIGTERM.
"""

import os
import signal
import sys

os.environ["SHMOOZE_SETTINGS"] = sys.argv[1]
MODULE = [sys.executable] + sys.argv[2:]

import tornado.tcpserver  # noqa: E402
from shmooze.lib import service  # noqa: E402
from shmooze.modules.module import Module  # noqa: E402
from shmooze.pool import Pool  # noqa: E402
from shmooze.queue import Queue  # noqa: E402


def loopback(cls):
    class OnLoopback(cls):
        def listen(self, port, address=""):
            tornado.tcpserver.TCPServer.listen(self, port, "127.0.0.1")

    return OnLoopback


class Echo(Module):
    TYPE_STRING = "echo"
    process = MODULE


class EchoBg(Module):
    TYPE_STRING = "echo_bg"
    process = MODULE


queue = loopback(Queue)([Echo], [EchoBg])
pool = loopback(Pool)([Echo])


@service.coroutine
def shutdown():
    # As upstream's own shutdown(): every module is removed (told rm) before the loop stops.
    yield [queue.killall(), pool.killall()]
    service.ioloop.stop()


def stop(signum, frame):
    service.ioloop.add_callback_from_signal(shutdown)


signal.signal(signal.SIGTERM, stop)
service.ioloop.start()
