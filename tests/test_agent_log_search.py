"""Searching a process's whole log ring (``GET /search-log/SLUG``): what a view no longer holds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from console.agent.log_search import LogQuery, search_log
from console.agent.process_logs import ProcessLog
from console.models import LogSearchResult, Stream
from tests.conftest import AgentProcess
from tests.processes_helpers import create_body, in_state, wait_status, write_app, write_config

ANSWER_BYTES = 8192
PRINT = (
    "echo 'needle first'; seq -f 'line %g' 1 12000; echo 'Needle MIDDLE'; "
    "seq -f 'line %g' 12001 24000; printf '\\033[31mcolour\\033[0m-needle\\n'; echo done; "
    "exec sleep 1000"
)
FIRST, MIDDLE, COLOURED, NEXT = 0, 12001, 24002, 24004
"""The sequence numbers of the three needles, and the line after the last."""


@pytest.fixture
def printed(agent_factory: Callable[..., AgentProcess], tmp_path: Path) -> tuple[AgentProcess, str]:
    """An agent (answers cut at ANSWER_BYTES) whose one process printed 24,004 lines, three
    of them holding "needle" in some case."""
    config = write_config(tmp_path / "agent.toml")
    with config.open("a") as out:
        out.write(f"\n[agent.output]\nanswer_bytes = {ANSWER_BYTES}\n")
    agent = agent_factory("--config", str(config))
    app = write_app(tmp_path / "app", {"web": "sh ./print.sh"}, **{"print.sh": PRINT})
    created = httpx.post(
        f"{agent.url}/create-process",
        json=create_body("shop", "web.0", app.as_uri()),
        headers=agent.headers,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    wait_status(agent, slug, lambda s: in_state("running")(s) and s["next_seq"] == NEXT)
    return agent, slug


def search(agent: AgentProcess, slug: str, **params: Any) -> httpx.Response:
    return httpx.get(
        f"{agent.url}/search-log/{slug}", params=params, headers=agent.headers, timeout=10
    )


def found(agent: AgentProcess, slug: str, **params: Any) -> LogSearchResult:
    answer = search(agent, slug, **params)
    assert answer.status_code == 200, answer.text
    return LogSearchResult.from_wire(answer.json())


def numbered(result: LogSearchResult) -> dict[int, str]:
    return {b.seq + i: line for b in result.lines for i, line in enumerate(b.lines)}


def test_a_search_walks_the_whole_ring_both_ways_and_brings_the_hits_context(
    printed: tuple[AgentProcess, str],
) -> None:
    agent, slug = printed
    newest = found(agent, slug, text="NEEDLE")
    assert newest.seq == COLOURED, "any case, colour codes out"
    assert (newest.first_seq, newest.next_seq, newest.complete) == (0, NEXT, True)
    assert numbered(newest)[COLOURED] == "\x1b[31mcolour\x1b[0m-needle", "as printed"
    older = found(agent, slug, text="needle", before=COLOURED)
    assert older.seq == MIDDLE and older.searched == (MIDDLE, COLOURED)
    lines = numbered(older)
    assert sorted(lines) == list(range(MIDDLE - 100, MIDDLE + 101)), "100 lines each side"
    assert lines[MIDDLE] == "Needle MIDDLE" and lines[MIDDLE + 1] == "line 12001"
    assert lines[MIDDLE - 100] == "line 11901"
    oldest = found(agent, slug, text="needle", before=MIDDLE, context=5)
    assert oldest.seq == FIRST and sorted(numbered(oldest)) == list(range(0, 6))
    none = found(agent, slug, text="needle", before=FIRST)
    assert (none.seq, none.lines, none.complete) == (None, [], True)
    assert found(agent, slug, text="needle", after=FIRST).seq == MIDDLE
    assert found(agent, slug, text="needle", after=MIDDLE).seq == COLOURED
    assert found(agent, slug, text="needle", after=COLOURED).seq is None
    missing = found(agent, slug, text="not printed")
    assert (missing.seq, missing.searched, missing.complete) == (None, (0, NEXT), True)
    assert found(agent, slug, text="line 7", context=0).seq == 7999, "the newest: line 7999"


def test_the_context_is_cut_to_the_answer_budget_around_the_hit(
    printed: tuple[AgentProcess, str],
) -> None:
    agent, slug = printed
    answer = search(agent, slug, text="needle middle", context=1000)
    assert answer.status_code == 200
    assert len(answer.content) < 2 * ANSWER_BYTES, "the lines within the budget"
    lines = numbered(LogSearchResult.from_wire(answer.json()))
    assert MIDDLE in lines and 100 < len(lines) < 2001
    before, after = MIDDLE - min(lines), max(lines) - MIDDLE
    assert abs(before - after) <= 1, "as many lines on each side"
    assert sorted(lines) == list(range(min(lines), max(lines) + 1))


BAD_SEARCHES: list[tuple[dict[str, str], str]] = [
    ({}, "text must be"),
    ({"text": ""}, "text must be"),
    ({"text": "x" * 257}, "text must be"),
    ({"text": "a\nb"}, "text must be"),
    ({"text": "x", "before": "1", "after": "2"}, "not both"),
    ({"text": "x", "before": "-1"}, "before must be"),
    ({"text": "x", "after": "²"}, "after must be"),
    ({"text": "x", "before": "9" * 40}, "before must be"),
    ({"text": "x", "context": "1001"}, "context must be"),
    ({"text": "x", "limit": "5"}, "unknown parameter"),
]


def test_bad_searches_are_400_and_the_agent_keeps_serving(
    printed: tuple[AgentProcess, str],
) -> None:
    agent, slug = printed
    for params, words in BAD_SEARCHES:
        answer = search(agent, slug, **params)
        assert answer.status_code == 400, (params, answer.text)
        assert words in answer.json()["error"]["message"], params
    assert found(agent, slug, text="needle").seq == COLOURED


def test_an_unknown_process_is_404_and_a_stranger_is_401(
    printed: tuple[AgentProcess, str],
) -> None:
    agent, slug = printed
    assert search(agent, "shop.nosuch.0", text="x").status_code == 404
    stranger = httpx.get(f"{agent.url}/search-log/{slug}", params={"text": "x"}, timeout=10)
    assert stranger.status_code == 401
    index = httpx.get(f"{agent.url}/", headers=agent.headers, timeout=10).json()
    assert "processes.log-search" in index["opsconsole"]["features"]


def test_a_search_stopped_by_its_bound_says_where_it_got_and_goes_on_from_there() -> None:
    log = ProcessLog()
    log.append(Stream.STDERR, b"the needle\n")
    for block in range(50):
        # Streams taking turns: each block a segment of its own (the ring merges none).
        log.append(Stream.STDERR if block % 2 else Stream.STDOUT, b"hay\n" * 100)
    edge: int | None = None
    asked = 0
    while True:
        asked += 1
        result = search_log(log, LogQuery("NEEDLE", before=edge), 4096, scan_bytes=1)
        if result.seq is not None or result.complete:
            break
        assert result.searched[1] == (log.next_seq if edge is None else edge)
        assert result.searched[0] < result.searched[1], "each answer moves on"
        edge = result.searched[0]
    assert result.seq == 0 and asked == 51, "one segment a search"
    timed = search_log(log, LogQuery("needle"), 4096, scan_seconds=0)
    assert (timed.seq, timed.complete) == (None, False)
    assert timed.searched == (log.next_seq - 100, log.next_seq)
