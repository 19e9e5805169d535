"""What the app asks of every pane, so that panes plug into the tabs, help and palette alike.

A pane is a widget in the app's pane switcher that also has the five methods
of ``Pane``. The app hands it the agent's client when one is reached (None
when it is gone), or the ``Fleet`` when the scope is "all" contexts (None when
it goes back to one), focuses it when its tab is shown, lists its keys on ``?``
and its actions in the command palette; everything else is the pane's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from textual.binding import Binding, BindingType
from textual.widget import Widget

if TYPE_CHECKING:
    from textual.app import App

    from console.adapters.agent import AgentClient
    from console.adapters.fleet import Fleet
    from console.models import AgentInfo
    from console.tui.kit.help_screen import KeyRow

Command = tuple[str, str, Callable[[], object]]
"""A command palette entry: title, help text, what it runs."""

HelpSection = tuple[str, list["KeyRow"]]
"""A heading of the ``?`` screen and its rows of keys."""


@runtime_checkable
class Pane(Protocol):
    """One pane of the console (Scripts, Processes, ...)."""

    def set_client(self, client: AgentClient | None, info: AgentInfo | None) -> None:
        """The app's agent changed: connected (show its data), or gone when None."""

    def set_fleet(self, fleet: Fleet | None) -> None:
        """The scope became "all" contexts (``fleet``: every agent at once, rows tagged with
        their context; actions go to ``fleet.client(row.context)``), or went back to one
        context when None (``set_client`` follows). Called on every pane, before
        ``set_client(None, None)`` when entering "all"."""

    def focus_default(self) -> None:
        """Put the cursor where it belongs when the pane is shown."""

    def commands(self) -> Iterable[Command]:
        """Command palette entries for the pane's actions (titles starting "Open " stay
        out of the palette's unfiltered list, as there may be many)."""

    def help_sections(self) -> list[HelpSection]:
        """The pane's keys for the ``?`` screen, in sections, most used first."""


def key_rows(app: App[object], bindings: Iterable[BindingType]) -> list[KeyRow]:
    """Help rows for the bindings shown in the footer, or given a ``key_display`` to be listed."""
    rows: list[KeyRow] = []
    for binding in bindings:
        if not isinstance(binding, Binding):
            continue
        if binding.key_display:
            keys = binding.key_display
        else:
            keys = " / ".join(
                app.get_key_display(Binding(key.strip(), binding.action))
                for key in binding.key.split(",")
            )
        if binding.show or binding.key_display:
            rows.append((keys, binding.tooltip or binding.description))
    return rows


def hidden(keys: str, action: str, description: str, tooltip: str, display: str = "") -> Binding:
    """A binding kept out of the footer yet listed on ``?`` and in the palette, shown as
    ``display`` (default: its keys, "a,b" as "a / b")."""
    shown_as = display or " / ".join(key.strip() for key in keys.split(","))
    return Binding(keys, action, description, show=False, key_display=shown_as, tooltip=tooltip)


def pane_help(
    pane: Widget, title: str, more_title: str, more_rows: list[KeyRow]
) -> list[HelpSection]:
    """A pane's ``?`` sections: its bindings under ``title``, then ``more_rows``."""
    return [(title, key_rows(pane.app, pane.BINDINGS)), (more_title, more_rows)]


def binding_states(widget: Widget, bindings: Iterable[BindingType]) -> tuple[bool | None, ...]:
    """What ``check_action`` says of each binding now: the footer changes when this does."""
    states: list[bool | None] = []
    for binding in bindings:
        if isinstance(binding, Binding):
            states.append(widget.check_action(*parse_action(binding.action)))
    return tuple(states)


def parse_action(action: str) -> tuple[str, tuple[object, ...]]:
    """An action string's name and parameters ("control('stop')" → control, ('stop',))."""
    import ast

    name, _, rest = action.partition("(")
    if not rest:
        return name, ()
    return name, tuple(ast.literal_eval(f"({rest.rstrip(')')},)"))
