"""``--context all`` and ``--context a,b``: the subcommands on several real agents at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import AgentProcess
from tests.fleet_helpers import (
    INBOX_TOKEN,
    add_processes,
    fleet_app,
    start_fleet_agents,
    wait_running,
)

LIVE = ("web1", "db1")


def opsconsole(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )


@pytest.fixture
def fleet_config(
    agent_factory: Callable[..., AgentProcess], tmp_path: Path, scripts_dir: Path
) -> Path:
    """A config naming two live agents (two ``web``, one ``worker`` each) and a dead one."""
    app = fleet_app(tmp_path / "shop")
    agents = start_fleet_agents(agent_factory, 2, tmp_path, "--scripts", str(scripts_dir))
    lines = []
    for name, agent in zip(LIVE, agents, strict=True):
        wait_running(
            agent, add_processes(agent, app, 2, "web") + add_processes(agent, app, 1, "worker")
        )
        lines += [f"[contexts.{name}]", f'agent = "{agent.url}"', f'inbox_token = "{INBOX_TOKEN}"']
    lines += ["[contexts.gone]", 'agent = "http://127.0.0.1:9"']
    config = tmp_path / "console.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def test_ps_on_all_lists_every_agent_with_its_context_and_reports_the_dead_one(
    fleet_config: Path,
) -> None:
    result = opsconsole("ps", "--context", "all", "--json", "--config", str(fleet_config))
    assert result.returncode == 1, "one host failed"
    document = json.loads(result.stdout)
    rows = sorted((p["context"], p["slug"]) for p in document["processes"])
    assert rows == sorted(
        (context, slug)
        for context in LIVE
        for slug in ("shop.web.0", "shop.web.1", "shop.worker.0")
    )
    assert [e["context"] for e in document["errors"]] == ["gone"]
    assert "opsconsole: gone:" in result.stderr
    text = opsconsole("ps", "--context", "web1,db1", "--config", str(fleet_config))
    assert text.returncode == 0, text.stderr
    header, *lines = text.stdout.splitlines()
    assert header.split()[:3] == ["CONTEXT", "SLUG", "STATE"]
    assert sorted(line.split()[0] for line in lines) == ["db1"] * 3 + ["web1"] * 3


def test_restart_a_type_everywhere_reaches_each_agent(fleet_config: Path) -> None:
    result = opsconsole(
        "restart", "--type", "web", "--context", "web1,db1", "--json", "--config", str(fleet_config)
    )
    assert result.returncode == 0, result.stderr
    restarted = json.loads(result.stdout)["processes"]
    assert sorted((p["context"], p["slug"], p["restarts"]) for p in restarted) == [
        (context, f"shop.web.{i}", 1) for context in sorted(LIVE) for i in (0, 1)
    ]
    listing = json.loads(
        opsconsole("ps", "--context", "web1,db1", "--json", "--config", str(fleet_config)).stdout
    )
    workers = [p["restarts"] for p in listing["processes"] if p["process_type"] == "worker"]
    assert workers == [0, 0], "a worker was not touched"


def test_restart_of_a_slug_on_all_reports_the_dead_host_beside_the_others(
    fleet_config: Path,
) -> None:
    result = opsconsole(
        "restart", "shop.worker.0", "--context", "all", "--config", str(fleet_config)
    )
    assert result.returncode == 1
    assert result.stdout.count("shop.worker.0: restart asked") == 2
    assert "web1: shop.worker.0" in result.stdout and "db1: shop.worker.0" in result.stdout
    assert "opsconsole: gone:" in result.stderr


def test_scripts_run_on_a_selection_keeps_each_hosts_output_apart(fleet_config: Path) -> None:
    result = opsconsole(
        "scripts",
        "run",
        "echo",
        "-p",
        "text=hello",
        "--context",
        "web1,db1",
        "--config",
        str(fleet_config),
    )
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == ["db1 | hello", "web1 | hello"]
    failing = opsconsole(
        "scripts",
        "run",
        "fail",
        "--context",
        "web1,db1",
        "--json",
        "--config",
        str(fleet_config),
    )
    assert failing.returncode == 1
    finished = [json.loads(line) for line in failing.stdout.splitlines()]
    exits = {e["context"]: e["retcode"] for e in finished if e["event"] == "finished"}
    assert exits == {"web1": 3, "db1": 3}


def test_logs_and_inbox_on_all_carry_the_context(fleet_config: Path) -> None:
    logs = opsconsole(
        "logs", "shop.web.0", "--context", "web1,db1", "--json", "--config", str(fleet_config)
    )
    assert logs.returncode == 0, logs.stderr
    batches = [json.loads(line) for line in logs.stdout.splitlines()]
    assert sorted((b["context"], b["lines"][0]) for b in batches) == [
        ("db1", "web up"),
        ("web1", "web up"),
    ]
    text = opsconsole("logs", "shop.web.0", "--context", "web1,db1", "--config", str(fleet_config))
    assert sorted(text.stdout.splitlines()) == ["db1 | web up", "web1 | web up"]
    inbox = opsconsole("inbox", "list", "--context", "all", "--json", "--config", str(fleet_config))
    assert inbox.returncode == 1
    document = json.loads(inbox.stdout)
    assert document["messages"] == [] and [e["context"] for e in document["errors"]] == ["gone"]


def test_inbox_list_on_all_has_one_header_row_over_every_context(fleet_config: Path) -> None:
    config = str(fleet_config)
    empty = opsconsole("inbox", "list", "--context", "web1,db1", "--config", config)
    assert empty.returncode == 0 and empty.stdout == "" and "no messages" in empty.stderr
    for context in LIVE:
        pushed = opsconsole(
            "inbox", "push", "node", f"hello {context}", "--context", context, "--config", config
        )
        assert pushed.returncode == 0, pushed.stderr
    listing = opsconsole("inbox", "list", "--context", "all", "--config", config)
    assert listing.returncode == 1, "the dead context fails"
    header, *rows = listing.stdout.splitlines()
    assert header.split() == ["CONTEXT", "ID", "CREATED", "FROM", "TOPIC", "STATUS", "PAYLOAD"]
    assert sorted((row.split()[0], row.split()[-1]) for row in rows) == [
        ("db1", "db1"),
        ("web1", "web1"),
    ]
    assert all("hello" in row for row in rows)
    assert "opsconsole: gone:" in listing.stderr


def test_commands_that_take_one_context_refuse_a_fleet(fleet_config: Path) -> None:
    push = opsconsole(
        "inbox", "push", "node", "hi", "--context", "all", "--config", str(fleet_config)
    )
    assert push.returncode == 2 and "takes one context" in push.stderr
    unknown = opsconsole("ps", "--context", "web1,nope", "--config", str(fleet_config))
    assert unknown.returncode == 2 and "nope" in unknown.stderr


def test_ps_on_a_fleet_starts_as_light_as_on_one_agent(fleet_config: Path) -> None:
    from tests.test_cli_imports import (
        NEVER_FOR_HTTP_CLIENTS,
        NEVER_IN_ANY_CLIENT,
        loaded_packages,
        run_probed,
    )

    status, modules, output = run_probed(
        "ps", "--context", "web1,db1", "--config", str(fleet_config)
    )
    assert status == 0 and output.count("shop.web.0") == 2
    assert loaded_packages(modules, NEVER_FOR_HTTP_CLIENTS + NEVER_IN_ANY_CLIENT) == []
