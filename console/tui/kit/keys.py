"""Keys are never lost: the helpers every pane shares, and the app's key keeper."""

from __future__ import annotations

from collections import deque

from textual import events
from textual.app import App
from textual.dom import DOMNode
from textual.widget import Widget

REMEMBERED = 256
"""Keys whose first target is remembered, at most (each is forgotten when it reaches the app)."""


def focus_now(widget: Widget) -> None:
    """Give ``widget`` focus before the next key is handled.

    ``Widget.focus()`` waits for the app's queue to drain, so keys typed fast,
    or arriving in one packet over SSH ("/echo"), would go to the old widget.
    """
    widget.screen.set_focus(widget)


class KeyKeeper(App[None]):
    """An app that hands a key to the new focus when focus moved while the key was on its way.

    Textual gives each key to the widget focused when the app reads it, and
    runs bindings when the key comes back up to the app. Keys that arrive in
    one write ("/web⏎" over SSH) are all queued on the old focus before the
    first one moves it, so the rest would be lost (or run the wrong binding).
    Here a key that comes back up from a widget that has lost focus since is
    delivered again, in order, to the widget focused now.
    """

    def __init__(self) -> None:
        super().__init__()
        self._first_targets: deque[tuple[events.Key, DOMNode]] = deque(maxlen=REMEMBERED)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            self._first_targets.append((event, self.focused or self.screen))
        await super().on_event(event)

    async def _on_key(self, event: events.Key) -> None:
        target = self._first_target(event)
        now = self.focused or self.screen
        if target is not None and target is not now:
            # Textual calls every class's _on_key in turn: this stops App's (the bindings).
            event.prevent_default()
            again = events.Key(event.key, event.character)
            self._first_targets.append((again, now))
            now._forward_event(again)

    def _first_target(self, event: events.Key) -> DOMNode | None:
        for index, (key, target) in enumerate(self._first_targets):
            if key is event:
                del self._first_targets[index]
                return target
        return None
