"""An open process log as the operator reads it at 80x24: vi's keys scroll it as in the
tables (moving up pauses it), and its header greys with the agent's liveness."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

from console.adapters.connect import ExistingAgent
from console.tui.app import OpsConsoleApp
from console.tui.kit.fleet_rows import OFFLINE_WORDS
from tests.conftest import AgentProcess
from tests.fleet_helpers import add_processes, start_fleet_agents, wait_running
from tests.processes_helpers import write_app
from tests.test_tui_processes import header, open_log
from tests.tui_helpers import wait_for

SIZE = (80, 24)
SLUG = "shop.numbers.0"


async def test_vi_keys_scroll_an_open_log_and_its_header_greys_while_the_agent_is_gone(
    agent_factory: Callable[..., AgentProcess], tmp_path: Path
) -> None:
    (agent,) = start_fleet_agents(agent_factory, 1, tmp_path)
    source = write_app(tmp_path / "shop", {"numbers": "seq -f 'line %g' 1 300; exec sleep 3600"})
    add_processes(agent, source, 1, "numbers")
    wait_running(agent, [SLUG])
    app = OpsConsoleApp(ExistingAgent(agent.endpoint()))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        pane = app.processes_pane
        await wait_for(pilot, lambda: SLUG in pane.process_table.shown, "the row")
        view = await open_log(pilot, app, SLUG)
        await wait_for(pilot, lambda: "line 300" in view.text_lines[-1:], "the last line")
        await wait_for(pilot, lambda: view.scroll_y == view.max_scroll_y > 0, "at the end")
        end = view.scroll_y
        await pilot.press("k", "k", "k")
        await wait_for(pilot, lambda: view.scroll_y == end - 3, "three lines up")
        assert not view.follow and "paused" in header(app)
        await pilot.press("j")
        await wait_for(pilot, lambda: view.scroll_y == end - 2, "one line down")
        await pilot.press("g")
        await wait_for(pilot, lambda: view.scroll_y == 0, "the top")
        await pilot.press("G")
        await wait_for(pilot, lambda: view.follow and view.scroll_y == end, "following")
        await pilot.press("home")
        await wait_for(pilot, lambda: view.scroll_y == 0 and not view.follow, "home")
        await pilot.press("end")
        await wait_for(pilot, lambda: view.follow and view.scroll_y == end, "end")
        assert "running" in header(app) and OFFLINE_WORDS not in header(app)

        # The agent stops answering (frozen): the header greys, as the rows do.
        agent.process.send_signal(signal.SIGSTOP)
        try:
            await wait_for(pilot, lambda: OFFLINE_WORDS in header(app), "the header greyed")
            assert pane.process_table.has_class("-stale")
        finally:
            agent.process.send_signal(signal.SIGCONT)
        await wait_for(pilot, lambda: OFFLINE_WORDS not in header(app), "the header live again")
        assert "running" in header(app)
