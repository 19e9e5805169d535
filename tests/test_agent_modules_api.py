"""``POST /queue`` and ``POST /pool`` of a real agent, spoken to as curl would (PROTOCOLS.md §3).

Every answer is a text/json packet: ``{"success": true, "result": ...}``,
``{"success": true}`` when a command returns nothing, or
``{"success": false, "error": "..."}``, for one command or for each of a list.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import AgentProcess, start_agent
from tests.modules import command, received, unique, write_config
from tests.test_agent_lifecycle import pids_with_argument

BOUND = 10.0


def send(
    agent: AgentProcess,
    service: str,
    body: Any,
    content_type: str | None = "application/json",
    status: int = 200,
) -> Any:
    """POST ``body`` (bytes as they are, anything else as JSON); the answer's JSON, checked."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {**agent.headers, **({"Content-Type": content_type} if content_type else {})}
    response = httpx.post(f"{agent.url}/{service}", content=content, headers=headers, timeout=BOUND)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "text/json"
    return response.json()


def result(agent: AgentProcess, service: str, cmd: str, **args: Any) -> Any:
    """The result of one command that must succeed."""
    packet = send(agent, service, {"cmd": cmd, "args": args})
    assert packet["success"] is True, packet
    return packet.get("result")


def is_error(packet: Any, words: str) -> bool:
    return (
        isinstance(packet, dict)
        and set(packet) == {"success", "error"}
        and packet["success"] is False
        and words in packet["error"]
    )


def modules_config(path: Path, marker: str) -> Path:
    recorder = command("recorder", marker)
    return write_config(
        path,
        {"recorder": recorder, "stubborn": command("stubborn", marker)},
        {"recorder": recorder, "quiet": recorder},
        {"recorder": recorder},
    )


@pytest.fixture(scope="module")
def shared_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """One agent for the tests that only send it nonsense."""
    directory = tmp_path_factory.mktemp("modules-api")
    marker = unique("api")
    config = modules_config(directory / "config.toml", marker)
    agent = start_agent(
        "--data-dir", str(directory / "data"), "--config", str(config), log=directory / "agent.log"
    )
    yield agent
    assert agent.stop(signal.SIGTERM) == 0
    assert agent.process.stdout is not None
    agent.process.stdout.close()
    assert not pids_with_argument(marker)


@pytest.fixture
def marker() -> str:
    return unique("api")


@pytest.fixture
def agent(
    agent_factory: Callable[..., AgentProcess], tmp_path: Path, marker: str
) -> Iterator[AgentProcess]:
    """An agent of its own, with the recorder type in the queue, the pool and as background."""
    agent = agent_factory("--config", str(modules_config(tmp_path / "config.toml", marker)))
    yield agent
    assert agent.stop(signal.SIGTERM) == 0
    assert not pids_with_argument(marker), "every module ended with the agent"


# -- malformed bodies ------------------------------------------------------------------------

NEITHER = "Command must be either dict (single command) or list (multiple commands)"
COMMAND_ERRORS = [
    ("string", b'"queue"', NEITHER),
    ("number", b"42", NEITHER),
    ("null", b"null", NEITHER),
    ("missing-cmd", {"args": {}}, "No command given."),
    ("cmd-not-a-string", {"cmd": 5}, "Bad command."),
    ("args-a-list", {"cmd": "modules_available", "args": [1]}, "Argument list not a dict."),
    ("args-a-string", {"cmd": "modules_available", "args": "x"}, "Argument list not a dict."),
    ("args-null", {"cmd": "modules_available", "args": None}, "Argument list not a dict."),
    ("unknown-command", {"cmd": "dance"}, "Bad command."),
    ("no-such-method", {"cmd": "_start"}, "Bad command."),
    ("add-unknown-type", {"cmd": "add", "args": {"type": "nope"}}, "Unrecognized module name"),
    ("add-without-type", {"cmd": "add", "args": {}}, "add() takes at least 2 arguments (1 given)"),
    (
        "add-extra-argument",
        {"cmd": "add", "args": {"type": "recorder", "typo": 1}},
        "add() got an unexpected keyword argument 'typo'",
    ),
    (
        "add-args-a-list",
        {"cmd": "add", "args": {"type": "recorder", "args": [1]}},
        "init args must be an object",
    ),
    ("rm-without-uids", {"cmd": "rm"}, "rm() takes exactly 2 arguments (1 given)"),
    ("rm-uids-a-number", {"cmd": "rm", "args": {"uids": 3}}, "'uids' must be a list"),
    (
        "tell-unknown-uid",
        {"cmd": "tell_module", "args": {"uid": "999", "cmd": "echo"}},
        "Module identifier not in ",
    ),
    (
        "tell-without-cmd",
        {"cmd": "tell_module", "args": {"uid": "1"}},
        "tell_module() takes at least 3 arguments (2 given)",
    ),
    (
        "ask-unknown-uid",
        {"cmd": "ask_module", "args": {"uid": "999", "parameters": []}},
        "Module identifier not in queue",  # the pool's too: upstream's copy
    ),
    (
        "available-with-args",
        {"cmd": "modules_available", "args": {"x": 1}},
        "modules_available() got an unexpected keyword argument 'x'",
    ),
]
"""Each in shmooze's own words (its Python 2 TypeErrors included): clients match them."""


@pytest.mark.parametrize("service", ["queue", "pool"])
@pytest.mark.parametrize(
    ("body", "words"), [c[1:] for c in COMMAND_ERRORS], ids=[c[0] for c in COMMAND_ERRORS]
)
def test_a_bad_command_is_an_error_packet(
    shared_agent: AgentProcess, service: str, body: Any, words: str
) -> None:
    packet = send(shared_agent, service, body)
    assert is_error(packet, words), packet
    assert result(shared_agent, service, service) == [], "nothing was done, and it still serves"


HTTP_ERRORS = [
    ("not-json", b"{nope", "the body is not JSON"),
    ("empty", b"", "the body is not JSON"),
    ("not-utf8", b"\xff\xfe\xfd", "the body is not JSON"),
]


@pytest.mark.parametrize(
    ("body", "words"), [c[1:] for c in HTTP_ERRORS], ids=[c[0] for c in HTTP_ERRORS]
)
def test_a_body_that_cannot_be_read_is_a_400_error_packet(
    shared_agent: AgentProcess, body: bytes, words: str
) -> None:
    # shmooze.wsgi answered these with a 500 page (a bug we do not keep).
    packet = send(shared_agent, "queue", body, "application/json", status=400)
    assert is_error(packet, words), packet


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_not_sent_as_json_gets_the_proxys_plain_answer(
    shared_agent: AgentProcess, content_type: str | None
) -> None:
    headers = {**shared_agent.headers, **({"Content-Type": content_type} if content_type else {})}
    response = httpx.post(
        f"{shared_agent.url}/queue", content=b'{"cmd": "queue"}', headers=headers, timeout=10
    )
    # As shmooze.wsgi: 200, text/plain, one sentence.
    assert (response.status_code, response.text) == (200, "Endpoint only accepts JSON.")
    assert response.headers["Content-Type"].startswith("text/plain")


def test_answers_are_text_json_and_sub_paths_are_the_service(shared_agent: AgentProcess) -> None:
    response = httpx.request(
        "GET",
        f"{shared_agent.url}/pool/any/thing",
        content=b'{"cmd": "pool"}',
        headers={**shared_agent.headers, "Content-Type": "text/json"},
        timeout=10,
    )
    assert response.json() == {"success": True, "result": []}
    assert response.headers["Content-Type"] == "text/json"


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/json", "text/json; charset=utf-8"]
)
def test_both_json_content_types_are_served(shared_agent: AgentProcess, content_type: str) -> None:
    packet = send(shared_agent, "pool", {"cmd": "modules_available"}, content_type)
    assert packet == {"success": True, "result": ["recorder"]}
    assert send(shared_agent, "queue", [], content_type) == []


def test_a_list_mixing_good_and_bad_commands_is_answered_by_a_list(
    agent: AgentProcess, tmp_path: Path
) -> None:
    log = tmp_path / "a.log"
    answers = send(
        agent,
        "queue",
        [
            {"cmd": "add", "args": {"type": "recorder", "args": {"log": str(log)}}},
            {"cmd": "dance"},
            "not a command",
            {"cmd": "add", "args": {"type": "nope"}},
            {"cmd": "queue", "args": None},
            {"cmd": "rm", "args": {"uids": ["999"]}},
        ],
        "text/json",
    )
    assert isinstance(answers, list) and len(answers) == 6
    assert answers[0]["success"] is True
    uid = answers[0]["result"]["uid"]
    assert is_error(answers[1], "Bad command.")
    assert is_error(answers[2], "Command not a dict.")
    assert is_error(answers[3], "Unrecognized module name")
    assert is_error(answers[4], "Argument list not a dict.")
    assert answers[5] == {"success": True}, "unknown uids are ignored"
    assert result(agent, "queue", "queue") == [{"uid": uid, "type": "recorder"}]
    assert received(log) == ["init", "play"], "the good command was done"


@pytest.mark.parametrize("service", ["queue", "pool"])
def test_a_body_of_too_many_commands_is_a_413_and_runs_none(
    shared_agent: AgentProcess, service: str
) -> None:
    """A 1 MiB body holds thousands of adds: one body carries at most 100 commands."""
    adds = [{"cmd": "add", "args": {"type": "recorder"}}] * 101
    packet = send(shared_agent, service, adds, status=413)
    assert is_error(packet, "101 commands in one body: at most 100")
    assert result(shared_agent, service, service) == [], "not one of them ran"
    answers = send(shared_agent, service, [{"cmd": "modules_available"}] * 100)
    assert len(answers) == 100 and all(a["success"] for a in answers), "100 are served"


def test_the_queue_holds_at_most_max_modules_and_says_so_with_a_409(
    agent_factory: Callable[..., AgentProcess], tmp_path: Path, marker: str
) -> None:
    config = modules_config(tmp_path / "config.toml", marker)
    config.write_text(config.read_text() + "\n[queue]\nmax_modules = 3\n")
    agent = agent_factory("--config", str(config))
    add = {"cmd": "add", "args": {"type": "recorder", "args": {"log": str(tmp_path / "r.log")}}}
    packet = send(agent, "queue", [add] * 4, status=409)
    assert is_error(packet, "the queue holds at most 3 modules and has 0: 4 more refused")
    assert result(agent, "queue", "queue") == [], "nothing added"
    answers = send(agent, "queue", [add] * 3)
    assert [a["success"] for a in answers] == [True, True, True], answers
    packet = send(agent, "queue", add, status=409)
    assert is_error(packet, "has 3: 1 more refused")
    assert len(result(agent, "queue", "queue")) == 3, "nothing changed"
    assert send(agent, "pool", add)["success"] is True, "the pool's bound is its own"
    assert agent.stop(signal.SIGTERM) == 0
    assert not pids_with_argument(marker), "every module ended with the agent"


# -- every command ----------------------------------------------------------------------------


def test_every_queue_command(agent: AgentProcess, tmp_path: Path) -> None:
    a, b, bg = tmp_path / "a.log", tmp_path / "b.log", tmp_path / "bg.log"

    def call(body: Any) -> Any:
        return send(agent, "queue", body)

    assert call({"cmd": "modules_available"}) == {
        "success": True,
        "result": ["recorder", "stubborn"],
    }
    assert call({"cmd": "backgrounds_available"}) == {
        "success": True,
        "result": ["quiet", "recorder"],
    }
    assert call({"cmd": "queue"}) == {"success": True, "result": []}
    assert call({"cmd": "bg"}) in ({"success": True}, {"success": True, "result": None})

    first = call({"cmd": "add", "args": {"type": "recorder", "args": {"log": str(a)}}})
    assert set(first) == {"success", "result"} and set(first["result"]) == {"uid"}
    uid_a = first["result"]["uid"]
    added = call({"cmd": "add", "args": {"type": "recorder", "args": {"log": str(b)}}})
    uid_b = added["result"]["uid"]
    assert uid_a != uid_b
    background = call({"cmd": "set_bg", "args": {"type": "quiet", "args": {"log": str(bg)}}})
    uid_bg = background["result"]["uid"]
    assert call({"cmd": "bg"}) == {"success": True, "result": {"uid": uid_bg, "type": "quiet"}}

    # Parameters, pushed by the modules, read back per type.
    for uid, n in ((uid_a, 1), (uid_b, 2)):
        told = {"cmd": "tell_module", "args": {"uid": uid, "cmd": "set", "args": {"n": n}}}
        assert call(told) == {"success": True}
    told = {"cmd": "tell_background", "args": {"uid": uid_bg, "cmd": "set", "args": {"idle": 1}}}
    assert call(told) == {"success": True}
    wanted = {"recorder": ["n"], "quiet": ["idle"]}
    assert call({"cmd": "queue", "args": {"parameters": wanted}}) == {
        "success": True,
        "result": [
            {"uid": uid_a, "type": "recorder", "parameters": {"n": 1}},
            {"uid": uid_b, "type": "recorder", "parameters": {"n": 2}},
        ],
    }
    assert call({"cmd": "bg", "args": {"parameters": wanted}}) == {
        "success": True,
        "result": {"uid": uid_bg, "type": "quiet", "parameters": {"idle": 1}},
    }
    bad = {"cmd": "queue", "args": {"parameters": {"recorder": 5}}}
    assert is_error(call(bad), "queue: ")
    assert is_error(call({"cmd": "queue", "args": {"parameters": ["x"]}}), "'parameters' must map")
    ask = {"cmd": "ask_module", "args": {"uid": uid_b, "parameters": ["n", "x"]}}
    assert call(ask) == {"success": True, "result": {"n": 2}}
    ask = {"cmd": "ask_background", "args": {"uid": uid_bg, "parameters": ["idle"]}}
    assert call(ask) == {"success": True, "result": {"idle": 1}}
    assert call({"cmd": "ask_background", "args": {"uid": uid_a, "parameters": []}}) == {
        "success": False,
        "error": "Background identifier doesn't match current background",
    }

    # tell_* answers what the module answered.
    echo = {"cmd": "tell_module", "args": {"uid": uid_a, "cmd": "echo", "args": {"x": [1]}}}
    assert call(echo) == {"success": True, "result": {"echo": {"x": [1]}, "playing": True}}
    echo["args"]["uid"] = uid_b
    assert call(echo) == {"success": True, "result": {"echo": {"x": [1]}, "playing": False}}
    fail = {"cmd": "tell_module", "args": {"uid": uid_a, "cmd": "fail", "args": {"message": "no"}}}
    assert call(fail) == {"success": False, "error": "ValueError: no"}
    unknown = {"cmd": "tell_module", "args": {"uid": uid_a, "cmd": "dance"}}
    assert call(unknown) == {"success": False, "error": "Unrecognized command"}
    nothing = {"cmd": "tell_background", "args": {"uid": uid_bg, "cmd": "nothing"}}
    assert call(nothing) == {"success": True}

    # mv and rm return nothing.
    assert call({"cmd": "mv", "args": {"uids": [uid_b]}}) == {"success": True}
    assert result(agent, "queue", "queue") == [
        {"uid": uid_b, "type": "recorder"},
        {"uid": uid_a, "type": "recorder"},
    ]
    assert call({"cmd": "rm", "args": {"uids": [uid_a, uid_b]}}) == {"success": True}
    assert result(agent, "queue", "queue") == []
    assert received(a) == ["init", "play", "do_set", "do_echo", "do_fail", "suspend", "rm"]
    assert received(b) == ["init", "do_set", "do_echo", "play", "rm"]
    # Told to suspend when it came (modules played), as shmooze; plays once all are gone.
    assert received(bg) == ["init", "suspend", "do_set", "do_nothing", "play"]
    assert call({"cmd": "rm", "args": {"uids": [uid_bg]}}) == {"success": True}
    assert call({"cmd": "bg"}) == {"success": True}
    assert received(bg)[-1] == "rm"
    for cmd in ("ask_background", "tell_background"):
        told = {"cmd": cmd, "args": {"uid": uid_bg, "cmd": "x", "parameters": []}}
        told["args"].pop("parameters" if cmd == "tell_background" else "cmd")
        assert call(told) == {"success": False, "error": "No background"}


def test_every_pool_command(agent: AgentProcess, tmp_path: Path) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"

    def call(body: Any) -> Any:
        return send(agent, "pool", body)

    assert call({"cmd": "modules_available"}) == {"success": True, "result": ["recorder"]}
    # Exactly shmooze's pool commands: nothing about order or a background.
    for cmd in ("queue", "mv", "bg", "set_bg", "backgrounds_available", "ask_background"):
        assert call({"cmd": cmd}) == {"success": False, "error": "Bad command."}, cmd
    uid_a = result(agent, "pool", "add", type="recorder", args={"log": str(a)})["uid"]
    uid_b = result(
        agent, "pool", "add", type="recorder", args={"log": str(b), "parameters": {"n": 7}}
    )["uid"]
    assert call({"cmd": "pool", "args": {"parameters": {"recorder": ["n"]}}}) == {
        "success": True,
        "result": [
            {"uid": uid_a, "type": "recorder", "parameters": {}},
            {"uid": uid_b, "type": "recorder", "parameters": {"n": 7}},
        ],
    }
    assert call({"cmd": "ask_module", "args": {"uid": uid_b, "parameters": ["n"]}}) == {
        "success": True,
        "result": {"n": 7},
    }
    assert call({"cmd": "tell_module", "args": {"uid": "nope", "cmd": "echo"}}) == {
        "success": False,
        "error": "Module identifier not in pool",
    }
    echo = {"cmd": "tell_module", "args": {"uid": uid_b, "cmd": "echo"}}
    assert call(echo) == {"success": True, "result": {"echo": {}, "playing": True}}
    assert [m["uid"] for m in result(agent, "pool", "pool")] == [uid_a, uid_b]
    assert call({"cmd": "rm", "args": {"uids": [uid_a]}}) == {"success": True}
    assert call({"cmd": "rm", "args": {"uids": [uid_b]}}) == {"success": True}
    assert received(a) == ["init", "play", "rm"]
    assert received(b) == ["init", "play", "do_echo", "rm"], "all play"


# -- the demo ----------------------------------------------------------------------------------


def test_the_demo_has_a_queue_with_a_background_and_a_pool_of_tickers(
    agent_factory: Callable[..., AgentProcess],
) -> None:
    agent = agent_factory("--demo")
    background = result(agent, "queue", "bg", parameters={"idle": ["message"]})
    assert background["type"] == "idle"
    assert background["parameters"] == {"message": "queue is empty"}
    wanted = {"countdown": ["label", "left", "state"]}
    queue = result(agent, "queue", "queue", parameters=wanted)
    assert [(m["type"], m["parameters"]["label"]) for m in queue] == [
        ("countdown", "warm-up"),
        ("countdown", "backup"),
    ]
    assert queue[1]["parameters"]["state"] == "waiting", "the second one waits its turn"
    assert result(agent, "queue", "modules_available") == ["countdown"]
    assert result(agent, "queue", "backgrounds_available") == ["idle"]

    pool = result(agent, "pool", "pool", parameters={"ticker": ["symbol", "price"]})
    assert [(m["type"], m["parameters"]["symbol"]) for m in pool] == [
        ("ticker", "OPS"),
        ("ticker", "SRE"),
    ]
    assert all(isinstance(m["parameters"]["price"], float) for m in pool)

    # The first countdown plays: its ``left`` goes down, second by second.
    head = queue[0]["uid"]
    start = queue[0]["parameters"]["left"]
    deadline = time.monotonic() + BOUND
    left = start
    while left >= start and time.monotonic() < deadline:
        time.sleep(0.1)
        left = result(agent, "queue", "ask_module", uid=head, parameters=["left"])["left"]
    assert left < start
    assert result(agent, "queue", "ask_module", uid=head, parameters=["state"]) == {
        "state": "counting"
    }
    assert agent.stop(signal.SIGTERM) == 0
