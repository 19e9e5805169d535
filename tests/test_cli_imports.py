"""The command line starts fast: a command imports nothing heavy that it does not use."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.conftest import AgentProcess

NEVER_FOR_HTTP_CLIENTS = ("asyncssh", "textual", "rich", "click", "trio", "websockets")
"""Packages a client command on an http(s) agent never needs (SSH, the TUI, httpx's CLI,
httpcore's trio backend, WebSockets for a command that opens none)."""

NEVER_IN_ANY_CLIENT = ("uvicorn", "starlette", "console.agent", "console.tui")
"""The agent and the TUI: a client command talks to an agent, it never is one."""

PROBE = """
import json, sys
from console.cli import main
status = main(sys.argv[1:])
loaded = sorted(name for name, module in sys.modules.items() if module is not None)
print("\\nPROBE " + json.dumps({"status": status, "modules": loaded}))
"""


def run_probed(*args: str) -> tuple[int, set[str], str]:
    """``opsconsole ARGS`` in a fresh interpreter: exit status, modules loaded, stdout."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60
    )
    output, _, probe = result.stdout.rpartition("\nPROBE ")
    assert probe, result.stderr
    report = json.loads(probe)
    return report["status"], set(report["modules"]), output


def loaded_packages(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in modules)]


@pytest.fixture
def quiet_agent(agent_factory: Callable[..., AgentProcess]) -> AgentProcess:
    return agent_factory()


ASYNC_STACK = ("asyncio", "httpx", "httpcore", "anyio", "h11", "console.adapters.agent")
"""What a one-shot command (one request, answered, exit) does without: it speaks through
``console.adapters.oneshot`` (the standard library's http.client)."""

CLIENT_SIDE_EXTRAS = ("logging", "ctypes", "console.output.budget", "console.demo")
"""Loaded by other commands' code paths (ssh's logging, the agent's settings), never by ps."""


@pytest.mark.parametrize(
    "command", [("ps", "--json"), ("ps",), ("scripts", "list", "--json")], ids=" ".join
)
def test_a_client_command_on_an_http_agent_imports_nothing_heavy(
    quiet_agent: AgentProcess, command: tuple[str, ...]
) -> None:
    status, modules, output = run_probed(*command, "--agent", quiet_agent.url)
    assert status == 0
    assert output.strip(), "it answered"
    assert loaded_packages(modules, NEVER_FOR_HTTP_CLIENTS) == []
    assert loaded_packages(modules, NEVER_IN_ANY_CLIENT) == []


@pytest.mark.parametrize("command", [("ps", "--json"), ("ps",)], ids=" ".join)
def test_ps_is_one_shot_without_the_async_stack(
    quiet_agent: AgentProcess, command: tuple[str, ...]
) -> None:
    status, modules, output = run_probed(*command, "--agent", quiet_agent.url)
    assert status == 0 and output.strip()
    assert loaded_packages(modules, ASYNC_STACK) == []
    assert loaded_packages(modules, CLIENT_SIDE_EXTRAS) == []
    assert "console.adapters.oneshot" in modules, "the probe sees what the command loaded"


def test_other_commands_still_use_the_async_client(quiet_agent: AgentProcess) -> None:
    status, modules, _ = run_probed("scripts", "list", "--json", "--agent", quiet_agent.url)
    assert status == 0
    assert {"httpx", "asyncio", "console.adapters.agent"} <= modules


def test_the_ps_listing_is_whole_without_those_imports(quiet_agent: AgentProcess) -> None:
    status, _, output = run_probed("ps", "--json", "--agent", quiet_agent.url)
    assert status == 0
    assert json.loads(output) == {"processes": []}


def test_the_ssh_command_still_gets_asyncssh() -> None:
    # The lazy import moved, it did not go away: a bad host fails inside asyncssh's parsing.
    status, modules, _ = run_probed("ssh", "check", "user@[not-a-host", "--", "true")
    assert status != 0
    assert "asyncssh" in modules


def imported_by(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``statement``."""
    probe = (
        f"import json, sys; {statement}; "
        "print(json.dumps(sorted(n for n, m in sys.modules.items() if m is not None)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


FIRST_PAINT = "import console.cli, console.tui.app"
"""What the console imports before its first paint (``opsconsole demo``)."""


def test_the_console_paints_before_it_imports_the_network_stack() -> None:
    # The first paint waits for the app's imports; the adapters' HTTP and WebSocket clients
    # are needed only once an agent is reached, after it (``opsconsole bench startup``).
    modules = imported_by(FIRST_PAINT)
    network = ("httpx", "httpcore", "aiohttp", "websockets", "asyncssh", "psutil")
    assert loaded_packages(modules, network) == []


HIDDEN_PANES = ("console.tui.processes", "console.tui.modules", "console.tui.inbox")
"""The panes built just after the first paint (``console.tui.panes``); the Hosts pane's
package holds its pane, which comes then too."""


def test_the_console_paints_before_it_imports_its_hidden_panes() -> None:
    modules = imported_by(FIRST_PAINT)
    assert loaded_packages(modules, HIDDEN_PANES) == []
    assert "console.tui.hosts.pane" not in modules
    assert {"console.tui.app", "console.tui.scripts.pane"} <= modules, "the probe sees them"
    # Built, they are imported: the lazy import moved, it did not go away.
    built = imported_by(
        "from console.tui.panes import HIDDEN_PANES, build_hidden_pane; "
        "[build_hidden_pane(pane, {}, None) for pane in HIDDEN_PANES]"
    )
    assert set(loaded_packages(built, HIDDEN_PANES)) == set(HIDDEN_PANES)
    assert "console.tui.hosts.pane" in built


def test_the_models_the_first_paint_needs_are_the_only_ones_imported() -> None:
    modules = imported_by(FIRST_PAINT)
    domains = {m for m in modules if m.startswith("console.models.")}
    assert domains == {"console.models.common", "console.models.messages", "console.models.scripts"}


def test_every_model_name_comes_from_its_domain_module() -> None:
    # The package's names come on first use (PEP 562): each one resolves, to its module's.
    import importlib

    import console.models

    for name in console.models.__all__:
        value = getattr(console.models, name)
        module = importlib.import_module(f"console.models.{console.models._MODULE_OF[name]}")
        assert value is getattr(module, name)
    assert set(console.models.__all__) == set(console.models._MODULE_OF)
    with pytest.raises(AttributeError):
        _ = console.models.NoSuchModel


NEVER_FOR_ONE_SHOT = ("aiohttp", "httpx", "websockets", "asyncssh")
"""The async clients a one-shot inbox command does without (aiohttp alone cost ~135 ms)."""


def test_inbox_commands_are_one_shot_without_the_async_stack(quiet_agent: AgentProcess) -> None:
    agent = ("--agent", quiet_agent.url)

    def probed(*command: str) -> str:
        status, modules, output = run_probed("inbox", *command, *agent)
        assert status == 0, (command, output)
        assert loaded_packages(modules, NEVER_FOR_ONE_SHOT) == [], command
        assert loaded_packages(modules, ASYNC_STACK) == [], command
        assert loaded_packages(modules, NEVER_IN_ANY_CLIENT) == [], command
        assert "console.adapters.oneshot" in modules, command
        return output

    pushed = json.loads(probed("push", "elsewhere", "not mine", "--json"))
    node = json.loads(probed("list", "--json"))[0]["node_source"]  # the agent's own node
    mine = json.loads(probed("push", node, '{"n": 1}', "--json-payload", "--json"))
    assert mine["payload"] == {"n": 1} and mine["status"] == "pending"
    assert [line.split()[0] for line in probed("list").splitlines()[1:]] == [
        mine["id"][:8],
        pushed["id"][:8],
    ]
    pulled = json.loads(probed("pull", "--json"))
    assert (pulled["id"], pulled["status"], pulled["tries"]) == (mine["id"], "processing", 1)
    assert json.loads(probed("ack", pulled["id"], "--json"))["status"] == "processed"
    assert probed("pull", "--json").strip() == "null"
