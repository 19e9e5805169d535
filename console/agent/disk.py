"""Telling a full disk apart from other write failures, and saying which disk it is.

A write that fails because the disk is full (``ENOSPC``, ``EDQUOT``, SQLite's
``database or disk is full``) becomes one :class:`DiskFull` whose message names
the mount point and the path, so an operator knows what to clean. The routes
answer it 507 (Insufficient Storage) through the one error-answer helper.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


class DiskFull(OSError):
    """A write refused because the disk holding ``path`` is full."""

    def __init__(self, path: Path, what: str = "") -> None:
        self.path = path
        super().__init__(errno.ENOSPC, describe_full_disk(path, what))

    def __str__(self) -> str:
        return str(self.strerror)


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is a write refused for want of space."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in FULL_ERRNOS:
            return True
        if isinstance(error, sqlite3.Error) and (
            getattr(error, "sqlite_errorcode", None) == 13  # SQLITE_FULL
            or "disk is full" in str(error)
        ):
            return True
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    return False


def mount_point(path: Path) -> Path:
    """The mount point of the file system ``path`` (or its nearest existing parent) is on."""
    current = path.absolute()
    while not current.exists() and current != current.parent:
        current = current.parent
    while not os.path.ismount(current) and current != current.parent:
        current = current.parent
    return current


def describe_full_disk(path: Path, what: str = "") -> str:
    """``the disk at /srv (holding /srv/agent/inbox.db) is full (12 KiB free): <what>``."""
    disk = mount_point(path)
    try:
        free = f"{shutil.disk_usage(disk).free // 1024} KiB free"
    except OSError:
        free = "free space unknown"
    doing = f": cannot write {what}" if what else ""
    return f"the disk at {disk} (holding {path}) is full ({free}){doing}"
