"""The scriptable subcommands, run as real processes against a real agent."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from passlib.hash import bcrypt

from console.cli import PASSWORD_ENV
from tests.conftest import AgentProcess, run_cli


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose config and data dirs are empty: no user's settings leak in."""
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg-config")}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
    env.pop(PASSWORD_ENV, None)
    return env


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env={**cli_env, **(env or {})})

    return run


Cli = Callable[..., subprocess.CompletedProcess[str]]


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_list_prints_every_script_by_name(cli: Cli, agent: AgentProcess) -> None:
    result = cli("scripts", "--agent", agent.url, "list")
    assert result.returncode == 0, result.stderr
    names = {line.split()[0] for line in result.stdout.splitlines()}
    assert {"echo", "fail", "deploy_web", "locked", "slow"} <= names
    echo = next(line for line in result.stdout.splitlines() if line.startswith("echo "))
    assert "echo the text" in echo


@pytest.mark.parametrize(
    "where",
    [
        ["scripts", "--agent", "URL", "--json", "list"],
        ["scripts", "--agent", "URL", "list", "--json"],
        ["--json", "scripts", "list", "--agent", "URL"],
    ],
    ids=["before-action", "after-action", "before-command"],
)
def test_json_list_is_keyed_by_name_wherever_the_flag_goes(
    cli: Cli, agent: AgentProcess, where: list[str]
) -> None:
    result = cli(*(agent.url if arg == "URL" else arg for arg in where))
    assert result.returncode == 0, result.stderr
    scripts = json.loads(result.stdout)["scripts"]
    assert {"echo", "fail", "deploy_web"} <= set(scripts)
    assert scripts["echo"]["name"] == "echo"
    assert scripts["echo"]["params"] == [{"name": "text", "description": "Text to echo"}]


def test_show_gives_one_script(cli: Cli, agent: AgentProcess) -> None:
    text = cli("scripts", "--agent", agent.url, "show", "env_dump")
    assert text.returncode == 0, text.stderr
    assert "secret (filtered)" in text.stdout
    as_json = cli("scripts", "--agent", agent.url, "show", "env_dump", "--json")
    assert json.loads(as_json.stdout)["script"]["filtered_params"] == ["secret"]


def test_run_prints_the_output_and_exits_0(cli: Cli, agent: AgentProcess) -> None:
    result = cli("scripts", "--agent", agent.url, "run", "echo", "-p", "text=hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hi\n"
    assert "exit 0" in result.stderr


def test_a_param_value_may_hold_equals_signs_and_spaces(cli: Cli, agent: AgentProcess) -> None:
    result = cli("scripts", "--agent", agent.url, "run", "echo", "--param", "text=a=b c; rm -rf /")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "a=b c; rm -rf /\n"


def test_a_failing_scripts_exit_code_passes_through(cli: Cli, agent: AgentProcess) -> None:
    result = cli("scripts", "--agent", agent.url, "run", "fail")
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert "bad thing" in result.stderr
    assert "exit 3" in result.stderr


def test_run_json_prints_one_event_per_line(cli: Cli, agent: AgentProcess) -> None:
    result = cli("scripts", "--agent", agent.url, "run", "fail", "--json")
    assert result.returncode == 3
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started"
    assert kinds[-1] == "finished"
    assert events[-1]["retcode"] == 3
    assert len(events) == 4, events


def test_an_unknown_script_exits_1_with_one_line(cli: Cli, agent: AgentProcess) -> None:
    result = cli("scripts", "--agent", agent.url, "run", "nope")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "nope" in one_line(result.stderr)


def test_an_unreachable_agent_exits_1_with_one_line(cli: Cli, agent: AgentProcess) -> None:
    agent.stop()
    result = cli("scripts", "--agent", agent.url, "list")
    assert result.returncode == 1
    assert agent.url in one_line(result.stderr)


def test_history_lists_past_runs_newest_first(cli: Cli, agent: AgentProcess) -> None:
    for name, params in (("echo", {"text": "first"}), ("echo", {"text": "second"}), ("fail", {})):
        assert httpx.post(
            f"{agent.url}/scripts/{name}", json=params, headers=agent.headers, timeout=30
        ).is_success

    result = cli("scripts", "--agent", agent.url, "history", "--json")
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout)["runs"]
    assert [(r["script"], r["retcode"]) for r in runs] == [("fail", 3), ("echo", 0), ("echo", 0)]
    assert runs[1]["params"] == {"text": "second"}

    only_echo = json.loads(
        cli("scripts", "--agent", agent.url, "--json", "history", "echo", "--limit", "1").stdout
    )["runs"]
    assert [r["params"] for r in only_echo] == [{"text": "second"}]

    text = cli("scripts", "--agent", agent.url, "history")
    assert text.returncode == 0
    assert len(text.stdout.splitlines()) == 3
    assert "exit 3" in text.stdout.splitlines()[0]


def test_reload_picks_up_a_new_script(cli: Cli, agent: AgentProcess, scripts_dir: Path) -> None:
    new = scripts_dir / "fresh.sh"
    new.write_text("#!/bin/sh\necho fresh\n")
    new.chmod(0o755)
    assert cli("scripts", "--agent", agent.url, "reload").stdout == "reloaded\n"
    result = cli("scripts", "--agent", agent.url, "run", "fresh")
    assert (result.returncode, result.stdout) == (0, "fresh\n")


def test_a_context_from_the_config_file_names_the_agent(
    cli: Cli, agent: AgentProcess, tmp_path: Path
) -> None:
    config = tmp_path / "console.toml"
    config.write_text(f'[contexts.here]\nagent = "{agent.url}"\n')
    result = cli(
        "--config", str(config), "scripts", "--context", "here", "run", "echo", "-p", "text=ctx"
    )
    assert (result.returncode, result.stdout) == (0, "ctx\n"), result.stderr

    missing = cli("--config", str(config), "scripts", "--context", "elsewhere", "list")
    assert missing.returncode == 2
    assert "here" in one_line(missing.stderr)


def test_credentials_come_from_user_and_the_password_variable(
    cli: Cli, agent_factory: Callable[..., AgentProcess], scripts_dir: Path, tmp_path: Path
) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"ops:{bcrypt.using(rounds=4).hash('s3cret')}\n")
    guarded = agent_factory("--scripts", str(scripts_dir), "--htpasswd", str(htpasswd))
    args = ("scripts", "--agent", guarded.url, "--user", "ops", "run", "echo", "-p", "text=in")

    allowed = cli(*args, env={PASSWORD_ENV: "s3cret"})
    assert (allowed.returncode, allowed.stdout) == (0, "in\n"), allowed.stderr

    for env in ({PASSWORD_ENV: "wrong"}, {}):
        refused = cli(*args, env=env)
        assert refused.returncode == 1
        assert "401" in one_line(refused.stderr)
    # Neither Basic credentials nor the agent token (a user who cannot find this agent's).
    nobody = {"XDG_STATE_HOME": str(tmp_path / "another-user")}
    no_user = cli("scripts", "--agent", guarded.url, "list", env=nobody)
    assert no_user.returncode == 1
    assert "401" in one_line(no_user.stderr)


HELP_COMMANDS = [
    [],
    ["agent"],
    ["demo"],
    ["bench"],
    ["scripts"],
    ["scripts", "list"],
    ["scripts", "show"],
    ["scripts", "run"],
    ["scripts", "history"],
    ["scripts", "reload"],
]


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=lambda c: " ".join(c) or "opsconsole")
def test_every_command_has_help(cli: Cli, command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: opsconsole {' '.join(command)}".rstrip())
    assert result.stderr == ""


@pytest.mark.parametrize(
    "args",
    [
        ["scripts", "--agent", "http://127.0.0.1:9", "list", "--bogus"],
        ["scripts", "--bogus"],
        ["scripts", "frobnicate"],
        ["scripts", "--agent", "http://127.0.0.1:9", "run"],
        ["scripts", "--agent", "http://127.0.0.1:9", "run", "echo", "-p"],
        ["scripts", "--agent", "http://127.0.0.1:9", "history", "--limit", "many"],
        ["--bogus"],
        ["frobnicate"],
    ],
    ids=[
        "unknown-flag",
        "unknown-flag-no-action",
        "unknown-action",
        "missing-name",
        "missing-param",
        "bad-limit",
        "unknown-top-flag",
        "unknown-command",
    ],
)
def test_bad_arguments_exit_2_with_one_line(cli: Cli, args: list[str]) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "error" in one_line(result.stderr)


def test_a_malformed_param_exits_2_with_one_line(cli: Cli, agent: AgentProcess) -> None:
    result = cli("scripts", "--agent", agent.url, "run", "echo", "-p", "novalue")
    assert result.returncode == 2
    assert "KEY=VALUE" in one_line(result.stderr)
    history = cli("scripts", "--agent", agent.url, "--json", "history")
    assert json.loads(history.stdout)["runs"] == [], "nothing ran"
