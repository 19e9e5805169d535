"""An unknown host key, as the Hosts pane shows it on ``K``: the question asked before it is
recorded in known_hosts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.adapters.ssh import Host
    from console.adapters.ssh_keys import OfferedKey


def home_relative(path: Path) -> str:
    """``path`` as ``~/...`` when under the home directory, else as it is."""
    try:
        return f"~/{path.relative_to(Path.home())}"
    except ValueError:
        return str(path)


def key_question(name: str, host: Host, offered: OfferedKey) -> str:
    """What the operator is asked before the key ``host`` offers is trusted from then on."""
    where = home_relative(offered.known_hosts) if offered.known_hosts else "known_hosts"
    replaces = " in place of the key recorded before" if offered.changed else ""
    return (
        f"Accept this key for {name} ({host})?\n\n  {offered}\n\n"
        "Compare it with the host's own first (ssh-keygen -lf on the host): "
        f"it is added to {where}{replaces} and trusted from then on."
    )
