"""The script catalog: executables in a directory tree, described by their ``-- jojo --`` header."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from console.models import HttpMethod, OutputMode, Script, ScriptParam

log = logging.getLogger(__name__)

HEADER_MARKER = re.compile(r"^#\s*--\s*jojo\s*--\s*$")
HEADER_SCAN_BYTES = 64 * 1024
"""Only the start of a file is read for its header: scripts may be big binaries."""

_PARAM = re.compile(r"^(\S+)(?:\s+-\s*(.*))?$")
_NON_WORD = re.compile(r"\W+")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


class InvalidHeader(ValueError):
    """The header block cannot be read; the script is left out of the catalog."""


def script_name(relative: Path) -> str:
    """``deploy/web.sh`` → ``deploy_web``: no last extension, runs of non-word chars as ``_``."""
    return _NON_WORD.sub("_", str(relative.with_suffix("")))


def header_lines(text: str) -> list[str] | None:
    """The comment lines between the two markers; None when there is no block."""
    inside: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if HEADER_MARKER.match(stripped):
            if inside is not None:
                return inside
            inside = []
        elif inside is not None and stripped.startswith("#"):
            inside.append(stripped.lstrip("#").strip())
    if inside is not None:
        raise InvalidHeader("the -- jojo -- block opens but never closes")
    return None


def _bool(key: str, value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InvalidHeader(f"{key}: expected True or False, got {value!r}")


def _names(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def parse_header(name: str, filename: str, lines: list[str]) -> Script:
    """Build the Script from its header lines; unknown keys are logged and ignored."""
    fields: dict[str, object] = {}
    params: list[ScriptParam] = []
    for line in lines:
        key, sep, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if not sep or not key:
            continue
        match key:
            case "description":
                fields["description"] = value or None
            case "param":
                found = _PARAM.match(value)
                if found is None:
                    raise InvalidHeader(f"param: no name in {line!r}")
                params.append(ScriptParam(found[1], (found[2] or "").strip() or None))
            case "filtered_params":
                fields["filtered_params"] = _names(value)
            case "tags":
                fields["tags"] = _names(value)
            case "http_method":
                try:
                    fields["http_method"] = HttpMethod(value.lower())
                except ValueError:
                    raise InvalidHeader(f"http_method: unknown method {value!r}") from None
            case "output":
                try:
                    fields["output"] = OutputMode(value.lower())
                except ValueError:
                    raise InvalidHeader(
                        f"output: expected split or combined, got {value!r}"
                    ) from None
            case "lock" | "confirm":
                fields[key] = _bool(key, value)
            case "timeout":
                try:
                    fields["timeout"] = float(value)
                except ValueError:
                    raise InvalidHeader(f"timeout: not a number of seconds: {value!r}") from None
            case _:
                log.warning("script %s: unknown header key %r ignored", filename, key)
    return Script(name=name, filename=filename, params=tuple(params), **fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CatalogEntry:
    script: Script
    path: Path


def scan(directory: Path) -> dict[str, CatalogEntry]:
    """Every valid executable under ``directory``, keyed by script name."""
    catalog: dict[str, CatalogEntry] = {}
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if not os.access(path, os.X_OK):
            log.warning("script %s skipped: not executable", relative)
            continue
        name = script_name(relative)
        if name in catalog:
            log.warning(
                "script %s skipped: its name %r is taken by %s",
                relative,
                name,
                catalog[name].script.filename,
            )
            continue
        try:
            with path.open("rb") as handle:
                text = handle.read(HEADER_SCAN_BYTES).decode(errors="replace")
            # The absolute path, as pyjojo gave it (clients show where a script lives).
            script = parse_header(name, str(path.absolute()), header_lines(text) or [])
        except (OSError, InvalidHeader) as exc:
            log.warning("script %s skipped: %s", relative, exc)
            continue
        catalog[name] = CatalogEntry(script, path)
    return catalog
