"""Process logs: numbered lines, cursors, gaps, slow readers, rotation, and the attach socket."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK
from websockets.sync.client import connect as ws_connect

from console.agent.children import Children
from console.agent.process_logs import SEGMENT_COST, ProcessLog, RotatingFile, Segment
from console.models import LogBatch, LogEvent, LogGap, Stream
from console.output.budget import OutputBudget
from tests.conftest import AgentProcess, start_agent
from tests.processes_helpers import create_body, wait_status, write_app, write_config

OUT, ERR = Stream.STDOUT, Stream.STDERR


def drain(reader: object) -> list[LogEvent]:
    """What a reader has queued right now, without waiting."""
    events = []
    queue = reader._queue  # type: ignore[attr-defined]
    while queue:
        events.append(queue.popleft())
    return events


def assert_contiguous(events: list[LogEvent], start: int, end: int) -> None:
    position = start
    for event in events:
        assert event.seq == position, f"expected {position}, got {event}"
        position = event.end
    assert position == end


# The ring.


def block(*lines: str) -> bytes:
    """Lines as the output splitter hands them over: one block, each ending in a newline."""
    return "".join(f"{line}\n" for line in lines).encode()


def budget(**sizes: int) -> OutputBudget:
    return OutputBudget(**sizes)


def test_sequence_numbers_run_on_from_0_across_streams() -> None:
    log = ProcessLog()
    log.append(OUT, block("a", "b"))
    log.append(ERR, block("c"))
    log.append(OUT, block("d", "e", "f"))
    held = log.held()
    assert [(b.seq, b.end, b.stream) for b in held] == [(0, 2, OUT), (2, 3, ERR), (3, 6, OUT)]
    assert log.next_seq == 6
    # A cursor inside a batch gets the rest of that batch, then the others.
    [part, *rest] = log.held(4)
    assert (part.seq, part.stream, part.lines) == (4, OUT, ["e", "f"])
    assert rest == []
    assert [(e.seq, e.lines) for e in log.held(1)] == [(1, ["b"]), (2, ["c"]), (3, ["d", "e", "f"])]
    assert log.held(6) == []


def test_small_batches_of_one_stream_share_a_segment_and_decode_on_the_way_out() -> None:
    log = ProcessLog()
    for n in range(100):
        log.append(OUT, block(f"line {n}"))
    log.append(OUT, b"caf\xc3\xa9 \xff\xfe end\n")
    [merged] = log.held()
    assert merged.lines[:2] == ["line 0", "line 1"]
    assert merged.lines[-1] == "café \ufffd\ufffd end", "invalid UTF-8 is replaced, never fatal"
    assert len(log._segments) == 1  # type: ignore[attr-defined]
    assert log.held_bytes == sum(len(f"line {n}\n") for n in range(100)) + 13 + SEGMENT_COST


async def test_follow_replays_from_the_cursor_then_follows_live() -> None:
    log = ProcessLog()
    log.append(OUT, block("0", "1", "2"))
    log.append(ERR, block("3", "4"))
    reader = log.follow(since=2)
    log.append(OUT, block("5"))
    log.close()
    events = [event async for event in reader]
    assert_contiguous(events, 2, 6)
    assert [line for e in events for line in e.lines] == ["2", "3", "4", "5"]
    assert [e.stream for e in events] == [OUT, ERR, OUT]


def test_a_cursor_older_than_the_ring_gets_a_gap_of_the_exact_count() -> None:
    log = ProcessLog(budget(ring_bytes=4096))
    line = "x" * 95
    for start in range(0, 400, 4):
        log.append(
            OUT if start % 8 else ERR, block(*(f"{n:04} {line}" for n in range(start, start + 4)))
        )
    assert 4096 - (400 + SEGMENT_COST) < log.held_bytes <= 4096, "full, within its budget"
    events = log.held(0)
    gap, *batches = events
    assert isinstance(gap, LogGap)
    assert gap.seq == 0
    assert gap.count == log.first_seq > 0
    assert all(isinstance(b, LogBatch) for b in batches)
    assert_contiguous(events, 0, 400)
    lines = [line for b in batches for line in b.lines]
    assert lines == [f"{n:04} {line}" for n in range(gap.count, 400)]
    # A cursor inside the lost part gets a gap from there.
    assert log.held(3)[0] == LogGap(3, gap.count - 3)
    assert not isinstance(log.held(gap.count)[0], LogGap)


def test_rings_share_the_budget_of_all_rings() -> None:
    logs: list[ProcessLog] = []
    rings = budget(ring_bytes=64 << 10, total_ring_bytes=128 << 10)
    for _ in range(8):
        logs.append(ProcessLog(rings, lambda: rings.total_ring_bytes // len(logs)))
    for n in range(2000):
        for log in logs:
            log.append(OUT if n % 2 else ERR, block(f"{n:06} " + "y" * 90))
    assert all(16 << 10 >= log.held_bytes > 12 << 10 for log in logs)
    logs[0].close()
    assert logs[0].held_bytes == 0 and logs[0].held() == []


def test_a_reader_past_its_byte_budget_gets_one_merged_gap() -> None:
    log = ProcessLog(budget(reader_bytes=2 * (SEGMENT_COST + 1000)))
    reader = log.follow()
    for n in range(0, 20, 2):
        log.append(OUT if n % 4 else ERR, block(f"{n:0499}", f"{n + 1:0499}"))
    events = drain(reader)
    assert_contiguous(events, 0, 20)
    assert [type(e) for e in events] == [Segment, Segment, LogGap]
    assert events[-1] == LogGap(4, 16)
    assert reader.queued_bytes == 2 * (SEGMENT_COST + 1000)


async def test_a_slow_reader_is_told_what_it_lost_while_a_fast_one_gets_everything() -> None:
    total = 200_000
    log = ProcessLog(budget(ring_bytes=8192, reader_bytes=256 << 10))
    slow = log.follow()
    fast = log.follow()
    received: list[LogEvent] = []

    async def read_fast() -> None:
        async for event in fast:
            received.append(event)

    reading = asyncio.create_task(read_fast())
    children = Children()
    await children.start()
    try:
        proc = await children.spawn(["seq", "0", str(total - 1)])
        # The child runs to its end while the slow reader has read nothing at all.
        assert await asyncio.wait_for(children.watch(proc, log.append), 60) == 0
    finally:
        await children.close()
    assert slow.queued_bytes <= 256 << 10
    log.close()
    await asyncio.wait_for(reading, 30)
    slow_events = [event async for event in slow]

    assert all(isinstance(e, LogBatch) for e in received), "the fast reader lost nothing"
    assert [line for e in received for line in e.lines] == [str(n) for n in range(total)]
    assert_contiguous(received, 0, total)

    assert_contiguous(slow_events, 0, total)
    gaps = [e for e in slow_events if isinstance(e, LogGap)]
    batches = [e for e in slow_events if isinstance(e, LogBatch)]
    got = sum(len(b.lines) for b in batches)
    assert gaps, "the slow reader was told it lost lines"
    assert sum(g.count for g in gaps) + got == total
    assert sum(len(line) + 1 for b in batches for line in b.lines) <= 256 << 10
    for batch in batches:
        assert batch.lines == [str(n) for n in range(batch.seq, batch.end)]


# The log file.


def test_rotating_file_keeps_keep_files_and_the_newest_lines(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "app.web.0.log"
    log_file = RotatingFile(path, max_bytes=2000, keep=3)
    for n in range(0, 1000, 5):
        stream = OUT if n % 10 == 0 else ERR
        lines = block(*(f"line {n + i}" for i in range(5)))
        log_file.write(Segment(n, time.time(), stream, lines, 5))
        # Written through at once: `tail -f` follows it.
        assert path.read_text().endswith(f" line {n + 4}\n") or path.stat().st_size == 0
    log_file.close()

    names = sorted(p.name for p in path.parent.iterdir())
    assert names == [path.name, f"{path.name}.1", f"{path.name}.2", f"{path.name}.3"]
    text = (
        "".join(
            path.with_name(name).read_text() for name in (f"{path.name}.{i}" for i in (3, 2, 1))
        )
        + path.read_text()
    )
    lines = text.splitlines()
    numbers = []
    for line in lines:
        match = re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d (out|err) line (\d+)", line)
        assert match, line
        number = int(match[2])
        assert match[1] == ("out" if number // 5 % 2 == 0 else "err")
        numbers.append(number)
    assert numbers == list(range(numbers[0], 1000)), "the newest lines, in order, none missing"
    assert numbers[0] > 0, "the oldest went"
    for name in names:
        assert path.with_name(name).stat().st_size < 2000 + 200

    # Reopened, it appends and counts what is there already.
    again = RotatingFile(path, max_bytes=2000, keep=3)
    again.write(Segment(1000, time.time(), OUT, b"line 1000\n", 1))
    again.close()
    assert path.read_text().endswith(" out line 1000\n")


# The attach socket of a real agent.


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    home = tmp_path_factory.mktemp("agent")
    agent = start_agent(
        "--config",
        str(write_config(home / "config.toml")),
        "--data-dir",
        str(home / "data"),
        log=home / "agent.log",
    )
    yield agent
    assert agent.stop() == 0
    assert agent.process.stdout is not None
    agent.process.stdout.close()


def start_process(agent: AgentProcess, folder: Path, node: str, command: str, lines: int) -> str:
    """Run ``command`` and wait until it has printed ``lines`` lines; its slug."""
    write_app(folder, {"web": command})
    body = create_body("logs", node, str(folder))
    assert (
        httpx.post(
            f"{agent.url}/create-process", json=body, headers=agent.headers, timeout=10
        ).status_code
        == 201
    )
    slug = f"logs.{node}"
    wait_status(agent, slug, lambda s: s["state"] == "running" and s["next_seq"] >= lines)
    return slug


def attach(agent: AgentProcess, slug: str, query: str = "") -> str:
    return agent.url.replace("http", "ws", 1) + f"/attach-console/{slug}{query}"


def plain_frames(agent: AgentProcess, slug: str, query: str, count: int) -> list[str]:
    with ws_connect(
        attach(agent, slug, query), additional_headers=agent.headers, open_timeout=10
    ) as ws:
        return [ws.recv(timeout=10) for _ in range(count)]


def json_batches(agent: AgentProcess, slug: str, query: str, end: int) -> list[LogBatch]:
    """JSON frames of an attach until sequence number ``end``; each must be a whole batch."""
    batches: list[LogBatch] = []
    with ws_connect(
        attach(agent, slug, "?format=json" + query),
        additional_headers=agent.headers,
        open_timeout=10,
    ) as ws:
        while not batches or batches[-1].end < end:
            wire = json.loads(ws.recv(timeout=10))
            assert set(wire) == {"seq", "ts", "stream", "lines"}
            assert wire["stream"] in ("stdout", "stderr")
            assert isinstance(wire["ts"], float)
            batches.append(LogBatch.from_wire(wire))
    return batches


def test_json_frames_are_numbered_batches_of_both_streams(
    agent: AgentProcess, tmp_path: Path
) -> None:
    command = 'for i in $(seq 0 99); do echo "out $i"; echo "err $i" >&2; done; exec sleep 60'
    slug = start_process(agent, tmp_path / "app", "json", command, 200)

    events = json_batches(agent, slug, "", 200)
    assert_contiguous(events, 0, 200)
    by_stream: dict[Stream, list[str]] = {OUT: [], ERR: []}
    by_seq = {}
    for event in events:
        by_stream[event.stream] += event.lines
        by_seq |= {event.seq + i: line for i, line in enumerate(event.lines)}
    assert by_stream[OUT] == [f"out {i}" for i in range(100)]
    assert by_stream[ERR] == [f"err {i}" for i in range(100)]

    # A cursor replays from exactly there: plain frames, then JSON from inside a batch.
    assert plain_frames(agent, slug, "?since=50", 150) == [by_seq[n] for n in range(50, 200)]
    replay = json_batches(agent, slug, "&since=123", 200)
    assert_contiguous(replay, 123, 200)
    assert [line for e in replay for line in e.lines] == [by_seq[n] for n in range(123, 200)]

    # A cursor at the end gets nothing; deleting the process ends the socket cleanly.
    with ws_connect(
        attach(agent, slug, "?since=200"), additional_headers=agent.headers, open_timeout=10
    ) as ws:
        assert (
            httpx.post(
                f"{agent.url}/delete-process/{slug}", headers=agent.headers, timeout=30
            ).status_code
            == 200
        )
        with pytest.raises(ConnectionClosedOK):
            raise AssertionError(f"a frame too many: {ws.recv(timeout=10)}")


def test_an_old_cursor_gets_a_gap_frame_of_the_exact_count(
    agent: AgentProcess, tmp_path: Path
) -> None:
    total = 300_000  # 2 MB: past the agent's ring of 1 MiB
    slug = start_process(agent, tmp_path / "app", "gap", f"seq 0 {total - 1}; exec sleep 60", total)
    with ws_connect(
        attach(agent, slug, "?format=json&since=0"),
        additional_headers=agent.headers,
        open_timeout=10,
    ) as ws:
        gap = json.loads(ws.recv(timeout=10))
        assert set(gap) == {"gap"}
        assert gap["gap"]["seq"] == 0
        lost = gap["gap"]["count"]
        assert 0 < lost <= total - 100_000
        lines = []
        while lost + len(lines) < total:
            batch = json.loads(ws.recv(timeout=10))
            assert batch["seq"] == lost + len(lines)
            lines += batch["lines"]
    assert lines == [str(n) for n in range(lost, total)]
    # Plain frames say it in words. (Unbounded queue: closing mid-backlog needs no wait.)
    with ws_connect(
        attach(agent, slug, "?since=0"),
        additional_headers=agent.headers,
        open_timeout=10,
        max_queue=None,
    ) as ws:
        assert ws.recv(timeout=10) == f"[opsconsole: {lost} lines dropped]"
        assert ws.recv(timeout=10) == str(lost)
    assert (
        httpx.post(
            f"{agent.url}/delete-process/{slug}", headers=agent.headers, timeout=30
        ).status_code
        == 200
    )


def test_a_bad_cursor_is_refused(agent: AgentProcess, tmp_path: Path) -> None:
    slug = start_process(agent, tmp_path / "app", "bad", "echo x; exec sleep 60", 1)
    with ws_connect(
        attach(agent, slug, "?since=-1"), additional_headers=agent.headers, open_timeout=10
    ) as ws:
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 4400
    assert (
        httpx.post(
            f"{agent.url}/delete-process/{slug}", headers=agent.headers, timeout=30
        ).status_code
        == 200
    )
