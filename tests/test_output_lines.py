"""The line splitter and control-sequence cleaning shared by processes, scripts and SSH."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from console.output.ansi import clean, strip_sgr
from console.output.lines import LineSplitter, decode_lines
from console.output.pump import pump_output


def split(data: bytes, sizes: list[int] | None = None, max_line: int = 64 << 10) -> list[bytes]:
    """Feed ``data`` in pieces of ``sizes`` (cycled); every line, the last unfinished one too."""
    splitter = LineSplitter(max_line)
    out = b""
    position, turn = 0, 0
    while position < len(data):
        size = sizes[turn % len(sizes)] if sizes else len(data)
        out += splitter.feed(data[position : position + size])
        position, turn = position + max(size, 1), turn + 1
    out += splitter.finish()
    assert out == b"" or out.endswith(b"\n")
    return out.split(b"\n")[:-1]


def test_plain_lines_pass_as_they_are_and_the_last_one_ends_them() -> None:
    assert split(b"one\ntwo\n\nthree") == [b"one", b"two", b"", b"three"]
    assert split(b"crlf\r\nends\r\n") == [b"crlf", b"ends"]


def test_a_carriage_return_rewrites_the_line() -> None:
    bar = b"".join(b"\r[%-10s] %3d%%" % (b"#" * n, n * 10) for n in range(11)) + b"\r\n"
    assert split(bar, [7]) == [b"[##########] 100%"]
    assert split(b"abc\r\rdef\r\n") == [b"def"]
    assert split(b"done\r\n") == [b"done"]


def test_colour_is_kept_and_other_sequences_are_removed() -> None:
    line = (
        b"\x1b[1;32mOK\x1b[0m \x1b[2J\x1b[H\x1b]0;evil title\x07\x1b]8;;http://x\x1b\\link"
        b"\x1b]8;;\x1b\\ \x1bPdcs\x1b\\\x1b(B\x07\x08\x1b[?25l\x1b[>4;2m\xc2\x9b2Jend"
    )
    assert clean(line) == b"\x1b[1;32mOK\x1b[0m link end"
    assert split(line + b"\n") == [b"\x1b[1;32mOK\x1b[0m link end"]
    assert strip_sgr("\x1b[1;32mOK\x1b[0m link") == "OK link"


def test_a_long_line_is_cut_only_at_a_character_boundary() -> None:
    line = "é" * 100  # two bytes each: an odd limit falls inside a character
    pieces = split(line.encode() + b"\n", [7], max_line=33)
    assert all(len(p) <= 33 for p in pieces)
    assert "".join(decode_lines(b"".join(p + b"\n" for p in pieces))) == line
    assert all(p.decode() for p in pieces), "every piece is valid UTF-8 on its own"


def test_invalid_utf8_is_replaced_on_the_way_out() -> None:
    assert decode_lines(b"ok \xff\xfe\n\xe2\x82\n") == ["ok \ufffd\ufffd", "\ufffd"]


@given(
    st.lists(st.sampled_from([b"a", b"\xc3\xa9", b"\n", b"\r", b"\x1b[31m", b"\x1b[2K", b" "])),
    st.lists(st.integers(1, 9), min_size=1, max_size=5),
)
def test_how_the_bytes_are_chunked_never_changes_the_lines(
    parts: list[bytes], sizes: list[int]
) -> None:
    data = b"".join(parts)
    whole = split(data, max_line=1 << 20)
    assert split(data, sizes, max_line=1 << 20) == whole
    assert all(b"\r" not in line and b"\x1b[2K" not in line for line in whole)


async def test_a_lingering_partial_line_is_offered_once_it_has_waited() -> None:
    reads: asyncio.Queue[bytes] = asyncio.Queue()
    seen: list[tuple[str, bytes, float]] = []
    start = time.monotonic()
    partial_seen = asyncio.Event()

    def record(kind: str) -> Callable[[bytes], None]:
        def sink(data: bytes) -> None:
            seen.append((kind, data, time.monotonic() - start))
            if kind == "partial":
                partial_seen.set()

        return sink

    pump = asyncio.create_task(
        pump_output(lambda _: reads.get(), record("lines"), record("partial"), partial_after=0.2)
    )
    reads.put_nowait(b"first\nWaiting... ")
    await asyncio.wait_for(partial_seen.wait(), 5)
    reads.put_nowait(b"done\n")
    reads.put_nowait(b"")
    await asyncio.wait_for(pump, 5)
    kinds = [(kind, data) for kind, data, _ in seen]
    assert kinds == [
        ("lines", b"first\n"),
        ("partial", b"Waiting... "),
        ("lines", b"Waiting... done\n"),
    ]
    assert seen[1][2] >= 0.2, "not before it has waited"
