"""The console's scope: one context, or "all" of them at once (a ``Fleet``), chosen by ``:``.

The app knows its contexts (``Contexts``: the first connector, the config's contexts, the
hosts chosen at run time). In "all" scope every pane gets the fleet (``set_fleet``); the
header says how the fleet stands, a summary line under the panes counts agents by state,
fatal processes and alerts waiting (``FleetCounts.line()``), and the tabs carry the
fleet's sums. Back on one context the panes get ``set_fleet(None)`` and that context's
client. The one-context client stays connected while the scope is "all" (a spawned local
agent lives as long as the console), so going back to it is immediate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING

from textual import work
from textual.app import SystemCommand
from textual.widgets import Static

from console.models import ConnectionState
from console.tui.contexts import CLOSE_BOUND, Contexts, SharedConnector
from console.tui.kit.connection_indicator import ConnectionIndicator
from console.tui.kit.keys import KeyKeeper
from console.tui.kit.scope_picker import ALL, ScopeEntry, ScopePicker

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.connect import AgentConnector
    from console.adapters.fleet import Fleet, FleetCounts
    from console.models import AgentInfo
    from console.tui.kit.pane import Pane

MoreContexts = Callable[[], tuple[Mapping[str, "AgentConnector"], list[str]]]
"""Makes the config's contexts' connectors when first needed: (connectors, problems)."""

SUMMARY_ID = "fleet-summary"


class FleetScope(KeyKeeper):
    """An app with contexts and a scope; the app proper supplies the panes and one context."""

    def __init__(self, more_contexts: MoreContexts | None = None) -> None:
        super().__init__()
        self.contexts = Contexts()
        self.fleet: Fleet | None = None
        """Every context at once while the scope is "all"; None on one context."""
        self._more_contexts = more_contexts
        self.connection_state = ConnectionState.CONNECTING
        self.connector: SharedConnector

    # What the app proper gives.
    client: AgentClient | None
    agent_info: AgentInfo | None

    @property
    def panes(self) -> dict[str, Pane]:
        raise NotImplementedError

    def connect_agent(self, connector: SharedConnector | None = None) -> object:
        raise NotImplementedError

    def label_tab(self, pane: str, count: int) -> None:
        raise NotImplementedError

    def refocus(self) -> None:
        """The keys to the pane shown: a scope change replaced the view that had them."""
        raise NotImplementedError

    # -- the contexts ---------------------------------------------------------------------

    def known_contexts(self) -> Contexts:
        """Every context, the config's made on first use (a bad one is said and left out)."""
        if self._more_contexts is not None:
            more, self._more_contexts = self._more_contexts, None
            connectors, problems = more()
            for name, connector in connectors.items():
                if name != ALL:
                    self.contexts.add(name, connector)
            for problem in problems:
                self.notify(problem, title="Contexts", severity="warning", markup=False)
        return self.contexts

    def scope_entries(self) -> list[ScopeEntry]:
        """The picker's lines: each context with its state, then "all"."""
        fleet = self.fleet
        members = {s.context: s for s in fleet.statuses()} if fleet is not None else {}
        entries = []
        for name in self.known_contexts():
            shared, member = self.contexts[name], members.get(name)
            state = None if member is None else member.state
            if fleet is None and shared is self.connector:
                state = self.connection_state
            # Why an agent is not reached says more than where it is.
            where = shared.description
            if member is not None and member.reason:
                where = member.reason.split("; ")[0]
            current = fleet is None and shared is self.connector
            entries.append(ScopeEntry(name, state, where, current))
        where = f"every context at once ({len(self.contexts)})"
        entries.append(
            ScopeEntry(
                ALL, None if fleet is None else self._fleet_state(), where, fleet is not None
            )
        )
        return entries

    # -- choosing ------------------------------------------------------------------------

    def scope_commands(self) -> Iterator[SystemCommand]:
        """The palette's entries for the scope: the picker, and each context and "all"."""
        yield SystemCommand("Scope: choose", "One context, or all at once (:)", self.action_scope)
        for name in [*self.contexts, ALL]:
            yield SystemCommand(
                f"Scope: {name}",
                "Every context at once" if name == ALL else f"Drive context {name}",
                partial(self.choose_scope, name),
            )

    def action_scope(self) -> None:
        self.push_screen(ScopePicker(self.scope_entries()), self.choose_scope)

    def choose_scope(self, name: str | None) -> None:
        """``ALL``: the fleet of every context; a context's name: that one (None: no change)."""
        if name is None:
            return
        if name == ALL:
            if self.fleet is None:  # already "all": ctrl+r reaches every context afresh
                self.enter_fleet()
        elif name in self.contexts:
            self.leave_fleet_for(self.contexts[name])

    @work(group="scope", exclusive=True, exit_on_error=False)
    async def enter_fleet(self) -> None:
        """Open a fleet over every context and hand it to every pane."""
        from console.adapters.fleet import Fleet

        await self._close_fleet()
        fleet = Fleet(self.known_contexts().connectors())
        await fleet.__aenter__()
        self.fleet = fleet
        self.query_one(f"#{SUMMARY_ID}").display = True
        indicator = self.query_one(ConnectionIndicator)
        indicator.description = "all contexts"
        indicator.url = indicator.node = ""
        for pane in self.panes.values():
            pane.set_fleet(fleet)
        self.call_after_refresh(self.refocus)
        self.refresh_bindings()
        self.follow_counts(fleet)

    @work(group="scope", exclusive=True, exit_on_error=False)
    async def leave_fleet_for(self, shared: SharedConnector) -> None:
        """Back to one context: the panes drop the fleet and follow ``shared``'s agent."""
        was_fleet = self.fleet is not None
        await self._close_fleet()
        if shared is self.connector and was_fleet:
            self._show_one_context()
        elif shared is not self.connector:
            self.connect_agent(shared)

    async def _close_fleet(self) -> None:
        fleet, self.fleet = self.fleet, None
        if fleet is None:
            return
        self.workers.cancel_group(self, "fleet-counts")
        self.query_one(f"#{SUMMARY_ID}").display = False
        for pane in self.panes.values():
            pane.set_fleet(None)
        self.call_after_refresh(self.refocus)
        await fleet.close()
        self.label_tab("processes", 0)
        self.label_tab("inbox", 0)
        self.refresh_bindings()

    def _show_one_context(self) -> None:
        """The one context as it stood when the scope became "all": header, panes."""
        indicator = self.query_one(ConnectionIndicator)
        indicator.description = self.connector.description
        indicator.state = self.connection_state
        if self.agent_info is not None and self.client is not None:
            indicator.url = self.agent_info.url
            indicator.node = self.agent_info.node_id or ""
        for pane in self.panes.values():
            pane.set_client(self.client, self.agent_info)

    async def close_connections(self) -> None:
        """At the console's exit: the fleet and every context closed at once, within
        ``CLOSE_BOUND`` seconds (a spawned agent has its SIGTERM by then and stops its
        children on its own; a tunnel or a dead agent's reconnect never holds the exit)."""
        fleet, self.fleet = self.fleet, None
        closing = [self.contexts.close(), *([fleet.close()] if fleet is not None else [])]
        try:
            async with asyncio.timeout(CLOSE_BOUND):
                failed = await asyncio.gather(*closing, return_exceptions=True)
        except TimeoutError:
            failed = [TimeoutError(f"not closed within {CLOSE_BOUND} s")]
        for error in failed:
            if isinstance(error, BaseException):  # exiting anyway: said in the log only
                self.log.error(f"closing the agent connections failed: {error!r}")

    # -- the summary ---------------------------------------------------------------------

    @work(group="fleet-counts", exclusive=True, exit_on_error=False)
    async def follow_counts(self, fleet: Fleet) -> None:
        """The summary line, the header and the tab counts, as the fleet changes."""
        async for counts in fleet.watch_counts():
            if fleet is not self.fleet:
                return
            self.show_counts(counts)

    def show_counts(self, counts: FleetCounts) -> None:
        fleet = self.fleet
        self.query_one(f"#{SUMMARY_ID}", Static).update(counts.line(self._local_agents(fleet)))
        indicator = self.query_one(ConnectionIndicator)
        indicator.state = self._fleet_state(counts)
        offline = (
            [s.context for s in fleet.statuses() if s.state is ConnectionState.OFFLINE]
            if fleet
            else []
        )
        indicator.error = f"offline: {', '.join(offline)}" if offline else ""
        indicator.url = indicator.error or f"{counts.connected} of {counts.agents} up"
        self.label_tab("processes", counts.fatal)
        self.label_tab("inbox", counts.waiting)
        self.query_one("#top-bar").set_class(indicator.state is ConnectionState.OFFLINE, "-offline")

    def _local_agents(self, fleet: Fleet | None) -> int:
        """How many of the fleet's agents are one this console spawned (said apart: "local +
        3 agents", as an operator counts hosts)."""
        from console.adapters.connect import SpawnedAgent

        members = fleet.members.values() if fleet is not None else ()
        return sum(
            isinstance(getattr(member.connector, "inner", None), SpawnedAgent) for member in members
        )

    def _fleet_state(self, counts: FleetCounts | None = None) -> ConnectionState:
        """The header's state for the fleet: connected when every agent is, offline when
        none is, degraded between (connecting while the first attempts run)."""
        if counts is None:
            assert self.fleet is not None
            counts = self.fleet.counts()
        if counts.connected == counts.agents:
            return ConnectionState.CONNECTED
        if counts.connecting and not (counts.connected or counts.degraded):
            return ConnectionState.CONNECTING
        if not (counts.connected or counts.degraded or counts.connecting):
            return ConnectionState.OFFLINE
        return ConnectionState.DEGRADED
