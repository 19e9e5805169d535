"""Remote functions (remoto's ``conn.import_module``) against the real OpenSSH server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from console.adapters.errors import Unavailable
from console.adapters.ssh import CallTimedOut, Host, SshHosts
from console.adapters.ssh_remote import RemoteError
from console.adapters.ssh_remote_runner import decode, encode
from tests.remote import files
from tests.ssh_server import SshServer

FILES = Path(files.__file__)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "b.txt").write_text("12345")
    (tmp_path / "a.bin").write_bytes(b"\0" * 3)
    (tmp_path / "sub").mkdir()
    return tmp_path


async def test_a_module_runs_remotely_with_lists_dicts_and_tuples(
    hosts: SshHosts, host: Host, folder: Path
) -> None:
    conn = hosts.at(host)  # as remoto's Connection
    async with await conn.import_module(files) as remote:
        assert {"listdir", "sizes", "echo", "refuse", "not_data"} <= set(remote.functions)
        assert await remote.listdir(str(folder)) == ["a.bin", "b.txt", "sub"]
        paths = [str(folder / "a.bin"), str(folder / "b.txt")]
        found, counted = await remote.sizes(paths, follow=False)
        assert found == {paths[0]: 3, paths[1]: 5}
        assert counted == (2, "files")  # a tuple stays a tuple
        given = await remote.echo([1, (2, 3)], {"$tuple": "a dict, not a tuple"}, key=None)
        assert given == {
            "args": ([1, (2, 3)], {"$tuple": "a dict, not a tuple"}),
            "kwargs": {"key": None},
        }


async def test_a_reply_of_megabytes_comes_whole_and_quickly(hosts: SshHosts, host: Host) -> None:
    async with await hosts.import_module(host, files) as remote, asyncio.timeout(30):
        assert await remote.blob(8_000_000) == "x" * 8_000_000
        assert await remote.blob(3) == "xxx"  # nothing of the big one was left behind


async def test_a_remote_exception_comes_back_with_the_remote_traceback(
    hosts: SshHosts, host: Host, folder: Path
) -> None:
    remote = await hosts.import_module(host, FILES)
    try:
        with pytest.raises(RemoteError) as raised:
            await remote.refuse({"why": ["no"]})
        error = raised.value
        assert error.remote_type == "ValueError"
        assert error.remote_message == "refused: {'why': ['no']}"
        assert "Traceback (most recent call last)" in error.remote_traceback
        assert "in _deeper" in error.remote_traceback
        assert 'raise ValueError(f"refused: {reason}")' in error.remote_traceback  # its source
        assert "ValueError: refused" in error.message
        # The module is still loaded: calls go on.
        assert await remote.listdir(str(folder)) == ["a.bin", "b.txt", "sub"]
        with pytest.raises(RemoteError, match="not JSON-able"):
            await remote.not_data()
        with pytest.raises(AttributeError, match="no function 'missing'"):
            await remote.missing()
        with pytest.raises(TypeError, match="not JSON-able"):
            await remote.echo(b"bytes")
    finally:
        await remote.close()


async def test_a_module_that_fails_to_load_or_a_missing_python_says_why(
    hosts: SshHosts, host: Host, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import os\nimport no_such_module_here\n")
    with pytest.raises(RemoteError, match="ModuleNotFoundError") as raised:
        await hosts.import_module(host, broken)
    assert "no_such_module_here" in raised.value.remote_traceback
    with pytest.raises(Unavailable, match="no-such-python"):
        await hosts.import_module(host, FILES, interpreter="no-such-python")


async def test_a_call_over_its_time_limit_ends_and_the_next_starts_a_fresh_remote_python(
    hosts: SshHosts, host: Host, tmp_path: Path
) -> None:
    slow = tmp_path / "slow.py"
    slow.write_text(
        "import time\n\ndef nap(seconds):\n    time.sleep(seconds)\n    return seconds\n"
    )
    remote = await hosts.import_module(host, slow)
    try:
        async with asyncio.timeout(20):
            with pytest.raises(CallTimedOut):
                await remote.call("nap", 8, time_limit=0.5)
            assert await remote.nap(0) == 0
    finally:
        await remote.close()


def test_the_codec_keeps_tuples_and_dicts_that_look_like_them() -> None:
    values = [
        (1, [2, (3,)], {"k": ()}),
        {"$tuple": [1]},
        {"$dict": {"$tuple": 1}},
        {"a": 1, "$tuple": 2},
        [None, True, 1.5, "é\u2028"],
    ]
    for value in values:
        assert decode(json.loads(json.dumps(encode(value)))) == value
    for bad in ({1: "x"}, {1, 2}, b"x"):
        with pytest.raises(TypeError):
            encode(bad)


def test_ssh_call_prints_the_result_and_a_remote_error_with_its_traceback(
    sshd: SshServer, folder: Path
) -> None:
    flags = ["--known-hosts", str(sshd.known_hosts), "--identity", str(sshd.client_key)]
    address = f"{sshd.user}@127.0.0.1:{sshd.port}"

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "console", "ssh", "call", *flags, *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    listed = call("--json", address, str(FILES), "listdir", json.dumps(str(folder)))
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == ["a.bin", "b.txt", "sub"]
    failed = call(address, str(FILES), "refuse", '"no"')
    assert failed.returncode == 1
    assert "refused: no" in failed.stderr and "Traceback" in failed.stderr
    bad = call(address, str(FILES), "listdir", "not-json")
    assert bad.returncode == 2 and "argument 1 is not JSON" in bad.stderr
