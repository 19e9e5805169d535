"""What the Hosts pane shows with no host configured: how to add some, with a snippet to copy."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

SNIPPET = """\
  [hosts.web1]
  address = "deploy@web1.internal:22"
  [hosts.db1]
  address = "db1.internal"
"""


class NoHosts(VerticalScroll):
    """The how-to, scrollable (and so focusable) when the terminal is short."""

    DEFAULT_CSS = """
    NoHosts { padding: 1 2; }
    """

    def __init__(self, config_file: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.config_file = config_file

    def compose(self) -> ComposeResult:
        yield Static(
            Content.assemble(
                ("No hosts configured.", "bold"),
                "\n\nAdd each machine as a [hosts.NAME] table to the console's config file,\n",
                f"{self.config_file} (or the file given with --config),\n",
                "then start the console again:\n\n",
                (SNIPPET, "$text-accent"),
                "\nKeys, the SSH agent, ~/.ssh/config and known_hosts work as they do for ssh.\n",
                "Then: run a shell command on several hosts at once, accept a new host's\n",
                "key, and switch the whole console to the agent on a host (c).",
            )
        )
