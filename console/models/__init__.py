"""Plain data types shared by the agent, the adapters and the console, one module per domain.

Each type that crosses the wire knows its own JSON shape (``to_wire`` /
``from_wire``), so the agent that writes it and the adapter that reads it
cannot drift apart.
"""

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
