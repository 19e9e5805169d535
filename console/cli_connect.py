"""From the command line's connection flags to an agent connector: which agent, what credentials."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from console.adapters.connect import AGENT_TOKEN_ENV, INBOX_TOKEN_ENV, PASSWORD_ENV
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


def connector_for(args: argparse.Namespace, demo: bool = False) -> AgentConnector:
    """The agent this invocation talks to: named, from a context, or spawned here."""
    from console.adapters.connect import ExistingAgent, SpawnedAgent

    config = ConsoleConfig.load(getattr(args, "config", None))
    url, user, verify = getattr(args, "agent", None), getattr(args, "user", None), True
    context_name = getattr(args, "context", None)
    context = None
    if context_name:
        context = config.contexts.get(context_name)
        if context is None:
            known = ", ".join(sorted(config.contexts)) or "none configured"
            raise ConfigError(f"no context {context_name!r} (known: {known})")
        url = str(context.get("agent", ""))
        user = user or context.get("user")
        verify = context.get("verify", True)
        if url.startswith("ssh://"):
            return ssh_connector(url, context)
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"context {context_name!r}: agent {url!r} is not http(s):// or ssh://"
            )
    if getattr(args, "insecure", False):
        verify = False
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError(f"--agent {url!r}: expected an http:// or https:// URL")
    home = data_dir() / ("demo" if demo else "agent")
    if not url and not demo:
        # An agent of this user already serving this data dir (standalone, or a console's).
        url = running_agent_url(home)
    if url and not demo:
        # Only here: httpx is slow to import, and the spawning path paints before it needs it.
        from console.adapters.base import Endpoint

        token = os.environ.get(INBOX_TOKEN_ENV) or (context or {}).get("inbox_token")
        endpoint = Endpoint(
            url,
            user,
            os.environ.get(PASSWORD_ENV),
            verify,
            token,
            agent_token=client_agent_token(args, context or {}, url, home),
        )
        return ExistingAgent(endpoint)
    make_private_home(home)
    agent_args = ["--data-dir", str(home)]
    config_file = getattr(args, "config", None) or default_config_file()
    if config_file.exists():
        agent_args += ["--config", str(config_file)]
    if demo:
        agent_args.append("--demo")
    return SpawnedAgent(agent_args, log_file=home / "agent.log")


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
    from console.adapters.connect import SshAgent
    from console.adapters.ssh import Host, SshHosts

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
