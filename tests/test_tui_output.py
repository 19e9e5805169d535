"""Output as a terminal shows it, in the Processes pane: colours, a prompt, a progress bar."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.tui.app import OpsConsoleApp
from console.tui.kit.log_view import LogView
from tests.test_tui_processes import open_log, show_processes
from tests.tui_helpers import processes_agent, wait_for

SIZE = (80, 24)

PROCFILE = {
    "colour": r"printf '\033[32mINFO\033[0m ready\n\033[1;31mERROR\033[0m \033]0;title\007bad\n';"
    " exec sleep 1000",
    "prompt": "printf 'Waiting for database... '; while [ ! -e gate ]; do sleep 0.05; done;"
    " echo ok; exec sleep 1000",
    "progress": r"printf 'progress 10%%'; sleep 0.1; printf '\rprogress 20%%';"
    r" while [ ! -e gate ]; do sleep 0.05; done; printf '\rprogress 100%%\n'; exec sleep 1000",
}


@pytest.fixture
def source(tmp_path: Path) -> Path:
    app = tmp_path / "shop"
    app.mkdir()
    (app / "Procfile").write_text("".join(f"{k}: {v}\n" for k, v in PROCFILE.items()))
    return app


@pytest.fixture
def app(tmp_path: Path) -> OpsConsoleApp:
    return OpsConsoleApp(processes_agent(tmp_path))


def colours(view: LogView, index: int) -> dict[str, int | None]:
    """The ANSI colour number each piece of text of a shown line is painted in."""
    strip = view._line_strip(index)  # what is painted is what is tested
    return {s.text: s.style.color.number if s.style and s.style.color else None for s in strip}


async def test_colour_codes_are_rendered_and_other_sequences_are_gone(
    app: OpsConsoleApp, source: Path
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        [slug] = await show_processes(pilot, app, source, "colour")
        view = await open_log(pilot, app, slug)
        await wait_for(pilot, lambda: len(view.text_lines) == 2, "both lines")
        assert view.text_lines == ["INFO ready", "ERROR bad"], "no codes, no title, no marks"
        first, second = colours(view, 0), colours(view, 1)
        assert first["INFO"] == 2, "green"
        assert second["ERROR"] == 1, "red"
        assert first[" ready"] != first["INFO"], "the colour ends where the code says"


@pytest.mark.parametrize(
    ("kind", "live", "final"),
    [
        ("prompt", "Waiting for database... ", "Waiting for database... ok"),
        ("progress", "progress 20%", "progress 100%"),
    ],
)
async def test_an_unfinished_line_shows_then_its_end_completes_it_once(
    app: OpsConsoleApp, source: Path, kind: str, live: str, final: str
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        [slug] = await show_processes(pilot, app, source, kind)
        view = await open_log(pilot, app, slug)
        await wait_for(pilot, lambda: view.text_lines == [live], f"{live!r} shown while it waits")
        assert view.received == 0, "a partial line is not a line"
        (source / "gate").touch()
        await wait_for(pilot, lambda: view.text_lines == [final], "completed in place, once")
        assert view.received == 1
