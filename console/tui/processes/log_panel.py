"""One process's live log: a header (who, state, following, lines kept), the lines, a search bar.

A search that finds nothing in the lines the view holds goes on in the agent's
whole log (its ring holds more): the view then shows the lines around the hit,
paused on it, as a stretch of history (``n`` / ``N`` go on from there, through
the view and the agent alike); following again (``G``, ``f``) goes back to the
live end.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from console.adapters.fleet_model import FleetProcess
from console.models import LogBatch, LogPartial, LogSearchResult, ProcessState, ProcessStatus
from console.tui.kit.fleet_rows import OFFLINE_WORDS, STALE_LOOK
from console.tui.kit.keys import focus_now
from console.tui.kit.log_search import LogSearch, no_match
from console.tui.kit.log_view import LogView
from console.tui.kit.messages import BackendFailed
from console.tui.kit.screen_turn import ScreenTurn
from console.tui.processes.table import backoff_text, state_style

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from console.adapters.protocols import ProcessesBackend
    from console.tui.kit.pane import Command

BACKLOG = 2000
"""Lines of history a log opens with, before the live ones."""
CONTEXT = 100
"""Lines shown on each side of a match found in the agent's log."""
MAX_ASKS = 20
"""Searches one search may take when each stops at the agent's bound (a very large ring)."""


class ProcessLogPanel(Vertical):
    """Tails one process into a LogView; escape asks the pane to go back to the table."""

    DEFAULT_CSS = """
    ProcessLogPanel {
        height: 1fr;
        LogView { height: 1fr; }
        #search-bar { height: 1; background: $boost; display: none; }
        #search-bar.-open { display: block; }
        #search { width: 1fr; }
        #search-count { width: auto; padding: 0 1; color: $text-muted; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", tooltip="search the log, past the lines kept; n / N"),
        Binding("s", "save", "Save", tooltip="save the lines kept to a file"),
        Binding("escape", "back", "Back", tooltip="leave the search, or go back to the table"),
    ]

    status: reactive[ProcessStatus | None] = reactive(None, init=False)
    stale: reactive[bool] = reactive(False, init=False)
    """True while the process's agent is unreachable: its status is the last one seen."""
    history: reactive[bool] = reactive(False, init=False)
    """True while the view shows lines around a match found in the agent's log, not the end."""

    class Closed(Message):
        """The operator is done with the log (escape)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.next_seq: int | None = None
        """Where the tail got to: re-opening the same process resumes there."""
        self._tail_worker: Worker[None] | None = None
        self._backend: ProcessesBackend | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="log-header", classes="header-line")
        yield LogView(id="log-lines")
        with Horizontal(id="search-bar"):
            yield Input(
                placeholder="search: enter finds the latest match", id="search", compact=True
            )
            yield Static(id="search-count")

    def on_mount(self) -> None:
        view = self.view
        for attribute in ("follow", "wrap", "kept", "held"):
            self.watch(view, attribute, self._update_header, init=False)
        self.watch(view, "follow", self._follow_changed, init=False)
        self._update_header()
        self.set_interval(1.0, self._count_down)

    def _count_down(self) -> None:
        if self.status is not None and self.status.state is ProcessState.BACKOFF:
            self._update_header()  # "restarting in 7s", a second less each time

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)

    @property
    def search_input(self) -> Input:
        return self.query_one("#search", Input)

    @property
    def slug(self) -> str | None:
        return self.status.slug if self.status is not None else None

    @property
    def tailing(self) -> bool:
        """True while lines of the process are coming in (or about to)."""
        worker = self._tail_worker
        return (
            worker is not None
            and worker.state in (WorkerState.PENDING, WorkerState.RUNNING)
            and not worker.is_cancelled
        )

    # -- tailing -----------------------------------------------------------------

    def attach(self, backend: ProcessesBackend, status: ProcessStatus) -> None:
        """Show ``status``'s process: resume where we left it, or start over for another one."""
        resume = status.slug == self.slug and self.next_seq is not None and not self.history
        self.workers.cancel_group(self, "agent-search")
        self.history = False
        if not resume:
            self.view.clear()
            self.view.search = ""
            self.search_input.value = ""
            self.next_seq = None
        self.status, self.stale = status, False
        self._backend = backend
        self._follow_live(backend, status.slug)

    def _follow_live(self, backend: ProcessesBackend, slug: str) -> None:
        view = self.view
        view.searches_beyond = (backend.searchable, False)
        view.follow = True
        self._tail_worker = self._tail(backend, slug)
        self._update_header()

    def detach(self, why: str | None = None) -> None:
        """Stop tailing (the lines stay), and any search of the agent's log; ``why`` is noted
        in the log when given."""
        self.workers.cancel_group(self, "tail")
        self.workers.cancel_group(self, "agent-search")
        if why:
            self.view.note(why)
        self._update_header()

    @work(group="tail", exclusive=True, exit_on_error=False)
    async def _tail(self, backend: ProcessesBackend, slug: str) -> None:
        from console.adapters.errors import BackendError

        view = self.view
        try:
            # The table's status may be old news: its next_seq moves only with its state.
            fresh = await backend.get(slug)
            self.status = fresh
            self.next_seq = self._start_at(fresh.next_seq)
            turn = ScreenTurn()
            async for event in backend.tail(slug, self.next_seq, partial=True):
                await turn.take()  # a backlog arrives without the stream ever waiting
                if isinstance(event, LogBatch):
                    view.add_lines(event.stream, event.lines, event.seq)
                elif isinstance(event, LogPartial):
                    view.set_partial(event.stream, event.text)
                else:
                    view.add_gap(event.count)
                self.next_seq = event.end
        except BackendError as exc:
            view.note(f"log stream failed: {exc.message}")
            self.post_message(BackendFailed(exc, f"Log of {slug}"))
        else:
            view.note(f"{slug} was deleted: no more lines")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self._tail_worker:
            self._update_header()

    def _start_at(self, newest: int) -> int:
        """Where to read from: the recent history, or where we left off if that is recent."""
        recent = max(0, newest - BACKLOG)
        left = self.next_seq
        if left is None:
            return recent
        if left > newest:
            self.view.note("the process was created again: its log starts over")
            return recent
        if left < recent:
            # Not the whole backlog: a resume shows what a first look would, and says so.
            self.view.note(f"… {recent - left:,} lines skipped while the log was closed …")
            return recent
        return left

    # -- header ---------------------------------------------------------------------

    def watch_status(self) -> None:
        self._update_header()

    def watch_stale(self) -> None:
        self._update_header()

    def show_row(self, row: ProcessStatus | FleetProcess) -> None:
        """The process's row as the pane has it now: its status, stale while a fleet row's
        agent is offline."""
        self.status = row.status if isinstance(row, FleetProcess) else row
        self.stale = isinstance(row, FleetProcess) and not row.online

    def _update_header(self, *_: object) -> None:
        if not self.is_mounted:
            return
        view = self.view
        status = self.status
        muted = "$foreground-muted"
        parts: list[Content] = []
        if status is not None and self.stale:
            # Greyed as the agent's rows are: the last state seen, not vouched for.
            words = (status.slug, status.state.value, OFFLINE_WORDS)
            parts.extend(Content.styled(word, STALE_LOOK) for word in words)
        elif status is not None:
            parts.append(Content.styled(status.slug, "bold"))
            parts.append(Content.styled(status.state.value, state_style(status.state)))
            if countdown := backoff_text(status, time.time()):
                parts.append(Content.styled(countdown, "$text-warning"))
        span = view.seq_span
        if self.history and span is not None:
            stretch = f"history: lines {span[0]:,}-{span[1]:,} · G: live"
            parts.append(Content.styled(stretch, "$text-warning"))
        elif not self.tailing:
            parts.append(Content.styled("not attached", "$text-warning"))
        elif view.follow:
            parts.append(Content.styled("following", "$text-success"))
        else:
            held = f" · {view.held:,} new" if view.held else ""
            parts.append(Content.styled(f"paused{held} · G follows", "$text-warning"))
        parts.append(Content.styled(f"{view.kept:,} lines", muted))
        if view.wrap:
            parts.append(Content.styled("wrap", muted))
        self.query_one("#log-header", Static).update(Content("  ").join(parts))

    def commands(self, close: Callable[[], object]) -> Iterator[Command]:
        """The palette's entries for the open log (``close``: back to the table)."""
        view = self.view
        yield ("Log: follow on/off", "Follow new lines or pause (f)", view.action_toggle_follow)
        yield ("Log: wrap on/off", "Wrap long lines (w)", view.action_toggle_wrap)
        yield ("Log: search", "Search the log, past the lines kept (/)", self.action_search)
        yield ("Log: save to a file", "Save the lines kept (s)", self.action_save)
        yield ("Log: clear", "Clear the view (c)", view.action_clear)
        yield ("Log: back to the table", "Close the log (escape)", close)

    # -- search -------------------------------------------------------------------------

    def action_search(self) -> None:
        self.query_one("#search-bar").add_class("-open")
        focus_now(self.search_input)

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.view.search = event.value
        self._count_matches()

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        view = self.view
        focus_now(view)
        if not event.value:
            self.query_one("#search-bar").remove_class("-open")
            return
        view.flush()
        if view.find(forward=False):
            self._count_matches()
        elif view.searches_beyond[False]:
            span = view.seq_span
            self._search_agent(event.value, False, None if span is None else span[0], None)
        else:
            self.notify(no_match(event.value), severity="warning", timeout=2)
            self._count_matches()

    @on(LogSearch.FindBeyond)
    def _find_beyond(self, event: LogSearch.FindBeyond) -> None:
        event.stop()
        self._search_agent(event.text, event.forward, event.edge, event.forward)

    @work(group="agent-search", exclusive=True, exit_on_error=False)
    async def _search_agent(
        self, text: str, forward: bool, edge: int | None, way: bool | None
    ) -> None:
        """Search the agent's log on from ``edge``; show the lines around a hit, or say there
        is no match (``way``: newer, older, or None: at all)."""
        from console.adapters.errors import BackendError

        backend, slug = self._backend, self.slug
        if backend is None or slug is None:
            return
        try:
            for _ in range(MAX_ASKS):
                around = {"after" if forward else "before": edge}
                found = await backend.search_log(slug, text, context=CONTEXT, **around)
                if found.seq is not None or found.complete:
                    break
                edge = found.searched[1] - 1 if forward else found.searched[0]
        except BackendError as exc:
            self.post_message(BackendFailed(exc, f"Search of {slug}'s log"))
            return
        if self.view.search != text or slug != self.slug:
            return  # the operator moved on meanwhile
        if found.seq is None:
            self.notify(no_match(text, way), severity="warning", timeout=2)
            return
        self._show_history(found)

    def _show_history(self, found: LogSearchResult) -> None:
        """Show the lines around an agent hit, paused on it, the live tail stopped meanwhile."""
        assert found.seq is not None
        view = self.view
        self.workers.cancel_group(self, "tail")
        self.history = True
        view.follow = False
        view.clear()
        first = found.lines[0].seq if found.lines else found.seq
        end = found.lines[-1].end if found.lines else found.seq + 1
        if first > found.first_seq:
            view.note(
                f"… {first - found.first_seq:,} older lines in the agent's log: N searches them …"
            )
        for batch in found.lines:
            view.add_lines(batch.stream, batch.lines, batch.seq)
        if end < found.next_seq:
            view.note(f"… {found.next_seq - end:,} newer lines: n searches them, G shows the end …")
        view.searches_beyond = (True, True)
        view.flush()
        view.show_seq(found.seq)
        self._count_matches()
        self._update_header()

    def _follow_changed(self, follow: bool) -> None:
        # Following again from a stretch of history: back to the live end, search kept.
        if follow and self.history and self._backend is not None and self.slug is not None:
            self.history = False
            self.next_seq = None
            self.view.clear()
            self._follow_live(self._backend, self.slug)

    def _count_matches(self) -> None:
        view = self.view
        count = view.count_matches()
        text = "" if not view.search else f"{count:,} line{'s' * (count != 1)}"
        self.query_one("#search-count", Static).update(text)

    def action_back(self) -> None:
        if self.search_input.has_focus:
            if not self.search_input.value:
                self.query_one("#search-bar").remove_class("-open")
            focus_now(self.view)
            return
        self.post_message(self.Closed())

    # -- saving ---------------------------------------------------------------------------

    def action_save(self) -> None:
        from console.tui.processes.log_save import ask_and_save

        ask_and_save(self)
