"""smartmob-agent 0.3.0's client side (aiohttp 0.20.2 on Python 3.6) against the agent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conformance.conftest import WITHOUT_CREDENTIALS, run_client
from tests.conftest import AgentProcess

PROCFILE = "web: echo 'hello world'; echo line2; echo err >&2; exec sleep 60\n"


def test_the_client_calls_of_smartmob_agent(
    smartmob_env: Path, conformance_agent: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    agent = conformance_agent(*WITHOUT_CREDENTIALS)
    app = tmp_path / "app"
    app.mkdir()
    (app / "Procfile").write_text(PROCFILE)
    seen = run_client(smartmob_env, "smartmob_client.py", agent.url, str(app))

    assert {"list", "create"} <= set(seen["index"])
    created = seen["create"]
    assert created["status"] == 201
    assert created["headers"]["LOCATION"] == created["body"]["details"]
    assert created["body"]["slug"] == "shop.web.0"
    assert created["body"]["state"] == "pending"
    assert seen["duplicate"]["status"] == 409
    assert seen["missing"]["status"] == 400
    assert seen["extra_key"]["status"] == 400  # upstream's schema is strict
    assert seen["running"]["body"]["state"] == "running"
    assert [p["slug"] for p in seen["listing"]["body"]["processes"]] == ["shop.web.0"]
    # Ours streams (upstream closed at once: a TODO there): one text frame per line.
    assert sorted(seen["attach"]["frames"]) == ["err", "hello world", "line2"]
    assert seen["unknown_status"]["status"] == 404
    assert seen["unknown_delete"]["status"] == 404
    assert seen["unknown_attach"] == {"refused": 404}  # before the handshake, as upstream
    assert seen["broken"]["body"]["state"] == "download failure"
    assert seen["broken_attach"]["frames"] == []
    assert (seen["broken_attach"]["ended"], seen["broken_attach"]["code"]) == ("close", 1000)
    assert (seen["delete"]["status"], seen["delete"]["body"]) == (200, {})
    assert seen["delete_broken"]["status"] == 200
    assert seen["after"]["body"] == {"processes": []}
