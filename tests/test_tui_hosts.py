"""The Hosts pane, driven by key presses in the real app against OpenSSH's sshd on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from console.adapters.connect import SpawnedAgent
from console.adapters.ssh import SshHosts
from console.adapters.ssh_agent import SshAgent
from console.models import ConnectionState, Stream
from console.tui.app import OpsConsoleApp
from console.tui.hosts.pane import HostsPane
from console.tui.hosts.table import HostState
from console.tui.kit.confirm_dialog import ConfirmDialog
from console.tui.kit.connection_indicator import ConnectionIndicator
from console.tui.kit.help_screen import HelpScreen
from console.tui.kit.log_view import MAX_LINES
from tests.ssh_server import THIS_CODE, SshServer, _free_port
from tests.test_spawned_agent import alive
from tests.tui_helpers import make_catalog, record_notifications, spawned_agent, wait_for

SIZE = (80, 24)


@pytest.fixture(autouse=True)
def own_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """User themes come from a config dir of the test's own, never the developer's."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture
async def ssh(sshd: SshServer) -> AsyncIterator[SshHosts]:
    """SSH that trusts the test server and logs in with its key (no ~/.ssh involved)."""
    hosts = SshHosts(known_hosts=sshd.known_hosts, client_keys=[sshd.client_key], config=None)
    yield hosts
    await hosts.close()


def address(sshd: SshServer) -> str:
    return f"{sshd.user}@127.0.0.1:{sshd.port}"


def local_agent(tmp_path: Path) -> SpawnedAgent:
    return spawned_agent(tmp_path, make_catalog(tmp_path / "local-scripts"))


def hosts_app(tmp_path: Path, hosts: dict[str, dict[str, object]], ssh: SshHosts) -> OpsConsoleApp:
    return OpsConsoleApp(local_agent(tmp_path), hosts=hosts, ssh=ssh)


def pane(app: OpsConsoleApp) -> HostsPane:
    return app.query_one(HostsPane)


def cell(app: OpsConsoleApp, host: str, column: str) -> str:
    return str(pane(app).host_table.table.get_cell(host, column))


def output(app: OpsConsoleApp) -> list[tuple[Stream | None, str]]:
    """What the output view holds (notes have no stream), queued lines included."""
    out = pane(app).output
    out.flush()
    return out.view.entries


async def enter_command(pilot: Pilot[object], key: str, line: str) -> None:
    """Open the command line with ``key``, put ``line`` in (typing it is slow), press enter."""
    await pilot.press(key)
    app = pilot.app
    assert isinstance(app, OpsConsoleApp)
    command = pane(app).command_line.input
    assert app.focused is command
    command.insert_text_at_cursor(line)
    await pilot.press("enter")


def footer_keys(app: OpsConsoleApp) -> dict[str, str]:
    """What the footer shows now: key → description."""
    from textual.widgets._footer import FooterKey

    return {key.key: key.description for key in app.query(FooterKey)}


async def test_the_table_shows_configured_hosts_and_an_empty_config_says_how_to_add_one(
    tmp_path: Path, sshd: SshServer, ssh: SshHosts
) -> None:
    config = {"testhost": {"address": address(sshd)}, "web1": {"address": "deploy@web1:22"}}
    app = hosts_app(tmp_path, config, ssh)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        table = pane(app).host_table
        assert app.focused is table.table
        assert cell(app, "testhost", "address") == address(sshd)
        assert cell(app, "web1", "address") == "deploy@web1"
        assert cell(app, "testhost", "state") == "not tried"
        # t tries the host under the cursor only: web1 is never contacted.
        await pilot.press("t")
        await wait_for(pilot, lambda: cell(app, "testhost", "state") == "connected", "connects")
        assert cell(app, "web1", "state") == "not tried"

    empty = OpsConsoleApp(local_agent(tmp_path / "second"))
    async with empty.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        text = str(empty.query_one("#no-hosts Static", Static).render())
        assert "No hosts configured" in text
        assert "[hosts.web1]" in text and 'address = "deploy@web1.internal:22"' in text
        assert empty.focused is empty.query_one("#no-hosts")


async def test_a_command_runs_live_on_the_selected_hosts_with_streams_apart_and_exit_status(
    tmp_path: Path, sshd: SshServer, ssh: SshHosts
) -> None:
    gate = tmp_path / "gate"
    config = {
        "testhost": {"address": address(sshd)},
        "offhost": {"address": f"127.0.0.1:{_free_port()}"},
    }
    app = hosts_app(tmp_path, config, ssh)
    async with app.run_test(size=SIZE) as pilot:
        notices = record_notifications(app)
        await pilot.press("5")
        hosts = pane(app)
        # Output comes as it is printed: the first line shows while the command still runs.
        line = f"echo first; while [ ! -e {gate} ]; do sleep 0.05; done; echo last"
        await enter_command(pilot, "r", line)
        await wait_for(pilot, lambda: (Stream.STDOUT, "testhost │ first") in output(app), "live")
        assert hosts.rows["testhost"].running and cell(app, "testhost", "last run") == "running…"
        assert app.focused is hosts.command_line.input
        # x stops following it (the test lets the remote loop end by itself).
        await pilot.press("escape", "x")
        await wait_for(pilot, lambda: not hosts.rows["testhost"].running, "stopped")
        gate.touch()
        assert (None, "testhost │ stopped") in output(app)
        # Both hosts selected: each runs it; the unreachable one says why, no crash.
        await pilot.press("space", "down", "space")
        assert hosts.host_table.targets == ["testhost", "offhost"]
        await enter_command(pilot, "colon", "echo out; echo err >&2; exit 3")
        await wait_for(pilot, lambda: cell(app, "testhost", "last run") == "exit 3", "exit 3")
        await wait_for(pilot, lambda: cell(app, "offhost", "state") == "unreachable", "refused")
        entries = output(app)
        assert (Stream.STDOUT, "testhost │ out") in entries
        assert (Stream.STDERR, "testhost │ err") in entries
        assert (None, "testhost │ exit 3") in entries
        assert any(
            kind is None and text.startswith("offhost  │ unreachable") for kind, text in entries
        )
        assert cell(app, "testhost", "state") == "connected"
        assert any(n.severity == "error" and "offhost" in n.title for n in notices)
        # A host that cannot be reached is no news about the agent.
        assert app.connection_state is ConnectionState.CONNECTED
        # up recalls the last line run.
        await pilot.press("r", "up")
        assert hosts.command_line.input.value == "echo out; echo err >&2; exit 3"


async def test_a_flood_of_output_is_kept_bounded_to_its_newest_lines(
    tmp_path: Path, sshd: SshServer, ssh: SshHosts
) -> None:
    app = hosts_app(tmp_path, {"testhost": {"address": address(sshd)}}, ssh)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await enter_command(pilot, "r", "seq 1 30000")
        hosts = pane(app)
        await wait_for(pilot, lambda: hosts.rows["testhost"].exit_status == 0, "exit 0")
        entries = output(app)
        assert len(entries) == MAX_LINES
        assert entries[-2:] == [(Stream.STDOUT, "testhost │ 30000"), (None, "testhost │ exit 0")]
        # The oldest go first: what is kept is the newest, in order.
        assert entries[0][0] is Stream.STDOUT and int(entries[0][1].split()[-1]) > 20000


async def test_an_unknown_host_key_is_shown_and_k_records_it_only_on_yes(
    tmp_path: Path, sshd: SshServer
) -> None:
    known_hosts = tmp_path / "known_hosts"
    ssh = SshHosts(known_hosts=known_hosts, client_keys=[sshd.client_key], config=None)
    app = hosts_app(tmp_path, {"testhost": {"address": address(sshd)}}, ssh)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await pilot.press("r", *"echo in", "enter")
        await wait_for(pilot, lambda: cell(app, "testhost", "state") == "host key unknown", "key")
        assert pane(app).rows["testhost"].exit_status is None
        fingerprint = await ssh.host_key_fingerprint(pane(app)._reach.parsed["testhost"])
        # The refusal shows the key; here K accepts it, so no shell command is offered.
        notes = [text for stream, text in output(app) if stream is None]
        assert any(f"ssh-ed25519 {fingerprint}" in note for note in notes), notes
        assert not any("--accept-host-key" in note for note in notes)
        await pilot.press("escape", "K")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        assert isinstance(app.screen, ConfirmDialog)
        question = app.screen.question
        assert "Accept this key for testhost" in question and fingerprint in question
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog), "no")
        assert not known_hosts.exists()
        await pilot.press("K")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), "asked again")
        await pilot.press("y")
        await wait_for(pilot, lambda: cell(app, "testhost", "state") == "connected", "trusted")
        assert sshd.host_public_key in known_hosts.read_text()
        await pilot.press("r", *"echo in", "enter")
        await wait_for(pilot, lambda: (Stream.STDOUT, "testhost │ in") in output(app), "runs")
    await ssh.close()


async def test_c_switches_the_console_to_the_agent_on_the_host_and_the_panes_follow(
    tmp_path: Path, sshd: SshServer, ssh: SshHosts, scripts_dir: Path
) -> None:
    remote_port = _free_port()
    config = {
        "testhost": {
            "address": address(sshd),
            "remote_port": remote_port,
            "remote_command": f"{THIS_CODE} -m console",
            "agent_args": ["--scripts", str(scripts_dir), "--data-dir", str(tmp_path / "remote")],
            "remote_log_dir": str(tmp_path / "remote-logs"),
        }
    }
    first = local_agent(tmp_path)
    app = OpsConsoleApp(first, hosts=config, ssh=ssh)
    started: list[int] = []
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.connection_state == "connected", "local agent")
            assert first.process is not None
            local = first.process
            await pilot.press("5", "c")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), "asked")
            await pilot.press("y")
            await wait_for(pilot, lambda: isinstance(app.connector.inner, SshAgent), "switched")
            connector = app.connector.inner
            assert isinstance(connector, SshAgent)
            await wait_for(pilot, lambda: app.connection_state == "connected", "remote agent")
            if connector.started_pid is not None:
                started.append(connector.started_pid)
            assert app.query_one(ConnectionIndicator).description.startswith("ssh://")
            # The local agent lives on (a context of the console: "all" scope reaches it).
            assert local.returncode is None
            await pilot.press("1")
            scripts = app.scripts_pane
            await wait_for(pilot, lambda: "echo" in scripts.scripts, "the host's catalog")
            assert "hello" not in scripts.scripts  # the local catalog's
            titles = {c.title for c in app.get_system_commands(app.screen)}
            assert "Back to local agent" in titles
            notes = [text for stream, text in output(app) if stream is None]
            assert any("agent: no agent answers there: starting one" in n for n in notes)
            assert any(f"agent-{remote_port}.log" in n for n in notes), notes
            # One key, in the footer while on a host, goes back to the local agent.
            await wait_for(pilot, lambda: footer_keys(app).get("L") == "Local", "footer key")
            await pilot.press("L")
            await wait_for(pilot, lambda: app.connector.inner is first, "back to local")
            await wait_for(pilot, lambda: app.connection_state == "connected", "local again")
            await wait_for(pilot, lambda: "L" not in footer_keys(app), "footer key gone")
            await wait_for(pilot, lambda: "hello" in scripts.scripts, "the local catalog")
    finally:
        # The agent started on the host outlives the console by design: stop it, by its PID.
        for pid in started:
            os.kill(pid, signal.SIGTERM)
            for _ in range(200):
                if not alive(pid):
                    break
                await asyncio.sleep(0.05)
    assert started, "no agent was started on the host"
    assert not any(alive(pid) for pid in started)
    assert local.returncode is not None  # it died with the console


async def test_an_agent_that_cannot_start_on_the_host_is_reported_with_its_log_within_seconds(
    tmp_path: Path, sshd: SshServer, ssh: SshHosts
) -> None:
    logs = tmp_path / "remote-logs"
    config = {
        "testhost": {
            "address": address(sshd),
            "remote_port": _free_port(),
            # As on a host where opsconsole is not installed for that Python.
            "remote_command": f"{sys.executable} -m opsconsole_not_installed",
            "remote_log_dir": str(logs),
        }
    }
    first = local_agent(tmp_path)
    app = OpsConsoleApp(first, hosts=config, ssh=ssh)
    notes = record_notifications(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.connection_state == "connected", "local agent")
        await pilot.press("5", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), "asked")
        chosen = time.monotonic()
        await pilot.press("y")
        await wait_for(pilot, lambda: app.connection_state == "offline", "the failure")
        took = time.monotonic() - chosen
        failure = next(n for n in notes if n.title == "Agent unreachable")
        log = f"{logs}/agent-{config['testhost']['remote_port']}.log"
        assert "the agent started there exited" in failure.message
        assert log in failure.message
        assert "No module named opsconsole_not_installed" in failure.message
        assert took < 10, f"the failure took {took:.1f} s to show"
        steps = [text for stream, text in output(app) if stream is None]
        assert any("agent: agent started (pid" in step for step in steps)
        # The cause stays in the output after the notification is gone.
        assert any("agent: failed: the agent started there exited" in step for step in steps)
        assert any("No module named opsconsole_not_installed" in step for step in steps)
        assert all("\n" not in step for step in steps)
        # The way back is one key, shown in the footer.
        assert footer_keys(app).get("L") == "Local"
        await pilot.press("L")
        await wait_for(pilot, lambda: app.connection_state == "connected", "local again")


async def test_keys_are_listed_and_every_action_is_in_the_palette(
    tmp_path: Path, sshd: SshServer, ssh: SshHosts
) -> None:
    app = hosts_app(tmp_path, {"testhost": {"address": address(sshd)}}, ssh)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = "\n".join(str(s.render()) for s in app.screen.query("Static"))
        for key in ("r / :", "space", "t", "K", "c", "x"):
            assert any(line.startswith(key) for line in text.splitlines()), key
        assert "raw shell line" in text
        await pilot.press("escape")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {
            "Hosts: run a command",
            "Hosts: try connecting",
            "Hosts: stop the commands",
            "Hosts: switch the console to testhost's agent",
        } <= titles
        assert HostState.NOT_TRIED.value == cell(app, "testhost", "state")
