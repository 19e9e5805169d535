"""The command line as a program in a pipeline: one line and exit 2 for any bad argument, a
quiet end when its reader goes, text without Python reprs, a question before a script that
asks first (or --yes), and a description on every --help page."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from console.cli import build_parser
from tests.conftest import AgentProcess, run_cli, write_script

TOKEN = "cli-behaviour-token"


def opsconsole(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env={**os.environ, "OPSCONSOLE_INBOX_TOKEN": TOKEN, **(env or {})})


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.fixture
def inbox_agent(agent_factory, scripts_dir: Path) -> AgentProcess:
    write_script(
        scripts_dir,
        "wipe.sh",
        "description: wipe a cache\nparam: what\nconfirm: True",
        'echo "wiped $WHAT"',
    )
    return agent_factory(
        "--scripts", str(scripts_dir), "--inbox-token", TOKEN, "--node-id", "ops-1"
    )


def test_bad_arguments_exit_2_with_one_line(tmp_path: Path, inbox_agent: AgentProcess) -> None:
    url = inbox_agent.url
    for args in (
        ("scripts",),  # no action: it used to print nothing and exit 0
        ("queue",),
        ("inbox",),
        ("ps", "--agent", "not-a-url"),
        ("queue", "add", "countdown", "--args", "{nope", "--agent", url),
        ("queue", "add", "countdown", "--args", "[1, 2]", "--agent", url),
        ("inbox", "push", "ops-1", "{nope", "--json-payload", "--agent", url),
        ("--theme", "nosuch", "--agent", url),
        ("scripts", "run", "echo", "-p", "no-equals-sign", "--agent", url),
    ):
        line = one_error_line(opsconsole(*args))
        assert line.startswith("opsconsole"), (args, line)
    assert "nosuch" in one_error_line(opsconsole("--theme", "nosuch", "--agent", url))


def piped(command: str) -> subprocess.CompletedProcess[str]:
    """``command`` in a shell pipeline, as an operator types it."""
    return subprocess.run(
        command,
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OPSCONSOLE_INBOX_TOKEN": TOKEN},
    )


def test_a_closed_pipe_ends_the_command_quietly(inbox_agent: AgentProcess) -> None:
    listing = piped(f"{sys.executable} -m console scripts list --agent {inbox_agent.url} | head -1")
    assert listing.returncode == 0 and len(listing.stdout.splitlines()) == 1
    assert listing.stderr == "", listing.stderr


def test_logs_follow_into_head_ends_without_a_traceback(
    inbox_agent: AgentProcess, tmp_path: Path
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "Procfile").write_text('chatty: i=0; while :; do i=$((i+1)); echo "line $i"; done\n')
    response = httpx.post(
        f"{inbox_agent.url}/create-process",
        json={"app": "pipe", "node": "c.0", "process_type": "chatty", "source_url": str(app)},
        headers=inbox_agent.headers,
        timeout=30,
    )
    assert response.status_code < 300, response.text
    followed = piped(
        f"{sys.executable} -m console logs -f pipe.c.0 --agent {inbox_agent.url} | head -3"
    )
    assert len(followed.stdout.splitlines()) == 3, followed.stdout
    assert "Traceback" not in followed.stderr and "BrokenPipe" not in followed.stderr


def test_inbox_list_and_pull_print_payloads_not_reprs(inbox_agent: AgentProcess) -> None:
    url = inbox_agent.url
    # Empty: no rows on stdout, one line on stderr saying so, exit 0; JSON is [].
    empty = opsconsole("inbox", "list", "--agent", url)
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, "", "no messages\n")
    empty_json = opsconsole("inbox", "list", "--json", "--agent", url)
    assert empty_json.returncode == 0 and json.loads(empty_json.stdout) == []
    assert opsconsole("inbox", "push", "ops-1", '{"n": 1}', "--json-payload", "--agent", url)
    assert opsconsole("inbox", "push", "ops-1", "two\nlines", "--topic", "t", "--agent", url)
    listed = opsconsole("inbox", "list", "--agent", url)
    assert listed.returncode == 0, listed.stderr
    assert '{"n":1}' in listed.stdout and "two …" in listed.stdout
    # A header row names the columns, as ps has; then one line a message.
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["ID", "CREATED", "FROM", "TOPIC", "STATUS", "PAYLOAD"]
    assert len(rows) == 2 and all(header.index("STATUS") == row.index("pending") for row in rows)
    assert "{'n'" not in listed.stdout and "b'" not in listed.stdout
    pulled = opsconsole("inbox", "pull", "--agent", url)
    assert pulled.returncode == 0 and '{"n":1}' in pulled.stdout, pulled.stdout
    as_json = json.loads(opsconsole("inbox", "list", "--json", "--agent", url).stdout)
    assert len(as_json) == 2


def test_a_script_that_asks_first_needs_a_yes(inbox_agent: AgentProcess) -> None:
    url = inbox_agent.url
    refused = opsconsole("scripts", "run", "wipe", "-p", "what=cache", "--agent", url)
    assert "--yes" in one_error_line(refused) and "wiped" not in refused.stdout
    done = opsconsole("scripts", "run", "wipe", "-p", "what=cache", "--yes", "--agent", url)
    assert done.returncode == 0 and "wiped cache" in done.stdout, done.stderr


def test_every_help_page_says_what_its_command_does() -> None:
    def pages(
        parser: argparse.ArgumentParser, path: list[str]
    ) -> Iterator[tuple[list[str], argparse.ArgumentParser]]:
        yield path, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    yield from pages(child, [*path, name])

    for path, parser in pages(build_parser(), ["opsconsole"]):
        assert parser.description, " ".join(path)
