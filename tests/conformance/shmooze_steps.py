"""The command sequence of the shmooze side-by-side: queue and pool, good and bad.

Each step is ``(service, packet, name)``: ``"$X"`` anywhere in the packet stands for the
uid the server gave the module named X, and ``name`` names the module an ``add`` or
``set_bg`` creates. A step whose packet is wrapped in ``Until`` is repeated (on each
server alone) until its answer satisfies the condition: the server reacts to a module's
death on its own time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

STATE = {"echo": ["state", "init_args", "missing"], "echo_bg": ["state", "init_args"]}


@dataclass(frozen=True)
class Until:
    packet: Any
    holds: Callable[[Any], bool]


def without(*names: str) -> Callable[[Any], bool]:
    """A listing in which none of the named modules is left."""

    def holds(answer: Any) -> bool:
        return not any(entry.get("uid") in names for entry in answer.get("result", []))

    return holds


def q(name: str, /, **args: Any) -> dict[str, Any]:
    return {"cmd": name, "args": args} if args else {"cmd": name}


def tell(uid: str, cmd: str, **args: Any) -> dict[str, Any]:
    return q("tell_module", uid=uid, cmd=cmd, args=args)


Step = tuple[str, Any, str | None]

STEPS: list[Step] = [
    ("queue", q("modules_available"), None),
    ("queue", q("backgrounds_available"), None),
    ("queue", q("queue"), None),
    ("queue", q("bg"), None),
    ("queue", q("add", type="echo", args={"n": "A"}), "A"),
    ("queue", q("add", type="echo", args={"n": "B"}), "B"),
    ("queue", q("add", type="echo", args={"n": "C"}), "C"),
    ("queue", q("queue", parameters=STATE), None),
    ("queue", q("set_bg", type="echo_bg", args={"text": "idle"}), "BG"),
    ("queue", q("bg", parameters=STATE), None),
    ("queue", q("bg"), None),
    ("queue", q("mv", uids=["$C"]), None),
    ("queue", q("queue", parameters=STATE), None),
    ("queue", q("rm", uids=["$C"]), None),
    ("queue", q("queue", parameters=STATE), None),
    ("queue", tell("$A", "echo", hello="world"), None),
    ("queue", tell("$A", "fail"), None),
    ("queue", tell("$A", "dance"), None),
    ("queue", tell("$A", "unicode"), None),
    ("queue", tell("$A", "nothing"), None),
    ("queue", tell("$A", "set", x=1, y=[1, 2]), None),
    ("queue", q("ask_module", uid="$A", parameters=["x", "y", "state", "missing"]), None),
    ("queue", q("ask_module", uid="$A", parameters={"echo": ["state"]}), None),
    ("queue", tell("$A", "unset", names=["y", "zzz"]), None),
    ("queue", q("ask_module", uid="$A", parameters=["x", "y"]), None),
    ("queue", q("ask_module", uid="nope", parameters=["x"]), None),
    ("queue", tell("nope", "echo"), None),
    ("queue", q("tell_background", uid="$BG", cmd="echo", args={"a": 1}), None),
    ("queue", q("tell_background", uid="nope", cmd="echo"), None),
    ("queue", q("ask_background", uid="$BG", parameters=["state", "init_args"]), None),
    ("queue", q("ask_background", uid="nope", parameters=["state"]), None),
    ("queue", q("rm", uids=["nope"]), None),
    ("queue", q("mv", uids=["nope", "$B"]), None),
    ("queue", q("queue", parameters=STATE), None),
    ("queue", q("bg", parameters=STATE), None),
    ("queue", q("add", type="nope"), None),
    ("queue", q("add", type="echo", typo=1), None),
    ("queue", {"cmd": "add", "args": {}}, None),
    ("queue", q("add", type="echo", args=[1]), None),
    ("queue", q("set_bg", type="echo"), None),
    ("queue", q("set_bg", type="nope"), None),
    ("queue", {"cmd": "queue", "args": None}, None),
    ("queue", {"args": {}}, None),
    ("queue", {"cmd": "nosuch"}, None),
    ("queue", "x", None),
    ("queue", 5, None),
    ("queue", [], None),
    (
        "queue",
        [q("modules_available"), q("nosuch"), {"args": {}}, {"cmd": "queue", "args": [1]}, "x"],
        None,
    ),
    ("queue", [q("queue"), tell("$A", "echo", batch=True), q("bg")], None),
    ("queue", q("modules_available", x=1), None),
    ("queue", {"cmd": "rm"}, None),
    ("queue", q("tell_module", uid="$A"), None),
    # A command the module answers too late, at init and later: it is dropped.
    ("queue", tell("$B", "slow"), None),
    ("queue", Until(q("queue"), without("$B")), None),
    ("queue", q("queue", parameters=STATE), None),
    ("queue", q("add", type="echo", args={"slow": True}), None),
    ("queue", q("add", type="echo", args={"fail": "bad config"}), None),
    ("queue", q("queue", parameters=STATE), None),
    # A module that dies in the middle of a command.
    ("queue", q("add", type="echo", args={"n": "D"}), "D"),
    ("queue", tell("$D", "crash"), None),
    ("queue", Until(q("queue"), without("$D")), None),
    ("queue", q("queue", parameters=STATE), None),
    ("queue", q("rm", uids=["$A", "$D", "nope"]), None),
    ("queue", q("queue"), None),
    ("queue", q("bg", parameters=STATE), None),
    ("queue", q("rm", uids=["$BG"]), None),
    ("queue", q("bg"), None),
    ("queue", q("ask_background", uid="$BG", parameters=[]), None),
    ("queue", q("tell_background", uid="$BG", cmd="echo"), None),
    ("queue", q("set_bg", type="echo_bg", args={"text": "again"}), "BG2"),
    ("queue", q("bg", parameters=STATE), None),
    ("queue", q("add", type="echo", args={"n": "E"}), "E"),
    ("queue", q("bg", parameters=STATE), None),
    ("queue", q("rm", uids=["$E", "$BG2"]), None),
    ("pool", q("modules_available"), None),
    ("pool", q("pool"), None),
    ("pool", q("add", type="echo", args={"n": "P1"}), "P1"),
    ("pool", q("add", type="echo", args={"n": "P2"}), "P2"),
    ("pool", q("pool", parameters=STATE), None),
    ("pool", tell("$P1", "echo", x=1), None),
    ("pool", tell("nope", "echo"), None),
    ("pool", q("ask_module", uid="$P2", parameters=["state", "init_args"]), None),
    ("pool", q("ask_module", uid="nope", parameters=[]), None),
    ("pool", q("mv", uids=["$P1"]), None),
    ("pool", q("bg"), None),
    ("pool", q("set_bg", type="echo"), None),
    ("pool", q("backgrounds_available"), None),
    ("pool", q("queue"), None),
    ("pool", q("tell_background", uid="$P1", cmd="echo"), None),
    ("pool", q("rm", uids=["$P1"]), None),
    ("pool", q("pool", parameters=STATE), None),
    ("pool", q("add", type="nope"), None),
    ("pool", q("pool", x=1), None),
    ("pool", [q("pool"), q("modules_available"), q("mv")], None),
    ("pool", tell("$P2", "slow"), None),
    ("pool", Until(q("pool"), without("$P2")), None),
    ("pool", q("rm", uids=["$P2", "nope"]), None),
    ("pool", q("pool"), None),
]
