"""A process's details as the agent gives them out: its environment with secrets held back.

Secret values never leave the agent: a variable whose name holds one of
``SECRET_WORDS`` is sent as ``FILTERED``, and a password inside a URL value
(``postgres://app:pw@db/x``) is hidden the way download errors hide it.
"""

from __future__ import annotations

from console.agent.downloads import redact_url
from console.agent.processes import ManagedProcess
from console.models import FILTERED, ProcessDetails, ProcessStatus, ProcessUsage

SECRET_WORDS = (
    "PASS",
    "SECRET",
    "TOKEN",
    "KEY",
    "AUTH",
    "CREDENTIAL",
    "PRIVATE",
    "COOKIE",
    "SESSION",
    "SIGNATURE",
    "SALT",
    "CERT",
)
"""A variable whose upper-cased name contains one of these is a secret (API_KEY, DB_PASSWORD,
GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY, BASIC_AUTH, GOOGLE_APPLICATION_CREDENTIALS...)."""


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return any(word in upper for word in SECRET_WORDS)


def masked_env(env: dict[str, str]) -> tuple[dict[str, str], tuple[str, ...]]:
    """``env`` as it may be shown, and the names whose values were hidden (sorted)."""
    shown: dict[str, str] = {}
    hidden: list[str] = []
    for name, value in sorted(env.items()):
        if is_secret_name(name):
            shown[name] = FILTERED
            hidden.append(name)
        elif "://" in value and "@" in value:
            shown[name] = redact_url(value)
            if shown[name] != value:
                hidden.append(name)
        else:
            shown[name] = value
    return shown, tuple(hidden)


def details_of(
    process: ManagedProcess, status: ProcessStatus, usage: ProcessUsage | None
) -> ProcessDetails:
    """What ``GET /process-details/SLUG`` answers: the environment is the process's own
    (``PORT``, its Procfile line's, its create request's), not the agent's it inherits."""
    env, hidden = masked_env(process.own_environment())
    return ProcessDetails(
        status=status,
        command=process.command,
        workdir=None if process.workdir is None else str(process.workdir),
        env=env,
        masked=hidden,
        exits=tuple(process.exits),
        usage=usage,
    )
