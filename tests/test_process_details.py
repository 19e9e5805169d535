"""A process looked at closely, over real HTTP to a real agent with real children: requested
ends recorded as the operator's, details with secrets masked on the agent, CPU and memory."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from console.models import FILTERED
from tests.conftest import AgentProcess
from tests.processes_helpers import (
    EventsSocket,
    create_body,
    in_state,
    wait_status,
    write_app,
    write_config,
)

BOUND = 30.0


@pytest.fixture
def fast_agent(agent_factory: Callable[..., AgentProcess], tmp_path: Path) -> AgentProcess:
    return agent_factory("--config", str(write_config(tmp_path / "config.toml")))


def create(agent: AgentProcess, app: Path, slug_app: str, **extra: Any) -> str:
    response = httpx.post(
        f"{agent.url}/create-process",
        json=create_body(slug_app, "web.0", str(app), **extra),
        headers=agent.headers,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return f"{slug_app}.web.0"


def post(agent: AgentProcess, action: str, slug: str) -> dict[str, Any]:
    response = httpx.post(f"{agent.url}/{action}-process/{slug}", headers=agent.headers, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def details(agent: AgentProcess, slug: str) -> httpx.Response:
    return httpx.get(f"{agent.url}/process-details/{slug}", headers=agent.headers, timeout=10)


def usage(agent: AgentProcess) -> dict[str, dict[str, Any]]:
    response = httpx.get(f"{agent.url}/process-usage", headers=agent.headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["usage"]


def test_a_requested_restart_or_stop_is_the_operators_never_a_failure(
    fast_agent: AgentProcess, tmp_path: Path
) -> None:
    events = EventsSocket(fast_agent)  # listening first: a quick start is not missed
    try:
        slug = create(fast_agent, write_app(tmp_path / "app", {"web": "exec sleep 60"}), "ctl")
        events.states_of(slug, in_state("running"))
        post(fast_agent, "restart", slug)
        running = events.states_of(slug, in_state("running"))[-1]
        assert running["last_exit"] == -signal.SIGTERM
        assert running["last_exit_request"] == "restart"
        assert running["failures"] == 0 and running["restarts"] == 1
        post(fast_agent, "stop", slug)
        stopped = events.states_of(slug, in_state("stopped"))[-1]
        assert stopped["last_exit_request"] == "stop" and stopped["failures"] == 0
        exits = details(fast_agent, slug).json()["exits"]
        assert [(e["code"], e["signal"], e["request"]) for e in exits] == [
            (-15, "SIGTERM", "restart"),
            (-15, "SIGTERM", "stop"),
        ]
        assert all(e["at"] <= time.time() and e["ran_for"] >= 0 for e in exits)
    finally:
        events.close()


def test_a_crash_counts_as_a_failure_and_says_when_it_starts_again(
    fast_agent: AgentProcess, tmp_path: Path
) -> None:
    events = EventsSocket(fast_agent)  # listening first: a quick start is not missed
    try:
        slug = create(fast_agent, write_app(tmp_path / "app", {"web": "exit 3"}), "crash")
        seen = events.states_of(slug, in_state("fatal"))
        backoffs = [s for s in seen if s["state"] == "backoff"]
        assert [s["failures"] for s in backoffs] == [1, 2]
        for status in backoffs:
            # retry_at is when, on the agent's clock, the message's countdown ends.
            delay = float(status["message"].removeprefix("restarting in ").removesuffix("s"))
            assert status["retry_at"] == pytest.approx(time.time() + delay, abs=5.0)
            assert status["last_exit"] == 3 and status["last_exit_request"] is None
        fatal = seen[-1]
        assert fatal["failures"] == 3 and fatal["retry_at"] is None
        exits = details(fast_agent, slug).json()["exits"]
        assert [(e["code"], e["signal"], e["request"]) for e in exits] == [(3, None, None)] * 3
        # The operator starts it again: the count starts over.
        post(fast_agent, "start", slug)
        again = events.states_of(slug, in_state("backoff"))[-1]
        assert again["failures"] == 1
    finally:
        events.close()


def test_a_restart_during_backoff_starts_the_failure_count_over(
    agent_factory: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    # Slow backoff: the restart surely lands while it waits.
    policy = {"first_delay": 5.0, "max_delay": 5.0, "stable_after": 10, "max_quick_failures": 6}
    agent = agent_factory("--config", str(write_config(tmp_path / "c.toml", restart=policy)))
    events = EventsSocket(agent)  # listening first: a quick start is not missed
    try:
        slug = create(agent, write_app(tmp_path / "app", {"web": "exit 3"}), "crash")
        assert events.states_of(slug, in_state("backoff"))[-1]["failures"] == 1
        post(agent, "restart", slug)
        after = events.states_of(slug, in_state("backoff"))
        assert after[-1]["failures"] == 1, [(s["state"], s["failures"]) for s in after]
    finally:
        events.close()


def test_details_show_command_and_environment_with_secrets_never_sent(
    fast_agent: AgentProcess, tmp_path: Path
) -> None:
    app = write_app(
        tmp_path / "app", {"web": "env GREETING=hi SESSION_SECRET=ps-4716 exec sleep 60"}
    )
    env = {
        "API_KEY": "key-value-4711",
        "DB_PASSWORD": "pw-value-4712",
        "github_token": "tok-value-4713",
        "DATABASE_URL": "postgres://app:url-pw-4714@db.internal/shop",
        "AUTH_HEADER": "Bearer hdr-value-4715",
        "MODE": "production",
    }
    slug = create(fast_agent, app, "sec", env=env)
    wait_status(fast_agent, slug, in_state("running"))
    response = details(fast_agent, slug)
    assert response.status_code == 200
    for secret in ("4711", "4712", "4713", "4714", "4715", "4716"):
        assert secret not in response.text
    body = response.json()
    assert body["command"] == "exec sleep 60"  # the Procfile line's env is in env
    assert body["workdir"] == str(tmp_path / "app")
    assert body["pid"] > 0 and body["state"] == "running"
    shown = body["env"]
    assert shown["MODE"] == "production" and shown["PORT"].isdigit()
    assert shown["GREETING"] == "hi" and shown["SESSION_SECRET"] == FILTERED
    assert shown["API_KEY"] == shown["DB_PASSWORD"] == shown["github_token"] == FILTERED
    assert shown["AUTH_HEADER"] == FILTERED
    assert shown["DATABASE_URL"].startswith("postgres://app:***@db.internal")
    assert sorted(body["masked"]) == [
        "API_KEY",
        "AUTH_HEADER",
        "DATABASE_URL",
        "DB_PASSWORD",
        "SESSION_SECRET",
        "github_token",
    ]
    # The compatible STATUS keys are all there, as upstream has them.
    assert body["slug"] == slug and body["app"] == "sec"
    assert body["details"] == f"{fast_agent.url}/process-status/{slug}"
    assert body["attach"].startswith("ws://") and body["delete"].endswith(f"/{slug}")


def test_usage_tells_a_busy_process_from_an_idle_one_and_counts_its_memory(
    fast_agent: AgentProcess, tmp_path: Path
) -> None:
    procfile = {
        "busy": "exec python3 -c 'while True: pass'",
        "idle": "exec sleep 60",
        "big": "exec python3 -c 'import time; b = bytearray(64 << 20); time.sleep(60)'",
    }
    app = write_app(tmp_path / "app", procfile)
    slugs = {}
    for kind in procfile:
        response = httpx.post(
            f"{fast_agent.url}/create-process",
            json=create_body("use", kind, str(app), process_type=kind),
            headers=fast_agent.headers,
            timeout=10,
        )
        assert response.status_code == 201, response.text
        slugs[kind] = f"use.{kind}"
    for slug in slugs.values():
        wait_status(fast_agent, slug, in_state("running"))

    def measured() -> dict[str, dict[str, Any]] | None:
        seen = usage(fast_agent)
        if set(slugs.values()) - set(seen):
            return None
        busy, idle, big = (seen[slugs[k]] for k in ("busy", "idle", "big"))
        if busy["cpu"] > 10 and idle["cpu"] < 5 and big["rss"] >= 64 << 20:
            return seen
        return None

    deadline = time.monotonic() + BOUND
    while (seen := measured()) is None:
        assert time.monotonic() < deadline, usage(fast_agent)
        time.sleep(0.2)
    assert seen[slugs["idle"]]["rss"] < seen[slugs["big"]]["rss"]
    # The details carry the same sample; a stopped process has none (and is not listed).
    assert details(fast_agent, slugs["big"]).json()["usage"]["rss"] >= 64 << 20
    post(fast_agent, "stop", slugs["busy"])
    assert slugs["busy"] not in usage(fast_agent)
    assert details(fast_agent, slugs["busy"]).json()["usage"] is None


def test_details_and_usage_refuse_what_they_do_not_serve(fast_agent: AgentProcess) -> None:
    url, headers = fast_agent.url, fast_agent.headers
    for slug in ("nosuch.web.0", "..%2F..%2Fetc", "x" * 300):
        response = httpx.get(f"{url}/process-details/{slug}", headers=headers, timeout=10)
        assert response.status_code == 404, (slug, response.text)
    assert httpx.post(f"{url}/process-usage", headers=headers, timeout=10).status_code == 405
    assert httpx.delete(f"{url}/process-details/a.b", headers=headers, timeout=10).status_code in (
        404,
        405,
    )
    for path in ("/process-details/a.b", "/process-usage"):
        assert httpx.get(f"{url}{path}", timeout=10).status_code == 401
