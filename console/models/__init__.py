"""Plain data types shared by the agent, the adapters and the console, one module per domain.

Each type that crosses the wire knows its own JSON shape (``to_wire`` /
``from_wire``), so the agent that writes it and the adapter that reads it
cannot drift apart.

A domain's module is imported when one of its names is first asked for (PEP 562
``__getattr__``), not with the package: the console's first paint needs three of
the six, and each dataclass costs its making (``opsconsole bench startup``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.models.common import AgentEvent, AgentInfo, ConnectionState, Stream
    from console.models.messages import (
        BINARY_TYPE,
        HEADER_PREFIX,
        JSON_TYPE,
        LEFT_OUT_HEADER,
        MESSAGE_TIMES,
        TEXT_TYPE,
        DeliveryPolicy,
        Message,
        MessageStatus,
        header_name,
        iso_time,
        parse_time,
    )
    from console.models.modules import ModuleInfo, ModuleSnapshot
    from console.models.process_details import ProcessDetails, ProcessExit, ProcessUsage
    from console.models.processes import (
        LogBatch,
        LogEvent,
        LogGap,
        LogPartial,
        LogSearchResult,
        ProcessState,
        ProcessStatus,
        RestartPolicy,
    )
    from console.models.scripts import (
        FILTERED,
        HttpMethod,
        OutputMode,
        RunEvent,
        RunFinished,
        RunOutput,
        RunRecord,
        RunResult,
        RunStarted,
        RunWaiting,
        Script,
        ScriptParam,
        run_event_from_wire,
        run_event_to_wire,
    )

_NAMES: dict[str, tuple[str, ...]] = {
    "common": ("AgentEvent", "AgentInfo", "ConnectionState", "Stream"),
    "messages": (
        "BINARY_TYPE",
        "HEADER_PREFIX",
        "JSON_TYPE",
        "LEFT_OUT_HEADER",
        "MESSAGE_TIMES",
        "TEXT_TYPE",
        "DeliveryPolicy",
        "Message",
        "MessageStatus",
        "header_name",
        "iso_time",
        "parse_time",
    ),
    "modules": ("ModuleInfo", "ModuleSnapshot"),
    "process_details": ("ProcessDetails", "ProcessExit", "ProcessUsage"),
    "processes": (
        "LogBatch",
        "LogEvent",
        "LogGap",
        "LogPartial",
        "LogSearchResult",
        "ProcessState",
        "ProcessStatus",
        "RestartPolicy",
    ),
    "scripts": (
        "FILTERED",
        "HttpMethod",
        "OutputMode",
        "RunEvent",
        "RunFinished",
        "RunOutput",
        "RunRecord",
        "RunResult",
        "RunStarted",
        "RunWaiting",
        "Script",
        "ScriptParam",
        "run_event_from_wire",
        "run_event_to_wire",
    ),
}
"""Each domain module's public names, as the package gives them."""

_MODULE_OF = {name: module for module, names in _NAMES.items() for name in names}

__all__ = [
    "BINARY_TYPE",
    "FILTERED",
    "HEADER_PREFIX",
    "JSON_TYPE",
    "LEFT_OUT_HEADER",
    "MESSAGE_TIMES",
    "TEXT_TYPE",
    "AgentEvent",
    "AgentInfo",
    "ConnectionState",
    "DeliveryPolicy",
    "HttpMethod",
    "LogBatch",
    "LogEvent",
    "LogGap",
    "LogPartial",
    "LogSearchResult",
    "Message",
    "MessageStatus",
    "ModuleInfo",
    "ModuleSnapshot",
    "OutputMode",
    "ProcessDetails",
    "ProcessExit",
    "ProcessState",
    "ProcessStatus",
    "ProcessUsage",
    "RestartPolicy",
    "RunEvent",
    "RunFinished",
    "RunOutput",
    "RunRecord",
    "RunResult",
    "RunStarted",
    "RunWaiting",
    "Script",
    "ScriptParam",
    "Stream",
    "header_name",
    "iso_time",
    "parse_time",
    "run_event_from_wire",
    "run_event_to_wire",
]


def __getattr__(name: str) -> Any:
    """``console.models.NAME``: imported from its domain's module on first use, then kept.
    Raises AttributeError for a name no domain module gives."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
