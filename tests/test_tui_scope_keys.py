"""The scope picker (``:``) takes the keys every list takes, also when they come in one
write with the ``:`` that opens it (a paste, an SSH link)."""

from __future__ import annotations

from pathlib import Path

from textual import events
from textual.pilot import Pilot
from textual.widgets import OptionList

from console.tui.app import OpsConsoleApp
from console.tui.kit.scope_picker import ALL, ScopePicker
from tests.tui_helpers import processes_agent, wait_for

SIZE = (80, 24)
NAMES = {":": "colon", "\r": "enter"}


async def one_write(pilot: Pilot[object], text: str) -> None:
    """Keys as one write brings them: all queued before the first is handled (the key names
    are Textual's driver's: ``:`` is ``colon``)."""
    for character in text:
        pilot.app.post_message(events.Key(NAMES.get(character, character), character))
    await pilot.pause()


async def test_colon_then_vi_keys_and_enter_in_one_write_choose_the_scope(tmp_path: Path) -> None:
    app = OpsConsoleApp(processes_agent(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.client is not None, "the local agent")
        await pilot.press("2")
        # G: the last line ("all"), chosen by the enter of the same write.
        await one_write(pilot, ":G\r")
        await wait_for(pilot, lambda: app.fleet is not None, "the all scope")
        await wait_for(pilot, lambda: not isinstance(app.screen, ScopePicker), "closed")
        # The picker opens on the current scope (all, last): k up to the context, j back
        # down and k up again, g (first) stays there; enter chooses it.
        await one_write(pilot, ":")
        await wait_for(pilot, lambda: isinstance(app.screen, ScopePicker), "the picker")
        picker = app.screen.query_one(OptionList)
        assert picker.highlighted is not None
        assert picker.get_option_at_index(picker.highlighted).id == ALL
        await one_write(pilot, "kjkg")
        await wait_for(pilot, lambda: picker.highlighted == 0, "on the first line")
        await one_write(pilot, "\r")
        await wait_for(pilot, lambda: app.fleet is None, "one context again")
