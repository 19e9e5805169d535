"""shmooze 1.2.4 (Python 2.7, from the registry) beside the agent: same commands, same answers.

The real Queue and Pool run with module types whose program is written with shmooze's
own module helper; the agent runs the same program for the same types, and serves its
queue and pool on raw TCP ports too (``[queue] tcp_port``). Every step of
``shmooze_steps.STEPS`` goes to both, over shmooze's own newline-JSON protocol; the
answers must be equal once uids are renamed (A, B...), key order is ignored, and lists
upstream builds from a dict or a set (so in no order) are sorted. Then shmooze's own
HTTP client, ``shmooze.lib.bot.request``, runs against the agent's ``/queue``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.conftest import CLIENTS, WITHOUT_CREDENTIALS, run_client
from tests.conformance.shmooze_steps import STEPS, Until
from tests.conformance.upstream_servers import accepts, free_port, running
from tests.conftest import AgentProcess
from tests.modules import write_config
from tests.test_agent_lifecycle import pids_with_argument

UPSTREAM_TIMEOUTS = {"connect": 2.0, "reply": 1.0, "rm_grace": 3.0, "term_grace": 5.0}
UNORDERED = ("modules_available", "backgrounds_available", "pool")
"""Commands whose upstream result comes from a dict or a set: compared sorted."""
UNTIL_BOUND = 15.0


class Line:
    """One TCP connection speaking shmooze's protocol: a JSON line out, a JSON line back."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.file = self.sock.makefile("rwb")

    def ask(self, packet: Any) -> Any:
        self.file.write(json.dumps(packet).encode() + b"\n")
        self.file.flush()
        return json.loads(self.file.readline())

    def close(self) -> None:
        self.file.close()
        self.sock.close()


class Side:
    """One server (upstream or ours) with its uid names: A is what it called A."""

    def __init__(self, ports: dict[str, int]) -> None:
        self.lines = {service: Line(port) for service, port in ports.items()}
        self.uids: dict[str, str] = {}

    def substitute(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("$"):
            return self.uids.get(value[1:], value)
        if isinstance(value, dict):
            return {k: self.substitute(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.substitute(v) for v in value]
        return value

    def rename(self, value: Any) -> Any:
        names = {uid: f"${name}" for name, uid in self.uids.items()}
        if isinstance(value, str):
            return names.get(value, value)
        if isinstance(value, dict):
            return {k: self.rename(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.rename(v) for v in value]
        return value

    def step(self, service: str, packet: Any, name: str | None) -> Any:
        until = packet if isinstance(packet, Until) else None
        packet = until.packet if until else packet
        answer = self.rename(self.lines[service].ask(self.substitute(packet)))
        deadline = time.monotonic() + UNTIL_BOUND
        while until and not until.holds(answer) and time.monotonic() < deadline:
            time.sleep(0.05)
            answer = self.rename(self.lines[service].ask(self.substitute(packet)))
        if name and isinstance(answer, dict) and isinstance(answer.get("result"), dict):
            uid = answer["result"].get("uid")
            self.uids[name] = uid
            answer = {**answer, "result": {"uid": f"${name}"}}
        return normalized(packet, answer)

    def close(self) -> None:
        for line in self.lines.values():
            line.close()


def normalized(packet: Any, answer: Any) -> Any:
    """Results upstream builds in no order, sorted; the rest as they came."""
    if isinstance(packet, list) and isinstance(answer, list):
        return [normalized(p, a) for p, a in zip(packet, answer, strict=False)]
    if not (isinstance(packet, dict) and isinstance(answer, dict)):
        return answer
    result = answer.get("result")
    if packet.get("cmd") in UNORDERED and isinstance(result, list):
        return {**answer, "result": sorted(result, key=lambda r: json.dumps(r, sort_keys=True))}
    return answer


@pytest.fixture
def module_program(shmooze_env: Path, tmp_path: Path) -> Iterator[list[str]]:
    """The module's argv; a word unique to the test on it, so that no module outlives it."""
    marker = f"conformance-{uuid.uuid4()}"
    yield [str(shmooze_env / "bin" / "python"), str(CLIENTS / "shmooze_echo_module.py"), marker]
    deadline = time.monotonic() + UNTIL_BOUND
    while (left := pids_with_argument(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in left:  # ours by the unique word: a failure must not leak processes
        os.kill(pid, signal.SIGKILL)
    assert not left, f"module processes left running: {left}"


@pytest.fixture
def upstream(shmooze_env: Path, module_program: list[str], tmp_path: Path) -> Iterator[Side]:
    ports = {"queue": free_port(), "pool": free_port()}
    settings = tmp_path / "shmooze-settings.json"
    settings.write_text(json.dumps({"ports": ports}))
    argv = [
        str(shmooze_env / "bin" / "python"),
        str(CLIENTS / "shmooze_servers.py"),
        str(settings),
        *module_program[1:],
    ]
    with running(argv, tmp_path / "shmooze.log", lambda: all(map(accepts, ports.values()))):
        side = Side(ports)
        yield side
        side.close()


@pytest.fixture
def ours(
    conformance_agent: Callable[..., AgentProcess], module_program: list[str], tmp_path: Path
) -> Iterator[tuple[Side, AgentProcess]]:
    ports = {"queue": free_port(), "pool": free_port()}
    config = write_config(
        tmp_path / "agent.toml",
        queue={"echo": module_program},
        backgrounds={"echo_bg": module_program},
        pool={"echo": module_program},
        timeouts=UPSTREAM_TIMEOUTS,
        uids="uuid4",
        tcp_ports=ports,
    )
    agent = conformance_agent("--config", str(config), *WITHOUT_CREDENTIALS)
    side = Side(ports)
    yield side, agent
    side.close()


def test_the_same_commands_get_the_same_answers(
    upstream: Side, ours: tuple[Side, AgentProcess]
) -> None:
    mine = ours[0]
    assert len(STEPS) >= 80
    differences = []
    for index, (service, packet, name) in enumerate(STEPS):
        theirs, answer = upstream.step(service, packet, name), mine.step(service, packet, name)
        if theirs != answer:
            shown = packet.packet if isinstance(packet, Until) else packet
            differences.append(
                f"#{index} {service} {shown}:\n  shmooze {theirs}\n  ours    {answer}"
            )
    assert all(len(uid) == 36 for uid in mine.uids.values() if uid), mine.uids  # uuid4 strings
    assert not differences, f"{len(differences)} of {len(STEPS)} differ:\n" + "\n".join(differences)


def test_shmoozes_own_http_client_against_the_agent(
    shmooze_env: Path, ours: tuple[Side, AgentProcess]
) -> None:
    agent = ours[1]
    seen = run_client(shmooze_env, "shmooze_request.py", agent.url + "/queue")
    assert seen["modules_available"] == ["echo"]
    assert seen["add"]["uid"] and seen["queue"] == [{"uid": seen["add"]["uid"], "type": "echo"}]
    assert seen["nosuch"] == "Bad command."
    assert seen["rm"] == "KeyError: 'result'"  # bot.request reads 'result', rm has none
    # 101 adds in one body: refused whole, a 4xx its urllib2 raises, nothing added.
    assert seen["too_many"].startswith("HTTP Error 413"), seen["too_many"]
    assert seen["queue_after"] == []
