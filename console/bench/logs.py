"""The log pipeline, end to end: child → agent → WebSocket → adapter, beside a plain pipe.

Three figures, each beside its baseline measured in the same run (the same
child, read straight from a pipe by Python):

- throughput: a child writes N lines as fast as it can; lines a second received;
- compat throughput: the same through the smartmob-compatible attach, one
  WebSocket text frame per line (what older clients read);
- latency: a child writes 1,000 lines a second; p50/p99 from write to receipt.

Every line is checked: none lost, none repeated, none out of order.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

from console.adapters.agent import AgentClient
from console.adapters.connect import SpawnedAgent
from console.agent.children import read_line_batches
from console.models import LogBatch, LogGap

WRITER = [sys.executable, "-m", "console.bench.log_writer"]
READER_BUDGET = 256 << 20
"""Bytes a log reader may fall behind by in the bench (the default is 4 MiB)."""


@dataclass
class Tally:
    """What a reader saw: lines in order, gaps, and latencies of sampled lines."""

    lines: int = 0
    lost: int = 0
    disorder: int = 0
    first: float = 0.0
    last: float = 0.0
    latencies: list[float] = field(default_factory=list)
    next_number: int = 0

    def take(self, lines: list[str], measure_latency: bool) -> None:
        now = time.perf_counter()
        if not self.lines:
            self.first = now
        self.last = now
        # Checking the first and last of each batch is enough to catch loss or disorder
        # cheaply; the sequence numbers (agent path) are checked for every line.
        head, tail = int(lines[0].split(" ", 1)[0]), int(lines[-1].split(" ", 1)[0])
        if head != self.next_number or tail != head + len(lines) - 1:
            self.disorder += 1
        self.next_number = tail + 1
        self.lines += len(lines)
        if measure_latency:
            wall = time.time_ns()
            self.latencies += [(wall - int(line.split(" ", 2)[1])) / 1e6 for line in lines]

    @property
    def rate(self) -> float:
        return self.lines / (self.last - self.first) if self.last > self.first else 0.0


async def read_pipe(argv: list[str], total: int, latency: bool) -> Tally:
    """The baseline: the child's stdout read by Python from a pipe, in chunks."""
    tally = Tally()
    child = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    assert child.stdout is not None
    async for lines in read_line_batches(child.stdout):
        tally.take(lines, latency)
        if tally.lines >= total:
            break
    child.kill()
    await child.wait()
    return tally


async def read_agent(
    client: AgentClient, app_dir: Path, kind: str, total: int, latency: bool
) -> Tally:
    """The same child run by the agent, its log followed through the adapter."""
    status = await client.processes.create("bench", kind, kind, str(app_dir))
    tally = Tally()
    expected_seq = 0
    tail = client.processes.tail(status.slug, since=0)
    # The child waits for this file, so that the tail is attached before line 0.
    first = asyncio.ensure_future(anext(tail))
    await asyncio.sleep(0.3)
    (app_dir / f"go-{kind}").touch()
    event = await first
    while True:
        if isinstance(event, LogGap):
            tally.lost += event.count
        elif isinstance(event, LogBatch):
            if event.seq != expected_seq:
                tally.disorder += 1
            expected_seq = event.end
            tally.take(event.lines, latency)
        if tally.lines + tally.lost >= total:
            break
        event = await anext(tail)
    await tail.aclose()
    await client.processes.delete(status.slug)
    return tally


async def read_compat(client: AgentClient, app_dir: Path, total: int) -> Tally:
    """The flood through the compatible attach: one text frame per line, counted and checked.

    The handshake is the ``websockets`` library's (sans-I/O); frames are then
    walked by ``_text_frames``, a bare header reader, so that the figure is the
    agent's and not a Python client's per-frame cost (about 5 µs, 200,000 a second).
    """
    status = await client.processes.create("bench", "compat", "compat", str(app_dir))
    url = client.endpoint.ws_url(f"/attach-console/{status.slug}?since=0")
    protocol = ClientProtocol(parse_uri(url))
    request = protocol.connect()
    request.headers.update(client.endpoint.ws_headers())
    protocol.send_request(request)
    parsed = urlparse(url)
    reader, writer = await asyncio.open_connection(
        parsed.hostname, parsed.port, ssl=client.endpoint.ws_ssl()
    )
    writer.write(b"".join(protocol.data_to_send()))
    head = await reader.readuntil(b"\r\n\r\n")
    protocol.receive_data(head)
    assert protocol.handshake_exc is None, protocol.handshake_exc
    (app_dir / "go-compat").touch()  # attached: the child may begin
    tally = Tally()
    buffer = b""
    while tally.lines + tally.lost < total:
        data = await reader.read(1 << 18)
        if not data:
            break
        lines, buffer, pings = _text_frames(buffer + data)
        for ping in pings:  # the server's keepalive wants its pong
            writer.write(Frame(Opcode.PONG, ping).serialize(mask=True, extensions=[]))
        for gap in [line for line in lines if line.startswith("[opsconsole: ")]:
            tally.lost += int(gap.split()[1])  # "[opsconsole: N lines dropped]"
            tally.next_number += int(gap.split()[1])
        if lines := [line for line in lines if not line.startswith("[")]:
            tally.take(lines, False)
    writer.close()
    await client.processes.delete(status.slug)
    return tally


def _text_frames(data: bytes) -> tuple[list[str], bytes, list[bytes]]:
    """Complete unmasked frames of ``data``: the texts, the rest, the pings' payloads."""
    texts: list[str] = []
    pings: list[bytes] = []
    at, end = 0, len(data)
    while end - at >= 2:
        opcode, size, header = data[at] & 0x0F, data[at + 1] & 0x7F, 2
        if size >= 126:
            header = 4 if size == 126 else 10
            if end - at < header:
                break
            size = int.from_bytes(data[at + 2 : at + header], "big")
        if end - at < header + size:
            break
        payload = data[at + header : at + header + size]
        if opcode == Opcode.TEXT:
            texts.append(payload.decode())
        elif opcode == Opcode.PING:
            pings.append(payload)
        at += header + size
    return texts, data[at:], pings


def write_app(app_dir: Path, lines: int, steady_lines: int) -> None:
    writer = " ".join(WRITER)
    wait = 'while [ ! -e "go-$KIND" ]; do sleep 0.01; done'
    app_dir.mkdir()
    (app_dir / "Procfile").write_text(
        f"flood: KIND=flood; {wait}; exec {writer} --lines {lines} --linger 600\n"
        f"compat: KIND=compat; {wait}; exec {writer} --lines {lines} --linger 600\n"
        f"steady: KIND=steady; {wait}; exec {writer} --lines {steady_lines} --rate 1000"
        " --linger 600\n"
    )


def report(title: str, baseline: Tally, agent: Tally, total: int) -> None:
    print(title)
    for name, tally in (("pipe to Python (baseline)", baseline), ("agent + adapter", agent)):
        ok = "ok" if tally.lost == 0 and tally.disorder == 0 and tally.lines == total else "FAULTY"
        figures = f"{tally.rate:12,.0f} lines/s"
        if tally.latencies:
            cuts = statistics.quantiles(tally.latencies, n=100)
            figures = f"p50 {cuts[49]:7.2f} ms   p99 {cuts[98]:7.2f} ms"
        print(
            f"  {name:<26} {figures}   received {tally.lines:,}  lost {tally.lost:,}"
            f"  out of order {tally.disorder}  [{ok}]"
        )


async def run(lines: int, steady_lines: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        app_dir = Path(tmp) / "app"
        write_app(app_dir, lines, steady_lines)
        # A flood can outrun one frame per line: the readers' budget is raised so that the
        # backlog is buffered, not dropped (and counted), since throughput is what is measured.
        config = Path(tmp) / "bench.toml"
        config.write_text(f"[agent.output]\nreader_bytes = {READER_BUDGET}\n")
        spawned = SpawnedAgent(["--data-dir", str(Path(tmp) / "data"), "--config", str(config)])
        try:
            client = await spawned.connect()
            await client.info()
            flood_pipe = await read_pipe([*WRITER, "--lines", str(lines)], lines, False)
            flood_agent = await read_agent(client, app_dir, "flood", lines, False)
            compat_agent = await read_compat(client, app_dir, lines)
            steady_argv = [*WRITER, "--lines", str(steady_lines), "--rate", "1000"]
            steady_pipe = await read_pipe(steady_argv, steady_lines, True)
            steady_agent = await read_agent(client, app_dir, "steady", steady_lines, True)
        finally:
            await spawned.close()
    report(
        f"throughput: {lines:,} lines written as fast as possible", flood_pipe, flood_agent, lines
    )
    ratio = flood_agent.rate / flood_pipe.rate if flood_pipe.rate else 0.0
    print(f"  ratio (agent / pipe)       {ratio:.2f}   (aim: at least 250,000 lines/s end to end)")
    report(
        f"compat attach: {lines:,} lines, one WebSocket frame each",
        flood_pipe,
        compat_agent,
        lines,
    )
    compat_ratio = compat_agent.rate / flood_pipe.rate if flood_pipe.rate else 0.0
    print(f"  ratio (compat / pipe)      {compat_ratio:.2f}   (aim: at least 200,000 lines/s)")
    report(
        f"latency: {steady_lines:,} lines at 1,000 lines/s", steady_pipe, steady_agent, steady_lines
    )
    faulty = any(t.lost or t.disorder for t in (flood_agent, compat_agent, steady_agent))
    return 1 if faulty else 0


def main(lines: int = 1_000_000, steady_lines: int = 5_000) -> int:
    return asyncio.run(run(lines, steady_lines))
