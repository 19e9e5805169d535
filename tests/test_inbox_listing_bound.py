"""A listing reads from its store only what can fit its answer's byte budget.

``GET /messages`` answers at most ``[agent.output] answer_bytes``; the store gives it the
newest messages whose payloads fit that bound (and a count of the rest), never the whole
``limit`` of them, so an inbox of large messages cannot grow the agent by its own size.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from console.agent.inbox_backend import InboxStore, open_store
from console.models import BINARY_TYPE, LEFT_OUT_HEADER, DeliveryPolicy, MessageStatus
from tests.conftest import AgentProcess, write_inbox_table
from tests.processes_helpers import BOUND

KiB, MiB = 1 << 10, 1 << 20
AgentFactory = Callable[..., AgentProcess]


@pytest.fixture
async def store(inbox_store: str, tmp_path: Path) -> AsyncIterator[InboxStore]:
    table: dict[str, Any] = {"store": inbox_store}
    if inbox_store != "sqlite":
        table["namespace"] = f"bound-{tmp_path.name}"
        table["redis"] = {"socket_connect_timeout": BOUND}
    opened = open_store(table, tmp_path, DeliveryPolicy(), "the-host")
    yield opened
    await opened.delete_all()
    await opened.close()


async def push_big(store: InboxStore, destination: str, count: int, size: int) -> list[str]:
    return [
        (await store.push("src", destination, bytes([i]) * size, BINARY_TYPE)).id
        for i in range(count)
    ]


async def test_a_store_reads_only_the_payloads_that_fit(store: InboxStore) -> None:
    big = await push_big(store, "big", 12, 300 * KiB)  # 3.5 MiB in all
    small = [(await store.push("src", "small", b"x", BINARY_TYPE)).id for _ in range(5)]

    read, unread = await store.list_within(limit=10_000, max_bytes=1 * MiB)
    # Five bytes, then three of 300 KiB fit 1 MiB; a fourth would not: it and the rest stay unread.
    assert [m.id for m in read] == small[::-1] + big[:-4:-1]
    assert sum(len(m.payload) for m in read) <= 1 * MiB
    assert unread == 9
    assert [m.payload for m in read[5:]] == [bytes([i]) * 300 * KiB for i in (11, 10, 9)]

    # Narrowed listings count what matched of their own, within the limit asked.
    read, unread = await store.list_within(destination="big", limit=5, max_bytes=1 * MiB)
    assert ([m.id for m in read], unread) == (big[:-4:-1], 2)
    read, unread = await store.list_within(destination="small", limit=10, max_bytes=1 * MiB)
    assert ([m.id for m in read], unread) == (small[::-1], 0)
    [pulled] = await store.pull("big")
    read, unread = await store.list_within(status=MessageStatus.PROCESSING, max_bytes=1)
    assert ([m.id for m in read], unread) == ([pulled.id], 0)

    # The newest is read whatever it weighs; no bound reads all (as ``list``).
    read, unread = await store.list_within(destination="big", max_bytes=1)
    assert ([m.id for m in read], unread) == ([big[-1]], 11)
    read, unread = await store.list_within(limit=10_000)
    assert (len(read), unread) == (17, 0)
    assert [m.id for m in read] == [m.id for m in await store.list(limit=10_000)]
    assert await store.list_within(destination="nobody", max_bytes=1) == ([], 0)


def peak_rss(pid: int) -> int:
    """The process's peak resident set (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * KiB
    raise AssertionError("no VmHWM")


def test_listing_a_large_inbox_keeps_the_agent_near_its_answer_budget(
    agent_factory: AgentFactory, inbox_store: str, tmp_path: Path
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f"[agent.output]\nanswer_bytes = {1 * MiB}\n")
    agent = agent_factory("--config", str(write_inbox_table(config, inbox_store)))
    headers = {
        **agent.headers,
        "Scirocco-Node-Source": "op",
        "Scirocco-Node-Destination": "big",
        "Content-Type": BINARY_TYPE,
    }
    count, size = 48, 1000 * KiB  # 47 MiB of payloads, the largest a binary one may be
    with httpx.Client(base_url=agent.url, headers=headers, timeout=BOUND) as client:
        for i in range(count):
            pushed = client.post(
                "/messageQueue",
                content=bytes([i]) * size,
                headers={"Scirocco-Node-Destination": "big"},
            )
            assert pushed.status_code == 201, pushed.text
        before = peak_rss(agent.process.pid)
        for _ in range(3):
            listing = client.get("/messages", params={"limit": 10_000, "order": "newest"})
            assert listing.status_code == 200, listing.text
            assert len(listing.content) <= 1 * MiB or len(listing.json()) == 1
            given = len(listing.json())
            assert int(listing.headers[LEFT_OUT_HEADER]) == count - given
        grown = peak_rss(agent.process.pid) - before
    print(f"\n{inbox_store}: peak grew {grown / MiB:.1f} MiB listing {count} messages of 1000 KiB")
    # Reading every payload would hold their 47 MiB (and more, as Python objects).
    assert grown < 16 * MiB, f"the agent's peak grew {grown / MiB:.1f} MiB listing 47 MiB"
