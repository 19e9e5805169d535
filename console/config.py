"""Settings: the TOML config file, XDG paths, the agent's settings and the console's contexts.

One file serves both: ``[agent]`` holds the agent's settings (each also a
command-line flag; flags win), the rest is the console's (theme, hosts, contexts).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import socket
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

if TYPE_CHECKING:
    # Imported where used: the command line reads this module, and a one-shot command
    # (``ps``) must not pay for the agent's settings types.
    from console.models import DeliveryPolicy, RestartPolicy
    from console.output.budget import OutputBudget

APP_NAME = "opsconsole"
DEFAULT_PORT = 8470
AGENT_TOKEN_FILE = "agent-token"
"""The agent token's file in the agent's data dir: one line, mode 0600 in a 0700 dir."""
AGENT_URL_FILE = "agent-url"
"""A running agent's URL and pid (``URL PID``) in its data dir, so local clients find it."""
OPEN_FAMILIES = ("processes", "modules")
"""Route families whose old clients never authenticated (smartmob, shmooze)."""


class ConfigError(ValueError):
    """The config file or a flag cannot be used; the message says why, in one line."""


def config_dir() -> Path:
    return platformdirs.user_config_path(APP_NAME)


def default_config_file() -> Path:
    return config_dir() / "config.toml"


def data_dir() -> Path:
    return platformdirs.user_data_path(APP_NAME)


def load_toml(path: Path | None) -> dict[str, Any]:
    """The parsed file; an absent default file is an empty config, an absent named one an error."""
    explicit = path is not None
    path = path or default_config_file()
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"config file {path} does not exist") from None
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None


def is_loopback(host: str) -> bool:
    """True for ``localhost`` (and ``*.localhost``, which resolvers keep on this machine),
    127.0.0.0/8 and ``::1`` (bracketed or not)."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_secret_file(path: Path) -> str | None:
    """The first line of a secret's file, stripped; None when absent or empty.

    Raises ConfigError when the file is readable by group or others: a secret
    others can read is no secret (the check ssh does for private keys).
    """
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    if mode & 0o077:
        raise ConfigError(f"{path} is readable by others (mode {mode & 0o777:o}): chmod 600 it")
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    return line or None


def agent_token(agent_data_dir: Path) -> str | None:
    """The token of the agent whose data dir this is, as a local client finds it; None if none."""
    try:
        return read_secret_file(agent_data_dir / AGENT_TOKEN_FILE)
    except ConfigError:
        return None


def agent_registry() -> Path:
    """Where running agents of this user say where they are (``PID.json``: url and data dir),
    as Jupyter's runtime files do, so a client given only a URL finds that agent's token.
    Under the user's state dir (home), never a shared /tmp another user could fill."""
    return platformdirs.user_state_path(APP_NAME) / "agents"


def registered_agent_token(url: str) -> str | None:
    """The token of the running local agent announced at ``url``; None if none of ours is.
    Entries of agents no longer running are removed on the way."""
    registry = agent_registry()
    try:
        info = registry.stat()
    except OSError:
        return None
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    found: str | None = None
    for name in sorted(n for n in os.listdir(registry) if n.endswith(".json")):
        entry = registry / name
        try:
            record = json.loads(entry.read_text())
            os.kill(int(record["pid"]), 0)
        except ProcessLookupError:
            # An agent killed without forgetting itself: drop its entry, or every client
            # reads them all (thousands after a day of tests, 170 ms on each command).
            with contextlib.suppress(OSError):
                entry.unlink()
            continue
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(record, dict) and str(record.get("url", "")).rstrip("/") == url.rstrip("/"):
            found = found or agent_token(Path(str(record.get("data_dir"))))
    return found


def running_agent_url(agent_data_dir: Path) -> str | None:
    """The URL a running agent on this data dir announced, if its process is still alive."""
    try:
        url, _, pid = (agent_data_dir / AGENT_URL_FILE).read_text().strip().partition(" ")
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return None
    return url or None


@dataclass(frozen=True)
class ConnectionLimits:
    """How many connections the agent holds open, and for how long an idle one may wait."""

    max_open: int = 4096
    """Open connections at most; lowered to half the open-file limit when that is smaller."""
    head_timeout: float = 10.0
    """Seconds a connection may take to send a whole request head (slow or silent clients)."""
    keep_alive: float = 5.0
    """Seconds an idle keep-alive connection stays open after its last answer."""
    body_timeout: float = 60.0
    """Seconds a request body may take to arrive whole (else 408)."""


@dataclass
class AgentSettings:
    """Everything ``opsconsole agent`` needs to serve."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path = field(default_factory=lambda: data_dir() / "agent")
    scripts: Path | None = None
    htpasswd: Path | None = None
    inbox_tokens: list[str] = field(default_factory=list)
    inbox_token_file: Path | None = None
    """A file holding one more inbox token (kept off the command line, where ps shows it)."""
    token_file: Path | None = None
    """The agent token's file (default DATA_DIR/agent-token, created on first start)."""
    no_auth: bool = False
    """Serve every route without credentials: loopback only, warned about at every start."""
    open_families: list[str] = field(default_factory=list)
    """Families (``processes``, ``modules``) served without credentials: loopback only."""
    allowed_hosts: list[str] = field(default_factory=list)
    """Host header values served besides loopback names (the names this agent is reached by)."""
    source_allow_link_local: bool = False
    """Let ``source_url`` reach link-local and cloud-metadata addresses (refused by default)."""
    download_timeout: float = 300.0
    """Seconds a ``source_url`` download may take in all, redirects included."""
    download_max_bytes: int = 256 << 20
    node_id: str = field(default_factory=socket.gethostname)
    tls_cert: Path | None = None
    tls_key: Path | None = None
    demo: bool = False
    history_keep: int = 50
    process_log_files: bool = False
    """Also write each process's output to ``DATA_DIR/logs/SLUG.log``, rotated."""
    alerts: bool = True
    """Push a message to ``node_id`` when a process goes fatal or a script run fails."""
    inbox: dict[str, Any] = field(default_factory=dict)
    """``[agent.inbox]``: visibility_timeout (seconds) and max_tries; the store and its options
    (store, namespace, agent_name, redis: see ``console.agent.inbox_backend.open_store``)."""
    restart: dict[str, float] = field(default_factory=dict)
    """``[agent.restart]``: the RestartPolicy fields (first_delay, max_delay, ...)."""
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The top-level ``[queue]`` and ``[pool]`` tables: module types, as commands."""
    module_timeouts: dict[str, float] = field(default_factory=dict)
    """``[agent.module_timeouts]``: connect, reply, rm_grace, term_grace (seconds)."""
    output: dict[str, int] = field(default_factory=dict)
    """``[agent.output]``: the OutputBudget fields (ring_bytes, reader_bytes, ...), in bytes."""
    connections: dict[str, float] = field(default_factory=dict)
    """``[agent.connections]``: the ConnectionLimits fields (max_open, head_timeout, ...)."""
    module_uids: str = "uuid4"
    """``uuid4`` (shmooze's uids) or ``sequential`` ("1", "2"...: shmooze's debug mode, for
    reproducible screens and tests)."""

    def module_tcp_port(self, service: str) -> int | None:
        """``[SERVICE] tcp_port = N``: serve shmooze's raw newline-JSON protocol there too."""
        port = self.modules.get(service, {}).get("tcp_port")
        if port is None:
            return None
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            raise ConfigError(f"[{service}] tcp_port = {port!r}: not a port number")
        return port

    def module_limit(self, service: str, default: int) -> int:
        """``[SERVICE] max_modules = N``: how many modules the queue or pool holds at once."""
        limit = self.modules.get(service, {}).get("max_modules", default)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ConfigError(f"[{service}] max_modules = {limit!r}: not a count above zero")
        return limit

    def module_types(self, service: str, kind: str = "modules") -> dict[str, list[str]]:
        """``{type: command}`` of ``[SERVICE.KIND.TYPE] command = [...]``."""
        types: dict[str, list[str]] = {}
        for name, table in (self.modules.get(service, {}).get(kind) or {}).items():
            command = table.get("command") if isinstance(table, dict) else None
            if not isinstance(command, list) or not all(isinstance(c, str) for c in command):
                raise ConfigError(f'[{service}.{kind}.{name}] needs command = ["program", ...]')
            types[name] = command
        return types

    def delivery_policy(self) -> DeliveryPolicy:
        # Imported here: the console's client commands read this module and must not load
        # the agent's packages.
        from console.agent.inbox_backend import STORE_KEYS
        from console.models import DeliveryPolicy

        try:
            return DeliveryPolicy(**{k: v for k, v in self.inbox.items() if k not in STORE_KEYS})
        except TypeError as exc:
            raise ConfigError(f"[agent.inbox]: {exc}") from None

    def output_budget(self) -> OutputBudget:
        from console.output.budget import OutputBudget

        try:
            return OutputBudget(**self.output)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"[agent.output]: {exc}") from None

    def connection_limits(self) -> ConnectionLimits:
        try:
            limits = ConnectionLimits(**self.connections)
        except TypeError as exc:
            raise ConfigError(f"[agent.connections]: {exc}") from None
        if (
            limits.max_open < 1
            or min(limits.head_timeout, limits.keep_alive, limits.body_timeout) <= 0
        ):
            raise ConfigError("[agent.connections]: every limit must be above zero")
        return limits

    def restart_policy(self) -> RestartPolicy:
        from console.models import RestartPolicy

        try:
            return RestartPolicy(**self.restart)
        except TypeError as exc:
            raise ConfigError(f"[agent.restart]: {exc}") from None

    @classmethod
    def from_toml(cls, table: dict[str, Any]) -> AgentSettings:
        known = {f.name: f for f in fields(cls)}
        settings = cls()
        for key, value in table.items():
            name = key.replace("-", "_")
            if name not in known:
                raise ConfigError(f"[agent] has no setting {key!r}")
            settings.set(name, value)
        return settings

    def set(self, name: str, value: Any) -> None:
        """Set one setting from a flag or the file, converting paths."""
        if value is None:
            return
        if name in (
            "data_dir",
            "scripts",
            "htpasswd",
            "tls_cert",
            "tls_key",
            "token_file",
            "inbox_token_file",
        ):
            value = Path(value).expanduser()
        setattr(self, name, value)

    def apply_demo(self) -> None:
        if not self.demo:
            return
        from console.demo import SCRIPTS_DIR, demo_module_types

        if self.scripts is None:
            self.scripts = SCRIPTS_DIR
        for service, kinds in demo_module_types().items():
            for kind, types in kinds.items():
                table = self.modules.setdefault(service, {}).setdefault(kind, {})
                for name, command in types.items():
                    table.setdefault(name, {"command": command})

    @property
    def agent_token_file(self) -> Path:
        return self.token_file or self.data_dir / AGENT_TOKEN_FILE

    def check(self) -> None:
        """Refuse settings that would be unsafe or cannot work, before anything starts."""
        opened = "--no-auth" if self.no_auth else "--open" if self.open_families else None
        if opened and not is_loopback(self.host):
            raise ConfigError(
                f"refusing {opened} on {self.host}: anyone who can reach it could run your "
                "commands (bind 127.0.0.1, or keep credentials on)"
            )
        for family in self.open_families:
            if family not in OPEN_FAMILIES:
                raise ConfigError(
                    f"--open {family}: not a family whose old clients lack credentials "
                    f"(choose from {', '.join(OPEN_FAMILIES)})"
                )
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("--tls-cert and --tls-key go together")
        for name in ("htpasswd", "tls_cert", "tls_key", "inbox_token_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ConfigError(f"--{name.replace('_', '-')} {path}: no such file")
        if self.scripts is not None and not self.scripts.is_dir():
            raise ConfigError(f"--scripts {self.scripts}: no such directory")
        self.restart_policy()
        self.delivery_policy()
        self.output_budget()
        self.connection_limits()
        from console.agent.inbox_backend import check_store_settings

        try:
            check_store_settings(self.inbox)
        except ValueError as exc:
            raise ConfigError(f"[agent.inbox]: {exc}") from None
        for service in ("queue", "pool"):
            self.module_types(service)
            self.module_types(service, "backgrounds")
            if self.module_tcp_port(service) is not None and not (
                self.no_auth or "modules" in self.open_families
            ):
                # shmooze's raw protocol has no credentials: serving it opens the family.
                raise ConfigError(
                    f"[{service}] tcp_port serves modules without credentials to every local "
                    'user: say so with --open modules (or open_families = ["modules"])'
                )
        if self.module_uids not in ("uuid4", "sequential"):
            raise ConfigError(f"module_uids = {self.module_uids!r}: uuid4 or sequential")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port {self.port}: not a port number")


@dataclass
class ConsoleConfig:
    """The console's own settings: theme, and the agents (contexts) and hosts it knows."""

    theme: str | None = None
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    agent: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    """The whole file, for the tables other parts read (``[queue]``, ``[pool]``)."""

    @classmethod
    def load(cls, path: Path | None = None) -> ConsoleConfig:
        raw = load_toml(path)
        return cls(
            theme=raw.get("theme"),
            contexts=dict(raw.get("contexts", {})),
            hosts=dict(raw.get("hosts", {})),
            agent=dict(raw.get("agent", {})),
            raw=raw,
        )
