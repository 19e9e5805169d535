"""Lines cut from text that arrives in pieces, exactly where ``str.splitlines`` cuts the whole
(``\\n``, ``\\r``, ``\\r\\n``, ``\\v``, ``\\f``, ``\\x1c``-``\\x1e``, ``\\x85``, U+2028, U+2029), as
remoto's ``check`` does."""

from __future__ import annotations


class LineSplitter:
    """Cuts text that arrives in pieces where ``str.splitlines`` would cut the whole of it."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, text: str) -> list[str]:
        """The lines completed by ``text``, without their endings."""
        pieces = (self._pending + text).splitlines(keepends=True)
        self._pending = ""
        if pieces:
            last = pieces[-1]
            # No ending yet, or a \r whose \n may be in the next piece.
            if last.splitlines()[0] == last or last.endswith("\r"):
                self._pending = pieces.pop()
        return [piece.splitlines()[0] for piece in pieces]

    def close(self) -> list[str]:
        """What is left, once the text has ended."""
        pending, self._pending = self._pending, ""
        return pending.splitlines()
