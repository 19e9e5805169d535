"""The Inbox pane says how many messages the agent left out of its listing (its byte budget)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from console.tui.app import OpsConsoleApp
from tests.test_tui_inbox import SIZE, sender, show_inbox
from tests.tui_helpers import make_catalog, spawned_agent, wait_for

NODE = "ops-1"
KiB, MiB = 1 << 10, 1 << 20


async def test_the_inbox_says_how_many_more_are_not_shown(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f"[agent.output]\nanswer_bytes = {1 * MiB}\n")
    agent = spawned_agent(
        tmp_path, make_catalog(tmp_path / "scripts"), "--node-id", NODE, "--config", str(config)
    )
    app = OpsConsoleApp(agent)
    async with app.run_test(size=SIZE) as pilot:
        inbox = await show_inbox(pilot, app)
        table = inbox.message_table
        count = table.query_one("#message-count", Static)
        assert "more not shown" not in str(count.render())
        async with sender(app, "elsewhere") as other:
            # Each lists as ~400 KB of base64: two fit in 1 MiB, four are left out.
            for i in range(6):
                await other.inbox.push(NODE, bytes([i]) * 300 * KiB)
        await wait_for(pilot, lambda: len(table.shown) == 6, "the pushes seen live")
        await pilot.press("R")  # listed anew: the agent's answer is cut to its budget
        await wait_for(pilot, lambda: table.note == "4 more not shown", "the note")
        await wait_for(pilot, lambda: len(table.shown) == 2, "the listing shown")
        await wait_for(pilot, lambda: "4 more not shown" in str(count.render()), "the count")
