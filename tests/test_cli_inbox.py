"""``opsconsole inbox list`` says what the agent left out to keep to its byte budget.

Its stdout stays what a program reads (the table, or the bare JSON array scirocco
lists); the count of messages not shown goes to stderr. Over a fleet, the JSON
envelope gets a ``left_out`` field per context.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import AgentProcess, run_cli

KiB, MiB = 1 << 10, 1 << 20


@pytest.fixture
def full_agent(agent_factory: Callable[..., AgentProcess], tmp_path: Path) -> AgentProcess:
    """An agent answering at most 1 MiB a listing, holding six messages of 300 KiB (each
    lists as ~400 KB of base64: two fit) and one small one pushed first."""
    config = tmp_path / "agent.toml"
    config.write_text(f"[agent.output]\nanswer_bytes = {1 * MiB}\n")
    agent = agent_factory("--config", str(config))
    inbox("push", "node", "small", "--agent", agent.url)
    for i in range(6):
        blob = tmp_path / f"blob{i}"
        blob.write_bytes(bytes([i]) * 300 * KiB)
        inbox("push", "node", "--file", str(blob), "--agent", agent.url)
    return agent


def inbox(*args: str) -> tuple[str, str]:
    result = run_cli("inbox", *args, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    return result.stdout, result.stderr


def test_inbox_list_says_on_stderr_how_many_were_left_out(full_agent: AgentProcess) -> None:
    out, err = inbox("list", "--agent", full_agent.url)
    rows = out.splitlines()[1:]
    assert [row.split()[-2:] for row in rows] == [["307200", "bytes"]] * 2
    assert err.strip() == (
        "5 more messages not shown: the agent's answer has a byte budget "
        "(narrow with --status, or read them one by one)"
    )

    out, err = inbox("list", "--json", "--agent", full_agent.url)
    listed = json.loads(out)
    assert isinstance(listed, list) and len(listed) == 2, "the array stays bare"
    assert err.startswith("5 more messages not shown")

    # A listing that fits says nothing more.
    out, err = inbox("list", "--status", "processing", "--json", "--agent", full_agent.url)
    assert (json.loads(out), err) == ([], "")


def test_inbox_list_over_a_fleet_has_left_out_per_context(
    full_agent: AgentProcess, tmp_path: Path
) -> None:
    config = tmp_path / "console.toml"
    config.write_text(
        "".join(f'[contexts.{name}]\nagent = "{full_agent.url}"\n' for name in ("one", "two"))
    )
    out, err = inbox("list", "--context", "all", "--json", "--config", str(config))
    document = json.loads(out)
    assert document["left_out"] == {"one": 5, "two": 5}
    assert len(document["messages"]) == 4 and document["errors"] == []
    out, err = inbox("list", "--context", "all", "--config", str(config))
    assert err.splitlines() == [
        f"{name}: 5 more messages not shown: the agent's answer has a byte budget "
        "(narrow with --status, or read them one by one)"
        for name in ("one", "two")
    ]
    assert len(out.splitlines()) == 5
