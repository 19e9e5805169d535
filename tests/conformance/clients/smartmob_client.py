"""Runs inside the smartmob-agent 0.3.0 environment (Python 3.6, aiohttp 0.20.2).

``python smartmob_client.py URL APP_FOLDER`` makes the calls a smartmob-agent client makes,
with the aiohttp of its day, and prints one JSON object of what it saw: statuses, bodies,
the WebSocket frames and how each attach ended. ``test_smartmob.py`` judges it.
"""

import asyncio
import json
import sys

import aiohttp


@asyncio.coroutine
def call(session, method, url, payload=None):
    data = None if payload is None else json.dumps(payload)
    response = yield from session.request(method, url, data=data)
    try:
        body = yield from response.read()
    finally:
        response.close()
    try:
        decoded = json.loads(body.decode("utf-8"))
    except ValueError:
        decoded = body.decode("utf-8", "replace")
    return {"status": response.status, "body": decoded, "headers": dict(response.headers)}


@asyncio.coroutine
def attach(session, url, frames_wanted):
    try:
        ws = yield from session.ws_connect(url)
    except aiohttp.errors.WSServerHandshakeError as exc:
        return {"refused": exc.code}
    frames = []
    try:
        while len(frames) < frames_wanted:
            message = yield from asyncio.wait_for(ws.receive(), 10)
            if message.tp == aiohttp.MsgType.text:
                frames.append(message.data)
            else:
                return {
                    "frames": frames,
                    "ended": aiohttp.MsgType(message.tp).name,
                    "code": ws.close_code,
                }
        return {"frames": frames, "ended": None}
    finally:
        yield from ws.close()


@asyncio.coroutine
def wait_state(session, url, states):
    for _ in range(200):
        seen = yield from call(session, "GET", url)
        if seen["body"]["state"] in states:
            return seen
        yield from asyncio.sleep(0.05)
    return seen


@asyncio.coroutine
def main(loop, url, folder):
    session = aiohttp.ClientSession(loop=loop)
    out = {}
    try:
        index = (yield from call(session, "GET", url + "/"))["body"]
        out["index"] = index
        body = {"app": "shop", "node": "web.0", "process_type": "web", "source_url": folder}
        out["create"] = yield from call(session, "POST", index["create"], body)
        out["duplicate"] = yield from call(session, "POST", index["create"], body)
        out["missing"] = yield from call(session, "POST", index["create"], {"app": "x"})
        out["extra_key"] = yield from call(
            session, "POST", index["create"], dict(body, node="web.1", bogus=1)
        )
        details = out["create"]["body"]["details"]
        out["running"] = yield from wait_state(session, details, ("running",))
        out["listing"] = yield from call(session, "GET", index["list"])
        out["attach"] = yield from attach(session, out["create"]["body"]["attach"], 3)
        out["unknown_status"] = yield from call(session, "GET", url + "/process-status/nope")
        out["unknown_delete"] = yield from call(session, "POST", url + "/delete-process/nope")
        out["unknown_attach"] = yield from attach(
            session, url.replace("http", "ws", 1) + "/attach-console/nope", 1
        )
        broken = dict(body, node="broken", source_url="http://127.0.0.1:9/nothing.zip")
        created = (yield from call(session, "POST", index["create"], broken))["body"]
        out["broken"] = yield from wait_state(session, created["details"], ("download failure",))
        out["broken_attach"] = yield from attach(session, created["attach"], 1)
        out["delete"] = yield from call(session, "POST", out["create"]["body"]["delete"])
        out["delete_broken"] = yield from call(session, "POST", created["delete"])
        out["after"] = yield from call(session, "GET", index["list"])
    finally:
        session.close()
    print(json.dumps(out))


if __name__ == "__main__":
    event_loop = asyncio.get_event_loop()
    event_loop.run_until_complete(main(event_loop, sys.argv[1], sys.argv[2]))
