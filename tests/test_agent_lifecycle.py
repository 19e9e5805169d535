"""The agent process: its URL line, its flags, and that no child outlives it, however it ends."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from console.config import AgentSettings
from tests.conftest import AgentProcess, write_script

GONE_BOUND = 5.0
"""Seconds a process may take to disappear once it should: a correctness bound, not a timing."""


def process_state(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgid) of a live process; None once it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, ppid, pgid = stat.rsplit(")", 1)[1].split()[:3]
    return None if state in ("Z", "X") else (state, int(ppid), int(pgid))


def live_pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    members = []
    for pid in live_pids():
        state = process_state(pid)
        if state is not None and state[2] == pgid:
            members.append(pid)
    return members


def pids_with_argument(argument: str) -> list[int]:
    """Live processes with ``argument`` on their command line (zombies have none)."""
    found = []
    for pid in live_pids():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argument.encode() in argv:
            found.append(pid)
    return found


def children_of(pid: int) -> list[int]:
    return [p for p in live_pids() if (state := process_state(p)) and state[1] == pid]


def eventually(predicate: Callable[[], bool], bound: float = GONE_BOUND) -> bool:
    """Poll ``predicate`` until it holds or ``bound`` seconds pass; its last value."""
    deadline = time.monotonic() + bound
    while not predicate():
        if time.monotonic() > deadline:
            return predicate()
        time.sleep(0.02)
    return True


def markers() -> tuple[str, str]:
    """Two sleep durations nobody else runs, to find this test's processes in /proc."""
    unique = f"{os.getpid() % 10000:04d}{time.monotonic_ns() % 100000:05d}"
    return f"300.{unique}1", f"301.{unique}2"


def holding_catalog(directory: Path, background: str, foreground: str) -> Path:
    """A script that leaves a grandchild in the background, notes its pid, then waits."""
    write_script(
        directory,
        "hold.sh",
        "param: out",
        f"""
        sleep {background} &
        echo $$ > "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
        sleep {foreground}
        """,
    )
    return directory


def start_holding_run(
    pool: ThreadPoolExecutor, agent: AgentProcess, pid_file: Path, marks: tuple[str, str]
) -> tuple[Future[httpx.Response], int]:
    """Start a blocking run of hold.sh; once its grandchild and foreground sleep run, its pid."""
    response = pool.submit(
        httpx.post,
        f"{agent.url}/scripts/hold",
        json={"out": str(pid_file)},
        headers=agent.headers,
        timeout=30,
    )
    assert eventually(lambda: pid_file.exists() or response.done(), 15), "the run did not start"
    assert not response.done(), f"the run ended early: {response.result().text}"
    pid = int(pid_file.read_text())
    assert eventually(lambda: all(pids_with_argument(m) for m in marks)), "no sleeps running"
    assert process_state(pid) is not None
    return response, pid


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_stops_runs_in_flight_and_exits_0(
    agent_factory: Callable[..., AgentProcess], tmp_path: Path, sig: signal.Signals
) -> None:
    marks = markers()
    agent = agent_factory("--scripts", str(holding_catalog(tmp_path / "scripts", *marks)))
    with ThreadPoolExecutor(1) as pool:
        response, pid = start_holding_run(pool, agent, tmp_path / "pid", marks)
        assert process_state(pid)[2] == pid, "the script leads its own process group"

        assert agent.stop(sig) == 0
        # The run in flight was stopped, and still answered as a run does.
        answer = response.result(15)
    assert answer.status_code == 200
    assert answer.json()["retcode"] < 0, "killed by a signal"
    assert eventually(lambda: not group_members(pid)), f"left running: {group_members(pid)}"
    assert not any(pids_with_argument(m) for m in marks)


def test_an_idle_agent_stops_on_sigterm_with_its_reaper(
    agent_factory: Callable[..., AgentProcess],
) -> None:
    agent = agent_factory()
    helpers = children_of(agent.process.pid)
    assert helpers, "the reaper runs beside the agent"
    assert agent.stop(signal.SIGTERM) == 0
    assert eventually(lambda: not any(process_state(p) for p in helpers))


def test_sigkill_of_the_agent_leaves_no_child_or_grandchild(
    agent_factory: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    marks = markers()
    agent = agent_factory("--scripts", str(holding_catalog(tmp_path / "scripts", *marks)))
    with ThreadPoolExecutor(1) as pool:
        response, pid = start_holding_run(pool, agent, tmp_path / "pid", marks)
        reaper = [p for p in children_of(agent.process.pid) if p != pid]
        assert reaper, "the reaper runs beside the agent"

        assert agent.stop(signal.SIGKILL) == -signal.SIGKILL
        with pytest.raises(httpx.TransportError):
            response.result(15)
    # Nothing of the run survives: neither the script (parent-death signal) nor
    # what it left in the background (the reaper kills its group).
    assert eventually(lambda: not group_members(pid)), f"left running: {group_members(pid)}"
    assert not any(pids_with_argument(m) for m in marks)
    assert eventually(lambda: not any(process_state(p) for p in reaper)), "the reaper lingers"


def run_agent_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """``opsconsole agent ARGS`` to its end (for flags it must refuse before serving)."""
    return subprocess.run(
        [sys.executable, "-m", "console", "agent", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def assert_refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 2, nothing on stdout, one line on stderr holding ``words``; that line."""
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]
    return lines[0]


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
@pytest.mark.parametrize("opening", [["--no-auth"], ["--open", "processes"]])
def test_a_non_loopback_bind_without_credentials_is_refused(
    tmp_path: Path, host: str, opening: list[str]
) -> None:
    data_dir = tmp_path / "data"
    result = run_agent_cli("--host", host, "--port", "0", "--data-dir", str(data_dir), *opening)
    assert_refused(result, host, opening[0])
    assert not data_dir.exists(), "a refused start changes nothing"


def test_a_non_loopback_bind_with_its_token_passes_the_check() -> None:
    AgentSettings(host="0.0.0.0", port=0).check()  # credentials are on by default


def test_a_non_loopback_bind_with_htpasswd_passes_the_check(tmp_path: Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("")
    settings = AgentSettings(host="0.0.0.0", port=0, htpasswd=htpasswd)
    settings.check()  # no ConfigError; binding it for real is left to operators


def test_a_loopback_agent_with_htpasswd_serves_behind_auth(
    agent_factory: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("")
    agent = agent_factory("--host", "127.0.0.1", "--htpasswd", str(htpasswd))
    assert httpx.get(f"{agent.url}/scripts", timeout=10).status_code == 401


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--port", "x"], ["--port", "'x'"]),
        (["--port", "70000"], ["--port", "70000"]),
        (["--scripts", "/nonexistent"], ["/nonexistent", "no such directory"]),
        (["--tls-cert", "/etc/hostname"], ["--tls-cert", "--tls-key"]),
        (["--tls-key", "/etc/hostname"], ["--tls-cert", "--tls-key"]),
        (["--htpasswd", "/nonexistent/htpasswd"], ["--htpasswd", "/nonexistent/htpasswd"]),
        (["--bogus"], ["--bogus"]),
    ],
    ids=["port-word", "port-range", "scripts", "cert-only", "key-only", "htpasswd", "unknown"],
)
def test_bad_flags_exit_2_with_one_line(tmp_path: Path, args: list[str], words: list[str]) -> None:
    data_dir = tmp_path / "data"
    assert_refused(run_agent_cli("--data-dir", str(data_dir), *args), *words)
    assert not data_dir.exists()


def test_a_port_in_use_is_one_clear_line(agent_factory: Callable[..., AgentProcess]) -> None:
    busy = agent_factory()
    port = httpx.URL(busy.url).port
    result = run_agent_cli("--port", str(port), "--data-dir", str(busy.log.parent / "other"))
    assert result.returncode != 0
    assert result.stdout == ""
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_the_url_is_the_only_stdout_line_and_port_0_picks_a_free_port(
    agent_factory: Callable[..., AgentProcess],
) -> None:
    first, second = agent_factory(), agent_factory()
    ports = set()
    for agent in (first, second):
        match = re.fullmatch(r"http://127\.0\.0\.1:(\d+)", agent.url)
        assert match, agent.url
        ports.add(int(match[1]))
        index = httpx.get(agent.url + "/", headers=agent.headers, timeout=10)
        assert index.status_code == 200
        assert "opsconsole" in index.json()
    assert 0 not in ports
    assert len(ports) == 2, "two agents on --port 0 got different free ports"

    assert first.stop(signal.SIGTERM) == 0
    assert first.process.stdout is not None
    assert first.process.stdout.read() == "", "nothing but the URL on stdout"
    assert "agent ready" in first.log.read_text(), "logs go to stderr"
