"""Runs inside the scirocco-pyclient 2.0.2 environment: every client method against the agent.

``python scirocco_client.py URL TOKEN`` prints one JSON object: for each step, what the real
client returned (metadata as it read it from the headers, the payload as it decoded it) or
the name of the exception it raised. The test in ``test_scirocco.py`` judges the result.
"""

import base64
import datetime
import json
import sys
import time

from sciroccoclient.exceptions import SciroccoHTTPDAOError
from sciroccoclient.httpclient import HTTPClient
from sciroccoclient.messages import SciroccoMessage


def seen(response):
    """What the client made of an answer: its metadata fields and its payload."""
    if response is None:
        return None
    payload = response.payload
    if isinstance(payload, bytes):
        payload = {"bytes_b64": base64.b64encode(payload).decode()}
    metadata = {name.lstrip("_"): value for name, value in vars(response.metadata).items()}
    return {"metadata": metadata, "payload": payload}


def message(destination, payload, payload_type=None, scheduled=None):
    built = SciroccoMessage()
    built.node_destination = destination
    built.payload = payload
    if payload_type:
        built.payload_type = payload_type
    if scheduled is not None:
        built.scheduled_time = scheduled
    return built


def attempt(call, *args):
    try:
        return {"ok": seen(call(*args))}
    except SciroccoHTTPDAOError as exc:
        return {"raised": "SciroccoHTTPDAOError", "message": str(exc)}


def main(url, token):
    me, other = "af123", "09af1"
    client = HTTPClient(url, me, token)
    receiver = HTTPClient(url, other, token)
    blob = bytes(range(256)) * 4
    steps = {}
    steps["push_dict"] = attempt(client.push, message(other, {"name": "test"}))
    steps["push_str"] = attempt(client.push, message(other, "plain words"))
    steps["push_bytes"] = attempt(client.push, message(other, blob))
    steps["push_custom_type"] = attempt(client.push, message(other, blob, "application/pdf"))
    now = datetime.datetime.utcnow()
    steps["push_past"] = attempt(
        client.push, message(other, "late", scheduled=now - datetime.timedelta(seconds=1120))
    )
    steps["push_too_big"] = attempt(client.push, message(other, b"\0" * 1100000))
    steps["pulls"] = [attempt(receiver.pull) for _ in range(4)]
    steps["pull_empty"] = attempt(receiver.pull)
    first_id = steps["pulls"][0]["ok"]["metadata"]["id"]
    steps["ack"] = attempt(receiver.ack, first_id)
    steps["ack_again"] = attempt(receiver.ack, first_id)
    pushed = client.push(message(other, {"v": 1}))
    steps["get"] = attempt(client.get, pushed.metadata.id)
    steps["update_one"] = attempt(client.update_one, pushed.metadata.id, blob)
    steps["get_after_update"] = attempt(client.get, pushed.metadata.id)
    steps["get_all"] = [seen(m) for m in client.get_all() or []]
    steps["delete_one"] = attempt(client.delete_one, pushed.metadata.id)
    steps["delete_one_again"] = attempt(client.delete_one, pushed.metadata.id)
    steps["push_soon"] = attempt(
        client.push, message(other, "soon", scheduled=now + datetime.timedelta(seconds=1))
    )
    steps["pull_before_due"] = attempt(receiver.pull)
    deadline = time.monotonic() + 20
    due = None
    while due is None and time.monotonic() < deadline:
        due = receiver.pull()
        time.sleep(0.1)
    steps["pull_when_due"] = seen(due)
    client.push(message(other, "left"))
    steps["delete_all"] = attempt(client.delete_all)
    steps["pull_after_delete_all"] = attempt(receiver.pull)
    print(json.dumps(steps))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
