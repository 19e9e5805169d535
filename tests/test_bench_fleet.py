"""The measured side of ``bench fleet``, on two real agents: it sees the full view and says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from console.adapters.connect import INBOX_TOKEN_ENV
from tests.conftest import AgentProcess
from tests.fleet_helpers import INBOX_TOKEN, add_processes, fleet_app, start_fleet_agents


def test_the_fleet_client_reports_its_first_full_view(
    agent_factory: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    app = fleet_app(tmp_path / "shop")
    agents = start_fleet_agents(agent_factory, 2, tmp_path)
    for agent in agents:
        add_processes(agent, app, 3, "worker")
    result = subprocess.run(
        [sys.executable, "-m", "console.bench.fleet_client", "6", "0.2", *(a.url for a in agents)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, INBOX_TOKEN_ENV: INBOX_TOKEN},
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert 0 < figures["view_s"] < 120
    assert figures["view_cpu_s"] > 0 and figures["rss_mib"] >= figures["base_rss_mib"] > 0
    assert figures["follow_cpu_s_per_s"] >= 0


def test_the_console_reports_key_latency_in_all_scope_and_on_one_agent(
    agent_factory: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    app = fleet_app(tmp_path / "shop")
    agents = start_fleet_agents(agent_factory, 2, tmp_path)
    for agent in agents:
        add_processes(agent, app, 3, "web")
    sides = {"all": [a.url for a in agents], "one": [agents[0].url]}
    for side, urls in sides.items():
        result = subprocess.run(
            [sys.executable, "-m", "console.bench.fleet_keys", str(3 * len(urls)), *urls],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, INBOX_TOKEN_ENV: INBOX_TOKEN},
        )
        assert result.returncode == 0, result.stderr
        figures = json.loads(result.stdout)
        assert figures["rows"] == 3 * len(urls), side
        assert figures["keys"] > 60  # every filter letter and cursor move was measured
        assert 0 < figures["key_p50_ms"] <= figures["key_p99_ms"] < 30_000
        assert figures["rss_mib"] > 0 and figures["view_s"] > 0
