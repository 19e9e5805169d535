"""Finding a child's descendants in the agent's own process tree, as the whole /proc finds them.

Real processes in this test process, made a subreaper for the test: one child
keeps a background job in its group, another leaves a daemon behind (``setsid``
then exit), which the subreaper adopts. The tree walk must name the same
processes, with the same origins, as the walk of every process on the machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from console.agent import descendants
from tests.processes_helpers import BOUND

pytestmark = pytest.mark.skipif(
    descendants.children_of(os.getpid()) is None, reason="no /proc/PID/task/TID/children"
)


def _spawn(origin: str, script: str) -> subprocess.Popen[bytes]:
    env = os.environ | {descendants.ORIGIN: origin}
    return subprocess.Popen(
        ["/bin/sh", "-c", script], env=env, start_new_session=True, stdout=subprocess.DEVNULL
    )


@pytest.fixture
def subreaper() -> Iterator[None]:
    assert descendants.become_subreaper()
    try:
        yield
    finally:
        descendants.become_subreaper(False)


def test_the_tree_walk_finds_what_the_whole_proc_walk_finds(subreaper: None) -> None:
    prefix = f"{os.getpid()}.tree."
    keeper = _spawn(f"{prefix}1", "sleep 300 & exec sleep 300")
    leaver = _spawn(f"{prefix}2", "setsid sleep 300 </dev/null >/dev/null 2>&1 & exit 0")
    leaver.wait(BOUND)
    try:
        deadline = time.monotonic() + BOUND
        while True:  # until the daemon is adopted by us and the background job runs
            found = descendants.marked(prefix)
            me = descendants.children_of(os.getpid())
            assert me is not None
            adopted = [pid for pid, mark in found.items() if mark == f"{prefix}2"]
            if len(found) == 3 and adopted and set(adopted) <= set(me):
                break
            assert time.monotonic() < deadline, f"processes did not settle: {found}"
            time.sleep(0.02)
        # The keeper is a known child: its subtree is attributed without reading environments.
        known = {keeper.pid: f"{prefix}1"}
        assert descendants.marked_in_tree(prefix, known, me) == found
        only_daemon = descendants.marked_in_tree(f"{prefix}2", known, me)
        # Beside the whole walk at the same moment (a CI run once saw the daemon gone between
        # the two walks: the claim is that both walks agree, whatever is alive).
        assert only_daemon == descendants.marked(f"{prefix}2")
        assert set(only_daemon) <= set(adopted)
        # A known child of another origin is not walked at all.
        assert descendants.marked_in_tree(prefix, {keeper.pid: "elsewhere"}, me) == only_daemon
    finally:
        for pid in descendants.marked(prefix):
            os.kill(pid, signal.SIGKILL)
        keeper.wait(BOUND)
        deadline = time.monotonic() + BOUND
        while descendants.reap() or descendants.marked(prefix):
            assert time.monotonic() < deadline
            time.sleep(0.02)
