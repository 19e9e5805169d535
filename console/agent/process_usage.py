"""CPU and memory of supervised processes, sampled from ``/proc`` by psutil when asked.

Per main process (the PID in its status): ``sh -c`` of a simple command execs
it, so that is the command itself. Its CPU counts the children it has reaped
(``cutime``/``cstime``), so a shell loop's short-lived commands are in it; live
descendants are not (walking every process tree costs a scan of all of
``/proc`` per sample). Nothing runs unless a client asks: supervision itself
never pays for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from console.models import ProcessUsage

FORGET_AFTER = 300.0
"""Seconds after which a pid's last sample is dropped (so the table of them stays small)."""


class UsageSampler:
    """Turns two looks at a process's CPU time into a percentage; one per agent."""

    def __init__(self) -> None:
        self._previous: dict[int, tuple[float, float, float]] = {}
        """pid → (its start time, CPU seconds, when read): the last sample's."""
        self._lock = threading.Lock()

    def sample(self, pids: Mapping[str, int]) -> dict[str, ProcessUsage]:
        """Usage of each ``{slug: pid}`` still running; blocking (≈25 µs a process).

        CPU is percent of one core since the previous sample of that pid (since it
        started, the first time); a pid that now belongs to another process starts over.
        """
        with self._lock:
            previous, current = self._previous, {}
            found: dict[str, ProcessUsage] = {}
            for slug, pid in pids.items():
                read = _read(pid)
                if read is None:
                    continue
                born, cpu_seconds, rss = read
                now = time.monotonic()
                current[pid] = (born, cpu_seconds, now)
                last = previous.get(pid)
                if last is not None and last[0] == born and now > last[2]:
                    share = (cpu_seconds - last[1]) / (now - last[2])
                else:
                    share = cpu_seconds / max(time.time() - born, 1e-3)
                found[slug] = ProcessUsage(max(0.0, share * 100.0), rss)
            previous.update(current)
            now = time.monotonic()
            for pid in [pid for pid, last in previous.items() if now - last[2] > FORGET_AFTER]:
                del previous[pid]  # gone, or nobody asks about it any more
            return found


def _read(pid: int) -> tuple[float, float, int] | None:
    """(start time, CPU seconds with reaped children, RSS bytes); None when it is gone."""
    import psutil  # here: ~2 MiB of the agent's memory, only once usage is asked for

    try:
        process = psutil.Process(pid)
        with process.oneshot():
            times = process.cpu_times()
            rss = process.memory_info().rss
            born = process.create_time()
    except psutil.Error:  # gone, a zombie, or not ours to read
        return None
    cpu = times.user + times.system + times.children_user + times.children_system
    return born, cpu, rss
