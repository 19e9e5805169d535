"""The Textual console: ``OpsConsoleApp`` and its panes and widgets."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.tui.app import OpsConsoleApp

__all__ = ["OpsConsoleApp"]


def __getattr__(name: str) -> object:
    # Importing the package (for console.tui.themes, say) should not pull in the whole app.
    if name == "OpsConsoleApp":
        from console.tui.app import OpsConsoleApp

        return OpsConsoleApp
    raise AttributeError(name)
