"""Screenshots of the Hosts pane at 80x24 and 120x40, compared with tests/snapshots/.

The hosts are OpenSSH's sshd on 127.0.0.1 (its port and the user are masked in
the address column), a host nothing listens on (port 1: refused at once, the
same way every time) and one never tried. stdout and stderr are printed apart
in time, so they arrive in one order. Update with ``pytest
tests/test_snapshots_hosts.py --snapshot-update`` and look at the SVGs first.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_textual_snapshot
from syrupy.location import PyTestLocation
from textual.pilot import Pilot
from textual.widgets import Input

from console.adapters.ssh import SshHosts
from console.tui.app import OpsConsoleApp
from console.tui.hosts import pane as hosts_pane
from console.tui.hosts import table as host_table
from console.tui.hosts.pane import HostsPane
from console.tui.kit.connection_indicator import ConnectionIndicator
from tests.ssh_server import SshServer
from tests.tui_helpers import make_catalog, settled, spawned_agent, wait_for

NARROW = (80, 24)
WIDE = (120, 40)
COMMAND = "echo out; sleep 0.2; echo err >&2; exit 3"


class _SnapshotsDirectory(pytest_textual_snapshot.SVGImageExtension):
    """Keeps the SVGs in tests/snapshots/ (the project's place), not in __snapshots__/."""

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(Path(test_location.filepath).parent / "snapshots" / test_location.basename)


@pytest.fixture(autouse=True)
def pinned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sshd: SshServer) -> None:
    """Everything machine-dependent, made the same on every run."""
    monkeypatch.setattr(pytest_textual_snapshot, "SVGImageExtension", _SnapshotsDirectory)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no user themes
    real = f"{sshd.user}@127.0.0.1:{sshd.port}"
    shown = host_table.address_text
    monkeypatch.setattr(
        host_table,
        "address_text",
        lambda address: "ops@127.0.0.1:2222" if address == real else shown(address),
    )
    config_file = Path("~/.config/opsconsole/config.toml")
    monkeypatch.setattr(hosts_pane, "default_config_file", lambda: config_file)


def hosts_app(tmp_path: Path, sshd: SshServer, with_hosts: bool = True) -> OpsConsoleApp:
    """The console on a local agent, with three hosts (or none); the pane closes its SSH."""
    agent = spawned_agent(tmp_path, make_catalog(tmp_path / "scripts"), "--node-id", "ops-1")
    if not with_hosts:
        return OpsConsoleApp(agent)
    ssh = SshHosts(known_hosts=sshd.known_hosts, client_keys=[sshd.client_key], config=None)
    hosts = {
        "testhost": {"address": f"{sshd.user}@127.0.0.1:{sshd.port}"},
        "web1": {"address": "deploy@web1.internal:22"},
        "db1": {"address": "ops@127.0.0.1:1"},
    }
    app = OpsConsoleApp(agent, hosts=hosts, ssh=ssh)
    # db1's refusal toast is in the shot: it must not expire (5 s) while testhost's command
    # runs, which under load took longer than that.
    app.NOTIFICATION_TIMEOUT = 3600
    return app


async def ran(pilot: Pilot[object], wide: bool) -> None:
    """db1 tried (refused), then the command run on testhost (selected, when wide)."""
    app = pilot.app
    assert isinstance(app, OpsConsoleApp)
    await wait_for(pilot, lambda: app.connection_state == "connected", "the agent")
    pane = app.query_one(HostsPane)
    rows = pane.rows
    await pilot.press("5", "down", "down", "t")
    await wait_for(pilot, lambda: rows["db1"].state == "unreachable", "db1 refused")
    await pilot.press("up", "up")
    if wide:
        await pilot.press("space")
    await pilot.press("r")
    pane.command_line.input.insert_text_at_cursor(COMMAND)
    await pilot.press("enter")
    await wait_for(pilot, lambda: rows["testhost"].exit_status == 3, "exit 3")
    await pilot.press("escape")
    await settle(pilot)


async def settle(pilot: Pilot[object]) -> None:
    app = pilot.app
    app.query_one(ConnectionIndicator).url = "http://127.0.0.1:8470"
    for field in app.screen.query(Input):
        field.cursor_blink = False
    await settled(pilot)


def test_hosts_ran_narrow(snap_compare, tmp_path: Path, sshd: SshServer) -> None:
    async def before(pilot: Pilot[object]) -> None:
        await ran(pilot, wide=False)

    app = hosts_app(tmp_path, sshd)
    assert snap_compare(app, terminal_size=NARROW, run_before=before)


def test_hosts_ran_wide(snap_compare, tmp_path: Path, sshd: SshServer) -> None:
    async def before(pilot: Pilot[object]) -> None:
        await ran(pilot, wide=True)

    app = hosts_app(tmp_path, sshd)
    assert snap_compare(app, terminal_size=WIDE, run_before=before)


def test_no_hosts_narrow(snap_compare, tmp_path: Path, sshd: SshServer) -> None:
    async def before(pilot: Pilot[object]) -> None:
        app = pilot.app
        assert isinstance(app, OpsConsoleApp)
        await wait_for(pilot, lambda: app.connection_state == "connected", "the agent")
        await pilot.press("5")
        await settle(pilot)

    assert snap_compare(
        hosts_app(tmp_path, sshd, with_hosts=False), terminal_size=NARROW, run_before=before
    )
