"""What the operator asks of the Modules pane beyond moving modules: add one (or a background),
tell one, remove one.

Each goes through the pane's agent, asks first where something is lost, and makes the
call through the pane's confirm-call-report helper.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.adapters.agent import AgentClient
    from console.adapters.protocols import ModulesBackend
    from console.tui.modules.pane import ModulesPane


def service_backend(client: AgentClient, service: str) -> ModulesBackend:
    """The agent's ``queue`` or ``pool``."""
    return client.queue if service == "queue" else client.pool


def add(pane: ModulesPane, service: str, background: bool = False) -> None:
    """Open the form that adds a module (or the background) to a service; select the new
    one once it is seen."""
    from console.tui.modules.forms import AddModuleForm

    client = pane.connected()
    if client is None:
        return

    def added(uid: str | None) -> None:
        if uid is not None:
            title = "Background set" if background else "Module added"
            _started(pane, service, uid, title)

    backend = service_backend(client, service)
    form = AddModuleForm(backend, background=background, remembered=pane._add_args)
    pane.app.push_screen(form, added)


def set_background(pane: ModulesPane, service: str) -> None:
    """Open the form that sets a service's background; replacing one asks first."""
    from console.tui.kit.confirm_dialog import ConfirmDialog

    old = pane.lists[service].snapshot.background
    if old is None:
        add(pane, service, background=True)
        return
    question = f"Replace the {service}'s background, #{old.uid} {old.type}? It is stopped."

    def answered(yes: bool | None) -> None:
        if yes:
            add(pane, service, background=True)

    dialog = ConfirmDialog(question, title="Set background", yes_label="Replace")
    pane.app.push_screen(dialog, answered)


def _started(pane: ModulesPane, service: str, uid: str, title: str) -> None:
    module_list = pane.lists[service]
    if uid in module_list.modules:
        module_list.move_to(uid)
    else:
        pane._select_when_seen = (service, uid)
    pane.notify(f"#{uid} in the {service}", title=title, timeout=3)
    if not pane.live:
        pane.action_reload()


def tell(pane: ModulesPane) -> None:
    """Open the form that sends the selected module a command."""
    from console.tui.modules.forms import TellModuleForm

    client, selected = pane.connected(), pane.selected
    if client is None or selected is None:
        return
    form = TellModuleForm(
        service_backend(client, pane.service),
        selected,
        background=pane.active.is_background(selected.uid),
        remembered=pane._tells,
    )
    pane.app.push_screen(form)


def remove(pane: ModulesPane) -> None:
    """Remove the selected module, once the operator confirms."""
    client, selected, service = pane.connected(), pane.selected, pane.service
    if client is None or selected is None:
        return
    uid = selected.uid
    name = f"#{uid} {selected.type}"
    question = f"Remove {name} from the {service}? The module is stopped."
    if selected.playing and service == "queue" and not pane.active.is_background(uid):
        question += " It is playing: the next one plays instead."

    def removed(_: object) -> None:
        pane.notify(f"{name} removed", title=f"Remove {name}", timeout=3)
        if not pane.live:
            pane.action_reload()

    remove = partial(service_backend(client, service).remove, uid)
    pane.confirm_call(question, "Remove", f"Remove {name}", remove, removed)
