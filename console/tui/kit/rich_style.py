"""Component styles as Rich styles, for widgets that paint Rich text (tables, logs)."""

from __future__ import annotations

from rich.style import Style
from textual.widget import Widget


def component_style(widget: Widget, component: str) -> Style:
    """A component class's colours and text style; translucent colours blended onto the widget.

    Rich styles have no alpha, so a muted colour (``$foreground-muted``, ``$warning 40%``)
    must be mixed with the background it will sit on before Rich can paint it.
    """
    styles = widget.get_component_styles(component)
    background = widget.background_colors[1]
    color = (background + styles.color).rich_color if styles.has_rule("color") else None
    bgcolor = (background + styles.background).rich_color if styles.has_rule("background") else None
    return Style(
        color=color,
        bgcolor=bgcolor,
        bold=styles.text_style.bold,
        italic=styles.text_style.italic,
    )


class StyleCache:
    """The Rich styles of a widget's component classes ``<prefix><name>``, resolved once per
    theme: call it with a name; ``clear()`` it from the widget's ``notify_style_update``."""

    def __init__(self, widget: Widget, prefix: str = "") -> None:
        self._widget = widget
        self._prefix = prefix
        self._styles: dict[str, Style] = {}

    def __call__(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = component_style(self._widget, self._prefix + name)
        return style

    def clear(self) -> None:
        self._styles.clear()
