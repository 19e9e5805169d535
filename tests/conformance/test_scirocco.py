"""scirocco-pyclient 2.0.2, installed from the registry, through every method against the agent."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

from tests.conformance.conftest import run_client
from tests.conftest import AgentProcess

TOKEN = "DEFAULT_TOKEN"
BLOB = bytes(range(256)) * 4


def test_every_client_method_reads_the_metadata_it_needs(
    scirocco_env: Path, conformance_agent: Callable[..., AgentProcess]
) -> None:
    agent = conformance_agent("--inbox-token", TOKEN)
    steps = run_client(scirocco_env, "scirocco_client.py", agent.url, TOKEN)

    pushed = steps["push_dict"]["ok"]
    meta = pushed["metadata"]
    # The client keeps a header only if its name is exactly Scirocco-Id, Scirocco-Status...
    assert len(meta["id"]) == 32
    assert (meta["status"], meta["tries"], meta["node_source"]) == ("pending", "0", "af123")
    assert (meta["node_destination"], meta["payload_type"]) == ("09af1", "application/json")
    assert meta["created_time"]
    assert pushed["payload"] == {"name": "test"}
    assert steps["push_str"]["ok"]["payload"] == "plain words"
    assert steps["push_str"]["ok"]["metadata"]["payload_type"] == "text/plain"
    raw = steps["push_bytes"]["ok"]
    assert base64.b64decode(raw["payload"]["bytes_b64"]) == BLOB  # the echo is raw bytes
    assert raw["metadata"]["payload_type"] == "application/octet-stream"
    assert steps["push_custom_type"]["ok"]["metadata"]["payload_type"] == "application/pdf"
    assert steps["push_past"]["raised"] == "SciroccoHTTPDAOError"
    assert steps["push_too_big"]["raised"] == "SciroccoHTTPDAOError"

    pulls = [step["ok"] for step in steps["pulls"]]
    assert [p["payload"] for p in pulls[:2]] == [{"name": "test"}, "plain words"]
    # Read back, bytes are a base64 string in JSON, as scirocco-server's MongoDB driver made them.
    assert [base64.b64decode(p["payload"]) for p in pulls[2:]] == [BLOB, BLOB]
    assert [p["metadata"]["payload_type"] for p in pulls[2:]] == [
        "application/octet-stream",
        "application/pdf",
    ]
    assert {(p["metadata"]["status"], p["metadata"]["tries"]) for p in pulls} == {
        ("processing", "1")
    }
    assert all(p["metadata"]["processing_time"] for p in pulls)
    assert steps["pull_empty"] == {"ok": None}
    assert steps["ack"]["ok"]["metadata"]["status"] == "processed"
    assert steps["ack"]["ok"]["metadata"]["processed_time"]
    assert steps["ack_again"]["raised"] == "SciroccoHTTPDAOError"

    assert steps["get"]["ok"]["payload"] == {"v": 1}
    updated = steps["update_one"]["ok"]
    assert base64.b64decode(updated["payload"]) == BLOB
    assert updated["metadata"]["payload_type"] == "application/json"  # the type stays
    assert base64.b64decode(steps["get_after_update"]["ok"]["payload"]) == BLOB
    listed = {m["metadata"]["id"]: m for m in steps["get_all"]}
    assert listed[meta["id"]]["metadata"]["tries"] == 1  # typed, from the JSON fields
    assert steps["delete_one"]["ok"]["payload"] == {"n": 1, "ok": 1}
    assert steps["delete_one_again"]["ok"]["payload"] == {"n": 0, "ok": 1}

    assert steps["push_soon"]["ok"]["metadata"]["status"] == "scheduled"
    assert steps["pull_before_due"] == {"ok": None}
    assert steps["pull_when_due"]["payload"] == "soon"
    assert steps["delete_all"]["ok"]["payload"]["ok"] == 1
    assert steps["delete_all"]["ok"]["payload"]["n"] >= 1
    assert steps["pull_after_delete_all"] == {"ok": None}
