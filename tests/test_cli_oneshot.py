"""``opsconsole ps`` by one blocking request (``console.adapters.oneshot``): the same answer,
credentials, TLS and errors as the async client, against real agents."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from console.adapters import AgentClient
from console.adapters.endpoint import AGENT_TOKEN_ENV, PASSWORD_ENV
from console.config import agent_registry, registered_agent_token
from tests.conftest import AgentProcess, run_cli


def opsconsole(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m console ARGS`` with no user's secrets in its environment."""
    clean = {k: v for k, v in os.environ.items() if k not in (AGENT_TOKEN_ENV, PASSWORD_ENV)}
    return run_cli(*args, env={**clean, **(env or {})})


async def test_the_one_shot_listing_is_the_adapters_listing(
    agent: AgentProcess, tmp_path: Path
) -> None:
    (tmp_path / "Procfile").write_text("web: exec sleep 600\nworker: exec sleep 600\n")
    async with AgentClient(agent.endpoint()) as client:
        for kind in ("web", "worker"):
            await client.processes.create("shop", f"{kind}.0", kind, str(tmp_path))
        result = opsconsole("ps", "--json", "--agent", agent.url)
        assert result.returncode == 0, result.stderr
        wanted = [p.to_wire() for p in await client.processes.list()]
    assert json.loads(result.stdout) == {"processes": wanted}
    table = opsconsole("ps", "--agent", agent.url).stdout.splitlines()
    assert table[0].split()[:3] == ["SLUG", "STATE", "PID"]
    assert sorted(line.split()[0] for line in table[1:]) == ["shop.web.0", "shop.worker.0"]


def test_refused_credentials_read_as_the_agents_words(agent: AgentProcess) -> None:
    refused = opsconsole("ps", "--agent", agent.url, env={AGENT_TOKEN_ENV: "not-the-token"})
    assert refused.returncode == 1
    assert refused.stdout == ""
    line = refused.stderr.strip()
    assert line.startswith("opsconsole: ") and line.endswith("(HTTP 401)"), line
    assert "\n" not in line


def test_an_agent_that_is_not_there_is_one_line_and_exit_1() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"  # bound, never listening: refused
        result = opsconsole("ps", "--agent", url, env={AGENT_TOKEN_ENV: "x"})
    assert result.returncode == 1
    assert result.stderr.startswith(f"opsconsole: {url}: ") and result.stderr.count("\n") == 1


def test_tls_is_verified_trusted_by_its_ca_or_skipped_with_insecure(
    tls_agent: AgentProcess, tls_files: tuple[Path, Path], tmp_path: Path
) -> None:
    token = {AGENT_TOKEN_ENV: tls_agent.token or ""}
    untrusted = opsconsole("ps", "--agent", tls_agent.url, env=token)
    assert untrusted.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
    insecure = opsconsole("ps", "--json", "--insecure", "--agent", tls_agent.url, env=token)
    assert insecure.returncode == 0, insecure.stderr
    assert json.loads(insecure.stdout) == {"processes": []}
    config = tmp_path / "config.toml"
    config.write_text(
        f'[contexts.tls]\nagent = "{tls_agent.url}"\nverify = "{tls_files[0]}"\n'
        f'token_file = "{tmp_path / "token"}"\n'
    )
    (tmp_path / "token").write_text(f"{tls_agent.token}\n")
    (tmp_path / "token").chmod(0o600)
    trusted = opsconsole("ps", "--json", "--context", "tls", "--config", str(config))
    assert trusted.returncode == 0, trusted.stderr
    assert json.loads(trusted.stdout) == {"processes": []}


def test_a_dead_agents_registry_entry_goes_and_the_live_ones_token_is_found(
    agent: AgentProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Agents killed with -9 never forget themselves: a client that read every entry on each
    command grew slower by the day (2,736 entries here cost ``ps`` 170 ms)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    registry = agent_registry()
    registry.mkdir(parents=True, mode=0o700)
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = registry / f"{gone.pid}.json"
    dead.write_text(json.dumps({"url": "http://127.0.0.1:1", "pid": gone.pid, "data_dir": "/"}))
    data_dir = agent.log.parent / "agent-data-0"
    live = registry / f"{agent.process.pid}.json"
    live.write_text(
        json.dumps({"url": agent.url, "pid": agent.process.pid, "data_dir": str(data_dir)})
    )
    assert registered_agent_token(agent.url) == agent.token
    assert not dead.exists() and live.exists()
    # The command finds the token there too (its data dir has none to offer).
    only_registry = {"XDG_STATE_HOME": str(tmp_path / "state"), "XDG_DATA_HOME": str(tmp_path)}
    listed = opsconsole("ps", "--json", "--agent", agent.url, env=only_registry)
    assert listed.returncode == 0, listed.stderr
