"""The end of a process's supervision task: waited for, cancelled when it lingers."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("console.agent.processes")


async def finish(task: asyncio.Task[None], patience: float = 1.0) -> None:
    """Wait for ``task`` to end, cancelling it if it takes longer than ``patience``.

    Cancelling is repeated: on Python 3.11 ``wait_for`` can swallow a cancellation.
    """
    while not task.done():
        await asyncio.wait({task}, timeout=patience)
        task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception:  # it ended the process's supervision: logged, never the deleter's error
        log.exception("process supervision failed")
