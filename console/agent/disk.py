"""Telling a full disk apart from other write failures, and saying which disk it is.

A write that fails because the disk is full (``ENOSPC``, ``EDQUOT``, SQLite's
``database or disk is full``) is told apart by :func:`is_disk_full` and described
by :func:`describe_full_disk`, naming the mount point and the path, so an
operator knows what to clean. The routes answer it 507 (Insufficient Storage)
through the one error-answer helper.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is a write refused for want of space."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
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


class SpaceReserve:
    """A file of ``size`` bytes kept in the data dir, given up when the disk is full.

    SQLite needs a few free pages even to delete (its write-ahead log grows
    first), so on a full disk a delete would fail like any write and space could
    never be freed through the API. :meth:`retrying` runs a delete, and if the
    disk refuses it, removes the reserve and runs it again.
    """

    def __init__(self, path: Path, size: int = 2 << 20) -> None:
        self.path = path
        self.size = size

    def ensure(self) -> bool:
        """Put the reserve back if the disk has room for it; whether it is there now."""
        try:
            if self.path.exists() and self.path.stat().st_size >= self.size:
                return True
            with self.path.open("wb") as out:
                out.write(b"\0" * self.size)  # written, not sparse: the space is really taken
                out.flush()
                os.fsync(out.fileno())
            return True
        except OSError:
            self.path.unlink(missing_ok=True)
            return False

    def retrying(self, call: Callable[[], T]) -> T:
        """``call()``; if the disk is full, again after giving up the reserve."""
        try:
            return call()
        except Exception as exc:
            self._give_up_for(exc)
        result = call()
        self.ensure()
        return result

    async def retrying_async(self, call: Callable[[], Awaitable[T]]) -> T:
        """:meth:`retrying` for a coroutine function (the inbox store's calls)."""
        try:
            return await call()
        except Exception as exc:
            self._give_up_for(exc)
        result = await call()
        await asyncio.to_thread(self.ensure)  # writes and fsyncs the reserve: off the loop
        return result

    def _give_up_for(self, error: Exception) -> None:
        """Remove the reserve if ``error`` is a full disk and there is one; else re-raise it."""
        if not is_disk_full(error) or not self.path.exists():
            raise error
        self.path.unlink(missing_ok=True)
