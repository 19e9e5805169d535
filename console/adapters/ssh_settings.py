"""A host's connection settings as OpenSSH resolves them, through asyncssh's own config support.

What the operator gave (``user@host:port``, ``-i KEY``, ``--known-hosts``) wins; anything left
out comes from ``~/.ssh/config`` (Host, Match, Include, HostName, Port, User, IdentityFile,
...), and only then from our defaults: a default of ours never overrides a config value.
Host keys are always checked: ``UserKnownHostsFile none`` and ``StrictHostKeyChecking no``
do not turn the check off (an unknown key is refused all the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts").expanduser()
DEFAULT_CONFIG = Path("~/.ssh/config").expanduser()
NO_KNOWN_HOSTS: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
"""asyncssh's "no trusted keys, no CAs, nothing revoked": every key is refused."""


@dataclass(frozen=True)
class SshDefaults:
    """Our settings; each is used only where neither the caller nor ~/.ssh/config set one.

    ``known_hosts`` and ``client_keys`` given here are the operator's explicit choice
    (like ``ssh -o UserKnownHostsFile=`` and ``ssh -i``) and win over the config.
    Times are in seconds.
    """

    known_hosts: Path | None = None
    client_keys: tuple[Path, ...] | None = None
    config: Path | None = DEFAULT_CONFIG
    connect_timeout: float = 10.0
    """Used when the config has no ConnectTimeout."""
    keepalive_interval: float = 15.0
    """Used when the config has no ServerAliveInterval; three unanswered ones drop the link."""

    def config_files(self) -> list[str] | None:
        """What asyncssh should load: None loads nothing (its default would load ~/.ssh/config)."""
        if self.config is not None and self.config.exists():
            return [str(self.config)]
        return None


@dataclass(frozen=True)
class HostSettings:
    """Where one host resolves to, and the keyword arguments that connect to it."""

    hostname: str
    """After HostName (and HostKeyAlias, for known_hosts)."""
    port: int
    user: str
    """After User (else the local user's name)."""
    known_hosts: tuple[Path, ...]
    """Where keys are looked up; an accepted key is written to the first. Empty: none."""
    connect_kwargs: dict[str, Any]

    @property
    def known_hosts_pattern(self) -> str:
        """The host as a known_hosts line names it: ``host``, or ``[host]:port`` off port 22."""
        return self.hostname if self.port == 22 else f"[{self.hostname}]:{self.port}"

    @property
    def address(self) -> str:
        """``user@host:port``, as resolved."""
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return f"{self.user}@{host}:{self.port}"


async def resolve(
    defaults: SshDefaults, hostname: str, port: int | None, user: str | None
) -> HostSettings:
    """The settings for ``hostname`` (as typed: an alias or a name) after ~/.ssh/config.

    Raises ``ValueError`` for a config file asyncssh cannot parse.
    """
    config = defaults.config_files()
    given: dict[str, Any] = {"host": hostname, "config": config}
    if port is not None:
        given["port"] = port
    if user is not None:
        given["username"] = user
    try:
        # Keys are not loaded here (a missing IdentityFile is reported when connecting).
        options = await asyncssh.SSHClientConnectionOptions.construct(
            **given, client_keys=None, agent_path=None
        )
    except asyncssh.ConfigParseError as exc:
        raise ValueError(f"{defaults.config}: {exc}") from None
    found = options.config
    known_hosts = _known_hosts_files(defaults, found)
    existing = [str(path) for path in known_hosts if path.exists()]
    extra = _global_known_hosts(found)
    kwargs: dict[str, Any] = {
        **given,
        # Always given: left to asyncssh, "UserKnownHostsFile none" would skip the check.
        "known_hosts": existing + extra if existing or extra else NO_KNOWN_HOSTS,
    }
    if defaults.client_keys is not None:
        kwargs["client_keys"] = [str(key) for key in defaults.client_keys]
    if found.get("ConnectTimeout") is None:
        kwargs["connect_timeout"] = defaults.connect_timeout
    if found.get("ServerAliveInterval") is None:
        kwargs["keepalive_interval"] = defaults.keepalive_interval
    alias = options.host_key_alias
    name = alias or options.host
    return HostSettings(name, options.port, options.username, tuple(known_hosts), kwargs)


def _known_hosts_files(defaults: SshDefaults, config: Any) -> list[Path]:
    if defaults.known_hosts is not None:
        return [defaults.known_hosts]
    configured = config.get("UserKnownHostsFile")
    if configured is None:
        return [DEFAULT_KNOWN_HOSTS]
    return [Path(name).expanduser() for name in configured]


def _global_known_hosts(config: Any) -> list[str]:
    return [name for name in config.get("GlobalKnownHostsFile", []) if Path(name).exists()]
