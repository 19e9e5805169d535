"""Module processes: who plays, as the modules themselves saw it; parameters; misbehaving modules.

The queue and pool run in-process with real ``Children``; the modules are real
processes (``tests/modules/``). Whatever a test started is looked for in /proc
afterwards by a word unique to the test.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from console.agent.modules import ModuleService
from tests import test_agent_lifecycle as lifecycle
from tests.conftest import AgentProcess
from tests.modules import (
    FAST,
    command,
    entries,
    module_service,
    noted,
    received,
    sleep_marker,
    unique,
    write_config,
)
from tests.test_agent_lifecycle import pids_with_argument, process_state

BOUND = 10.0
"""Seconds a state may take to be reached: a correctness bound, not a timing."""


async def eventually(predicate: Callable[[], bool], bound: float = BOUND) -> bool:
    """Poll ``predicate`` (letting the event loop run) until it holds or ``bound`` passes."""
    deadline = time.monotonic() + bound
    while not predicate():
        if time.monotonic() > deadline:
            return predicate()
        await asyncio.sleep(0.02)
    return True


async def ok(service: ModuleService, cmd: str, /, **args: Any) -> Any:
    """The result of a command that must succeed."""
    packet = await service.execute({"cmd": cmd, "args": args})
    assert packet["success"] is True, packet
    return packet.get("result")


async def refused(service: ModuleService, cmd: str, /, **args: Any) -> str:
    """The message of a command that must fail."""
    packet = await service.execute({"cmd": cmd, "args": args})
    assert set(packet) == {"success", "error"} and packet["success"] is False, packet
    assert isinstance(packet["error"], str) and packet["error"]
    return packet["error"]


async def add(service: ModuleService, type_name: str = "recorder", **args: Any) -> str:
    return (await ok(service, "add", type=type_name, args=args))["uid"]


async def order(service: ModuleService) -> list[str]:
    return [entry["uid"] for entry in await ok(service, "queue" if service.ordered else "pool")]


def gone(pid: int) -> bool:
    return process_state(pid) is None


@pytest.fixture
def marker() -> Iterator[str]:
    """A word on the command line of every module the test starts; none may be left after."""
    word = unique("mod")
    yield word
    deadline = time.monotonic() + BOUND
    while (left := pids_with_argument(word)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in left:  # ours by the unique word: do not let a failure leak processes
        os.kill(pid, signal.SIGKILL)
    assert not left, f"module processes left running: {left}"


# -- who plays, as the modules saw it ----------------------------------------------------


async def test_the_first_added_plays_and_later_ones_stay_suspended(
    marker: str, tmp_path: Path
) -> None:
    logs = [tmp_path / f"{name}.log" for name in "abc"]
    async with module_service(marker) as (queue, _):
        uids = [await add(queue, log=str(log)) for log in logs]
        assert await order(queue) == uids
        assert [received(log) for log in logs] == [["init", "play"], ["init"], ["init"]]
        assert len({entries(log)[0]["pid"] for log in logs}) == 3, "one process each"


async def test_removing_the_head_plays_the_next(marker: str, tmp_path: Path) -> None:
    a, b, c = (tmp_path / f"{name}.log" for name in "abc")
    async with module_service(marker) as (queue, _):
        first, second, third = [await add(queue, log=str(log)) for log in (a, b, c)]
        pid = entries(a)[0]["pid"]

        assert await ok(queue, "rm", uids=[first]) is None
        assert await order(queue) == [second, third]
        assert received(a) == ["init", "play", "rm"]  # rm answers once the module answered rm
        assert await eventually(lambda: gone(pid)), "then the process ends"
        assert received(b) == ["init", "play"]
        assert received(c) == ["init"]

        # Removing one that waits changes nothing for the one that plays.
        await ok(queue, "rm", uids=[third])
        assert received(c) == ["init", "rm"]
        assert received(b) == ["init", "play"]


async def test_mv_reorders_and_the_new_head_plays_after_the_old_one_is_suspended(
    marker: str, tmp_path: Path
) -> None:
    a, b, c = (tmp_path / f"{name}.log" for name in "abc")
    async with module_service(marker) as (queue, _):
        first, second, third = [await add(queue, log=str(log)) for log in (a, b, c)]

        await ok(queue, "mv", uids=[third, second])
        assert await order(queue) == [third, second, first]
        assert received(a) == ["init", "play", "suspend"]
        assert received(c) == ["init", "play"]
        assert received(b) == ["init"], "moved, but not first: still waiting"
        assert entries(a)[-1]["t"] <= entries(c)[-1]["t"], "never two playing at once"

        # Moving the head to the front again tells nobody anything.
        await ok(queue, "mv", uids=[third])
        assert [received(log) for log in (a, b, c)] == [
            ["init", "play", "suspend"],
            ["init"],
            ["init", "play"],
        ]
        # Unknown uids are ignored, as shmooze: the known ones still move.
        assert await ok(queue, "mv", uids=["999", first]) is None
        assert await order(queue) == [first, third, second]


async def test_an_empty_queue_plays_its_background_until_a_module_comes(
    marker: str, tmp_path: Path
) -> None:
    bg, a = tmp_path / "bg.log", tmp_path / "a.log"
    async with module_service(marker) as (queue, _):
        assert await ok(queue, "bg") is None
        bg_uid = (await ok(queue, "set_bg", type="recorder", args={"log": str(bg)}))["uid"]
        assert await ok(queue, "bg") == {"uid": bg_uid, "type": "recorder"}
        assert received(bg) == ["init", "play"]

        uid = await add(queue, log=str(a))
        assert received(bg) == ["init", "play", "suspend"]
        assert received(a) == ["init", "play"]
        assert entries(bg)[-1]["t"] <= entries(a)[-1]["t"], "the background pauses first"

        await ok(queue, "rm", uids=[uid])
        assert received(bg) == ["init", "play", "suspend", "play"]
        assert await ok(queue, "queue") == []

        # A new background replaces the old one, which is removed.
        other = tmp_path / "bg2.log"
        await ok(queue, "set_bg", type="recorder", args={"log": str(other)})
        assert received(bg)[-1] == "rm"
        assert received(other) == ["init", "play"]


async def test_a_pool_plays_every_module(marker: str, tmp_path: Path) -> None:
    logs = [tmp_path / f"{name}.log" for name in "abc"]
    async with module_service(marker, ordered=False) as (pool, _):
        uids = [await add(pool, log=str(log)) for log in logs]
        assert [received(log) for log in logs] == [["init", "play"]] * 3
        assert await refused(pool, "mv", uids=[uids[2]]) == "Bad command."  # a pool has no order
        await ok(pool, "rm", uids=[uids[1]])
        assert await order(pool) == [uids[0], uids[2]]
        assert [received(log) for log in logs] == [
            ["init", "play"],
            ["init", "play", "rm"],
            ["init", "play"],
        ]


async def test_a_module_that_dies_leaves_the_queue_and_the_next_one_plays(
    marker: str, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    async with module_service(marker) as (queue, _):
        first, second = await add(queue, log=str(a)), await add(queue, log=str(b))
        assert await ok(queue, "tell_module", uid=first, cmd="crash") is None
        assert await eventually(lambda: [m.uid for m in queue.modules] == [second])
        assert await eventually(lambda: received(b) == ["init", "play"])
        assert "rm" not in received(a)


# -- parameters, and a module ending on its own ------------------------------------------


async def test_parameters_set_by_a_module_are_seen_by_queue_and_ask_module(
    marker: str, tmp_path: Path
) -> None:
    async with module_service(marker) as (queue, _):
        uid = await add(queue, log=str(tmp_path / "a.log"), parameters={"title": "intro", "n": 1})
        wanted = {"recorder": ["n", "title", "absent"]}
        assert await ok(queue, "queue", parameters=wanted) == [
            {"uid": uid, "type": "recorder", "parameters": {"n": 1, "title": "intro"}}
        ]
        assert await ok(queue, "queue") == [{"uid": uid, "type": "recorder"}]
        assert await ok(queue, "queue", parameters={"other": ["n"]}) == [
            {"uid": uid, "type": "recorder"}
        ]

        await ok(queue, "tell_module", uid=uid, cmd="set", args={"n": 2, "extra": [1, 2]})
        await ok(queue, "tell_module", uid=uid, cmd="unset", args={"names": ["title"]})
        assert await ok(queue, "ask_module", uid=uid, parameters=["n", "title"]) == {"n": 2}
        assert await ok(queue, "ask_module", uid=uid, parameters=None) == {"n": 2, "extra": [1, 2]}
        # The names as a dict: shmooze iterates its keys (its docs showed this form).
        assert await ok(queue, "ask_module", uid=uid, parameters={"recorder": ["n"]}) == {}
        assert await ok(queue, "queue", parameters=wanted) == [
            {"uid": uid, "type": "recorder", "parameters": {"n": 2}}
        ]


async def test_a_module_ending_itself_leaves_the_queue_and_exits(
    marker: str, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    async with module_service(marker) as (queue, _):
        first, second = await add(queue, log=str(a)), await add(queue, log=str(b))
        pid = entries(a)[0]["pid"]
        assert await ok(queue, "tell_module", uid=first, cmd="end") is None

        assert await eventually(lambda: [m.uid for m in queue.modules] == [second])
        assert await eventually(lambda: gone(pid))
        assert received(a) == ["init", "play", "do_end"], "not told rm: it said rm itself"
        assert await eventually(lambda: received(b) == ["init", "play"])
        gone_uid = await refused(queue, "ask_module", uid=first, parameters=[])
        assert gone_uid == "Module identifier not in queue"

        # The same from its own work, on a timer: its ``run`` says rm.
        c = tmp_path / "c.log"
        third = await add(queue, log=str(c), end_after=0.1)
        assert await eventually(lambda: [m.uid for m in queue.modules] == [second])
        assert received(c) == ["init", "ending"]
        assert third not in await order(queue)


# -- misbehaving modules -----------------------------------------------------------------


async def test_a_module_that_never_connects_is_refused_and_killed(marker: str) -> None:
    async with module_service(marker, **FAST) as (queue, _):
        assert pids_with_argument(marker) == []
        error = await refused(queue, "add", type="never_connects")
        assert error == "Could not connect to spawned module"
        assert pids_with_argument(marker) == [], "not orphaned: killed"
        assert await ok(queue, "queue") == []


@pytest.mark.parametrize(
    ("type_name", "words"),
    [("silent", "Timeout sending message to module"), ("garbage", "Malformed response")],
)
async def test_a_module_that_does_not_answer_init_is_refused_and_killed(
    marker: str, type_name: str, words: str
) -> None:
    async with module_service(marker, **FAST) as (queue, _):
        error = await refused(queue, "add", type=type_name)
        assert words in error
        assert await eventually(lambda: pids_with_argument(marker) == [])
        assert await ok(queue, "queue") == []


async def test_a_module_that_answers_garbage_later_is_removed(marker: str) -> None:
    async with module_service(marker, **FAST) as (queue, _):
        uid = await add(queue, "garbage_later")
        assert len(pids_with_argument(marker)) == 1
        error = await refused(queue, "tell_module", uid=uid, cmd="anything")
        assert error == "Malformed response"
        assert await eventually(lambda: pids_with_argument(marker) == [])
        assert await eventually(lambda: queue.modules == [])


async def test_a_module_ignoring_rm_and_sigterm_is_killed_after_both_graces(
    marker: str, tmp_path: Path
) -> None:
    log = tmp_path / "stubborn.log"
    async with module_service(marker, **FAST) as (queue, _):
        uid = await add(queue, "stubborn", log=str(log))
        module = queue.modules[0]
        started = time.monotonic()
        await ok(queue, "rm", uids=[uid])
        answered = time.monotonic() - started
        assert await ok(queue, "queue") == [], "gone from the queue at once"
        await module.ended.wait()
        took = time.monotonic() - started

        # As shmooze, rm answers once the module answered it; the ladder goes on behind.
        assert answered < FAST["rm_grace"]
        assert module.proc is not None and module.proc.returncode == -signal.SIGKILL
        assert pids_with_argument(marker) == []
        said = noted(log)
        assert [what for what, _ in said] == ["init", "play", "rm", "SIGTERM"]
        when = dict(said)
        # The ladder's order and its waits (lower bounds: correctness, not speed).
        assert when["SIGTERM"] - when["rm"] >= FAST["rm_grace"] * 0.9
        assert took >= (FAST["rm_grace"] + FAST["term_grace"]) * 0.9
        assert await ok(queue, "queue") == []


async def test_a_module_waiting_for_update_replies_inside_init_does_not_stall(
    marker: str,
) -> None:
    async with module_service(marker, **FAST) as (queue, _):
        # 20 round trips on the update stream before init is answered, all within
        # the 0.5 s reply timeout: the agent serves updates while it waits for init.
        uid = await add(queue, "init_waits", steps=20)
        assert await ok(queue, "ask_module", uid=uid, parameters=["step"]) == {"step": 19}


async def test_a_grandchild_of_a_module_dies_with_it(marker: str, tmp_path: Path) -> None:
    log, sleeper = tmp_path / "spawner.log", sleep_marker()
    async with module_service(marker) as (queue, _):
        uid = await add(queue, "spawner", log=str(log), sleep=sleeper)
        pid, grandchild = map(int, log.read_text().split())
        assert pids_with_argument(sleeper) == [grandchild]
        await ok(queue, "rm", uids=[uid])
        assert await eventually(lambda: gone(pid) and pids_with_argument(sleeper) == [])


async def test_a_module_killed_outright_takes_its_grandchild_along(
    marker: str, tmp_path: Path
) -> None:
    log, sleeper = tmp_path / "spawner.log", sleep_marker()
    async with module_service(marker) as (queue, _):
        await add(queue, "spawner", log=str(log), sleep=sleeper)
        pid, _ = map(int, log.read_text().split())
        os.kill(pid, signal.SIGKILL)  # started by this test's queue
        # The grandchild holds the module's pipes, yet the queue sees it die.
        assert await eventually(lambda: queue.modules == [])
        assert await eventually(lambda: pids_with_argument(sleeper) == [])


async def test_a_module_writing_much_output_is_not_blocked(marker: str, tmp_path: Path) -> None:
    async with module_service(marker) as (queue, _):
        # Far more than a pipe holds, on stdout and stderr, before init is answered.
        uid = await asyncio.wait_for(add(queue, "chatty", lines=4000), BOUND)
        assert await ok(queue, "queue") == [{"uid": uid, "type": "chatty"}]
        await ok(queue, "rm", uids=[uid])


async def test_a_module_whose_program_does_not_exist_is_an_error_answer(marker: str) -> None:
    async with module_service(marker) as (queue, _):
        error = await refused(queue, "add", type="missing")
        assert "/nonexistent/opsconsole-test-module" in error
        assert await ok(queue, "queue") == []


# -- the agent's own end -------------------------------------------------------------------


def post(agent: AgentProcess, service: str, cmd: str, **args: Any) -> Any:
    packet = httpx.post(
        f"{agent.url}/{service}",
        json={"cmd": cmd, "args": args},
        headers=agent.headers,
        timeout=BOUND,
    ).json()
    assert packet["success"] is True, packet
    return packet.get("result")


def agent_with_modules(
    agent_factory: Callable[..., AgentProcess], tmp_path: Path, marker: str
) -> AgentProcess:
    types = {
        "recorder": command("recorder", marker),
        "spawner": command("spawner", marker),
        "stubborn": command("stubborn", marker),
    }
    config = write_config(tmp_path / "modules.toml", types, {"recorder": types["recorder"]}, types)
    return agent_factory("--config", str(config))


def test_sigkill_of_the_agent_leaves_no_module_nor_grandchild(
    agent_factory: Callable[..., AgentProcess], tmp_path: Path, marker: str
) -> None:
    agent = agent_with_modules(agent_factory, tmp_path, marker)
    sleeper = sleep_marker()
    post(agent, "queue", "add", type="recorder", args={"log": str(tmp_path / "a.log")})
    spawner = {"log": str(tmp_path / "s.log"), "sleep": sleeper}
    post(agent, "queue", "add", type="spawner", args=spawner)
    post(agent, "queue", "set_bg", type="recorder", args={"log": str(tmp_path / "bg.log")})
    post(agent, "pool", "add", type="stubborn", args={"log": str(tmp_path / "p.log")})
    assert len(pids_with_argument(marker)) == 4
    assert len(pids_with_argument(sleeper)) == 1

    assert agent.stop(signal.SIGKILL) == -signal.SIGKILL
    assert lifecycle.eventually(
        lambda: not pids_with_argument(marker) and not pids_with_argument(sleeper)
    )


def test_sigterm_of_the_agent_removes_every_module_and_exits_0(
    agent_factory: Callable[..., AgentProcess], tmp_path: Path, marker: str
) -> None:
    agent = agent_with_modules(agent_factory, tmp_path, marker)
    recorders = [tmp_path / f"{name}.log" for name in ("a", "bg", "p")]
    stubborn, sleeper = tmp_path / "stubborn.log", sleep_marker()
    post(agent, "queue", "add", type="recorder", args={"log": str(recorders[0])})
    post(agent, "queue", "add", type="stubborn", args={"log": str(stubborn)})
    post(agent, "queue", "set_bg", type="recorder", args={"log": str(recorders[1])})
    post(agent, "pool", "add", type="recorder", args={"log": str(recorders[2])})
    spawner = {"log": str(tmp_path / "s.log"), "sleep": sleeper}
    post(agent, "pool", "add", type="spawner", args=spawner)
    assert len(pids_with_argument(marker)) == 5

    assert agent.stop(signal.SIGTERM) == 0
    assert not pids_with_argument(marker)
    assert lifecycle.eventually(lambda: not pids_with_argument(sleeper))
    # Each was told rm; none was told to play on the way out, though the head left first.
    assert [received(log) for log in recorders] == [
        ["init", "play", "rm"],
        ["init", "suspend", "rm"],  # a background arriving behind a playing head: suspend
        ["init", "play", "rm"],
    ]
    assert [what for what, _ in noted(stubborn)] == ["init", "rm", "SIGTERM"]
