"""The Modules pane, driven by key presses in the real app against a real agent and its modules."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Input, Static

from console.adapters.agent import AgentClient
from console.adapters.connect import SpawnedAgent
from console.tui.app import OpsConsoleApp
from console.tui.kit.confirm_dialog import ConfirmDialog
from console.tui.kit.help_screen import HelpScreen
from console.tui.modules.forms import AddModuleForm, TellModuleForm
from console.tui.modules.lists import ModuleList
from console.tui.modules.pane import ModulesPane
from tests.modules import command, write_config
from tests.tui_helpers import MAX_POLLS, POLL, record_notifications, select_row, wait_for

SIZE = (80, 24)


def demo_module(name: str) -> list[str]:
    return [sys.executable, "-m", f"console.demo.{name}"]


def modules_agent(tmp_path: Path) -> SpawnedAgent:
    """A real agent whose queue and pool start empty, with the demo's types and a fixed one."""
    fixed = command("fixed_params")
    config = write_config(
        tmp_path / "agent.toml",
        queue={"countdown": demo_module("countdown"), "fixed": fixed},
        backgrounds={"idle": demo_module("idle"), "fixed": fixed},
        pool={"ticker": demo_module("ticker"), "fixed": fixed},
    )
    return SpawnedAgent(
        ["--config", str(config), "--data-dir", str(tmp_path / "agent-data"), "--node-id", "ops-1"],
        log_file=tmp_path / "agent.log",
    )


@pytest.fixture
def app(tmp_path: Path) -> OpsConsoleApp:
    return OpsConsoleApp(modules_agent(tmp_path))


async def connected(pilot, app: OpsConsoleApp) -> AgentClient:
    await wait_for(pilot, lambda: app.client is not None, "the agent is reached")
    assert app.client is not None
    return app.client


async def countdowns(client: AgentClient, *labels: str) -> list[int]:
    """Queue countdowns that outlast any test (only the first plays, so counts down)."""
    return [await client.queue.add("countdown", {"seconds": 300, "label": x}) for x in labels]


async def show_modules(pilot, app: OpsConsoleApp, queue: list[int]) -> ModulesPane:
    await pilot.press("3")
    pane = app.query_one(ModulesPane)
    await wait_for(pilot, lambda: pane.lists["queue"].order == queue, "the queue in order")
    return pane


def playing(module_list: ModuleList) -> list[int]:
    return [uid for uid, module in module_list.modules.items() if module.playing]


def in_one_packet(app: OpsConsoleApp, *keys: str) -> None:
    """Queue keys the way one read from a terminal does: all at once, none handled yet."""
    for key in keys:
        if len(key) == 1:
            app.post_message(events.Key(key, key))
        else:
            app.post_message(events.Key(key, "\r" if key == "enter" else None))


async def select(pilot, module_list: ModuleList, uid: str) -> None:
    await select_row(pilot, module_list, uid)
    assert module_list.selected is not None and module_list.selected.uid == uid


async def test_queue_pool_and_parameters_show_and_tick_live_without_a_key(
    app: OpsConsoleApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        client = await connected(pilot, app)
        first, second = await countdowns(client, "first", "second")
        background = await client.queue.set_background("idle", {"message": "nothing queued"})
        ticker = await client.pool.add("ticker", {"symbol": "OPS", "price": 10})
        pane = await show_modules(pilot, app, [first, second])
        queue, params = pane.lists["queue"], pane.parameters
        assert app.focused is queue.table
        await wait_for(pilot, lambda: queue.shown == [first, second, background], "bg last")
        await wait_for(pilot, lambda: playing(queue) == [first], "only the first plays")
        assert str(queue.table.get_cell(str(first), "play")) == "▶"
        assert str(queue.table.get_cell(str(second), "play")).strip() == ""
        assert str(queue.table.get_cell(str(background), "position")) == "bg"
        # The cursor's module's parameters, live: the countdown's left goes down, no key pressed.
        await wait_for(pilot, lambda: "left" in params.shown, "the first's parameters")
        assert params.module is not None and params.module.uid == first
        assert params.shown["label"] == '"first"'
        left_row = params.table.rows["left"]
        start = int(params.shown["left"])
        await wait_for(pilot, lambda: int(params.shown["left"]) < start, "left counts down")
        # Changed in place: the same row, its cell updated (no rebuild, no flicker).
        assert params.table.rows["left"] is left_row
        assert f"left={params.shown['left']}" in str(queue.table.get_cell(str(first), "parameters"))
        # At 80 columns one list shows at a time: p shows the pool, q the queue again.
        await pilot.press("p")
        pool = pane.lists["pool"]
        assert pool.display and not queue.display and app.focused is pool.table
        # A pool plays every module: the queue's order and background keys are not offered.
        offered = {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}
        assert not {"to_front", "background"} & offered
        await wait_for(pilot, lambda: pool.shown == [ticker], "the pool")
        await wait_for(pilot, lambda: params.shown.get("symbol") == '"OPS"', "its parameters")
        await pilot.press("q")
        assert queue.display and not pool.display
        assert params.module is not None and params.module.uid == first
        # Wide, both show side by side; tab onto the pool makes it the one the keys act on.
        await pilot.resize_terminal(120, 40)
        await wait_for(pilot, lambda: queue.display and pool.display, "both lists")
        assert app.focused is queue.table
        await pilot.press("tab")
        assert app.focused is pool.table and pane.service == "pool"
        assert params.module is not None and params.module.uid == ticker
        await pilot.resize_terminal(*SIZE)
        await pilot.press("q")
        # ? lists the pane's keys; the palette has an entry for each action.
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        help_text = " ".join(str(s.render()) for s in app.screen.query(Static))
        for words in ("move the selected module up", "remove", "send the selected module"):
            assert words in help_text
        await pilot.press("escape")
        titles = [title for title, _, _ in pane.commands()]
        for title in (
            "Modules: add to the pool",
            "Modules: set the queue's background",
            f"Modules: tell #{first} countdown",
            f"Modules: down #{first} countdown",
            f"Modules: remove #{first} countdown",
        ):
            assert title in titles


async def test_add_checks_the_json_args_as_typed_then_the_new_module_is_selected(
    app: OpsConsoleApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        client = await connected(pilot, app)
        (first,) = await countdowns(client, "first")
        pane = await show_modules(pilot, app, [first])
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, AddModuleForm)
        await wait_for(pilot, lambda: form.types == ["countdown", "fixed"], "the queue's types")
        args = form.query_one("#field", Input)
        assert app.focused is args and form.chosen == "countdown"
        await pilot.press("down", *'{"colour": "blue",')  # ↑ ↓ choose the type from the args
        assert form.chosen == "fixed"
        problem = form.query_one("#problem", Static)
        assert args.has_class("-invalid") and "not JSON" in str(problem.render())
        await pilot.press("enter")  # refused in the form: nothing is sent
        assert app.screen is form and pane.lists["queue"].order == [first]
        await pilot.press(*' "size": 3}')
        assert not args.has_class("-invalid") and not problem.display
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is not form, "the form closes")
        queue = pane.lists["queue"]
        await wait_for(pilot, lambda: len(queue.order) == 2, "the new module is listed")
        added = queue.order[1]
        await wait_for(pilot, lambda: queue.selected and queue.selected.uid == added, "selected")
        await wait_for(pilot, lambda: pane.parameters.shown.get("size") == "3", "its parameters")
        assert pane.parameters.shown["colour"] == '"blue"'
        assert queue.modules[added].type == "fixed"
        # Keys in one packet (SSH): each still reaches the field it was typed for.
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, AddModuleForm)
        await wait_for(pilot, lambda: form.types, "the types")
        in_one_packet(app, "down", *'{"size": 4}', "enter")
        await wait_for(pilot, lambda: len(queue.order) == 3, "the second one is listed")
        assert queue.modules[queue.order[2]].parameters == {"size": 4}


async def test_tell_shows_the_answer_and_a_refusal_is_a_notification(app: OpsConsoleApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        notices = record_notifications(app)
        client = await connected(pilot, app)
        (first,) = await countdowns(client, "first")
        pane = await show_modules(pilot, app, [first])
        params = pane.parameters
        await wait_for(pilot, lambda: "left" in params.shown, "its parameters")
        await pilot.press("t")
        form = app.screen
        assert isinstance(form, TellModuleForm)
        await pilot.press(*'add {"seconds": 1000}', "enter")
        await wait_for(pilot, lambda: form.answered, "the module answers")
        answer = form.query_one("#answer", Static)
        assert isinstance(form.answer, dict) and form.answer["left"] > 1000
        assert '"left"' in str(answer.render()) and answer.display
        await wait_for(pilot, lambda: int(params.shown["left"]) > 1000, "left seen live")
        await pilot.press("escape")
        # The last command comes back for the next tell; the module refuses one it lacks.
        await pilot.press("t")
        form = app.screen
        assert isinstance(form, TellModuleForm)
        line = form.query_one("#field", Input)
        assert line.value == 'add {"seconds": 1000}' and line.selected_text == line.value
        await pilot.press(*"explode", "ctrl+s")  # typing replaces the line remembered
        await wait_for(pilot, lambda: any(n.severity == "error" for n in notices), "refused")
        error = next(n for n in notices if n.severity == "error")
        # In shmooze's module helper's words.
        assert error.message.endswith("Unrecognized command")
        assert error.title == f"Tell #{first} explode"
        assert app.screen is form and form.query_one("#answer").has_class("-error")


async def test_move_up_down_and_to_front_reorder_the_agent_queue_and_the_play_mark_follows(
    app: OpsConsoleApp,
) -> None:
    async with app.run_test(size=SIZE) as pilot:
        client = await connected(pilot, app)
        a, b, c = await countdowns(client, "a", "b", "c")
        pane = await show_modules(pilot, app, [a, b, c])
        queue = pane.lists["queue"]

        async def agent_order() -> list[int]:
            return [module.uid for module in (await client.queue.snapshot()).modules]

        await select(pilot, queue, c)
        await pilot.press("K")
        assert queue.order == [a, c, b]  # shown at once, before the agent answers
        for _ in range(MAX_POLLS):
            if await agent_order() == [a, c, b]:
                break
            await pilot.pause(POLL)
        assert await agent_order() == [a, c, b]
        await pilot.press("shift+up")  # to the top: it plays now
        await wait_for(pilot, lambda: playing(queue) == [c], "▶ moves to c")
        assert await agent_order() == [c, a, b]
        await pilot.press("J", "J")  # two fast presses: each sees the order the last made
        await wait_for(pilot, lambda: playing(queue) == [a], "▶ back to a")
        await wait_for(pilot, lambda: queue.order == [a, b, c], "c at the bottom")
        assert await agent_order() == [a, b, c]
        assert queue.selected is not None and queue.selected.uid == c  # the cursor follows it
        await pilot.press("m")
        await wait_for(pilot, lambda: playing(queue) == [c], "m: c plays")
        assert await agent_order() == [c, a, b]
        assert str(queue.table.get_cell(str(c), "play")) == "▶"
        assert str(queue.table.get_cell(str(a), "play")).strip() == ""


async def test_remove_and_replacing_the_background_ask_first(app: OpsConsoleApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        notices = record_notifications(app)
        client = await connected(pilot, app)
        a, b = await countdowns(client, "a", "b")
        old = await client.queue.set_background("idle", {})
        pane = await show_modules(pilot, app, [a, b])
        queue = pane.lists["queue"]
        await select(pilot, queue, b)
        await pilot.press("ctrl+d")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmDialog), "the answer")
        assert queue.order == [a, b]
        await pilot.press("delete")  # the dialog comes a message later: y waits for it
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), "asked again")
        await pilot.press("y")
        await wait_for(pilot, lambda: queue.order == [a], "b is removed")
        await wait_for(pilot, lambda: any("removed" in n.message for n in notices), "said")
        # A background is there: b asks before replacing it.
        await pilot.press("b")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        form = app.screen
        assert isinstance(form, AddModuleForm) and form.background
        await wait_for(pilot, lambda: form.types == ["fixed", "idle"], "background types")
        await pilot.press(*'{"state": "standby"}', "enter")
        await wait_for(pilot, lambda: app.screen is not form, "the form closes")
        await wait_for(
            pilot,
            lambda: queue.snapshot.background and queue.snapshot.background.uid != old,
            "the new background",
        )
        background = queue.snapshot.background
        assert background is not None and background.type == "fixed"
        assert (await client.queue.snapshot()).background.uid == background.uid  # type: ignore[union-attr]
        assert not [n for n in notices if n.severity == "error"]
