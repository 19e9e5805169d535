"""From the command line's connection flags to an agent connector: which agent, what credentials."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from console.adapters.endpoint import AGENT_TOKEN_ENV, INBOX_TOKEN_ENV, PASSWORD_ENV
from console.config import (
    ConfigError,
    ConsoleConfig,
    agent_token,
    data_dir,
    default_config_file,
    is_loopback,
    read_secret_file,
    registered_agent_token,
    running_agent_url,
)

if TYPE_CHECKING:
    from console.adapters.connect import AgentConnector
    from console.adapters.endpoint import Endpoint


ALL = "all"
"""``--context all``: every context of the config file."""


def fleet_contexts(args: argparse.Namespace) -> list[str] | None:
    """The contexts ``--context`` names when it names a fleet (``all`` or a comma list),
    else None. Raises ConfigError for a context the config does not know, or for ``all``
    with none configured."""
    given = getattr(args, "context", None)
    if not given or (given != ALL and "," not in given):
        return None
    known = ConsoleConfig.load(getattr(args, "config", None)).contexts
    if given == ALL:
        if not known:
            raise ConfigError("--context all: the config file names no contexts")
        return list(known)
    names = list(dict.fromkeys(name.strip() for name in given.split(",") if name.strip()))
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        listed = ", ".join(sorted(known)) or "none configured"
        raise ConfigError(f"--context {given}: no context {unknown or given!r} (known: {listed})")
    return names


def connector_for(args: argparse.Namespace, demo: bool = False) -> AgentConnector:
    """The agent this invocation talks to: named, from a context, or spawned here."""
    from console.adapters.connect import ExistingAgent, SpawnedAgent

    context = named_context(args)
    if context is not None and str(context.get("agent", "")).startswith("ssh://"):
        return ssh_connector(str(context["agent"]), context)
    home = data_dir() / ("demo" if demo else "agent")
    if not demo and (endpoint := http_endpoint(args, context, home)) is not None:
        return ExistingAgent(endpoint)
    make_private_home(home)
    agent_args = ["--data-dir", str(home)]
    config_file = getattr(args, "config", None) or default_config_file()
    if config_file.exists():
        agent_args += ["--config", str(config_file)]
    if demo:
        agent_args.append("--demo")
    return SpawnedAgent(agent_args, log_file=home / "agent.log")


def one_shot_endpoint(args: argparse.Namespace) -> Endpoint | None:
    """The http(s) agent this invocation names or finds running, for a one-shot request;
    None when it would go through SSH or spawn an agent of its own."""
    context = named_context(args)
    if context is not None and str(context.get("agent", "")).startswith("ssh://"):
        return None
    return http_endpoint(args, context, data_dir() / "agent")


def named_context(args: argparse.Namespace) -> dict[str, Any] | None:
    """The config's table of the ``--context`` given, or None without one. Raises ConfigError
    for an unknown context or an agent URL that is not http(s):// or ssh://."""
    context_name = getattr(args, "context", None)
    if not context_name:
        return None
    config = ConsoleConfig.load(getattr(args, "config", None))
    context = config.contexts.get(context_name)
    if context is None:
        known = ", ".join(sorted(config.contexts)) or "none configured"
        raise ConfigError(f"no context {context_name!r} (known: {known})")
    url = str(context.get("agent", ""))
    if not url.startswith(("http://", "https://", "ssh://")):
        raise ConfigError(f"context {context_name!r}: agent {url!r} is not http(s):// or ssh://")
    return context


def http_endpoint(
    args: argparse.Namespace, context: dict[str, Any] | None, home: Path
) -> Endpoint | None:
    """The http(s) agent named by ``--agent`` or the (http) ``context``, else the one of this
    user already serving ``home``; with its credentials. None when there is none."""
    from console.adapters.endpoint import Endpoint

    url, user, verify = getattr(args, "agent", None), getattr(args, "user", None), True
    if context is not None:
        url = str(context.get("agent", ""))
        user = user or context.get("user")
        verify = context.get("verify", True)
    if getattr(args, "insecure", False):
        verify = False
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError(f"--agent {url!r}: expected an http:// or https:// URL")
    if not url:
        # An agent of this user already serving this data dir (standalone, or a console's).
        url = running_agent_url(home)
    if not url:
        return None
    token = os.environ.get(INBOX_TOKEN_ENV) or (context or {}).get("inbox_token")
    return Endpoint(
        url,
        user,
        os.environ.get(PASSWORD_ENV),
        verify,
        token,
        agent_token=client_agent_token(args, context or {}, url, home),
    )


def client_agent_token(
    args: argparse.Namespace, context: dict[str, Any], url: str, home: Path
) -> str | None:
    """The agent token to send: ``--token-file``, ``$OPSCONSOLE_AGENT_TOKEN``, the context's
    ``token_file``, or, for an agent on this machine's loopback, the local agent's own file."""
    token_file = getattr(args, "token_file", None) or context.get("token_file")
    if token_file:
        path = Path(token_file).expanduser()
        token = read_secret_file(path)
        if token is None:
            raise ConfigError(f"--token-file {path}: no token there")
        return token
    if token := os.environ.get(AGENT_TOKEN_ENV):
        return token
    if not is_loopback(urlsplit(url).hostname or ""):
        return None
    return registered_agent_token(url) or agent_token(home)


def make_private_home(home: Path) -> None:
    """The spawned agent's data dir, created 0700 (its token and logs live there)."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    home.chmod(0o700)


def ssh_connector(url: str, context: dict[str, Any]) -> AgentConnector:
    """``ssh://user@host[:port]``: the agent on that host's loopback, through a forward."""
    from console.adapters.ssh import Host, SshHosts
    from console.adapters.ssh_agent import SshAgent

    try:
        host = Host.parse(url.removeprefix("ssh://").rstrip("/"))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    known_hosts = context.get("known_hosts")
    hosts = SshHosts(**({"known_hosts": Path(known_hosts).expanduser()} if known_hosts else {}))
    return SshAgent(
        hosts,
        host,
        remote_port=int(context.get("remote_port", 8470)),
        start=bool(context.get("start", True)),
        remote_command=str(context.get("remote_command", "opsconsole")),
        remote_log_dir=context.get("remote_log_dir"),
        agent_args=[str(arg) for arg in context.get("agent_args", [])],
    )
