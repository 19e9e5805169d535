"""Output that never hangs a call, lines cut as remoto cuts them, missing commands named;
against the real OpenSSH server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
from hypothesis import given
from hypothesis import strategies as st

from console.adapters.errors import Unavailable
from console.adapters.ssh import CallTimedOut, CommandNotFound, Host, LineSplitter, SshHosts
from tests.ssh_server import SshServer

CALL_BOUND = 20.0
"""Seconds within which a call that must not hang has to end (they take well under one)."""


def sshd_children(sshd: SshServer) -> set[int]:
    """The sshd processes serving connections (children of the fixture's listener)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == sshd.process.pid:
                found.add(int(entry.name))
    return found


async def wait_running(serving: set[int], command: str) -> None:
    """Wait until ``command`` runs below the sshd processes ``serving`` (a call under way)."""

    def running() -> bool:
        for pid in serving:
            try:
                below = psutil.Process(pid).children(recursive=True)
            except psutil.NoSuchProcess:
                continue
            for child in below:
                with contextlib.suppress(psutil.Error):
                    if command in " ".join(child.cmdline()):
                        return True
        return False

    deadline = time.monotonic() + CALL_BOUND
    while not running():
        assert time.monotonic() < deadline, f"{command!r} never ran on the host"
        await asyncio.sleep(0.02)


@contextmanager
def bounded(seconds: float = CALL_BOUND) -> Iterator[None]:
    started = time.monotonic()
    yield
    assert time.monotonic() - started < seconds


async def test_bytes_that_are_not_utf8_become_replacement_characters_and_the_host_stays_usable(
    hosts: SshHosts, host: Host
) -> None:
    async with asyncio.timeout(CALL_BOUND):
        result = await hosts.check(host, ["printf", "a\\377b\\n"])
        assert result.stdout == ["a\ufffdb"]
        assert result.exit_status == 0
        stderr = await hosts.check(host, ["sh", "-c", "printf '\\376\\n' >&2"])
        assert stderr.stderr == ["\ufffd"]
        first = await hosts.connection(host)
        assert (await hosts.check(host, ["echo", "next"])).stdout == ["next"]
        assert await hosts.connection(host) is first


async def test_lines_are_cut_as_str_splitlines_cuts_them_as_remoto_does(
    hosts: SshHosts, host: Host
) -> None:
    # remoto 1.2.1 gives ["a", "b", "c"] and ["x", "y", "z"] (../shared/upstream, §5).
    assert (await hosts.check(host, ["printf", "a\\rb\\nc\\n"])).stdout == ["a", "b", "c"]
    line_separators = "x\\342\\200\\250y\\302\\205z\\n"  # U+2028 and U+0085 in UTF-8
    assert (await hosts.check(host, ["printf", line_separators])).stdout == ["x", "y", "z"]
    assert (await hosts.check(host, ["printf", "a\\r\\nb\\n\\nend"])).stdout == [
        "a",
        "b",
        "",
        "end",
    ]


@given(st.text(alphabet="ab\r\n\x0b\x1c\u2028\u0085é", max_size=40), st.data())
def test_text_cut_anywhere_gives_the_lines_of_the_whole(text: str, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=6)))
    splitter = LineSplitter()
    lines: list[str] = []
    for start, end in zip([0, *cuts], [*cuts, len(text)], strict=True):
        lines += splitter.feed(text[start:end])
    assert lines + splitter.close() == text.splitlines()


async def test_a_missing_command_is_named_and_a_program_exiting_127_is_not_taken_for_one(
    hosts: SshHosts, host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(CommandNotFound, match="command not found: nonexistent-cmd-xyz"):
        await hosts.check(host, ["nonexistent-cmd-xyz", "arg"])
    with pytest.raises(CommandNotFound, match="nonexistent-cmd-xyz"):
        await hosts.run(host, ["nonexistent-cmd-xyz"])
    assert (await hosts.check(host, ["sh", "-c", "exit 127"])).exit_status == 127
    # A raw shell line is the shell's business: its own words say what was missing.
    raw = await hosts.check(host, "nonexistent-cmd-xyz")
    assert raw.exit_status == 127 and "nonexistent-cmd-xyz" in raw.stderr[0]


async def test_run_says_what_it_runs_at_info_then_logs_the_streams(
    hosts: SshHosts, host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="testhost")
    assert await hosts.run(host, ["sh", "-c", "echo out1; echo err1 >&2"]) == 0
    records = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "testhost"]
    assert records[0] == ("INFO", "Running command: sh -c 'echo out1; echo err1 >&2'")
    assert sorted(records[1:]) == [("DEBUG", "out1"), ("ERROR", "err1")]


async def test_a_call_over_its_time_limit_ends_with_an_error_and_the_host_stays_usable(
    hosts: SshHosts, host: Host
) -> None:
    with bounded(), pytest.raises(CallTimedOut, match=r"did not finish within 0\.5 s"):
        await hosts.check(host, ["sleep", "8"], time_limit=0.5)
    # The adapter's own limit bounds a call that names none.
    short = SshHosts(
        known_hosts=hosts.defaults.known_hosts,
        client_keys=[Path(k) for k in hosts.defaults.client_keys or ()],
        config=None,
        time_limit=0.5,
    )
    try:
        with bounded(), pytest.raises(CallTimedOut):
            await short.run(host, ["sleep", "8"])
    finally:
        await short.close()
    assert (await hosts.check(host, ["echo", "after"])).stdout == ["after"]


async def test_a_connection_that_breaks_mid_call_ends_it_with_an_error_and_is_replaced(
    hosts: SshHosts, host: Host, sshd: SshServer
) -> None:
    before = sshd_children(sshd)
    first = await hosts.connection(host)
    serving = sshd_children(sshd) - before
    assert serving, "no sshd process for the new connection"
    call = asyncio.create_task(hosts.check(host, ["sleep", "12"]))
    await wait_running(serving, "sleep 12")
    for pid in serving:
        os.kill(pid, signal.SIGKILL)
    with bounded(), pytest.raises(Unavailable):
        await call
    assert (await hosts.check(host, ["echo", "again"])).stdout == ["again"]
    assert await hosts.connection(host) is not first


async def test_the_keep_alive_notices_a_peer_that_went_silent(sshd: SshServer, host: Host) -> None:
    ssh = SshHosts(
        known_hosts=sshd.known_hosts,
        client_keys=[sshd.client_key],
        config=None,
        keepalive_interval=0.3,
        time_limit=20,  # without a keep-alive the call would wait this long, and time out
    )
    before = sshd_children(sshd)
    await ssh.connection(host)
    serving = sshd_children(sshd) - before
    call = asyncio.create_task(ssh.check(host, ["sleep", "12"]))
    await wait_running(serving, "sleep 12")
    for pid in serving:
        os.kill(pid, signal.SIGSTOP)  # alive, connected, and silent
    try:
        with bounded(10), pytest.raises(Unavailable) as broken:
            await call
        assert not isinstance(broken.value, CallTimedOut)
    finally:
        for pid in serving:
            os.kill(pid, signal.SIGCONT)
        await ssh.close()
