"""``opsconsole ssh run|check|call``: remote commands and remote functions from a shell.

``run`` logs as remoto does (``Running command: ...`` at INFO, stdout at DEBUG, stderr at
ERROR, on stderr) and exits with the command's status; ``check`` prints stdout and stderr (or,
with ``--json``, ``{"stdout": [...], "stderr": [...], "exit_status": N}``) and exits with the
status; ``call`` loads FILE.py on the host, calls FUNCTION with ARGS (each one JSON value) and
prints the result (as JSON with ``--json``). Errors go to stderr as one clear message
(a remote traceback below it) and exit 1; bad arguments exit 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Imported when a subcommand runs: asyncssh is slow to import, and every command
    # (the console too) builds this parser.
    from console.adapters.ssh import Host, SshHosts


class UsageError(ValueError):
    """Arguments that cannot work: the CLI exits 2 with this message."""


def add_parser(commands: Any) -> None:
    """The ``ssh`` subcommand and its options, on ``commands`` (argparse subparsers)."""
    ssh = commands.add_parser(
        "ssh",
        help="run or check a command, or call a Python function, on a host over SSH",
        usage=(
            "opsconsole ssh {run,check} [options] HOST -- COMMAND...\n"
            "       opsconsole ssh call [options] HOST FILE.py FUNCTION [ARG-AS-JSON...]"
        ),
        description=(
            "Options go before HOST, as with ssh itself; the command comes after --. "
            "HOST is a name from the config's [hosts], an alias of ~/.ssh/config, or "
            "user@host[:port]; ~/.ssh/config decides what the address leaves out."
        ),
    )
    ssh.add_argument("action", choices=["run", "check", "call"])
    ssh.add_argument("host", help="a host named in the config, or user@host[:port]")
    ssh.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND...")
    ssh.add_argument("--json", action="store_true", help="check, call: print JSON")
    ssh.add_argument("--sudo", action="store_true", help="run it with sudo -n")
    ssh.add_argument("--config", type=Path, help="TOML config file (its [hosts])")
    ssh.add_argument(
        "-F",
        dest="ssh_config",
        type=lambda text: Path(text).expanduser(),
        help="OpenSSH client config file (default ~/.ssh/config), like ssh -F",
    )
    ssh.add_argument("--identity", type=Path, action="append", help="private key (like ssh -i)")
    ssh.add_argument(
        "--known-hosts",
        type=lambda text: Path(text).expanduser(),
        help="known_hosts file (default: UserKnownHostsFile of the SSH config, ~/.ssh/known_hosts)",
    )
    ssh.add_argument(
        "--accept-host-key",
        metavar="FINGERPRINT",
        help="record the host's key first (replacing an old one), if it has this fingerprint",
    )
    ssh.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="time limit of the command or call (default: 600)",
    )
    ssh.add_argument(
        "--python", default="python3", help="call: the host's Python interpreter (default python3)"
    )


async def ssh(args: argparse.Namespace, hosts_config: dict[str, dict[str, Any]]) -> int:
    """Run one ``ssh`` subcommand; its exit status. Raises UsageError, BackendError."""
    import logging  # only here: 14 ms that no other command needs

    from console.adapters.ssh import Host, SshHosts
    from console.adapters.ssh_settings import DEFAULT_CONFIG

    logging.basicConfig(
        level=logging.DEBUG,
        format="%(asctime)s [%(name)s][%(levelname)s] %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    if args.timeout is not None and not 0 < args.timeout < math.inf:
        raise UsageError(f"--timeout {args.timeout:g}: give a finite number of seconds above 0")
    configured = hosts_config.get(args.host, {})
    host = Host.parse(str(configured.get("address", args.host)), name=args.host)
    hosts = SshHosts(
        known_hosts=args.known_hosts,
        client_keys=args.identity,
        config=args.ssh_config or DEFAULT_CONFIG,
        **({"time_limit": args.timeout} if args.timeout is not None else {}),
    )
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    try:
        if args.accept_host_key:
            fingerprint = await hosts.accept_host_key(host, args.accept_host_key)
            print(f"{host.name}: recorded host key {fingerprint}", file=sys.stderr)
        if args.action == "call":
            return await _call(hosts, host, argv, args)
        if args.action == "run":
            return await hosts.run(host, argv, sudo=args.sudo)
        result = await hosts.check(host, argv, sudo=args.sudo)
        if args.json:
            print(json.dumps(dataclasses.asdict(result), indent=2))
        else:
            for line in result.stdout:
                print(line)
            for line in result.stderr:
                print(line, file=sys.stderr)
        return result.exit_status
    finally:
        await hosts.close()


async def _call(hosts: SshHosts, host: Host, argv: list[str], args: argparse.Namespace) -> int:
    path, function, values = call_arguments(argv)
    remote = await hosts.import_module(host, path, interpreter=args.python)
    async with remote:
        result = await remote.call(function, *values)
    if args.json or not isinstance(result, str):
        print(json.dumps(result, indent=None if args.json else 2))
    else:
        print(result)
    return 0


def call_arguments(argv: list[str]) -> tuple[Path, str, list[Any]]:
    """``FILE.py FUNCTION [ARG-AS-JSON...]`` checked and parsed; UsageError when wrong."""
    if len(argv) < 2:
        raise UsageError("ssh call: give FILE.py and FUNCTION, e.g. ssh call web1 tools.py du")
    source, function, *texts = argv
    values = []
    for number, text in enumerate(texts, start=1):
        try:
            values.append(json.loads(text))
        except ValueError:
            raise UsageError(
                f"ssh call: argument {number} is not JSON: {text!r} (a string is '\"{text}\"')"
            ) from None
    path = Path(source)
    if not path.is_file():
        raise UsageError(f"ssh call: no such file: {source}")
    return path, function, values
