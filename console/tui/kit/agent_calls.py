"""Confirm, call, report: how a widget asks the agent for something and says how it went.

Written once for every pane: the question (a ``ConfirmDialog``), the call in a worker so
the keys go on while the agent answers, and a failure told to the app as
``BackendFailed`` (which notifies, and turns the header red when the agent is gone).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from inspect import isawaitable
from typing import Any

from textual.widget import Widget

from console.tui.kit.messages import BackendFailed


class AgentCalls(Widget):
    """A widget that makes calls to agents: ``confirm_call``, ``call``, ``call_now``."""

    def confirm_call(
        self,
        question: str,
        yes_label: str,
        doing: str,
        call: Callable[[], Awaitable[Any]],
        done: Callable[[Any], object] | None = None,
    ) -> None:
        """Ask first; on yes, make the call (``doing`` titles the dialog and any failure)."""
        from console.tui.kit.confirm_dialog import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                self.call(doing, call, done)

        self.app.push_screen(ConfirmDialog(question, title=doing, yes_label=yes_label), answered)

    def call(self, doing: str, *call_and_done: Any) -> None:
        """``call_now`` in a worker: the pane's keys go on while the agent answers."""
        self.run_worker(self.call_now(doing, *call_and_done), group="calls", exit_on_error=False)

    async def call_now(
        self,
        doing: str,
        call: Callable[[], Awaitable[Any]],
        done: Callable[[Any], object] | None = None,
    ) -> bool:
        """``call``, awaited here; False (after a notification) when it failed."""
        from console.adapters.errors import BackendError

        try:
            answer = await call()
        except BackendError as exc:
            self.post_message(BackendFailed(exc, doing))
            return False
        result = done(answer) if done is not None else None
        if isawaitable(result):
            await result
        return True
