"""Output through a real agent: the attach flags, the CLI's colour, script runs, byte budgets."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from tests.conftest import AgentProcess, write_script
from tests.processes_helpers import create_body, wait_status, write_app, write_config

COLOURED = r"printf '\033[32mINFO\033[0m ready\n'; printf 'Waiting for db... '; exec sleep 600"


@pytest.fixture
def agent(agent_factory, tmp_path: Path) -> AgentProcess:
    scripts = tmp_path / "scripts"
    write_script(
        scripts,
        "progress.sh",
        "description: a progress bar, colour, bad bytes, a screen clear",
        r"printf '10%%\r50%%\r100%%\n\033[31mred\033[0m \377 \033[2Jok\n'",
    )
    config = write_config(tmp_path / "config.toml")
    return agent_factory("--config", str(config), "--scripts", str(scripts))


def start(agent: AgentProcess, tmp_path: Path, command: str, lines: int) -> str:
    app = write_app(tmp_path / "app", {"web": command})
    body = create_body("out", "web.0", str(app))
    reply = httpx.post(f"{agent.url}/create-process", json=body, headers=agent.headers, timeout=10)
    assert reply.status_code == 201
    wait_status(agent, "out.web.0", lambda s: s["next_seq"] >= lines)
    return "out.web.0"


def attach(agent: AgentProcess, slug: str, query: str) -> str:
    return agent.url.replace("http", "ws", 1) + f"/attach-console/{slug}{query}"


def frames(agent: AgentProcess, slug: str, query: str, count: int) -> list[object]:
    url = attach(agent, slug, query)
    with ws_connect(url, open_timeout=10, additional_headers=agent.headers) as ws:
        received = [ws.recv(timeout=10) for _ in range(count)]
    return [json.loads(f) if "format=json" in query else f for f in received]


def test_colour_stays_on_the_wire_and_goes_on_request(agent: AgentProcess, tmp_path: Path) -> None:
    slug = start(agent, tmp_path, COLOURED, 1)
    assert frames(agent, slug, "", 1) == ["\x1b[32mINFO\x1b[0m ready"]
    assert frames(agent, slug, "?strip_ansi=1", 1) == ["INFO ready"]
    [batch] = frames(agent, slug, "?format=json&strip_ansi=1", 1)
    assert batch["lines"] == ["INFO ready"]
    # The unfinished prompt comes as a partial frame to a client that asks for it.
    batch, partial = frames(agent, slug, "?format=json&partial=1", 2)
    assert batch["lines"] == ["\x1b[32mINFO\x1b[0m ready"]
    assert partial == {"partial": {"seq": 1, "stream": "stdout", "text": "Waiting for db... "}}
    with ws_connect(attach(agent, slug, "?partial=maybe"), additional_headers=agent.headers) as ws:
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 4400


def test_the_cli_strips_colour_unless_it_writes_to_a_terminal(
    agent: AgentProcess, tmp_path: Path
) -> None:
    slug = start(agent, tmp_path, COLOURED, 1)
    argv = [sys.executable, "-m", "console", "logs", slug, "--agent", agent.url]
    piped = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    assert piped.stdout == "INFO ready\n"
    controller, terminal = pty.openpty()
    try:
        for extra, expected in (
            ([], b"\x1b[32mINFO\x1b[0m ready"),
            (["--no-color"], b"INFO ready"),
        ):
            subprocess.run([*argv, *extra], stdout=terminal, timeout=60, check=True)
            shown = os.read(controller, 4096).replace(b"\r\n", b"\n")
            assert shown == expected + b"\n"
    finally:
        os.close(controller)
        os.close(terminal)


def test_a_script_run_is_rendered_as_a_terminal_shows_it(agent: AgentProcess) -> None:
    reply = httpx.post(f"{agent.url}/scripts/progress", headers=agent.headers, timeout=30)
    assert reply.json()["stdout"] == ["100%", "\x1b[31mred\x1b[0m \ufffd ok"]
