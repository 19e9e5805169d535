"""The ``opsconsole agent`` subcommand: its flags, and settings from them and the config."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from console.adapters.endpoint import AGENT_TOKEN_ENV, INBOX_TOKEN_ENV, PASSWORD_ENV
from console.config import OPEN_FAMILIES, AgentSettings, ConsoleConfig


def add_agent_command(commands: Any) -> None:
    """``agent`` and its flags, each also settable in the config's ``[agent]`` table."""
    agent = commands.add_parser("agent", help="run the headless agent until SIGINT/SIGTERM")
    agent.add_argument("--config", type=Path, help="TOML config file; its [agent] table")
    agent.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    agent.add_argument("--port", type=int, help="port to listen on; 0 picks a free one (8470)")
    agent.add_argument("--data-dir", type=Path, help="where the agent keeps its state")
    agent.add_argument("--scripts", type=Path, help="directory of the script catalog")
    agent.add_argument("--htpasswd", type=Path, help="htpasswd file: require HTTP Basic auth")
    agent.add_argument(
        "--inbox-token",
        dest="inbox_tokens",
        action="append",
        help=f"inbox token (repeatable; ps shows it: use --inbox-token-file or ${INBOX_TOKEN_ENV})",
    )
    agent.add_argument("--inbox-token-file", type=Path, help="file holding an inbox token (0600)")
    agent.add_argument(
        "--token-file", type=Path, help="the agent token's file (default DATA_DIR/agent-token)"
    )
    agent.add_argument(
        "--no-auth",
        action="store_true",
        default=None,
        help="serve every route without credentials (loopback only; warned at every start)",
    )
    agent.add_argument(
        "--open",
        dest="open_families",
        action="append",
        choices=OPEN_FAMILIES,
        help="serve this family without credentials, for old clients that send none "
        "(loopback only; repeatable)",
    )
    agent.add_argument(
        "--allowed-host",
        dest="allowed_hosts",
        action="append",
        metavar="NAME",
        help="a Host name clients reach this agent by, besides loopback (repeatable)",
    )
    agent.add_argument("--node-id", help="the operator's inbox node (default: the host name)")
    agent.add_argument("--tls-cert", type=Path, help="TLS certificate (PEM)")
    agent.add_argument("--tls-key", type=Path, help="TLS private key (PEM)")
    agent.add_argument("--demo", action="store_true", default=None, help="serve the bundled demo")


def run_agent(args: argparse.Namespace) -> int:
    config = ConsoleConfig.load(args.config)
    settings = AgentSettings.from_toml(config.agent)
    settings.modules = {name: config.raw.get(name, {}) for name in ("queue", "pool")}
    for name in (
        "host",
        "port",
        "data_dir",
        "scripts",
        "htpasswd",
        "inbox_tokens",
        "inbox_token_file",
        "token_file",
        "no_auth",
        "open_families",
        "allowed_hosts",
        "node_id",
        "tls_cert",
        "tls_key",
        "demo",
    ):
        settings.set(name, getattr(args, name))
    # Taken out of the environment: the agent's children must not inherit it.
    if token := os.environ.pop(INBOX_TOKEN_ENV, None):
        settings.inbox_tokens = [*settings.inbox_tokens, token]
    for client_secret in (AGENT_TOKEN_ENV, PASSWORD_ENV):
        os.environ.pop(client_secret, None)
    if args.inbox_tokens:
        print(
            "opsconsole agent: warning: --inbox-token is visible to every user in ps; "
            f"prefer --inbox-token-file or ${INBOX_TOKEN_ENV}",
            file=sys.stderr,
        )
    settings.apply_demo()
    settings.check()
    from console.cli import skip_unused_imports

    skip_unused_imports()  # the agent runs on asyncio alone: ~6 MiB and ~60 ms less
    from console.agent.server import serve

    return serve(settings)
