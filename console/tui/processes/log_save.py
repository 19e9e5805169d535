"""Saving an open log's kept lines to a new file, the path asked first (``s`` in the log)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.tui.processes.log_panel import ProcessLogPanel


def ask_and_save(panel: ProcessLogPanel) -> None:
    """Ask where (a dated name in the current folder by default), then save there; the
    outcome is said in a toast."""
    from console.tui.kit.prompt_dialog import PromptDialog

    slug = panel.slug or "log"
    default = f"./{slug}-{datetime.now():%Y%m%d-%H%M%S}.log"
    prompt = f"Save the {panel.view.kept:,} lines kept to:"

    def answered(path: str | None) -> None:
        if path:
            panel.run_worker(
                _save(panel, Path(path).expanduser()), group="save", exit_on_error=False
            )

    panel.app.push_screen(PromptDialog(prompt, default, title=f"Save log of {slug}"), answered)


async def _save(panel: ProcessLogPanel, path: Path) -> None:
    view = panel.view
    view.flush()
    lines = view.text_lines
    try:
        where = await asyncio.to_thread(_write_new, path, lines)
    except OSError as exc:
        reason = "it exists already" if isinstance(exc, FileExistsError) else exc.strerror
        panel.notify(f"{path}: {reason or exc}", title="Log not saved", severity="error")
        return
    panel.notify(f"{len(lines):,} lines in {where}", title="Log saved")


def _write_new(path: Path, lines: list[str]) -> Path:
    """Write the lines to a new file; where it is, in full. Raises OSError
    (FileExistsError: never overwrite a file the operator may want)."""
    with path.open("x", encoding="utf-8") as out:
        out.writelines(f"{line}\n" for line in lines)
    return path.resolve()
