"""Restart, stop and start many processes in one call: the bulk routes, over HTTP and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import AgentProcess
from tests.processes_helpers import create_body, write_app, write_config
from tests.test_agent_lifecycle import eventually, group_members

BOUND = 20.0
"""Seconds a state may take to be reached: a correctness bound, not a timing."""


@pytest.fixture
def two_apps(agent_factory: Callable[..., AgentProcess], tmp_path: Path) -> AgentProcess:
    """An agent running three processes of app ``shop`` and one of app ``blog``."""
    agent = agent_factory("--config", str(write_config(tmp_path / "config.toml")))
    folder = write_app(tmp_path / "app", {"web": "exec sleep 120"})
    for app, node in (("shop", "web.0"), ("shop", "web.1"), ("shop", "web.2"), ("blog", "web.0")):
        answer = httpx.post(
            f"{agent.url}/create-process",
            json=create_body(app, node, str(folder)),
            headers=agent.headers,
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
    assert eventually(lambda: set(states(agent).values()) == {"running"}, BOUND)
    return agent


def listing(agent: AgentProcess) -> dict[str, dict[str, Any]]:
    answer = httpx.get(f"{agent.url}/list-processes", headers=agent.headers, timeout=10)
    return {p["slug"]: p for p in answer.json()["processes"]}


def states(agent: AgentProcess) -> dict[str, str]:
    return {slug: p["state"] for slug, p in listing(agent).items()}


def pids(agent: AgentProcess) -> dict[str, int | None]:
    return {slug: p["pid"] for slug, p in listing(agent).items()}


def bulk(agent: AgentProcess, action: str, body: object) -> httpx.Response:
    return httpx.post(
        f"{agent.url}/{action}-processes", json=body, headers=agent.headers, timeout=30
    )


def test_restart_of_an_app_restarts_its_processes_only(two_apps: AgentProcess) -> None:
    before = pids(two_apps)
    answer = bulk(two_apps, "restart", {"app": "shop"})
    assert answer.status_code == 200, answer.text
    restarted = {p["slug"]: p for p in answer.json()["processes"]}
    assert sorted(restarted) == ["shop.web.0", "shop.web.1", "shop.web.2"]
    for slug, status in restarted.items():
        assert status["state"] == "running", "answered once settled, not in passing"
        assert status["pid"] != before[slug]
        assert status["restarts"] == 1
        assert status["details"] == f"{two_apps.url}/process-status/{slug}"
        assert eventually(lambda slug=slug: not group_members(before[slug])), "old run left"
    assert pids(two_apps)["blog.web.0"] == before["blog.web.0"], "another app is untouched"


def test_stop_all_then_start_some(two_apps: AgentProcess) -> None:
    before = pids(two_apps)
    stopped = bulk(two_apps, "stop", {"all": True})
    assert stopped.status_code == 200, stopped.text
    assert {p["state"] for p in stopped.json()["processes"]} == {"stopped"}
    assert len(stopped.json()["processes"]) == 4
    assert not any(group_members(pid) for pid in before.values() if pid)

    started = bulk(two_apps, "start", {"slugs": ["blog.web.0", "shop.web.1", "blog.web.0"]})
    assert started.status_code == 200, started.text
    assert [p["slug"] for p in started.json()["processes"]] == ["blog.web.0", "shop.web.1"]
    assert states(two_apps) == {
        "shop.web.0": "stopped",
        "shop.web.1": "running",
        "shop.web.2": "stopped",
        "blog.web.0": "running",
    }


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"app": "shop", "all": True}, 400),
        ({"app": ""}, 400),
        ({"app": 3}, 400),
        ({"all": False}, 400),
        ({"slugs": []}, 400),
        ({"slugs": "shop.web.0"}, 400),
        ({"slugs": ["shop.web.0", 7]}, 400),
        ({"app": "shop", "extra": 1}, 400),
        ([1, 2], 400),
        ({"app": "nowhere"}, 404),
        ({"slugs": ["shop.web.0", "nope.0"]}, 404),
    ],
)
def test_a_bad_selection_is_refused_and_changes_nothing(
    two_apps: AgentProcess, body: object, status: int
) -> None:
    before = pids(two_apps)
    answer = bulk(two_apps, "stop", body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == status
    assert pids(two_apps) == before
    assert set(states(two_apps).values()) == {"running"}


def test_a_body_that_is_not_json_is_refused(two_apps: AgentProcess) -> None:
    answer = httpx.post(
        f"{two_apps.url}/restart-processes",
        content=b"{not json",
        headers={**two_apps.headers, "content-type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert set(states(two_apps).values()) == {"running"}


def test_the_agent_announces_its_bulk_routes(two_apps: AgentProcess) -> None:
    index = httpx.get(f"{two_apps.url}/", headers=two_apps.headers, timeout=10).json()
    assert "processes.bulk" in json.dumps(index)


def opsconsole(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )


def test_cli_restarts_every_process_of_an_app_in_one_call(two_apps: AgentProcess) -> None:
    before = pids(two_apps)
    result = opsconsole("restart", "--app", "shop", "--json", "--agent", two_apps.url)
    assert result.returncode == 0, result.stderr
    answered = {p["slug"]: p for p in json.loads(result.stdout)["processes"]}
    assert sorted(answered) == ["shop.web.0", "shop.web.1", "shop.web.2"]
    assert all(p["state"] == "running" and p["pid"] != before[s] for s, p in answered.items())

    text = opsconsole("stop", "--all", "--agent", two_apps.url)
    assert text.returncode == 0, text.stderr
    assert text.stdout.count("now stopped") == 4
    assert set(states(two_apps).values()) == {"stopped"}

    unknown = opsconsole("start", "--app", "nowhere", "--agent", two_apps.url)
    assert unknown.returncode == 1 and "nowhere" in unknown.stderr
    assert set(states(two_apps).values()) == {"stopped"}


@pytest.mark.parametrize(
    "args", [("restart",), ("restart", "shop.web.0", "--app", "shop"), ("stop", "--app")]
)
def test_cli_needs_one_slug_or_app_or_all(args: tuple[str, ...]) -> None:
    result = opsconsole(*args, "--agent", "http://127.0.0.1:9")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
