"""The agent's secrets on disk: its token file, and a data dir only its owner can read.

The agent token is one mechanism for every way the agent is reached (the
console's spawned agent, a standalone agent, one reached through an SSH forward
or over TLS): a random token in a 0600 file inside the 0700 data dir. Only the
user the agent runs as can read it; local clients of that user find it there by
themselves, everyone else gets 401. It never travels on a command line or in an
environment variable (both are visible to others: ``ps``, ``/proc/PID/environ``
of children).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sys
from pathlib import Path

from console.config import AgentSettings, ConfigError, agent_registry, read_secret_file

log = logging.getLogger("console.agent")

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


PRIVATE_UMASK = 0o077


def keep_files_private() -> int:
    """Give this process the umask 077 (new files 0600, dirs 0700); the umask it had before."""
    previous = os.umask(PRIVATE_UMASK)
    return previous


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) if needed and make it 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    path.chmod(PRIVATE_DIR)


def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, never readable by others even for an instant."""
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, PRIVATE_FILE)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(scratch, path)


def ensure_agent_token(path: Path) -> tuple[str, bool]:
    """The agent token in ``path``, created (random, 256 bits) when absent; True if created.

    Raises ConfigError when the file is readable by others or cannot be written.
    """
    token = read_secret_file(path)
    if token is not None:
        return token, False
    token = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        write_private_file(path, token + "\n")
    except OSError as exc:
        raise ConfigError(f"cannot write the agent token to {path}: {exc.strerror}") from None
    return token, True


def inbox_tokens(settings: AgentSettings) -> list[str]:
    """The inbox tokens: from the config or flags, plus the one in ``inbox_token_file``."""
    tokens = list(settings.inbox_tokens)
    if settings.inbox_token_file is not None:
        token = read_secret_file(settings.inbox_token_file)
        if token is None:
            raise ConfigError(f"--inbox-token-file {settings.inbox_token_file} is empty")
        tokens.append(token)
    return tokens


def make_tree_private(top: Path) -> None:
    """``top`` 0700 and nothing under it readable or writable by group or others.

    For the data dir at start (files an earlier version left 0644: databases,
    logs, unpacked apps; new ones are made private by the agent's umask, 077),
    and for an unpacked archive (tar sets each member's own mode, umask or not).
    Links are not followed: an app's symlink is not ours to change.
    """
    make_private_dir(top)
    for root, dirs, files in os.walk(top):
        for name in [*dirs, *files]:
            path = Path(root, name)
            with contextlib.suppress(OSError):
                mode = path.lstat().st_mode
                if mode & 0o077 and not path.is_symlink():
                    path.chmod(mode & 0o700)


def announce_credentials(settings: AgentSettings) -> None:
    """Say on stderr who may use this agent (stdout carries only its URL)."""
    if settings.no_auth:
        log.warning(
            "--no-auth: every route is open to anyone who can reach %s (loopback only)",
            settings.host,
        )
        return
    token_file = settings.agent_token_file
    _, created = ensure_agent_token(token_file)
    print(
        f"opsconsole agent: clients authenticate with the agent token in {token_file}"
        f"{' (new)' if created else ''}: send it as 'Authorization: Bearer TOKEN'; "
        "opsconsole commands of this user read it by themselves",
        file=sys.stderr,
        flush=True,
    )
    if settings.open_families:
        log.warning(
            "open without credentials (loopback only): %s", ", ".join(settings.open_families)
        )


def register_agent(url: str, url_file: Path) -> None:
    """Tell this user's clients where the agent at ``url`` is: ``url_file`` in its data dir
    (``URL PID``), and an entry in the user's registry naming that data dir (its token)."""
    try:
        write_private_file(url_file, f"{url} {os.getpid()}\n")
        make_private_dir(agent_registry())
        record = {"url": url, "pid": os.getpid(), "data_dir": str(url_file.parent.resolve())}
        write_private_file(agent_registry() / f"{os.getpid()}.json", json.dumps(record))
    except OSError as exc:
        log.warning("cannot tell local clients where the agent is: %s", exc.strerror)


def forget_agent(url_file: Path) -> None:
    """Undo register_agent: the URL file if still ours (another agent may have taken the
    data dir since), and this agent's registry entry."""
    with contextlib.suppress(OSError, IndexError):
        if url_file.read_text().split()[-1] == str(os.getpid()):
            url_file.unlink()
    with contextlib.suppress(OSError):
        (agent_registry() / f"{os.getpid()}.json").unlink()
