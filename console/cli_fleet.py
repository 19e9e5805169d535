"""The subcommands on many contexts at once: ``--context all`` or ``--context web1,web2``.

``ps``, ``logs``, ``restart``/``stop``/``start``, ``scripts run`` and ``inbox list`` run
on every chosen agent at once (a ``Fleet``). Each row, line or JSON object carries its
context; a host that fails is reported on stderr (``opsconsole: CONTEXT: why``) without
hiding the others' results, and the exit status is then 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from console.config import ConfigError, ConsoleConfig

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.connect import AgentConnector
    from console.adapters.fleet import Fleet
    from console.adapters.fleet_actions import HostResult

FLEET_COMMANDS = ("ps", "logs", "restart", "stop", "start", "scripts run", "inbox list")
"""What takes more than one context (as ``command`` or ``command action``)."""


def run_fleet(args: argparse.Namespace, contexts: list[str]) -> int:
    """Run the subcommand on every context of ``contexts`` at once; the exit status."""
    what = " ".join(filter(None, (args.command, getattr(args, "action", None) or _default(args))))
    handler = HANDLERS.get(what)
    if handler is None:
        takes = ", ".join(FLEET_COMMANDS)
        raise ConfigError(f"{what} takes one context, not --context {args.context} ({takes} do)")
    if getattr(args, "agent", None):
        raise ConfigError("--agent names one agent: leave it out with --context all or a list")
    connectors = context_connectors(args, contexts)

    async def go() -> int:
        from console.adapters.fleet import Fleet

        async with Fleet(connectors, follow=False) as fleet:
            await fleet.ready()
            return await handler(fleet, args)

    return asyncio.run(go())


def context_connectors(args: argparse.Namespace, contexts: list[str]) -> dict[str, AgentConnector]:
    """Each context's connector as ``--context NAME`` alone would make it (its URL, tunnel,
    credentials), the other flags of ``args`` kept: what a ``Fleet`` is made of. Raises
    ConfigError for a context that cannot be used."""
    from console.cli_connect import connector_for

    return {
        name: connector_for(argparse.Namespace(**{**vars(args), "context": name}))
        for name in contexts
    }


def first_context_name(args: argparse.Namespace, demo: bool) -> str:
    """What the scope picker calls the context the console starts on: the ``--context``
    given, "demo", "local" (an agent of this machine's), or the ``--agent`` URL's host."""
    if getattr(args, "context", None):
        return str(args.context)
    if demo:
        return "demo"
    agent = getattr(args, "agent", None)
    return urlsplit(agent).netloc or agent if agent else "local"


def config_contexts(
    args: argparse.Namespace, config: ConsoleConfig
) -> tuple[dict[str, Any], list[str]]:
    """The config's ``[contexts.NAME]`` as connectors for the console's "all" scope, made
    when first needed (``:``); a context that cannot be used is a problem, not an exit."""
    connectors: dict[str, Any] = {}
    problems: list[str] = []
    plain = argparse.Namespace(**{**vars(args), "agent": None})
    for name in config.contexts:
        try:
            connectors.update(context_connectors(plain, [name]))
        except ConfigError as exc:
            problems.append(f"context {name}: {exc}")
    return connectors, problems


def _default(args: argparse.Namespace) -> str | None:
    """``scripts`` and ``inbox`` with no action list; only ``inbox`` lists over a fleet."""
    return "list" if args.command == "inbox" else None


def report(results: list[HostResult[Any]]) -> int:
    """Each failed host's error on stderr; 1 when any failed, else 0."""
    failed = [result for result in results if not result.ok]
    for result in failed:
        print(f"opsconsole: {result.context}: {result.error}", file=sys.stderr)
    return 1 if failed else 0


def _errors(results: list[HostResult[Any]]) -> list[dict[str, str | None]]:
    return [{"context": r.context, "error": r.error} for r in results if not r.ok]


def _context_width(results: list[HostResult[Any]]) -> int:
    return max([len("CONTEXT"), *(len(r.context) for r in results)])


async def ps(fleet: Fleet, args: argparse.Namespace) -> int:
    from console.adapters.fleet_actions import across
    from console.cli_output import PS_HEADER, ps_line

    results = await across(fleet, lambda _context, client: client.processes.list())
    if args.json:
        processes = [
            {"context": r.context, **p.to_wire()} for r in results if r.ok for p in r.value or []
        ]
        print(json.dumps({"processes": processes, "errors": _errors(results)}, indent=2))
        return report(results)
    width, now = _context_width(results), time.time()
    print(f"{'CONTEXT':<{width}} {PS_HEADER}")
    for result in results:
        for process in result.value or []:
            print(f"{result.context:<{width}} {ps_line(process, now)}")
    return report(results)


async def control(fleet: Fleet, args: argparse.Namespace) -> int:
    from console.adapters.fleet_actions import across
    from console.cli_commands import control_selected

    async def on_host(_context: str, client: AgentClient) -> Any:
        return await control_selected(client, args)

    results = await across(fleet, on_host)
    if args.json:
        processes = [
            {"context": r.context, **s.to_wire()} for r in results if r.ok for s in r.value or []
        ]
        print(json.dumps({"processes": processes, "errors": _errors(results)}, indent=2))
    else:
        for result in results:
            for status in result.value or []:
                print(
                    f"{result.context}: {status.slug}: {args.command} asked; "
                    f"now {status.state.value}"
                )
            if result.ok and not result.value:
                print(f"{result.context}: nothing to {args.command}")
    return report(results)


async def logs(fleet: Fleet, args: argparse.Namespace) -> int:
    """Each host's lines of SLUG, as they come (``CONTEXT | line``); -f follows them all."""
    from console.adapters.fleet_actions import across
    from console.cli_commands import logs as host_logs

    # A follow has no end: it runs until interrupted.
    limit = None if args.follow else 60.0
    results = await across(
        fleet, lambda context, client: host_logs(client, args, context), time_limit=limit
    )
    return report(results)


async def run_script(fleet: Fleet, args: argparse.Namespace) -> int:
    """The script on every host at once, its output as it comes (``CONTEXT | line``); 1
    when any host failed or any run's exit status was not 0."""
    from console.adapters.fleet_actions import across
    from console.cli_commands import parse_param
    from console.cli_output import print_run

    params = dict(parse_param(p) for p in args.param)

    async def on_host(context: str, client: AgentClient) -> int:
        return await print_run(client.scripts.stream_run(args.name, params), args.json, context)

    results = await across(fleet, on_host, time_limit=None)
    failed_runs = [r for r in results if r.ok and r.value != 0]
    for result in failed_runs:
        print(f"opsconsole: {result.context}: exit {result.value}", file=sys.stderr)
    return report(results) or (1 if failed_runs else 0)


async def inbox(fleet: Fleet, args: argparse.Namespace) -> int:
    """The messages of every context, newest first in each (``--json``: an envelope with
    ``left_out``, per context, of what an agent left out to keep to its byte budget; in text,
    a stderr line per such context)."""
    from console.adapters.fleet_actions import across
    from console.cli_inbox import left_out_notice, message_header, message_line

    status = getattr(args, "status", None)
    results = await across(fleet, lambda _context, client: client.inbox.listing(status=status))
    listings = [(r.context, r.value) for r in results if r.value is not None]
    left_out = {context: listed.left_out for context, listed in listings if listed.left_out}
    if args.json:
        messages = [{"context": c, **m.to_wire()} for c, listed in listings for m in listed.items]
        envelope = {"messages": messages, "left_out": left_out, "errors": _errors(results)}
        print(json.dumps(envelope, indent=2))
        return report(results)
    for context, count in left_out.items():
        print(left_out_notice(count, f"{context}: "), file=sys.stderr)
    listed = [(context, m) for context, listing in listings for m in listing.items]
    if not listed:
        # As on one context: on stderr, so a pipeline reading stdout sees no rows.
        print("no messages", file=sys.stderr)
        return report(results)
    # As on one context: a column for the agent that took each, when any was taken by one.
    taken = any(message.accepted_by for _, message in listed)
    width = _context_width(results)
    print(f"{'CONTEXT':<{width}} {message_header(accepted_by=taken)}")
    for context, message in listed:
        print(f"{context:<{width}} {message_line(message, accepted_by=taken)}")
    return report(results)


HANDLERS: dict[str, Callable[[Fleet, argparse.Namespace], Awaitable[int]]] = {
    "ps": ps,
    "logs": logs,
    "restart": control,
    "stop": control,
    "start": control,
    "scripts run": run_script,
    "inbox list": inbox,
}
