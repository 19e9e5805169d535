"""The startup baseline: a bare Textual app with as many panes as the console, and no work."""

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

PANES = ("Scripts", "Processes", "Modules", "Inbox", "Hosts")


class BareApp(App[None]):
    BINDINGS = [("ctrl+q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent():
            for name in PANES:
                with TabPane(name):
                    yield Static(f"{name} pane")
        yield Footer()


if __name__ == "__main__":
    BareApp().run()
