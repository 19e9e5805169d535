"""Runs inside the shmooze 1.2.4 environment (Python 2.7): its HTTP client against an endpoint.

``python shmooze_request.py URL`` calls ``shmooze.lib.bot.request`` (urllib2, text/json)
and prints one JSON object of what each call returned, or the exception it raised.
"""

import json
import sys

from shmooze.lib.bot import request


def attempt(message, endpoint):
    try:
        return request(message, endpoint=endpoint)
    except KeyError as exc:
        return "KeyError: %s" % exc
    except Exception as exc:
        return str(exc)


def main(endpoint):
    seen = {}
    seen["modules_available"] = attempt({"cmd": "modules_available"}, endpoint)
    seen["add"] = attempt({"cmd": "add", "args": {"type": "echo", "args": {"n": 1}}}, endpoint)
    seen["queue"] = attempt({"cmd": "queue"}, endpoint)
    seen["nosuch"] = attempt({"cmd": "nosuch"}, endpoint)
    uid = seen["add"]["uid"] if isinstance(seen["add"], dict) else None
    seen["rm"] = attempt({"cmd": "rm", "args": {"uids": [uid]}}, endpoint)
    too_many = [{"cmd": "add", "args": {"type": "echo", "args": {"n": 2}}}] * 101
    seen["too_many"] = attempt(too_many, endpoint)
    seen["queue_after"] = attempt({"cmd": "queue"}, endpoint)
    print(json.dumps(seen))


if __name__ == "__main__":
    main(sys.argv[1])
