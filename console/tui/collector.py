"""The garbage collector while the console starts: held until just after the first paint.

CPython runs a full collection once enough objects have been made since the last one.
The console's start (Textual, the app, its first pane) makes enough for one, and that
collection walks every object alive: with the young generations' collections, some
40 ms of CPU of the first paint (a bare Textual app stays under the threshold). What
the start makes lives as long as the console (modules, classes, widgets), so a walk
finds little to free. The collector is held (``hold``) from before the app's imports
until just after the first paint; then what exists is frozen out of its sight
(``release``, ``gc.freeze``), so that every later full collection walks only what came
after, as the agent does once serving. The price: the start's own garbage, some 8,000
of the 120,000 objects frozen, stays for the console's life.
"""

from __future__ import annotations

import gc

_held = False


def hold() -> None:
    """Stop automatic collection until ``release`` (nothing if it is off already)."""
    global _held
    if gc.isenabled():
        gc.disable()
        _held = True


def release() -> None:
    """Freeze what exists out of the collector's sight and turn it back on; nothing
    unless ``hold`` turned it off (an app under test, or a second call)."""
    global _held
    if _held:
        _held = False
        gc.freeze()
        gc.enable()
