"""One line of output as the operator's terminal may show it: colours rendered, no controls.

Colour codes (SGR, kept on the wire by the agent) are turned into styles by
Rich's own ANSI decoder; every other control code becomes U+FFFD, so nothing
a child prints can move the cursor or retitle the operator's terminal. The
plain text (``printable``) is what widths, search and copies are measured on;
the styled line has exactly that text.
"""

from __future__ import annotations

import re

from rich.style import Style
from rich.text import Text

from console.output.ansi import strip_sgr

_control_codes = re.compile("[\x00-\x08\x0b-\x1f\x7f]").sub
_controls_but_escape = re.compile("[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]").sub


def printable(text: str) -> str:
    """A line as plain text: colour codes dropped, tabs expanded, other control codes replaced."""
    return _control_codes("\ufffd", strip_sgr(text).expandtabs())


def has_codes(text: str) -> bool:
    return "\x1b" in text


def styled_line(text: str, base: Style) -> Text:
    """``text`` as one unwrapped line in ``base`` style, its colour codes as styles over it."""
    plain = printable(text)
    line = Text(plain, no_wrap=True, end="")
    if has_codes(text):
        decoded = Text.from_ansi(_controls_but_escape("\ufffd", text), no_wrap=True, end="")
        decoded.expand_tabs(8)
        if decoded.plain == plain:  # anything odd (a cut code): plain text, never a shift
            line = decoded
    line.stylize_before(base)
    return line
