"""``opsconsole bench startup`` starts both apps for real, on a pty, and prints the ratio."""

from __future__ import annotations

import re

import pytest

from console.bench.startup import main


def test_a_small_run_times_both_apps_to_their_first_paint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(rounds=1) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("both from bytecode"), lines
    timed = [re.match(r"\s+(.+?)\s+median\s+([\d.]+) ms", line) for line in lines[1:3]]
    assert all(timed), lines
    names = [match.group(1) for match in timed if match]
    assert names == ["bare Textual app (5 panes)", "opsconsole demo"]
    assert all(float(match.group(2)) > 0 for match in timed if match)
    ratio = re.search(r"medians\)\s+([\d.]+)x", lines[3])
    assert ratio is not None and float(ratio.group(1)) > 0, lines[3]
