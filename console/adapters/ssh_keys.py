"""Host keys: what a host offers, why it was refused, and recording it in known_hosts.

known_hosts lines name a host as OpenSSH does (``host``, or ``[host]:port`` off port 22, after
HostName and HostKeyAlias); recording a key replaces every plain line that names the host, as
``ssh-keygen -R`` followed by ``ssh-keyscan >>`` would, so a changed key leaves no stale line.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from console.adapters.errors import AuthError, Unavailable
from console.adapters.ssh_settings import HostSettings


@dataclass(frozen=True)
class OfferedKey:
    """The key a host offers now, and where accepting it would record it."""

    algorithm: str
    """``ssh-ed25519``, ``ssh-rsa``, ``ecdsa-sha2-nistp256``..."""
    fingerprint: str
    """``SHA256:`` and base64, as ``ssh-keygen -lf`` prints it."""
    key: asyncssh.SSHKey
    known_hosts: Path | None
    """The file an accepted key goes to (None: the config says ``UserKnownHostsFile none``)."""
    changed: bool
    """known_hosts already names the host, with other keys."""

    def __str__(self) -> str:
        return f"{self.algorithm} {self.fingerprint}"


class HostKeyRefused(AuthError):
    """The host's key is unknown or has changed; nothing was sent to it.

    ``offered`` (when it could be fetched) says which key, ``accept_command`` how to accept
    it from a shell, and ``summary`` is the message without that command (for the console,
    where a key accepts it).
    """

    def __init__(
        self,
        message: str,
        offered: OfferedKey | None = None,
        accept_command: str = "",
        summary: str = "",
    ) -> None:
        super().__init__(message)
        self.offered = offered
        self.accept_command = accept_command
        self.summary = summary or message


def refusal(
    name: str, settings: HostSettings, offered: OfferedKey | None, accept: str
) -> HostKeyRefused:
    """A refusal in words: the key's type and fingerprint, and the exact way to accept it."""
    where = _home_relative(offered.known_hosts) if offered and offered.known_hosts else None
    pattern = settings.known_hosts_pattern
    if offered is None:
        text = (
            f"{name}: the host key of {pattern} is unknown or has changed, "
            "and the key it offers could not be fetched again"
        )
        return HostKeyRefused(text)
    if offered.changed:
        head = (
            f"{name}: the host key of {pattern} has CHANGED since it was recorded"
            f"{f' in {where}' if where else ''}: it now offers {offered}. "
            "It may have been reinstalled, or someone may be in the middle"
        )
    else:
        head = (
            f"{name}: the host key of {pattern} is unknown"
            f"{f' (not in {where})' if where else ''}: it offers {offered}"
        )
    if offered.known_hosts is None:
        text = f"{head}. UserKnownHostsFile is none in the SSH config: nothing can be accepted"
        return HostKeyRefused(text, offered, summary=text)
    summary = (
        f"{head}. Compare it with the host's own (ssh-keygen -lf on its "
        "/etc/ssh/ssh_host_*_key.pub)"
    )
    return HostKeyRefused(f"{summary}, then accept it: {accept}", offered, accept, summary)


async def fetch_offered_key(name: str, settings: HostSettings, time_limit: float) -> OfferedKey:
    """Ask the host for its key (a handshake, no login). Raises Unavailable."""
    kwargs = {
        key: value
        for key, value in settings.connect_kwargs.items()
        if key in ("host", "port", "config")
    }
    try:
        async with asyncio.timeout(time_limit):
            key = await asyncssh.get_server_host_key(**kwargs)
    except (OSError, asyncssh.Error, TimeoutError) as exc:
        raise Unavailable(f"{name}: cannot fetch the host key: {exc or 'timed out'}") from None
    if key is None:
        raise Unavailable(f"{name}: the server offered no host key")
    target = settings.known_hosts[0] if settings.known_hosts else None
    changed = any(_names_host(line, settings) for line in _all_lines(settings.known_hosts))
    return OfferedKey(key.get_algorithm(), key.get_fingerprint(), key, target, changed)


def record(settings: HostSettings, offered: OfferedKey) -> None:
    """Write the key to known_hosts in place of every line naming the host (atomically)."""
    target = offered.known_hosts
    if target is None:
        raise AuthError("UserKnownHostsFile is none in the SSH config: nothing can be recorded")
    kept = [line for line in _lines(target) if not _names_host(line, settings)]
    public = offered.key.export_public_key().decode().strip()
    kept.append(f"{settings.known_hosts_pattern} {public}\n")
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o600
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w") as out:
            out.writelines(kept)
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def accept_command(name: str, fingerprint: str, extra_options: list[str]) -> str:
    """The shell line that records the key once the operator has compared it."""
    options = " ".join(shlex.quote(option) for option in extra_options)
    return (
        f"opsconsole ssh check {options + ' ' if options else ''}--accept-host-key "
        f"{shlex.quote(fingerprint)} {shlex.quote(name)} -- true"
    )


def _lines(path: Path) -> list[str]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [line if line.endswith("\n") else line + "\n" for line in text.splitlines()]


def _all_lines(paths: tuple[Path, ...]) -> list[str]:
    return [line for path in paths for line in _lines(path)]


def _names_host(line: str, settings: HostSettings) -> bool:
    """A plain key line (not ``@cert-authority``/``@revoked``) for this host and port."""
    text = line.strip()
    if not text or text.startswith(("#", "@")):
        return False
    try:
        found = asyncssh.import_known_hosts(text).match(
            settings.hostname, "", settings.port if settings.port != 22 else None
        )
    except (ValueError, asyncssh.KeyImportError):
        return False
    return bool(found[0])


def _home_relative(path: Path) -> str:
    try:
        return f"~/{path.relative_to(Path.home())}"
    except ValueError:
        return str(path)
