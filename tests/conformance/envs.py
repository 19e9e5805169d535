"""The real upstream clients and servers, each installed once per machine from the registries.

An environment is a virtualenv under ``~/.cache/opsconsole/conformance/<name>-<version>``
(``$OPSCONSOLE_CONFORMANCE_CACHE`` moves the root). It is built on first use, under an
exclusive lock file so that pytest-xdist workers (or two test runs) never build it twice,
and marked complete by a ``.ready`` file written last: a build that died half-way is redone.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

BUILD_TIMEOUT = 900
"""Seconds one environment may take to install (pip resolving old pins on a loaded machine)."""


def cache_root() -> Path:
    override = os.environ.get("OPSCONSOLE_CONFORMANCE_CACHE")
    return Path(override) if override else Path.home() / ".cache" / "opsconsole" / "conformance"


def pyenv_python(version: str) -> Path | None:
    """pyenv's ``versions/VERSION/bin/python``, or None when pyenv or that version is absent."""
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    if shutil.which("pyenv"):
        found = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip():
            root = found.stdout.strip()
    python = Path(root) / "versions" / version / "bin" / "python"
    return python if python.exists() else None


@dataclass(frozen=True)
class EnvSpec:
    """One upstream environment: which interpreter, which pinned registry packages."""

    name: str
    version: str
    interpreter: str
    """``"current"`` (the interpreter running the tests) or a pyenv version such as ``2.7.18``."""
    packages: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


SCIROCCO = EnvSpec(
    "scirocco-pyclient", "2.0.2", "current", ("scirocco-pyclient==2.0.2", "urllib3<2")
)
SMARTMOB = EnvSpec(
    "smartmob-agent", "0.3.0", "3.6.15", ("smartmob-agent==0.3.0", "aiohttp==0.20.2")
)
SHMOOZE = EnvSpec(
    "shmooze",
    "1.2.4",
    "2.7.18",
    ("tornado==4.3", "toro==1.0", "Werkzeug==0.11", "shmooze==1.2.4"),
)
PYJOJO = EnvSpec("pyjojo", "0.9", "2.7.18", ("pyjojo==0.9",))
REMOTO = EnvSpec("remoto", "1.2.1", "current", ("remoto==1.2.1",))
ALL = (SCIROCCO, SMARTMOB, SHMOOZE, PYJOJO, REMOTO)


class EnvUnavailable(Exception):
    """The environment cannot exist on this machine (its interpreter is missing)."""


def _base_python(spec: EnvSpec) -> Path:
    if spec.interpreter == "current":
        return Path(sys.executable)
    python = pyenv_python(spec.interpreter)
    if python is None:
        raise EnvUnavailable(
            f"{spec.key} needs Python {spec.interpreter} from pyenv, not on this machine"
        )
    return python


def _run(argv: list[str | Path], log: Path) -> None:
    with log.open("a") as out:
        out.write(f"+ {' '.join(map(str, argv))}\n")
        out.flush()
        done = subprocess.run(
            [str(a) for a in argv], stdout=out, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT
        )
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({done.returncode}); see {log}")


def _make_venv(spec: EnvSpec, base: Path, target: Path, log: Path) -> None:
    if spec.interpreter.startswith("2."):
        # Python 2 has no venv: virtualenv before 20.22 still creates Python 2 environments.
        tool = cache_root() / "virtualenv-tool"
        if not (tool / ".ready").exists():
            shutil.rmtree(tool, ignore_errors=True)
            _run([sys.executable, "-m", "venv", tool], log)
            _run([tool / "bin" / "pip", "install", "-q", "virtualenv<20.22"], log)
            (tool / ".ready").touch()
        _run([tool / "bin" / "virtualenv", "-q", "-p", base, target], log)
    else:
        _run([base, "-m", "venv", target], log)


def ensure(spec: EnvSpec) -> Path:
    """The environment's directory (its ``bin/python`` runs the upstream code), built if needed.

    Raises EnvUnavailable when its interpreter is missing, RuntimeError when pip fails
    (the log path is in the message).
    """
    base = _base_python(spec)
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / spec.key
    with (root / f"{spec.key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / ".ready").exists():
            return target
        shutil.rmtree(target, ignore_errors=True)
        log = root / f"{spec.key}.log"
        log.write_text("")
        _make_venv(spec, base, target, log)
        _run([target / "bin" / "python", "-m", "pip", "install", "-q", *spec.packages], log)
        (target / ".ready").write_text(" ".join(spec.packages) + "\n")
    return target


def env_or_skip(spec: EnvSpec) -> Path:
    """``ensure(spec)`` for a test: a missing interpreter skips it with the reason."""
    try:
        return ensure(spec)
    except EnvUnavailable as exc:
        pytest.skip(str(exc))


if __name__ == "__main__":
    # ``python -m tests.conformance.envs``: build every environment (CI warm-up, timing).
    for spec in ALL:
        try:
            print(spec.key, ensure(spec), flush=True)
        except EnvUnavailable as exc:
            print(spec.key, "skipped:", exc, flush=True)
