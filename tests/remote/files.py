"""A module the tests send to a host and call remotely: plain functions on plain data."""

import os


def listdir(path):
    """The names in a folder, sorted."""
    return sorted(os.listdir(path))


def sizes(paths, follow=True):
    """{path: size in bytes} for each path (a list), and how many there were (a tuple)."""
    found = {path: os.stat(path, follow_symlinks=follow).st_size for path in paths}
    return found, (len(found), "files")


def echo(*args, **kwargs):
    """What it was given, as it arrived."""
    print("a print must not reach the replies")
    return {"args": args, "kwargs": kwargs}


def refuse(reason):
    return _deeper(reason)


def _deeper(reason):
    raise ValueError(f"refused: {reason}")


def not_data():
    return {1, 2}


def blob(size):
    """A string of ``size`` characters (a reply far larger than an SSH window)."""
    return "x" * size
