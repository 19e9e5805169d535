"""How much memory output may take, in bytes: the agent's ``[agent.output]`` settings."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass

from console.output.lines import MAX_LINE


@dataclass(frozen=True)
class OutputBudget:
    """Byte budgets for output held in memory. Each counts the text plus a fixed cost per batch."""

    ring_bytes: int = 1 << 20
    """One process's recent output (its log ring), across its restarts."""
    total_ring_bytes: int = 8 << 20
    """All processes' rings together: with many processes, each keeps its share of this."""
    reader_bytes: int = 4 << 20
    """What one log reader (a WebSocket) may fall behind by; past it, lines are dropped, counted."""
    max_line_bytes: int = MAX_LINE
    """The longest line kept; a longer one is cut into pieces (at a character boundary)."""
    script_output_bytes: int = 4 << 20
    """One script run's output kept for its history and its blocking answer (the last part)."""
    answer_bytes: int = 16 << 20
    """One listing answer (the inbox's ``GET /messages``, a log search's lines): past it, the
    answer stops early and says so (a listing of 10,000 one-megabyte messages would be 13 GB)."""

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1024:
                raise ValueError(f"{name} must be a whole number of bytes, at least 1024")


DEFAULT_BUDGET = OutputBudget()


def _libc_malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


_malloc_trim = _libc_malloc_trim()


def give_back_memory() -> None:
    """Return freed memory to the system (glibc keeps freed heap pages otherwise).

    Output arrives in 64 KiB pieces that the allocator keeps in its heap; after a
    flood is let go (a process deleted, a slow reader gone), RSS falls back only
    when the allocator is asked to hand the free pages back.
    """
    if _malloc_trim is not None:
        _malloc_trim(0)
