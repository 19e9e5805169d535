"""The scirocco inbox's requests and answers (PROTOCOLS.md §4), apart from any HTTP library.

What the async adapter (``scirocco.SciroccoInbox``, over aiohttp) and the one-shot
command line (``oneshot.OneShotInbox``, over http.client) both send and read: the
headers a request carries, a payload's encoding, and a message read back out of
an answer (metadata in Scirocco-* headers, payload as the body).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import replace
from typing import Any

from console.adapters.endpoint import Endpoint
from console.adapters.errors import AuthError, BackendError
from console.adapters.http_answer import Answer
from console.models import (
    BINARY_TYPE,
    JSON_TYPE,
    LEFT_OUT_HEADER,
    TEXT_TYPE,
    Message,
    MessageStatus,
    header_name,
    iso_time,
)


def encode_payload(content: Any) -> tuple[bytes, str]:
    """A payload and its type: bytes stay bytes, str is text, anything else JSON."""
    if isinstance(content, bytes | bytearray):
        return bytes(content), BINARY_TYPE
    if isinstance(content, str):
        return content.encode(), TEXT_TYPE
    return json.dumps(content).encode(), JSON_TYPE


def inbox_headers(
    endpoint: Endpoint, node_id: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """What every inbox request carries: the inbox's credentials (the inbox token, never Basic)
    and the caller's node id, with ``extra``. Raises AuthError without a token to send,
    BackendError without a node id."""
    authorization = endpoint.inbox_authorization()
    if not authorization:
        raise AuthError("no inbox token: give one (OPSCONSOLE_INBOX_TOKEN) to reach the inbox")
    if not node_id:
        raise BackendError("no node id to act as")
    return {"Authorization": authorization, header_name("node_source"): node_id, **(extra or {})}


def push_request(
    destination: str, content: Any, topic: str | None = None, scheduled_time: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of ``POST /messageQueue`` pushing ``content`` (bytes, text or
    JSON) to ``destination``, scheduled at ``scheduled_time`` (epoch seconds) if given."""
    payload, payload_type = encode_payload(content)
    headers = {header_name("node_destination"): destination, "Content-Type": payload_type}
    if topic:
        headers[header_name("topic")] = topic
    if scheduled_time is not None:
        headers[header_name("status")] = MessageStatus.SCHEDULED.value
        headers[header_name("scheduled_time")] = iso_time(scheduled_time) or ""
    return payload, headers


def list_params(
    status: MessageStatus | None, destination: str | None, limit: int
) -> dict[str, str | int]:
    """The query of ``GET /messages``: newest first, at most ``limit``, narrowed as given."""
    params: dict[str, str | int] = {"limit": limit, "order": "newest"}
    if status is not None:
        params["status"] = status.value
    if destination is not None:
        params["node_destination"] = destination
    return params


def left_out(answer: Answer) -> int:
    """How many messages the agent left out of a listing to keep to its byte budget (the
    ``Opsconsole-Left-Out`` header; 0 when absent, as from scirocco-server, or garbled)."""
    value = answer.headers.get(LEFT_OUT_HEADER, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else 0


def message_from_answer(answer: Answer) -> Message:
    """The message an answer carries (pull, ack, read, push's echo). Raises BackendError when it
    has no id header or its binary payload is not base64."""
    if not answer.headers.get(header_name("id")):
        raise BackendError(f"no {header_name('id')} header in the answer from {answer.url}")
    message = Message.from_headers(answer.headers, answer.content)
    if isinstance(message.content, bytes) and _media_type(answer) == JSON_TYPE:
        # scirocco reads back a binary payload as a JSON string of its base64.
        try:
            encoded = json.loads(answer.content)
            return replace(message, payload=base64.b64decode(encoded, validate=True))
        except (ValueError, TypeError, binascii.Error):
            raise BackendError(f"a binary payload not in base64 from {answer.url}") from None
    return message


def json_array(body: object) -> list[dict[str, Any]]:
    """``body`` when it is a JSON array (of message objects); raises BackendError otherwise."""
    if not isinstance(body, list):
        raise BackendError(f"expected a JSON array, got {str(body)[:80]}")
    return body


def _media_type(answer: Answer) -> str:
    return answer.headers.get("content-type", "").split(";", 1)[0].strip().lower()
