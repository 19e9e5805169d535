"""Supervision: restarts with backoff, fatal, the stop ladder, control routes, agent death."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import httpx
import pytest

from console.models import ProcessState
from tests.conftest import AgentProcess
from tests.processes_helpers import (
    EventsSocket,
    create_body,
    in_state,
    next_state,
    process_service,
    spec_for,
    state_is,
    wait_status,
    write_app,
    write_config,
)
from tests.test_agent_lifecycle import eventually, group_members, markers, pids_with_argument

RUNNING, BACKOFF, FATAL = ProcessState.RUNNING, ProcessState.BACKOFF, ProcessState.FATAL
STOPPED = ProcessState.STOPPED
SLUG = "app.web.0"


async def test_a_crash_loop_backs_off_longer_each_time_then_is_fatal(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"web": "echo boom; exit 3"})
    policy = {"first_delay": 0.1, "max_delay": 1.0, "max_quick_failures": 4}
    async with process_service(tmp_path / "data", **policy) as (service, events):
        subscription = events.subscribe(("process",))
        service.create(spec_for(app))
        seen = await next_state(subscription, SLUG, state_is(FATAL))
        # Fatal is where it stays: a restart would come within the longest backoff and
        # publish its state, so no event for it in longer than that means none comes.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(policy["max_delay"] * 1.5):
                async for event in subscription:
                    assert event.data.get("slug") != SLUG, f"after fatal: {event.data}"
        assert service.status(SLUG).state is FATAL
        lines = [line for batch in service.get(SLUG).log.held() for line in batch.lines]

    runs = [s for s in seen if s.state is RUNNING]
    backoffs = [s for s in seen if s.state is BACKOFF]
    assert [s.restarts for s in runs] == [0, 1, 2, 3]
    assert len({s.pid for s in runs}) == 4
    assert [s.message for s in backoffs] == [f"restarting in {d}s" for d in ("0.1", "0.2", "0.4")]
    assert all(s.last_exit == 3 and s.pid is None for s in backoffs)
    # Each wait lasted at least its delay (a lower bound: correctness, not speed).
    for (first, second), delay in zip(pairwise(runs), (0.1, 0.2, 0.4), strict=True):
        assert second.started_at - first.started_at >= delay * 0.95
    fatal = seen[-1]
    assert (fatal.restarts, fatal.last_exit, fatal.pid) == (3, 3, None)
    assert "exited 4 times in a row" in fatal.message
    assert "last exit 3" in fatal.message
    assert lines == ["boom"] * 4


async def test_a_run_longer_than_stable_after_resets_the_count(tmp_path: Path) -> None:
    # Runs 1, 2 fail at once, run 3 lasts past stable_after, runs 4, 5, 6 fail at once.
    app = write_app(
        tmp_path / "app",
        {
            "web": 'n=$(($(cat count 2>/dev/null || echo 0) + 1)); echo $n > count; echo "run $n"; '
            "if [ $n -eq 3 ]; then sleep 1.3; fi; exit 1"
        },
    )
    async with process_service(tmp_path / "data", stable_after=1.0, max_quick_failures=3) as (
        service,
        events,
    ):
        subscription = events.subscribe(("process",))
        service.create(spec_for(app))
        seen = await next_state(subscription, SLUG, state_is(FATAL))
    # Without the reset it would be fatal after run 3.
    assert [s.restarts for s in seen if s.state is RUNNING] == [0, 1, 2, 3, 4, 5]
    assert len([s for s in seen if s.state is BACKOFF]) == 5
    assert (app / "count").read_text().strip() == "6"
    assert seen[-1].last_exit == 1


async def test_stop_terms_the_group_then_kills_it_after_the_grace(tmp_path: Path) -> None:
    background, _ = markers()
    # The grandchild ignores SIGTERM; the leader notes it and goes on: only SIGKILL ends them.
    app = write_app(
        tmp_path / "app",
        {
            "web": f"(trap '' TERM; exec sleep {background}) & "
            "trap 'echo got-term' TERM; echo ready; while :; do sleep 0.05; done"
        },
    )
    async with process_service(tmp_path / "data", stop_grace=0.5) as (service, events):
        subscription = events.subscribe(("process",))
        service.create(spec_for(app))
        [*_, running] = await next_state(subscription, SLUG, state_is(RUNNING))
        assert eventually(lambda: pids_with_argument(background))
        [grandchild] = pids_with_argument(background)
        assert grandchild in group_members(running.pid)

        began = time.monotonic()
        await service.get(SLUG).stop()
        assert time.monotonic() - began >= 0.45, "SIGKILL waited for the grace"
        seen = await next_state(subscription, SLUG, state_is(STOPPED))
        lines = [line for batch in service.get(SLUG).log.held() for line in batch.lines]
        assert not group_members(running.pid)
        assert not pids_with_argument(background)
    assert [s.state for s in seen] == [ProcessState.STOPPING, STOPPED]
    assert seen[-1].last_exit == -signal.SIGKILL
    assert seen[-1].pid is None
    assert lines[0] == "ready"
    assert "got-term" in lines, "SIGTERM came first"


async def test_stop_of_a_polite_process_needs_no_sigkill(tmp_path: Path) -> None:
    background, foreground = markers()
    app = write_app(tmp_path / "app", {"web": f"sleep {background} & exec sleep {foreground}"})
    async with process_service(tmp_path / "data", stop_grace=30) as (service, events):
        subscription = events.subscribe(("process",))
        service.create(spec_for(app))
        [*_, running] = await next_state(subscription, SLUG, state_is(RUNNING))
        assert eventually(lambda: pids_with_argument(background) and pids_with_argument(foreground))
        await service.get(SLUG).stop()
        [*_, stopped] = await next_state(subscription, SLUG, state_is(STOPPED))
        assert stopped.last_exit == -signal.SIGTERM
        assert eventually(lambda: not group_members(running.pid))
        assert not pids_with_argument(background)


async def test_delete_while_in_backoff_and_close_stop_everything(tmp_path: Path) -> None:
    background, _ = markers()
    slow = write_app(tmp_path / "slow", {"web": "exit 1"})
    held = write_app(tmp_path / "held", {"web": f"exec sleep {background}"})
    async with process_service(tmp_path / "data", first_delay=5) as (service, events):
        subscription = events.subscribe(("process",))
        service.create(spec_for(slow, node="slow"))
        await next_state(subscription, "app.slow", state_is(BACKOFF))
        began = time.monotonic()
        await service.delete("app.slow")
        assert time.monotonic() - began < 5, "delete does not wait out the backoff"
        assert [s.slug for s in service.list()] == []
        service.create(spec_for(held, node="held"))
        [*_, running] = await next_state(subscription, "app.held", state_is(RUNNING))
    # Leaving the block closed the service: the held process is gone too.
    assert not group_members(running.pid)
    assert not pids_with_argument(background)


# Over HTTP: the control routes.


@pytest.fixture
def fast_agent(agent_factory: Callable[..., AgentProcess], tmp_path: Path) -> AgentProcess:
    return agent_factory("--config", str(write_config(tmp_path / "config.toml")))


def post(agent: AgentProcess, action: str, slug: str) -> dict:
    response = httpx.post(f"{agent.url}/{action}-process/{slug}", headers=agent.headers, timeout=30)
    assert response.status_code == (201 if action == "create" else 200), response.text
    return response.json()


def test_restart_stop_and_start_routes(fast_agent: AgentProcess, tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"web": "echo up; exec sleep 60"})
    url, slug = fast_agent.url, "ctl.web.0"
    events = EventsSocket(fast_agent)
    try:
        response = httpx.post(
            f"{url}/create-process",
            json=create_body("ctl", "web.0", str(app)),
            headers=fast_agent.headers,
            timeout=10,
        )
        assert response.status_code == 201
        pid = events.states_of(slug, in_state("running"))[-1]["pid"]
        pids = [pid]

        # Restarts in a row, each run shorter than stable_after: manual, so never a failure.
        for count in (1, 2, 3, 4):
            answer = post(fast_agent, "restart", slug)
            assert answer["slug"] == slug
            assert answer["details"] == f"{url}/process-status/{slug}"
            seen = events.states_of(slug, in_state("running", "fatal"))
            assert "backoff" not in [s["state"] for s in seen], seen
            assert seen[-1]["state"] == "running"
            assert seen[-1]["restarts"] == count
            assert seen[-1]["pid"] not in pids
            assert eventually(lambda: not group_members(pids[-1]))
            pids.append(seen[-1]["pid"])

        post(fast_agent, "stop", slug)
        stopped = events.states_of(slug, in_state("stopped"))[-1]
        assert stopped["pid"] is None
        assert stopped["last_exit"] == -signal.SIGTERM
        assert not group_members(pids[-1])
        # Stopped stays stopped (no restart) and a second stop changes nothing.
        assert post(fast_agent, "stop", slug)["state"] == "stopped"
        assert wait_status(fast_agent, slug, lambda s: True)["state"] == "stopped"

        post(fast_agent, "start", slug)
        running = events.states_of(slug, in_state("running"))[-1]
        assert running["pid"] not in pids
        assert group_members(running["pid"])
        assert post(fast_agent, "delete", slug) == {}
        assert not group_members(running["pid"])
    finally:
        events.close()


def test_start_after_fatal_runs_it_again(fast_agent: AgentProcess, tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {"web": "exit 7"})
    url, slug = fast_agent.url, "crash.web.0"
    events = EventsSocket(fast_agent)
    try:
        httpx.post(
            f"{url}/create-process",
            json=create_body("crash", "web.0", str(app)),
            headers=fast_agent.headers,
        )
        fatal = events.states_of(slug, in_state("fatal"))[-1]
        assert (fatal["restarts"], fatal["last_exit"]) == (2, 7)
        post(fast_agent, "start", slug)
        again = events.states_of(slug, in_state("fatal"))
        assert [s["state"] for s in again].count("running") == 3, "the count starts over"
        assert again[-1]["restarts"] == 5
    finally:
        events.close()


# The agent's own death.


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_no_process_outlives_the_agent(
    fast_agent: AgentProcess, tmp_path: Path, sig: signal.Signals
) -> None:
    background, foreground = markers()
    app = write_app(tmp_path / "app", {"web": f"sleep {background} & sleep {foreground}; exit 1"})
    url = fast_agent.url
    assert httpx.post(
        f"{url}/create-process",
        json=create_body("d", "web.0", str(app)),
        headers=fast_agent.headers,
    ).is_success
    pid = wait_status(fast_agent, "d.web.0", in_state("running"))["pid"]
    assert eventually(lambda: pids_with_argument(background) and pids_with_argument(foreground))

    code = fast_agent.stop(sig)
    assert code == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
    assert eventually(lambda: not group_members(pid)), f"left running: {group_members(pid)}"
    assert not pids_with_argument(background)
    assert not pids_with_argument(foreground)
