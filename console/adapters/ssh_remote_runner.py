"""The program a remote host runs for remote functions: its source is sent as ``python3 -c``.

Standard library only, and Python 3.6 syntax, since it runs in whatever Python the host has.
It reads a module's source, loads it, then calls the module's functions on request, one at a
time. The wire is one JSON document per line (ASCII: ``ensure_ascii``), in on stdin, out on
the stdout the program had when it started; the module's own prints go to stderr instead.

- in, first: ``{"name": NAME, "source": SOURCE}``; out: ``{"ready": [FUNCTION NAMES]}``, or
  ``{"error": ERROR}`` when the module cannot be loaded (then the program ends);
- in: ``{"function": NAME, "args": [...], "kwargs": {...}}``; out: ``{"result": VALUE}`` or
  ``{"error": ERROR}``, where ERROR is ``{"type": "ValueError", "message": "...",
  "traceback": "Traceback (most recent call last): ..."}``.

Values are JSON data with tuples kept: a tuple travels as ``{"$tuple": [...]}``, and a dict
whose only key is ``$tuple`` or ``$dict`` as ``{"$dict": {...}}`` so that it is not taken for
one. Dict keys must be strings. The console imports ``encode`` and ``decode`` from here, so
both ends share one codec.
"""

import json
import linecache
import os
import sys
import traceback
import types

_RESERVED = ("$tuple", "$dict")


def encode(value):
    """``value`` as plain JSON data; TypeError for anything that is not JSON-able."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"$tuple": [encode(item) for item in value]}
    if isinstance(value, list):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"dict keys must be strings, not {key!r}")
        encoded = {key: encode(item) for key, item in value.items()}
        if len(value) == 1 and next(iter(value)) in _RESERVED:
            return {"$dict": encoded}
        return encoded
    raise TypeError(f"not JSON-able data: {type(value).__name__}")


def decode(value):
    """The inverse of ``encode``, on what ``json.loads`` gives."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        if len(value) == 1 and "$tuple" in value and isinstance(value["$tuple"], list):
            return tuple(decode(item) for item in value["$tuple"])
        if len(value) == 1 and "$dict" in value and isinstance(value["$dict"], dict):
            return {key: decode(item) for key, item in value["$dict"].items()}
        return {key: decode(item) for key, item in value.items()}
    return value


def error_of(exc):
    """An exception as the wire carries it, with this side's traceback."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {"type": type(exc).__name__, "message": str(exc), "traceback": text}


def _load(name, source):
    filename = f"<{name} on {os.uname()[1]}>"
    # Registered so that tracebacks show the module's lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules.setdefault(name, module)  # never in place of a module of the same name
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


def _functions(module):
    return sorted(
        name
        for name, value in vars(module).items()
        if callable(value) and not name.startswith("_") and not isinstance(value, type)
    )


def _answer(request, module):
    function = getattr(module, str(request.get("function")), None)
    name = request.get("function")
    if not callable(function) or str(name).startswith("_"):
        raise AttributeError(f"module {module.__name__!r} has no function {name!r}")
    result = function(*decode(request.get("args", [])), **decode(request.get("kwargs", {})))
    try:
        return {"result": encode(result)}
    except TypeError as exc:
        raise TypeError(f"{name}() returned data that is not JSON-able: {exc}") from None


def serve():
    """Answer requests until stdin ends."""
    replies = os.fdopen(os.dup(1), "w", encoding="ascii")
    os.dup2(2, 1)  # the module's prints: to stderr, never into the replies
    requests = sys.stdin.buffer

    def send(reply):
        replies.write(json.dumps(reply) + "\n")
        replies.flush()

    first = json.loads(requests.readline().decode("utf-8"))
    try:
        module = _load(str(first["name"]), str(first["source"]))
    except BaseException as exc:  # a SyntaxError or SystemExit in the module too
        send({"error": error_of(exc)})
        return
    send({"ready": _functions(module)})
    for line in requests:
        try:
            reply = _answer(json.loads(line.decode("utf-8")), module)
        except Exception as exc:
            reply = {"error": error_of(exc)}
        sys.stdout.flush()
        send(reply)


if __name__ == "__main__":
    serve()
