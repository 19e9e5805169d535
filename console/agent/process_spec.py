"""What a create request asks for: its fields checked, and the errors of the process service."""

from __future__ import annotations

import re
from dataclasses import dataclass

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class ProcessSpec:
    """What a create request asks for."""

    app: str
    node: str
    process_type: str
    source_url: str
    env: dict[str, str]

    @property
    def slug(self) -> str:
        return f"{self.app}.{self.node}"


class InvalidSpec(ValueError):
    pass


class UnknownProcess(LookupError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"No process with slug '{slug}'")


class SlugTaken(ValueError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"A process with slug '{slug}' exists already")


SPEC_KEYS = frozenset({"app", "node", "process_type", "source_url", "env"})
"""The keys of a create request (smartmob-agent 0.3.0's schema; none of ours yet)."""


def parse_spec(body: dict[str, object]) -> ProcessSpec:
    """Validate a create request; every problem is one InvalidSpec with a clear message."""
    unknown = sorted(set(body) - SPEC_KEYS)
    if unknown:
        # smartmob-agent's schema is strict: a typo is an error, not a silent default.
        raise InvalidSpec(f"unknown keys {unknown}: a process takes {sorted(SPEC_KEYS)}")
    fields = {}
    for key in ("app", "node", "process_type", "source_url"):
        value = body.get(key)
        if not isinstance(value, str) or not value.strip():
            raise InvalidSpec(f"'{key}' must be a non-empty string")
        fields[key] = value.strip()
    for key in ("app", "node"):
        if not NAME.match(fields[key]):
            raise InvalidSpec(f"'{key}' may hold only letters, digits, '_', '.' and '-'")
    env = body.get("env", {})
    if env is None:
        env = {}
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise InvalidSpec("'env' must map strings to strings")
    return ProcessSpec(env=dict(env), **fields)
