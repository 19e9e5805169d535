"""Procfiles: ``type: command`` lines, read as foreman, honcho and the ``procfile`` package do.

The rules, from smartmob RFC 1 (the ``procfile`` package that smartmob-agent
uses) and from foreman/honcho:

- one process per line, ``TYPE: COMMAND``; TYPE is letters, digits, ``_`` and
  ``-`` (foreman's and honcho's pattern); blank lines and ``#`` comments are skipped;
- a line ending in ``\\`` continues on the next one (the continuation's leading
  blanks go, as in the ``procfile`` package);
- ``TYPE: env NAME=VALUE ... COMMAND`` sets variables for that command (RFC 1);
- the same TYPE twice, or the same variable twice on one line, is an error:
  there is no sane choice between them;
- a UTF-8 byte order mark, CRLF line ends and tabs are accepted.

Any other line is an error that names its line number: a Procfile is never
half understood. ``PORT`` follows foreman and honcho: 5000 for the first
type, plus 100 for each type before it (``port_for``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

BASE_PORT = 5000
PORT_STEP = 100

_LINE = re.compile(r"^([A-Za-z0-9_-]+)[ \t]*:[ \t]*(.*)$")
_ENV_PREFIX = re.compile(r"^env((?:[ \t]+[A-Za-z_][A-Za-z0-9_]*=\S*)+)[ \t]+(\S.*)$")
MAX_PROCFILE = 1 << 20
"""Bytes of Procfile read at most: a Procfile is a few lines, never a megabyte."""


class ProcfileError(ValueError):
    """The Procfile cannot be used; ``problems`` name their lines (1-based)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ProcfileEntry:
    """One process type: its command, the variables its line sets, and where it stood."""

    command: str
    env: dict[str, str] = field(default_factory=dict)
    line: int = 0
    """The line number (1-based) its line starts on."""
    index: int = 0
    """Its position among the types (0-based): the PORT convention counts on it."""

    @property
    def port(self) -> int:
        """PORT as foreman and honcho give it: 5000, 5100, 5200... in Procfile order."""
        return BASE_PORT + PORT_STEP * self.index


def parse_procfile(text: str) -> dict[str, ProcfileEntry]:
    """Process types by name, in file order; raises ProcfileError listing every bad line."""
    text = text.removeprefix("\ufeff")
    entries: dict[str, ProcfileEntry] = {}
    problems: list[str] = []
    for number, line in _logical_lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = _LINE.match(stripped)
        if match is None or not match.group(2).strip():
            shown = stripped if len(stripped) <= 60 else stripped[:57] + "..."
            problems.append(f'line {number}: not "type: command": {shown!r}')
            continue
        name, command = match.group(1), match.group(2).strip()
        if name in entries:
            problems.append(
                f'line {number}: duplicate process type "{name}" '
                f"(already on line {entries[name].line})"
            )
            continue
        env, command, duplicate = _split_env(command)
        if duplicate:
            problems.append(f'line {number}: variable "{duplicate}" set twice for "{name}"')
        entries[name] = ProcfileEntry(command, env, number, len(entries))
    if problems:
        raise ProcfileError(problems)
    return entries


def read_procfile_at(app_dir: Path) -> dict[str, ProcfileEntry] | None:
    """The Procfile at the root of ``app_dir``, parsed; None when there is none.

    Raises ProcfileError for a bad one (invalid UTF-8 is one: a command is not guessed at).
    """
    path = app_dir / "Procfile"
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        raw = handle.read(MAX_PROCFILE + 1)
    if len(raw) > MAX_PROCFILE:
        raise ProcfileError([f"larger than {MAX_PROCFILE} bytes"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ProcfileError([f"line {line}: not UTF-8 text"]) from None
    return parse_procfile(text)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with their (1-based) starting number, backslash continuations joined."""
    joined: list[tuple[int, str]] = []
    parts: list[str] = []
    start = 1
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), 1):
        if not parts:
            start = number
        body = line.rstrip(" \t\r")
        if body.endswith("\\") and not body.lstrip().startswith("#"):
            parts.append(body[:-1] if not parts else body[:-1].lstrip())
            continue
        parts.append(line if not parts else line.lstrip())
        joined.append((start, "".join(parts)))
        parts = []
    if parts:
        joined.append((start, "".join(parts)))
    return joined


def _split_env(command: str) -> tuple[dict[str, str], str, str | None]:
    """RFC 1's ``env A=1 B=2 cmd``: the variables, the command, and a variable set twice."""
    match = _ENV_PREFIX.match(command)
    if match is None:
        return {}, command, None
    env: dict[str, str] = {}
    duplicate = None
    for assignment in match.group(1).split():
        name, _, value = assignment.partition("=")
        if name in env:
            duplicate = duplicate or name
        env[name] = value
    return env, match.group(2).strip(), duplicate
