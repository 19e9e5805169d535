"""``opsconsole inbox list|push|pull|ack``: one-shot requests to one agent's inbox.

Each is one or two blocking requests (``adapters.oneshot``, the standard library's
http.client): the async HTTP stack (asyncio, aiohttp, httpx) costs more to import
than the requests take. An agent reached through SSH or spawned for the command
is served the same way once connected (``cli_commands.inbox``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from console.adapters.endpoint import Endpoint
from console.adapters.oneshot import OneShot, OneShotInbox
from console.cli_output import payload_text
from console.config import ConfigError
from console.models import Message


def message_header(accepted_by: bool = False) -> str:
    """The column names above ``message_line``s (with ``accepted_by``: the AGENT column)."""
    agent = f"{'AGENT':<14} " if accepted_by else ""
    return f"{'ID':<8}  {'CREATED':<8}  {'FROM':<18} {'TOPIC':<22} {'STATUS':<11} {agent}PAYLOAD"


def message_line(m: Message, accepted_by: bool = False) -> str:
    """One message in a line under ``message_header``: short id, local time, source, topic,
    status, (with ``accepted_by``: the agent that took it, for an inbox shared by many),
    payload preview."""
    when = time.strftime("%H:%M:%S", time.localtime(m.created_time))
    preview = payload_text(m.content)
    agent = f"{m.accepted_by or '-':<14} " if accepted_by else ""
    return (
        f"{m.id[:8]}  {when}  {m.node_source:<18} {m.topic or '-':<22} "
        f"{m.status.value:<11} {agent}{preview}"
    )


def left_out_notice(count: int, where: str = "") -> str:
    """The stderr line saying a listing left ``count`` messages out (the agent's byte budget),
    ``where`` naming the agent in a fleet's listing."""
    noun = "message" if count == 1 else "messages"
    return (
        f"{where}{count} more {noun} not shown: the agent's answer has a byte budget "
        "(narrow with --status, or read them one by one)"
    )


def run_inbox(endpoint: Endpoint, args: argparse.Namespace) -> int:
    """The ``inbox`` command (``args.action``) on the agent at ``endpoint``: its exit status
    (1: nothing to pull). Raises BackendError (AuthError, NotFound, Unavailable) as
    ``OneShot.send``, ConfigError for a payload that is not what ``args`` say."""
    with OneShot(endpoint) as agent:
        return inbox(OneShotInbox(agent), args)


def inbox(box: OneShotInbox, args: argparse.Namespace) -> int:
    """``list`` (newest first; ``--json``: a bare JSON array, as scirocco lists), ``push``,
    ``pull`` or ``ack`` on ``box``, printed. A listing the agent cut to its byte budget says
    on stderr how many it left out (stdout stays the array or table a program reads)."""
    match args.action:
        case "list" | None:
            messages, left_out = box.listing(status=args.status)
            if left_out:
                print(left_out_notice(left_out), file=sys.stderr)
            if args.json:
                print(json.dumps([m.to_wire() for m in messages], indent=2, default=str))
            elif not messages:
                # On stderr: a pipeline reading stdout sees no rows, a person sees why.
                print("no messages", file=sys.stderr)
            else:
                # Many agents sharing one inbox (Redis): a column for the agent that took each.
                fleet = any(m.accepted_by for m in messages)
                print(message_header(accepted_by=fleet))
                for m in messages:
                    print(message_line(m, accepted_by=fleet))
        case "push":
            message = box.push(args.destination, push_content(args), topic=args.topic)
            print(json.dumps(message.to_wire()) if args.json else f"pushed {message.id}")
        case "pull":
            pulled = box.pull()
            if pulled is None:
                print("null" if args.json else "no pending message")
                return 0 if args.json else 1
            print(
                json.dumps(pulled.to_wire())
                if args.json
                else f"{pulled.id} from {pulled.node_source}: {payload_text(pulled.content)}"
            )
        case "ack":
            message = box.ack(args.id)
            print(json.dumps(message.to_wire()) if args.json else f"acked {message.id}")
    return 0


def push_content(args: argparse.Namespace) -> Any:
    """What ``inbox push`` sends: ``--file``'s bytes, the payload as JSON (``--json-payload``),
    or as text. Raises ConfigError for a file that cannot be read or JSON that is not."""
    if args.file is not None:
        try:
            return Path(args.file).read_bytes()
        except OSError as exc:
            raise ConfigError(f"--file {args.file}: {exc.strerror or exc}") from None
    if args.json_payload:
        try:
            return json.loads(args.payload)
        except ValueError as exc:
            raise ConfigError(f"the payload is not JSON: {exc}") from None
    return args.payload
