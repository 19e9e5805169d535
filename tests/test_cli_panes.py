"""The scriptable subcommands of the panes, run as an operator would, against a real agent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import AgentProcess
from tests.ssh_server import SshServer

TOKEN = "cli-test-token"


def opsconsole(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "console", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OPSCONSOLE_INBOX_TOKEN": TOKEN},
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> AgentProcess:
    from tests.conftest import start_agent

    home = tmp_path_factory.mktemp("cli-demo")
    agent = start_agent(
        "--demo", "--data-dir", str(home / "data"), "--inbox-token", TOKEN, log=home / "log"
    )
    yield agent
    agent.stop()
    if agent.process.stdout is not None:
        agent.process.stdout.close()


def wait_for_process(agent: AgentProcess, slug: str, what: str, ready: object) -> None:
    """Ask the agent until its listing of ``slug`` satisfies ``ready`` (bounded: 30 s)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listing = json.loads(opsconsole("ps", "--json", "--agent", agent.url).stdout)
        status = next((p for p in listing["processes"] if p["slug"] == slug), None)
        if status is not None and ready(status):  # type: ignore[operator]
            return
    raise AssertionError(f"{slug} never {what}: {status}")


def wait_for_running(agent: AgentProcess, slug: str) -> None:
    wait_for_process(agent, slug, "ran", lambda status: status["state"] == "running")


def test_ps_lists_the_demo_processes(demo: AgentProcess) -> None:
    text = opsconsole("ps", "--agent", demo.url).stdout
    assert "shop.web.0" in text and "shop.worker.0" in text and "STATE" in text
    listing = json.loads(opsconsole("ps", "--json", "--agent", demo.url).stdout)
    assert {p["slug"] for p in listing["processes"]} == {
        "shop.web.0",
        "shop.worker.0",
        "shop.flaky.0",
    }


def test_restart_answers_the_new_state_and_a_new_pid(demo: AgentProcess) -> None:
    wait_for_running(demo, "shop.web.0")
    before = json.loads(opsconsole("ps", "--json", "--agent", demo.url).stdout)
    old_pid = next(p["pid"] for p in before["processes"] if p["slug"] == "shop.web.0")
    after = json.loads(opsconsole("restart", "shop.web.0", "--json", "--agent", demo.url).stdout)
    assert after["state"] == "running"
    assert after["pid"] != old_pid
    # A restart asked for is no failure: the listing says so instead of SIGTERM's -15.
    listing = opsconsole("ps", "--agent", demo.url).stdout.splitlines()
    assert next(line for line in listing if line.startswith("shop.web.0 ")).endswith(" restarted")
    assert "now stopped" in opsconsole("stop", "shop.web.0", "--agent", demo.url).stdout
    assert "now running" in opsconsole("start", "shop.web.0", "--agent", demo.url).stdout
    missing = opsconsole("restart", "nope.0", "--agent", demo.url, check=False)
    assert missing.returncode == 1 and "nope.0" in missing.stderr


def test_logs_prints_recent_lines_and_stops(demo: AgentProcess) -> None:
    wait_for_process(demo, "shop.web.0", "printed 2 lines", lambda s: s.get("next_seq", 0) >= 2)
    lines = opsconsole("logs", "shop.web.0", "-n", "2", "--agent", demo.url)
    printed = (lines.stdout + lines.stderr).splitlines()
    assert 1 <= len(printed) <= 2
    wait_for_process(demo, "shop.worker.0", "printed", lambda s: s.get("next_seq", 0) >= 1)
    framed = opsconsole("logs", "shop.worker.0", "-n", "5", "--json", "--agent", demo.url)
    batches = [json.loads(line) for line in framed.stdout.splitlines()]
    assert batches and all({"seq", "ts", "stream", "lines"} <= set(b) for b in batches)


def test_queue_and_pool(demo: AgentProcess) -> None:
    listing = opsconsole("queue", "list", "--agent", demo.url).stdout
    assert "countdown" in listing and "(background)" in listing
    added = json.loads(
        opsconsole(
            "queue", "add", "countdown", "--args", '{"seconds": 99}', "--json", "--agent", demo.url
        ).stdout
    )
    uid = added["uid"]
    opsconsole("queue", "mv", str(uid), "--agent", demo.url)
    snapshot = json.loads(opsconsole("queue", "--json", "list", "--agent", demo.url).stdout)
    assert snapshot["modules"][0]["uid"] == uid and snapshot["modules"][0]["playing"]
    told = opsconsole(
        "queue", "tell", str(uid), "add", "--args", '{"seconds": 1}', "--agent", demo.url
    )
    assert json.loads(told.stdout) == {"left": 100} or "left" in told.stdout
    opsconsole("queue", "rm", str(uid), "--agent", demo.url)
    assert str(uid) not in opsconsole("queue", "list", "--agent", demo.url).stdout.split()
    assert "ticker" in opsconsole("pool", "list", "--agent", demo.url).stdout
    bad = opsconsole("queue", "add", "nope", "--agent", demo.url, check=False)
    assert bad.returncode == 1 and "Unrecognized module name" in bad.stderr  # shmooze's words


def test_inbox_push_pull_ack(demo: AgentProcess, tmp_path: Path) -> None:
    pushed = json.loads(
        opsconsole(
            "inbox",
            "push",
            "cli-node",
            '{"n": 1}',
            "--json-payload",
            "--topic",
            "t",
            "--json",
            "--agent",
            demo.url,
        ).stdout
    )
    assert pushed["payload"] == {"n": 1} and pushed["status"] == "pending"
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)))
    opsconsole("inbox", "push", "cli-node", "--file", str(blob), "--agent", demo.url)
    listing = json.loads(opsconsole("inbox", "list", "--json", "--agent", demo.url).stdout)
    assert pushed["id"] in {m["id"] for m in listing}
    # The console acts as the agent's own node, where the demo put its messages.
    message = json.loads(opsconsole("inbox", "pull", "--json", "--agent", demo.url).stdout)
    assert message["status"] == "processing" and message["tries"] == 1
    acked = json.loads(
        opsconsole("inbox", "ack", message["id"], "--json", "--agent", demo.url).stdout
    )
    assert acked["status"] == "processed"
    again = opsconsole("inbox", "ack", message["id"], "--agent", demo.url, check=False)
    assert again.returncode == 1 and "processing" in again.stderr


def test_ssh_check_and_run(sshd: SshServer, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[hosts.box]\naddress = "{sshd.user}@127.0.0.1:{sshd.port}"\n')
    flags = ["--config", str(config), "--identity", str(sshd.client_key)]
    refused = opsconsole(
        "ssh",
        "check",
        *flags,
        "--known-hosts",
        str(tmp_path / "none"),
        "box",
        "--",
        "true",
        check=False,
    )
    assert refused.returncode == 1 and "host key" in refused.stderr
    flags += ["--known-hosts", str(sshd.known_hosts)]
    checked = opsconsole("ssh", "check", *flags, "--json", "box", "--", "printf", "%s\\n", "a b")
    assert json.loads(checked.stdout) == {"stdout": ["a b"], "stderr": [], "exit_status": 0}
    ran = opsconsole("ssh", "run", *flags, "box", "--", "sh", "-c", "echo hi; exit 4", check=False)
    assert ran.returncode == 4
    assert "[box][DEBUG] hi" in ran.stderr
