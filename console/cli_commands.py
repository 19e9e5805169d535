"""The scriptable subcommands of each pane: ps, restart/stop/start, logs, queue, pool, inbox.

Each takes the parsed arguments and a connected ``AgentClient`` (ssh, in
``cli_ssh``, takes none) and returns the exit status; ``--json`` prints what programs read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import sys
from typing import Any

from console.adapters.agent import AgentClient
from console.cli_output import print_processes
from console.config import ConfigError
from console.models import LogGap, ModuleSnapshot, ProcessStatus, Stream
from console.output.ansi import strip_sgr


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2, default=str))


def _json_arg(text: str | None, what: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{what} must be a JSON object")
    return value


async def ps(client: AgentClient, args: argparse.Namespace) -> int:
    print_processes(await client.processes.list(), args.json)
    return 0


async def control_selected(client: AgentClient, args: argparse.Namespace) -> list[ProcessStatus]:
    """restart/stop/start (``args.command``) of the processes ``args`` selects, on one agent:
    one SLUG, ``--type`` (those of a Procfile type, as listed now), ``--app``, ``--all``."""
    processes = client.processes
    if args.slug is not None:
        return [await getattr(processes, args.command)(args.slug)]
    if getattr(args, "type", None) is not None:
        from console.adapters.fleet_actions import processes_of_type

        slugs = await processes_of_type(client, args.type)
        if not slugs:
            return []
        return await processes.control_many(args.command, slugs=slugs)
    return await processes.control_many(args.command, app=args.app)


async def control(client: AgentClient, args: argparse.Namespace) -> int:
    """restart/stop/start of one SLUG, or of ``--type`` / ``--app`` / ``--all`` in one call."""
    statuses = await control_selected(client, args)
    if args.json:
        wires = [status.to_wire() for status in statuses]
        _print_json(wires[0] if args.slug is not None else {"processes": wires})
    else:
        for status in statuses:
            print(f"{status.slug}: {args.command} asked; now {status.state.value}")
    return 0


async def logs(client: AgentClient, args: argparse.Namespace, context: str | None = None) -> int:
    """Print the held lines (from ``--since``, or the last ``--lines``), following with -f.

    With ``context`` (a fleet's), each text line starts with ``CONTEXT | `` and each JSON
    line has a ``context`` key.
    """
    prefix = f"{context} | " if context is not None else ""
    tagged = {"context": context} if context is not None else {}
    status = await client.processes.get(args.slug)
    since = args.since if args.since is not None else max(0, status.next_seq - args.lines)
    if not args.follow and since >= status.next_seq:
        return 0
    tail = contextlib.aclosing(client.processes.tail(args.slug, since))
    async with tail as events:
        async for event in events:
            if not args.follow and not isinstance(event, LogGap) and event.end > status.next_seq:
                # Without -f the listing ends where the status said: a batch may run past it.
                event = dataclasses.replace(event, lines=event.lines[: status.next_seq - event.seq])
            if isinstance(event, LogGap):
                print(f"{prefix}[{event.count} lines not kept]", file=sys.stderr)
            elif args.json:
                print(json.dumps({**tagged, **event.to_wire()}), flush=True)
            else:
                out = sys.stderr if event.stream is Stream.STDERR else sys.stdout
                lines = event.lines
                if args.no_color or not out.isatty():
                    lines = [strip_sgr(line) for line in lines]
                out.write("".join(f"{prefix}{line}\n" for line in lines))
                out.flush()
            if not args.follow and event.end >= status.next_seq:
                break
    return 0


def _print_snapshot(snapshot: ModuleSnapshot) -> None:
    for module in snapshot.modules:
        mark = "▶" if module.playing else " "
        print(f"{mark} {module.uid:>4} {module.type:<14} {json.dumps(module.parameters)}")
    if snapshot.background is not None:
        bg = snapshot.background
        mark = "▶" if bg.playing else " "
        print(f"{mark} {bg.uid:>4} {bg.type:<14} {json.dumps(bg.parameters)}  (background)")


async def modules(client: AgentClient, args: argparse.Namespace) -> int:
    service = client.queue if args.command == "queue" else client.pool
    match args.action:
        case "list" | None:
            snapshot = await service.snapshot()
            if args.json:
                _print_json(
                    {
                        "modules": [vars(m) for m in snapshot.modules],
                        "background": vars(snapshot.background) if snapshot.background else None,
                    }
                )
            else:
                _print_snapshot(snapshot)
        case "add":
            uid = await service.add(args.type, _json_arg(args.args, "--args"))
            print(json.dumps({"uid": uid}) if args.json else f"added module {uid}")
        case "rm":
            await service.remove(*args.uids)
            print(json.dumps({"removed": args.uids}) if args.json else "removed")
        case "mv":
            await service.move_to_front(*args.uids)
            print(json.dumps({"front": args.uids}) if args.json else "moved to the front")
        case "tell":
            result = await service.tell(args.uid, args.cmd, _json_arg(args.args, "--args"))
            print(json.dumps(result))
    return 0


async def inbox(client: AgentClient, args: argparse.Namespace) -> int:
    """``inbox`` on an agent reached through SSH or spawned for the command: the one-shot
    requests of ``cli_inbox`` to its (loopback) endpoint, in a thread while the loop serves
    the connection."""
    from console.cli_inbox import run_inbox

    return await asyncio.to_thread(run_inbox, client.endpoint, args)


async def scripts_command(client: Any, args: argparse.Namespace) -> int:
    from console.cli_output import print_history, print_run, print_script, print_scripts

    scripts = client.scripts
    as_json = getattr(args, "json", False)
    match args.action:
        case "list" | None:
            print_scripts(await scripts.list_scripts(), as_json)
        case "show":
            print_script(await scripts.get_script(args.name), as_json)
        case "run":
            params = dict(parse_param(p) for p in args.param)
            script = await scripts.get_script(args.name)
            if script.confirm and not args.yes and not confirmed(script, params):
                return 2
            return await print_run(scripts.stream_run(args.name, params), as_json)
        case "history":
            print_history(await scripts.history(args.name, args.limit), as_json)
        case "reload":
            await scripts.reload()
            print(json.dumps({"status": "ok"}) if as_json else "reloaded")
    return 0


def confirmed(script: Any, params: dict[str, str]) -> bool:
    """Ask, as the console does, before a script that says ``confirm: True`` runs (secrets
    masked); without a terminal to ask on, --yes is needed. Raises ConfigError then."""
    shown = ", ".join(f"{k}={v!r}" for k, v in script.mask(params).items()) or "no params"
    if not sys.stdin.isatty():
        raise ConfigError(f"{script.name} asks before it runs: add --yes to run it unasked")
    answer = input(f"Run {script.name} with {shown}? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def parse_param(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"--param {text!r}: expected KEY=VALUE")
    return key, value
