"""The message inbox (PROTOCOLS.md §4): messages, their metadata and where it travels."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class MessageStatus(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    PROCESSING = "processing"
    PROCESSED = "processed"
    ERROR = "error"
    """Ours: delivered too many times without an ack."""


JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain"
BINARY_TYPE = "application/octet-stream"

MESSAGE_TIMES = (
    "created_time",
    "update_time",
    "scheduled_time",
    "processing_time",
    "processed_time",
    "error_time",
)
HEADER_PREFIX = "Scirocco-"
LEFT_OUT_HEADER = "Opsconsole-Left-Out"
"""Ours, on a listing cut to the agent's byte budget: how many of the messages asked for were
left out (absent: none)."""


@functools.lru_cache(maxsize=64)
def header_name(field_name: str) -> str:
    """``node_destination`` → ``Scirocco-Node-Destination``."""
    return HEADER_PREFIX + "-".join(word.title() for word in field_name.split("_"))


def iso_time(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def parse_time(text: str | float | None) -> float | None:
    """An ISO 8601 time (a naive one is taken as UTC) or epoch seconds, as epoch seconds."""
    if text is None or text == "":
        return None
    if isinstance(text, int | float):
        return float(text)
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass(frozen=True)
class DeliveryPolicy:
    visibility_timeout: float = 300.0
    """Seconds a pulled message may stay unacked before it is delivered again."""
    max_tries: int = 5
    """Deliveries after which an unacked message goes to ``error``."""


@dataclass(frozen=True)
class Message:
    """One message of the inbox, with its metadata and its payload bytes as pushed."""

    id: str
    node_source: str
    node_destination: str
    status: MessageStatus
    payload: bytes
    payload_type: str = JSON_TYPE
    topic: str | None = None
    created_time: float = 0.0
    update_time: float = 0.0
    scheduled_time: float | None = None
    processing_time: float | None = None
    processed_time: float | None = None
    error_time: float | None = None
    tries: int = 0
    accepted_by: str | None = None
    """Ours: the name of the agent that took the push (many agents may share one inbox)."""

    @property
    def content(self) -> Any:
        """The payload as its type means it: parsed JSON, text, or bytes."""
        if self.payload_type == JSON_TYPE:
            try:
                return json.loads(self.payload)
            except (ValueError, RecursionError):  # stored before its JSON was checked
                return self.payload.decode(errors="replace")
        if self.payload_type.startswith("text/"):
            return self.payload.decode(errors="replace")
        return self.payload

    def metadata(self) -> dict[str, Any]:
        """Every field but the payload, typed, times in ISO 8601."""
        return {
            "id": self.id,
            "node_source": self.node_source,
            "node_destination": self.node_destination,
            "status": self.status.value,
            "topic": self.topic,
            "tries": self.tries,
            "payload_type": self.payload_type,
            "accepted_by": self.accepted_by,
            **{name: iso_time(getattr(self, name)) for name in MESSAGE_TIMES},
        }

    def headers(self) -> dict[str, str]:
        """The metadata as Scirocco-* headers: every value a string."""
        return {header_name(k): str(v) for k, v in self.metadata().items() if v is not None}

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], payload: bytes) -> Message:
        def value(name: str) -> str | None:
            return headers.get(header_name(name)) or headers.get(header_name(name).lower())

        times = {name: parse_time(value(name)) for name in MESSAGE_TIMES}
        return cls(
            id=value("id") or "",
            node_source=value("node_source") or "",
            node_destination=value("node_destination") or "",
            status=MessageStatus(value("status") or "pending"),
            payload=payload,
            payload_type=value("payload_type") or BINARY_TYPE,
            topic=value("topic"),
            tries=int(value("tries") or 0),
            accepted_by=value("accepted_by"),
            created_time=times.pop("created_time") or 0.0,
            update_time=times.pop("update_time") or 0.0,
            **times,
        )

    def to_wire(self) -> dict[str, Any]:
        """The JSON listing's object: typed metadata, and the payload (binary as base64)."""
        content = self.content
        if isinstance(content, bytes):
            content = base64.b64encode(content).decode()
        return {**self.metadata(), "payload": content}

    @classmethod
    def from_wire(cls, wire: dict[str, Any], payload: bytes | None = None) -> Message:
        """The message of a JSON listing's object; ``payload``: its bytes when the caller has
        them already (the inbox command channel's answers), and ``wire``'s is not read."""
        payload_type = str(wire.get("payload_type") or JSON_TYPE)
        content = wire.get("payload")
        if payload is not None:
            pass
        elif payload_type == JSON_TYPE:
            payload = json.dumps(content).encode()
        elif payload_type.startswith("text/"):
            payload = str(content or "").encode()
        else:
            payload = base64.b64decode(content or "")
        times = {name: parse_time(wire.get(name)) for name in MESSAGE_TIMES}
        return cls(
            id=str(wire["id"]),
            node_source=str(wire.get("node_source", "")),
            node_destination=str(wire.get("node_destination", "")),
            status=MessageStatus(wire.get("status", "pending")),
            payload=payload,
            payload_type=payload_type,
            topic=wire.get("topic"),
            tries=int(wire.get("tries", 0)),
            accepted_by=wire.get("accepted_by"),
            created_time=times.pop("created_time") or 0.0,
            update_time=times.pop("update_time") or 0.0,
            **times,
        )
