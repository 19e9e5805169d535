"""Theme files: the bundled ones and the user's own, read from TOML into Textual themes.

A theme file holds the fields of ``textual.theme.Theme`` (``name``, ``primary``,
``secondary``, ..., ``dark``) and an optional ``[variables]`` table. A file that
cannot be read or names a bad colour is skipped with a warning: a typo in one
theme must never stop the console from starting.
"""

from __future__ import annotations

import importlib.resources
import logging
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

if TYPE_CHECKING:
    from textual.app import App

DEFAULT_THEME = "opsconsole-dark"

log = logging.getLogger(__name__)

_COLOUR_FIELDS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_THEME_FIELDS = {f.name for f in fields(Theme)}


class ThemeFileError(ValueError):
    """A theme file that cannot become a theme; the message says why."""


@dataclass
class LoadedThemes:
    """Themes found on disk, and one line per file that was skipped."""

    themes: list[Theme] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def bundled_themes_dir() -> Path:
    """Where the themes shipped with the console are: in the wheel, or in the checkout."""
    try:
        packaged = importlib.resources.files("console") / "themes"
        if packaged.is_dir():
            return Path(str(packaged))
    except (ModuleNotFoundError, NotADirectoryError, TypeError):
        pass
    import console

    return Path(console.__file__).resolve().parent.parent / "themes"


def user_themes_dir() -> Path:
    """Where the user keeps their own themes (``~/.config/opsconsole/themes``)."""
    import platformdirs

    return platformdirs.user_config_path("opsconsole") / "themes"


def theme_from_mapping(data: dict[str, Any]) -> Theme:
    """Build a Theme from a parsed theme file, checking every colour now rather than at paint."""
    unknown = sorted(set(data) - _THEME_FIELDS)
    if unknown:
        raise ThemeFileError(f"unknown keys: {', '.join(unknown)}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise ThemeFileError("'name' is missing")
    if not isinstance(data.get("primary"), str):
        raise ThemeFileError("'primary' colour is missing")
    for key in _COLOUR_FIELDS:
        if key in data:
            _check_colour(key, data[key])
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
    ):
        raise ThemeFileError("[variables] must map names to strings")
    if "dark" in data and not isinstance(data["dark"], bool):
        raise ThemeFileError("'dark' must be true or false")
    try:
        return Theme(**data)
    except TypeError as exc:
        raise ThemeFileError(str(exc)) from None


def _check_colour(key: str, value: object) -> None:
    if not isinstance(value, str):
        raise ThemeFileError(f"{key!r} must be a colour string")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(f"{key!r} is not a colour: {value!r}") from None


def load_theme_file(path: Path) -> Theme:
    """Read one theme file; raises ThemeFileError saying what is wrong with it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeFileError(f"cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"not valid TOML: {exc}") from None
    return theme_from_mapping(data)


def load_themes(directories: list[Path] | None = None) -> LoadedThemes:
    """Every theme in the given directories (default: bundled, then user); later ones win."""
    if directories is None:
        directories = [bundled_themes_dir(), user_themes_dir()]
    loaded = LoadedThemes()
    by_name: dict[str, Theme] = {}
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeFileError as exc:
                problem = f"theme file {path} skipped: {exc}"
                log.warning(problem)
                loaded.problems.append(problem)
                continue
            by_name[theme.name] = theme
    loaded.themes = list(by_name.values())
    return loaded


def use_themes(app: App[Any], wanted: str | None) -> list[str]:
    """Register every theme found on ``app`` and select ``wanted`` (the default when None
    or unknown); returns what the operator should be told (bad theme files, unknown name)."""
    loaded = load_themes()
    for found in loaded.themes:
        app.register_theme(found)
    problems = list(loaded.problems)
    wanted = wanted or DEFAULT_THEME
    if wanted not in app.available_themes:
        problems.append(f"unknown theme {wanted!r}; using the default")
        wanted = DEFAULT_THEME if DEFAULT_THEME in app.available_themes else "textual-dark"
    app.theme = wanted
    return problems
