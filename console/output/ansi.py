"""Control sequences in output: colour (SGR) is kept, everything else is made harmless.

The sequences are ECMA-48's: CSI ``ESC [ params intermediates final``, OSC
``ESC ] ... (BEL | ESC \\)``, the string sequences DCS/SOS/PM/APC, two-byte
escapes, and C1 controls (U+0080..U+009F, as UTF-8). Only ``ESC [ digits;: m``
(Select Graphic Rendition: colours, bold...) survives; a cursor move, a screen
clear, a title change or a bell could rewrite the operator's terminal, so they go.
"""

from __future__ import annotations

import re

_SEQUENCE = re.compile(
    rb"(\x1b\[[0-9;:]*m)"  # SGR: kept
    rb"|\x1b\[[0-?]*[ -/]*[@-~]?"  # any other CSI (or a cut one)
    rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, hyperlinks, clipboard
    rb"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC
    rb"|\x1b[ -/]*[0-~]?"  # two-byte escapes (charset, keypad...) and a lone ESC
    rb"|\xc2\x9b[0-?]*[ -/]*[@-~]?"  # C1 CSI (U+009B) and its parameters
    rb"|\xc2[\x80-\x9f]"  # other C1 controls as UTF-8
    rb"|[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]"  # C0 controls but tab, newline (and ESC above)
)
_SGR = re.compile(r"\x1b\[[0-9;:]*m")

_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, 0xC2])
"""C0 controls but tab and newline, DEL, and 0xC2 (the lead byte of a C1 control in UTF-8)."""


def has_control(data: bytes) -> bool:
    """Whether ``data`` may hold anything ``clean`` would change (or a ``\\r``).

    The hot path's test, about 1 ns a byte: ``bytes.translate`` deleting those
    bytes is a C loop, where a regular expression search costs 20 times more.
    """
    return len(data.translate(None, _CONTROL_BYTES)) != len(data)


def _keep_sgr(match: re.Match[bytes]) -> bytes:
    return match.group(1) or b""


def clean(line: bytes) -> bytes:
    """``line`` (no newline) with SGR kept and every other control sequence or code removed."""
    return _SEQUENCE.sub(_keep_sgr, line)


def strip_sgr(text: str) -> str:
    """Text without its colour codes (what ``--no-color`` and ``?strip_ansi=1`` print)."""
    return _SGR.sub("", text) if "\x1b" in text else text
