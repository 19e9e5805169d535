"""The command line: argument parsing and the subcommands, nothing else."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from console import __version__
from console.adapters.endpoint import AGENT_TOKEN_ENV, PASSWORD_ENV
from console.cli_agent import add_agent_command
from console.cli_connect import connector_for
from console.config import (
    ConfigError,
    ConsoleConfig,
)
from console.models import MessageStatus

if TYPE_CHECKING:
    pass


class Parser(argparse.ArgumentParser):
    """Bad arguments give one clear line and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def connection_flags() -> Parser:
    """Flags that pick the agent; accepted before or after a subcommand, so never defaulted."""
    flags = Parser(add_help=False, argument_default=argparse.SUPPRESS)
    group = flags.add_argument_group("agent connection")
    group.add_argument("--config", type=Path, help="TOML config file")
    group.add_argument("--agent", metavar="URL", help="an agent's URL (default: spawn a local one)")
    group.add_argument(
        "--context",
        help="a context named in the config file; 'all' or a comma list for ps, logs, "
        "restart/stop/start, scripts run and inbox list",
    )
    group.add_argument("--user", help=f"HTTP Basic user; the password comes from ${PASSWORD_ENV}")
    group.add_argument(
        "--token-file",
        type=Path,
        help=f"file holding the agent token (or ${AGENT_TOKEN_ENV}; a local agent's is found)",
    )
    group.add_argument("--insecure", action="store_true", help="do not verify the agent's TLS")
    group.add_argument("--json", action="store_true", help="print JSON instead of text")
    return flags


def build_parser() -> Parser:
    common = connection_flags()
    parser = Parser(
        prog="opsconsole",
        description="A terminal console for on-call operators.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"opsconsole {__version__}")
    parser.add_argument("--theme", help="colour theme, e.g. opsconsole-light")
    commands = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")

    demo = commands.add_parser("demo", help="the console on a local agent serving the bundled demo")
    demo.add_argument("--theme", default=argparse.SUPPRESS, help="colour theme")

    add_agent_command(commands)

    scripts = commands.add_parser(
        "scripts", help="the script catalog: list, show, run, history", parents=[common]
    )
    actions = scripts.add_subparsers(
        dest="action", parser_class=Parser, metavar="ACTION", required=True
    )
    actions.add_parser("list", help="list the catalog", parents=[common])
    actions.add_parser("show", help="one script's details", parents=[common]).add_argument("name")
    run = actions.add_parser("run", help="run a script, streaming its output", parents=[common])
    run.add_argument("name")
    run.add_argument(
        "-p", "--param", action="append", default=[], metavar="KEY=VALUE", help="a param"
    )
    run.add_argument(
        "-y", "--yes", action="store_true", help="run a script that asks first without asking"
    )
    history = actions.add_parser("history", help="past runs, newest first", parents=[common])
    history.add_argument("name", nargs="?")
    history.add_argument("--limit", type=int, default=20)
    actions.add_parser(
        "reload", help="make the agent re-read its scripts directory", parents=[common]
    )

    add_pane_commands(commands, common)

    bench = commands.add_parser("bench", help="measure this machine (figures beside a baseline)")
    bench.add_argument("name", choices=["startup", "logs", "inbox", "supervise", "fleet"])
    bench.add_argument("--rounds", type=int, default=5, help="measurements of each side")
    describe_subcommands(parser)
    return parser


def describe_subcommands(parser: argparse.ArgumentParser) -> None:
    """Every subcommand's --help starts with what it does (its line in its parent's list)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, child in action.choices.items():
                child.description = child.description or helps.get(name)
                describe_subcommands(child)


def add_pane_commands(commands: Any, common: Parser) -> None:
    """ps, restart/stop/start, logs, queue, pool, inbox and ssh."""

    def command(name: str, help_text: str) -> Parser:
        return commands.add_parser(name, help=help_text, parents=[common])

    command("ps", "list the agent's processes")
    for verb in ("restart", "stop", "start"):
        control = command(verb, f"{verb} a process, every process of an app, or all")
        which = control.add_mutually_exclusive_group(required=True)
        which.add_argument("slug", nargs="?", help="the process")
        which.add_argument("--app", help=f"{verb} every process of this app in one call")
        which.add_argument(
            "--type", help=f"{verb} every process of this Procfile type (web, worker...)"
        )
        which.add_argument("--all", action="store_true", help=f"{verb} every process")
    logs = command("logs", "print a process's output (-f: and follow it)")
    logs.add_argument("slug")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("-n", "--lines", type=int, default=100, help="how many recent lines")
    logs.add_argument("--since", type=int, help="from this sequence number on")
    logs.add_argument(
        "--no-color",
        action="store_true",
        help="drop colour codes (also done when stdout is not a terminal)",
    )

    for service in ("queue", "pool"):
        parser = command(service, f"the {service} of modules: list, add, rm, mv, tell")
        actions = parser.add_subparsers(
            dest="action", parser_class=Parser, metavar="ACTION", required=True
        )
        actions.add_parser("list", help="modules in order, with parameters", parents=[common])
        add = actions.add_parser("add", help="add a module of TYPE", parents=[common])
        add.add_argument("type")
        add.add_argument("--args", help="the module's args, a JSON object")
        for verb, help_text in (("rm", "remove modules"), ("mv", "move modules to the front")):
            actions.add_parser(verb, help=help_text, parents=[common]).add_argument(
                "uids", nargs="+"
            )
        tell = actions.add_parser("tell", help="send a module a command", parents=[common])
        tell.add_argument("uid")
        tell.add_argument("cmd")
        tell.add_argument("--args", help="the command's args, a JSON object")

    inbox = command("inbox", "the message inbox: list, push, pull, ack")
    actions = inbox.add_subparsers(
        dest="action", parser_class=Parser, metavar="ACTION", required=True
    )
    listing = actions.add_parser("list", help="messages, newest first", parents=[common])
    listing.add_argument("--status", type=MessageStatus, choices=list(MessageStatus))
    push = actions.add_parser("push", help="push a message to a node", parents=[common])
    push.add_argument("destination")
    push.add_argument("payload", nargs="?", default="", help="text (or JSON with --json-payload)")
    push.add_argument("--json-payload", action="store_true", help="the payload is JSON")
    push.add_argument("--file", help="send this file's bytes as a binary payload")
    push.add_argument("--topic")
    actions.add_parser("pull", help="take the oldest pending message", parents=[common])
    actions.add_parser("ack", help="acknowledge a pulled message", parents=[common]).add_argument(
        "id"
    )

    from console.cli_ssh import add_parser as add_ssh_parser

    add_ssh_parser(commands)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        match args.command:
            case "agent":
                from console.cli_agent import run_agent

                return run_agent(args)
            case "demo":
                return run_console(args, demo=True)
            case "scripts":
                return run_client(args, lambda: pane_command("scripts"))
            case "ps" | "restart" | "stop" | "start" | "logs" | "queue" | "pool" | "inbox":
                return run_client(args, lambda: pane_command(args.command))
            case "ssh":
                return run_ssh(args)
            case "bench":
                from console.bench import run_benchmark

                return run_benchmark(args.name, rounds=args.rounds)
            case _:
                return run_console(args, demo=False)
    except ConfigError as exc:
        print(f"opsconsole: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went (``| head``): say nothing more, and let the exit not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def pane_command(name: str) -> ClientCommand:
    skip_unused_imports()
    from console import cli_commands

    handlers = {
        "ps": cli_commands.ps,
        "scripts": cli_commands.scripts_command,
        "logs": cli_commands.logs,
        "inbox": cli_commands.inbox,
        "queue": cli_commands.modules,
        "pool": cli_commands.modules,
    }
    return handlers.get(name, cli_commands.control)


def run_ssh(args: argparse.Namespace) -> int:
    from console import cli_ssh
    from console.adapters.errors import BackendError

    if not [a for a in args.argv if a != "--"]:
        raise ConfigError("ssh: give the command after --, e.g. ssh run web1 -- uptime")
    hosts = ConsoleConfig.load(args.config).hosts
    import asyncio

    try:
        return asyncio.run(cli_ssh.ssh(args, hosts))
    except cli_ssh.UsageError as exc:
        raise ConfigError(str(exc)) from None
    except (BackendError, ValueError, AttributeError) as exc:
        print(f"opsconsole: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1


def run_console(args: argparse.Namespace, demo: bool) -> int:
    from console.tui import collector

    collector.hold()  # until the first paint is out (the app releases it then)
    try:
        return _run_console(args, demo)
    finally:
        collector.release()


def _run_console(args: argparse.Namespace, demo: bool) -> int:
    from console import cli_fleet
    from console.tui.app import OpsConsoleApp

    config = ConsoleConfig.load(getattr(args, "config", None))
    asked = getattr(args, "theme", None)
    theme = asked or config.theme
    hosts = console_hosts(config)
    connector = connector_for(args, demo=demo)
    app = OpsConsoleApp(
        connector,
        theme=theme,
        hosts=hosts,
        name=cli_fleet.first_context_name(args, demo),
        more_contexts=partial(cli_fleet.config_contexts, args, config),
    )
    if asked and app.theme != asked:
        known = ", ".join(sorted(app.available_themes))
        raise ConfigError(f"--theme {asked!r}: no such theme (known: {known})")
    app.run()
    return 0


def console_hosts(config: ConsoleConfig) -> dict[str, dict[str, Any]]:
    """The ``[hosts.NAME]`` tables for the Hosts pane, which parses each address when first used
    (parsing imports asyncssh, a fifth of a second the console's start does without)."""
    for name, table in config.hosts.items():
        if not isinstance(table, dict) or not isinstance(table.get("address", name), str):
            raise ConfigError(f'[hosts.{name}] needs address = "user@host:port"')
    return config.hosts


UNUSED_BY_CLIENTS = ("trio", "httpx._main")
"""Modules httpx's import pulls in when installed, that a client command never runs: trio
(httpcore's other async backend, ~40 ms) and httpx's own command line (click, rich and
pygments, ~30 ms)."""


def skip_unused_imports() -> None:
    """Make the optional imports in UNUSED_BY_CLIENTS fail fast in this process.

    Both are guarded by ``except ImportError`` in httpcore and httpx, which then fall back
    to asyncio and to a stub ``httpx.main``; a module loaded already is left alone.
    """
    for name in UNUSED_BY_CLIENTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


ClientCommand = Callable[[Any, argparse.Namespace], Awaitable[int]]
"""A subcommand run on a connected ``AgentClient``: its exit status."""


def run_client(args: argparse.Namespace, command_for: Callable[[], ClientCommand]) -> int:
    """Run a client subcommand: one-shot when it can be (``run_one_shot``), else the
    ``command_for()`` handler on the async client (imported only then)."""
    from console.adapters.errors import BackendError

    args.json = getattr(args, "json", False)  # the flag is accepted at any level, so unset
    try:
        if (answered := run_one_shot(args)) is not None:
            return answered
    except BackendError as exc:
        print(f"opsconsole: {exc.message}", file=sys.stderr)
        return 1
    skip_unused_imports()
    import asyncio

    from console.cli_connect import fleet_contexts
    from console.cli_fleet import run_fleet

    if (contexts := fleet_contexts(args)) is not None:
        return run_fleet(args, contexts)

    command = command_for()

    async def go() -> int:
        connector = connector_for(args)
        try:
            client = await connector.connect()
            await client.info()
            return await command(client, args)
        finally:
            await connector.close()

    try:
        return asyncio.run(go())
    except BackendError as exc:
        print(f"opsconsole: {exc.message}", file=sys.stderr)
        return 1


def run_one_shot(args: argparse.Namespace) -> int | None:
    """``ps`` and ``inbox`` on one http(s) agent, by blocking requests (``adapters.oneshot``):
    the async stack costs more to import than the requests take. None for anything else
    (another command, a fleet, SSH, an agent to spawn): the async client answers that."""
    from console.cli_connect import fleet_contexts, one_shot_endpoint

    if args.command not in ("ps", "inbox") or fleet_contexts(args) is not None:
        return None

    endpoint = one_shot_endpoint(args)
    if endpoint is None:
        return None
    if args.command == "inbox":
        from console.cli_inbox import run_inbox

        return run_inbox(endpoint, args)
    from console.adapters.errors import BackendError
    from console.adapters.oneshot import OneShot
    from console.cli_output import print_processes
    from console.models.processes import process_listing

    with OneShot(endpoint) as agent:
        try:
            processes = process_listing(agent.request("GET", "/list-processes"))
        except ValueError as exc:
            raise BackendError(str(exc)) from None
    print_processes(processes, args.json)
    return 0
