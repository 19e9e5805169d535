"""Checking user/password pairs against an Apache htpasswd file, as Apache does."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path

log = logging.getLogger("console.agent.auth")

BCRYPT_MAX_BYTES = 72
"""bcrypt reads only the first 72 bytes of a password; Apache's htpasswd passes more and
compares those (the ``bcrypt`` library refuses longer ones with ValueError)."""


def _password_for(stored: str, password: str) -> bytes:
    secret = password.encode()
    return secret[:BCRYPT_MAX_BYTES] if stored.startswith("$2") else secret


class Htpasswd:
    """Checks user/password pairs; re-reads the file when it changes on disk.

    Hash checks (bcrypt is slow on purpose) run off the event loop. An unknown
    user costs one hash check too (against a stored hash), so answer times do
    not tell which users exist. A pair already proven against the same stored
    hash is not checked again. A malformed stored hash is a failed check, logged.
    """

    def __init__(self, path: Path) -> None:
        # Imported here: passlib costs the agent's memory several MiB, and only an
        # agent given an htpasswd file needs it.
        from passlib.apache import HtpasswdFile

        self._file = HtpasswdFile(str(path))
        self._proven: set[tuple[str, str, str]] = set()

    async def check(self, user: str, password: str) -> bool:
        self._file.load_if_changed()
        stored = self._file.get_hash(user)
        if stored is None:
            users = self._file.users()
            decoy = self._file.get_hash(users[0]) if users else None
            if decoy is not None:
                await asyncio.to_thread(self._verify, password, decoy)
            return False
        text = stored.decode() if isinstance(stored, bytes) else str(stored)
        key = (user, hashlib.sha256(password.encode()).hexdigest(), text)
        if key in self._proven:
            return True
        if await asyncio.to_thread(self._verify, password, text):
            self._proven.add(key)
            return True
        return False

    def _verify(self, password: str, stored: str | bytes) -> bool:
        text = stored.decode() if isinstance(stored, bytes) else stored
        try:
            return bool(self._file.context.verify(_password_for(text, password), text))
        except (ValueError, TypeError) as exc:
            log.warning("htpasswd: a stored hash cannot be checked: %s", type(exc).__name__)
            return False
