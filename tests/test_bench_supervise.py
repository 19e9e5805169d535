"""``opsconsole bench supervise`` runs its steps for real, checks them, and prints its table."""

from __future__ import annotations

import importlib.util

import pytest

from console.bench.supervise import LABEL_WIDTH, STEPS, main


def test_a_small_run_prints_every_measure_beside_the_peer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with_peer = importlib.util.find_spec("supervisor") is not None
    assert main(rounds=2, count=3, repeats=1) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("supervising 3 processes")
    rows = table[2:]
    assert len(rows) >= len(STEPS) + 1, table
    for row in rows[: len(STEPS) + 1]:
        words = row[2 + LABEL_WIDTH :].split()  # figure, unit (, figure, unit, ratio)
        assert len(words) == (5 if with_peer else 2), row
        assert all(float(figure) > 0 for figure in words[0:4:2]), row
        if with_peer:
            # A ratio is printed; it may round to 0.00x (5 ms against supervisord's 1 s tick).
            assert float(words[4].removesuffix("x")) >= 0, row
    if not with_peer:
        assert "not installed" in table[-1]
