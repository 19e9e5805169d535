"""What a remote command call ends in: its streams and exit status, or why it did not end well."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from console.adapters.errors import BackendError, Unavailable


class CommandFailed(BackendError):
    """A remote command exited non-zero and the caller asked for that to raise."""

    def __init__(self, host: str, argv: list[str], status: int) -> None:
        super().__init__(f"{host}: {shlex.join(argv)} exited {status}")
        self.exit_status = status


class CommandNotFound(BackendError):
    """The program an argv names does not exist on the host (or is not executable there)."""

    def __init__(self, host: str, program: str) -> None:
        super().__init__(f"{host}: command not found: {program}")
        self.program = program


class CallTimedOut(Unavailable):
    """A remote call did not finish within its time limit: its channel was closed.

    The host is asked to stop the command (SIGTERM), but OpenSSH's server may not honour
    that; then the command ends when it next writes to its closed output or reads its input.
    """


@dataclass(frozen=True)
class RemoteResult:
    """A finished ``check``: its output lines (cut as ``str.splitlines``) and exit status."""

    stdout: list[str]
    stderr: list[str]
    exit_status: int
