"""The one parser of client numbers, JSON and times: what it accepts, what it refuses."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.agent.errors import HttpError
from console.agent.parsing import MAX_JSON_DEPTH, parse_int, parse_json, parse_moment


@pytest.mark.parametrize(
    "text", ["²", "١٢", "\uff11", "-1", "", " 1", "1e3", "0x1", "5" * 5000, "9" * 19]
)
def test_numbers_not_plain_ascii_digits_or_too_long_are_refused(text: str) -> None:
    with pytest.raises(HttpError) as refused:
        parse_int(text, "limit")
    assert refused.value.status == 400 and "limit must be a whole number" in refused.value.message


def test_a_number_out_of_its_range_is_refused_with_the_status_asked() -> None:
    assert parse_int("1000", "quantity", 1, 1000) == 1000
    with pytest.raises(HttpError) as refused:
        parse_int("1001", "quantity", 1, 1000)
    assert "from 1 to 1000" in refused.value.message
    with pytest.raises(HttpError) as missing:
        parse_int("9" * 18 + "0", "a run id", status=404)
    assert missing.value.status == 404


def nested(depth: int) -> object:
    value: object = "x"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@settings(derandomize=True, max_examples=60)
@given(depth=st.integers(1, 200), padding=st.text(alphabet='[]{}"\\ab', max_size=20))
def test_json_is_refused_exactly_when_it_nests_past_the_limit(depth: int, padding: str) -> None:
    text = json.dumps({"pad": padding, "value": nested(depth)})  # brackets inside strings too
    real_depth = depth + 1
    if real_depth > MAX_JSON_DEPTH:
        with pytest.raises(HttpError, match="nests deeper than 64"):
            parse_json(text)
    else:
        assert parse_json(text) == json.loads(text)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 65 + b'"' + b'\\"' * 500_000,  # quadratic for a regex that looks for strings
        b"[" * 200_000 + b"]" * 200_000,
        b"[" * 64 + (b"[" * 63 + b"]" * 63 + b",") * 20_000 + b"1" + b"]" * 64,
    ],
    ids=["unterminated-escapes", "deep", "wide-at-the-limit"],
)
def test_no_json_body_takes_long_to_refuse_or_accept(body: bytes) -> None:
    # CPU time, not wall time: a quadratic parse costs ~12 s of CPU; a loaded machine does not.
    started = time.process_time()
    try:
        parse_json(body)
    except HttpError as exc:
        assert exc.status == 400
    assert time.process_time() - started < 5, "a body a client can send held the agent"


@pytest.mark.parametrize(
    ("text", "epoch"),
    [("1970-01-01T00:00:00Z", 0.0), ("2026-01-01T00:00:00+01:00", 1767222000.0), ("", None)],
)
def test_times_within_1970_to_3000_are_read(text: str, epoch: float | None) -> None:
    assert parse_moment(text, "when") == epoch


@pytest.mark.parametrize(
    "text", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "1969-12-31T23:59:59Z", "x"]
)
def test_times_outside_1970_to_3000_or_not_times_are_refused(text: str) -> None:
    with pytest.raises(HttpError) as refused:
        parse_moment(text, "Scirocco-Scheduled-Time")
    assert refused.value.status == 400 and "Scirocco-Scheduled-Time" in refused.value.message
