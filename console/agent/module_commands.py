"""The command sets of shmooze's queue and pool, and its argument errors (PROTOCOLS.md §3).

shmooze 1.2.4 calls a command's Python 2 method with the JSON ``args`` as keyword
arguments, so a wrong argument answers with Python 2's TypeError text, e.g.
``add() got an unexpected keyword argument 'typo'`` or ``rm() takes exactly 2 arguments
(1 given)``. Clients may match those strings, so we give the same ones, made from
each command's upstream signature (``shmooze/queue.py``, ``shmooze/pool.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NOT_A_DICT = "Command not a dict."
NO_COMMAND = "No command given."
ARGS_NOT_A_DICT = "Argument list not a dict."
BAD_COMMAND = "Bad command."
NEITHER_DICT_NOR_LIST = "Command must be either dict (single command) or list (multiple commands)"
UNKNOWN_TYPE = "Unrecognized module name"
NO_BACKGROUND = "No background"
WRONG_BACKGROUND = "Background identifier doesn't match current background"


@dataclass(frozen=True)
class Signature:
    """An upstream command method: its Python name and its keyword parameters."""

    function: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    def argument_error(self, args: Mapping[str, Any]) -> str | None:
        """Python 2.7's TypeError text for calling the method with ``**args``, or None."""
        for name in args:
            if name not in self.required and name not in self.optional:
                return f"{self.function}() got an unexpected keyword argument '{name}'"
        if all(name in args for name in self.required):
            return None
        # Python 2 counts ``self`` in both numbers, and every keyword given as "given".
        wanted = len(self.required) + 1
        quantity = "at least" if self.optional else "exactly"
        noun = "argument" if wanted == 1 else "arguments"
        return f"{self.function}() takes {quantity} {wanted} {noun} ({len(args) + 1} given)"


_MODULE_COMMANDS = {
    "add": Signature("add", ("type",), ("args",)),
    "rm": Signature("rm", ("uids",)),
    "modules_available": Signature("modules_available"),
    "tell_module": Signature("tell_module", ("uid", "cmd"), ("args",)),
    "ask_module": Signature("ask_module", ("uid", "parameters")),
}

QUEUE_COMMANDS: dict[str, Signature] = {
    **_MODULE_COMMANDS,
    "queue": Signature("get_queue", (), ("parameters",)),
    "bg": Signature("get_bg", (), ("parameters",)),
    "set_bg": Signature("set_bg", ("type",), ("args",)),
    "mv": Signature("mv", ("uids",)),
    "backgrounds_available": Signature("backgrounds_available"),
    "tell_background": Signature("tell_background", ("uid", "cmd"), ("args",)),
    "ask_background": Signature("ask_background", ("uid", "parameters")),
}
"""shmooze's ``Queue.commands``."""

POOL_COMMANDS: dict[str, Signature] = {
    **_MODULE_COMMANDS,
    "pool": Signature("get_pool", (), ("parameters",)),
}
"""shmooze's ``Pool.commands``: no order, so no ``mv`` and no background."""


def check_packet(packet: Any, commands: Mapping[str, Signature]) -> tuple[str, dict[str, Any]]:
    """The command name and its args from one packet; ValueError with upstream's words.

    Raises ValueError(message) for a packet that is not an object, lacks ``cmd``, has
    ``args`` that are not an object, names no command of ``commands``, or whose args do
    not fit the command's signature.
    """
    if not isinstance(packet, dict):
        raise ValueError(NOT_A_DICT)
    if "cmd" not in packet:
        raise ValueError(NO_COMMAND)
    args = packet.get("args", {})
    if not isinstance(args, dict):
        raise ValueError(ARGS_NOT_A_DICT)
    cmd = packet["cmd"]
    if not isinstance(cmd, str) or cmd not in commands:
        raise ValueError(BAD_COMMAND)
    problem = commands[cmd].argument_error(args)
    if problem is not None:
        raise ValueError(problem)
    return cmd, args
