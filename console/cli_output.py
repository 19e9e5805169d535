"""How the scriptable subcommands print: plain text for people, ``--json`` for programs."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator

from console.models import (
    ProcessStatus,
    RunEvent,
    RunFinished,
    RunOutput,
    RunRecord,
    RunStarted,
    RunWaiting,
    Script,
    Stream,
    run_event_to_wire,
)

PS_HEADER = f"{'SLUG':<24} {'STATE':<20} {'PID':>7} {'UPTIME':>8} {'RESTARTS':>8}  LAST EXIT"


def ps_line(p: ProcessStatus, now: float) -> str:
    """One process as a line under PS_HEADER; ``now`` in epoch seconds, for its uptime."""
    running = p.state == "running" and p.started_at
    uptime = f"{now - p.started_at:.0f}s" if running and p.started_at else "-"
    return (
        f"{p.slug:<24} {p.state.value:<20} {p.pid or '-':>7} {uptime:>8} "
        f"{p.restarts:>8}  {p.last_exit_text}"
    )


def print_processes(processes: list[ProcessStatus], as_json: bool) -> None:
    """``opsconsole ps``: a table under PS_HEADER, or ``{"processes": [STATUS...]}``."""
    if as_json:
        print(json.dumps({"processes": [p.to_wire() for p in processes]}, indent=2, default=str))
        return
    now = time.time()
    print(PS_HEADER)
    for p in processes:
        print(ps_line(p, now))


def print_scripts(scripts: list[Script], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"scripts": {s.name: s.to_wire() for s in scripts}}, indent=2))
        return
    width = max((len(s.name) for s in scripts), default=4)
    for script in scripts:
        flags = " [lock]" if script.lock else ""
        tags = f"  ({', '.join(script.tags)})" if script.tags else ""
        print(f"{script.name:<{width}}  {script.description or ''}{tags}{flags}")


def print_script(script: Script, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"script": script.to_wire()}, indent=2))
        return
    print(f"{script.name}  ({script.filename})")
    if script.description:
        print(f"  {script.description}")
    print(f"  method {script.http_method.upper()}, output {script.output}, lock {script.lock}")
    for param in script.params:
        secret = " (filtered)" if script.is_filtered(param.name) else ""
        print(f"  param {param.name}{secret}: {param.description or ''}")


async def print_run(
    events: AsyncIterator[RunEvent], as_json: bool, context: str | None = None
) -> int:
    """Print the run as it happens; the exit status is the script's retcode.

    With ``context`` (a fleet's), each text line starts with ``CONTEXT | `` and each JSON
    line has a ``context`` key.
    """
    retcode = 1
    prefix = f"{context} | " if context is not None else ""
    tagged = {"context": context} if context is not None else {}
    async for event in events:
        if as_json:
            print(json.dumps({**tagged, **run_event_to_wire(event)}), flush=True)
        match event:
            case RunWaiting(script) if not as_json:
                print(f"{prefix}waiting: another run of {script} holds its lock", file=sys.stderr)
            case RunOutput(stream, text) if not as_json:
                out = sys.stderr if stream is Stream.STDERR else sys.stdout
                print(f"{prefix}{text}", file=out, flush=True)
            case RunFinished(_, code, duration):
                retcode = code
                if not as_json:
                    print(f"{prefix}exit {code} after {duration:.2f}s", file=sys.stderr)
            case RunStarted():
                pass
    return retcode if 0 <= retcode < 256 else 1


def payload_text(content: object, width: int = 40) -> str:
    """A message's payload on one line: compact JSON, text's first line, or its size in bytes."""
    if isinstance(content, bytes | bytearray):
        return f"{len(content)} bytes"
    if isinstance(content, str):
        lines = content.strip().splitlines() or ["(empty)"]
        text = lines[0] + (" …" if len(lines) > 1 else "")
    else:
        text = json.dumps(content, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def print_history(records: list[RunRecord], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"runs": [r.to_wire(with_output=False) for r in records]}, indent=2))
        return
    for record in records:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.started_at))
        status = (
            "interrupted"
            if record.interrupted
            else ("running" if record.retcode is None else f"exit {record.retcode}")
        )
        params = " ".join(f"{k}={v}" for k, v in record.params.items())
        print(
            f"#{record.id:<5} {when}  {record.script:<20} {status:<12} "
            f"{record.duration:7.2f}s  {params}"
        )
