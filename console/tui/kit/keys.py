"""Keyboard helpers every pane shares."""

from __future__ import annotations

from textual.widget import Widget


def focus_now(widget: Widget) -> None:
    """Give ``widget`` focus before the next key is handled.

    ``Widget.focus()`` waits for the app's queue to drain, so keys typed fast,
    or arriving in one packet over SSH ("/echo"), would go to the old widget.
    """
    widget.screen.set_focus(widget)
