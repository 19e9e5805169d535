"""Kills the agent's leftover process groups once the agent is gone.

The agent writes ``+PGID`` and ``-PGID`` lines to this process's stdin as it
starts and releases children. When stdin closes (the agent exited, or was
killed with SIGKILL) every group still listed gets SIGKILL. It imports nothing
heavy so that it starts in a few milliseconds.
"""

import contextlib
import os
import signal
import sys


def main() -> None:
    groups: set[int] = set()
    for line in sys.stdin:
        sign, number = line[:1], line[1:].strip()
        if not number.isdigit():
            continue
        pgid = int(number)
        if sign == "+":
            groups.add(pgid)
        elif sign == "-":
            groups.discard(pgid)
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


if __name__ == "__main__":
    main()
