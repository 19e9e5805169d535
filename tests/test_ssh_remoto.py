"""``check`` and ``run`` beside the real remoto 1.2.1, both against the test sshd.

remoto 1.2.1 comes from the registry into the conformance cache (``tests/conformance/envs``),
or from ``OPSCONSOLE_REMOTO_PYTHON`` (a Python with remoto) when set. Where remoto itself
raises (bytes that are not UTF-8) we differ on purpose: the line comes back with U+FFFD.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from console.adapters.ssh import CommandNotFound, Host, SshHosts
from tests.conformance import envs
from tests.ssh_server import SshServer

pytestmark = pytest.mark.skipif(
    shutil.which("ssh") is None, reason="remoto drives OpenSSH's ssh client, not installed here"
)


@pytest.fixture(scope="session")
def remoto_python() -> str:
    """A Python that imports remoto 1.2.1."""
    given = os.environ.get("OPSCONSOLE_REMOTO_PYTHON", "")
    if given and Path(given).exists():
        return given
    return str(envs.env_or_skip(envs.REMOTO) / "bin" / "python")


COMMANDS = [
    ["ls", "/nonexistent/path"],
    ["sh", "-c", "echo out; echo err >&2; exit 3"],
    ["printf", "café ☃\\n日本語\\n"],
    ["printf", "a\\rb\\nc\\n"],
    ["printf", "x\u2028y\u0085z\\n"],
    ["printf", "no final newline"],
    ["sh", "-c", "echo; echo; echo x"],
    ["printf", "%s\\n", "a b", "  lead", "trail  ", "$HOME", "*"],
    ["sh", "-c", "echo $0 $1", "zero", "one"],
    ["printf", "a\\r\\n\\r\\nb\\x0bc\\x0cd\\x1ce\\n"],
]

REMOTO_SCRIPT = """
import json, logging, sys
import remoto
from remoto.process import check, run
logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(message)s", stream=sys.stderr)
conn = remoto.Connection("cchost", interpreter="python3", ssh_options="-F " + sys.argv[1],
                         logger=logging.getLogger("cchost"))
answers = []
for argv in json.loads(sys.argv[2]):
    try:
        out, err, code = check(conn, argv)
        answers.append([out, err, code])
    except Exception as exc:
        answers.append({"raises": type(exc).__name__})
print(json.dumps(answers))
"""


async def remoto_answers(
    remoto_python: str, sshd: SshServer, tmp_path: Path, commands: list[list[str]]
) -> list:
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host cchost\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User {sshd.user}\n"
        f"  IdentityFile {sshd.client_key}\n  UserKnownHostsFile {sshd.known_hosts}\n"
        "  StrictHostKeyChecking yes\n  BatchMode yes\n"
    )
    process = await asyncio.create_subprocess_exec(
        remoto_python,
        "-c",
        REMOTO_SCRIPT,
        str(config),
        json.dumps(commands),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    return json.loads(out)


async def test_check_gives_what_remoto_gives(
    remoto_python: str, hosts: SshHosts, sshd: SshServer, tmp_path: Path
) -> None:
    host = Host("testhost", "127.0.0.1", sshd.port, sshd.user)
    theirs = await remoto_answers(
        remoto_python, sshd, tmp_path, [*COMMANDS, ["nonexistent-cmd-xyz"]]
    )
    for argv, answer in zip(COMMANDS, theirs, strict=False):
        ours = await hosts.check(host, argv)
        assert [ours.stdout, ours.stderr, ours.exit_status] == answer, argv
    assert theirs[-1] == {"raises": "RuntimeError"}  # remoto raises too, for a missing program
    with pytest.raises(CommandNotFound):
        await hosts.check(host, ["nonexistent-cmd-xyz"])


async def test_run_logs_the_command_first_at_info_as_remoto_does(
    hosts: SshHosts, sshd: SshServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="testhost")
    host = Host("testhost", "127.0.0.1", sshd.port, sshd.user)
    await hosts.run(host, ["ls", "-d", "/"])
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "testhost"] == [
        ("INFO", "Running command: ls -d /"),
        ("DEBUG", "/"),
    ]
