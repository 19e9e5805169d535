"""Bytes in, lines out, as a terminal would have shown them.

A ``LineSplitter`` takes what one stream (a pipe, an SSH channel) delivers in
whatever pieces it comes and hands back complete lines, each ending in ``\\n``,
as one ``bytes`` block: a chatty child costs one step per read, not per line.

- ``\\r`` moves back to the start of the line: the line kept is what was
  written after the last ``\\r`` that was followed by something (a progress
  bar's final state; CRLF line ends are plain line ends);
- colour (SGR) is kept, other control sequences are removed (``ansi.clean``);
- a line longer than ``max_line`` bytes is cut into pieces of at most that,
  never inside a UTF-8 character;
- the line still being written is ``partial``: a live view shows it, and the
  complete line replaces it when its end arrives (it is never a line of its own).

Invalid UTF-8 is not touched here: bytes are decoded (with U+FFFD for what is
invalid) only on the way out, by ``decode_lines``.
"""

from __future__ import annotations

from console.output.ansi import clean, has_control

MAX_LINE = 64 << 10
"""Bytes of one line kept at most; a longer one is cut into pieces."""


class LineSplitter:
    """Splits one stream's bytes into terminal-rendered lines; see the module's docstring."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max(max_line, 16)
        self._pending = b""

    @property
    def pending(self) -> int:
        """Bytes of the unfinished line held (at most about ``max_line``)."""
        return len(self._pending)

    def feed(self, chunk: bytes) -> bytes:
        """The lines ``chunk`` completes, each ending in ``\\n`` (``b""`` when none)."""
        last = chunk.rfind(b"\n")
        if last < 0:
            self._pending = _from_last_return(self._pending + chunk)
            return self._cut_pending()
        first_length = len(self._pending) + chunk.find(b"\n")
        block = self._pending + chunk[: last + 1] if self._pending else chunk[: last + 1]
        self._pending = _from_last_return(chunk[last + 1 :])
        # The fast path: no line can be too long (every line but the first lies inside
        # one chunk), and nothing needs cleaning. Then the block is kept as it came.
        if (first_length > self.max_line or len(chunk) > self.max_line) or has_control(block):
            block = b"".join(self._render(line) for line in block.split(b"\n")[:-1])
        return block + self._cut_pending() if len(self._pending) > self.max_line else block

    def partial(self) -> bytes:
        """The unfinished line as it stands now (rendered, no ``\\n``); ``b""`` when none."""
        return _render_line(self._pending) if self._pending else b""

    def finish(self) -> bytes:
        """At the end of the stream: the unfinished line as a last line (``b""`` when none)."""
        pending, self._pending = self._pending, b""
        return self._render(pending) if _render_line(pending) else b""

    def _render(self, line: bytes) -> bytes:
        return b"".join(piece + b"\n" for piece in self._cut(_render_line(line)))

    def _cut(self, line: bytes) -> list[bytes]:
        pieces = []
        while len(line) > self.max_line:
            at = character_boundary(line, self.max_line)
            pieces.append(line[:at])
            line = line[at:]
        pieces.append(line)
        return pieces

    def _cut_pending(self) -> bytes:
        """Pieces of an unfinished line grown past ``max_line``, as lines of their own."""
        if len(self._pending) <= self.max_line:
            return b""
        out = []
        while len(self._pending) > self.max_line:
            at = character_boundary(self._pending, self.max_line)
            out.append(clean(self._pending[:at]) + b"\n")
            self._pending = self._pending[at:]
        return b"".join(out)


def character_boundary(data: bytes, limit: int) -> int:
    """The largest cut point ``<= limit`` that does not split a UTF-8 character."""
    at = limit
    # A continuation byte is 10xxxxxx; a character has at most three of them.
    while at > limit - 4 and at > 0 and data[at] & 0xC0 == 0x80:
        at -= 1
    return at if at > 0 and data[at] & 0xC0 != 0x80 else limit


def _from_last_return(pending: bytes) -> bytes:
    """An unfinished line from its last ``\\r`` with text after it: the rest is overwritten."""
    if b"\r" not in pending:
        return pending
    start = pending.rstrip(b"\r").rfind(b"\r")
    return pending[start + 1 :] if start >= 0 else pending


def _render_line(line: bytes) -> bytes:
    """One line (no ``\\n``) as shown: after its last ``\\r`` with text, cleaned."""
    if b"\r" in line:
        segments = [s for s in line.split(b"\r") if s]
        line = segments[-1] if segments else b""
    return clean(line) if has_control(line) else line


def decode_lines(block: bytes, skip: int = 0) -> list[str]:
    """The lines of a block of ``\\n``-ended lines, decoded (invalid UTF-8 as U+FFFD)."""
    lines = block.decode(errors="replace").split("\n")
    del lines[-1]
    return lines[skip:] if skip else lines
