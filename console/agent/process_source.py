"""A process's source made ready to run: fetched, unpacked, its Procfile line found."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx

from console.agent.downloads import download
from console.agent.process_spec import ProcessSpec
from console.agent.procfile import ProcfileEntry, ProcfileError, read_procfile_at
from console.agent.sources import Limits, SourceError, local_path, unpack
from console.models import ProcessState


def workdir_of(spec: ProcessSpec, apps_dir: Path) -> Path:
    """Where the process runs: the folder given as its source, else its own under ``apps_dir``."""
    folder = local_path(spec.source_url)
    if folder is not None and folder.is_dir():
        return folder
    return apps_dir / spec.slug


async def prepare_source(
    spec: ProcessSpec,
    workdir: Path,
    http: httpx.AsyncClient,
    limits: Limits,
    say: Callable[[ProcessState], None],
) -> ProcfileEntry:
    """Fetch and unpack the source into ``workdir`` (unless it is the source's own folder),
    then find its Procfile line; ``say`` hears each step's state.

    Raises SourceError (its ``state`` says which failure), OSError when ``workdir``
    cannot be written.
    """
    folder = local_path(spec.source_url)
    if workdir != folder:
        shutil.rmtree(workdir, ignore_errors=True)
        with tempfile.TemporaryDirectory(dir=workdir.parent) as scratch:
            archive = Path(scratch) / "source"
            content_type = ""
            if folder is not None:
                if not folder.is_file():
                    raise SourceError("download failure", f"no such file or folder: {folder}")
                archive = folder
            else:
                say(ProcessState.DOWNLOADING)
                content_type = await download(spec.source_url, archive, http, limits)
            say(ProcessState.UNPACKING)
            await asyncio.to_thread(unpack, archive, workdir, content_type, limits)
    say(ProcessState.PROCESSING)
    try:
        entries = await asyncio.to_thread(read_procfile_at, workdir)
    except ProcfileError as exc:
        raise SourceError("invalid procfile", f"Procfile {exc}") from None
    if entries is None:
        raise SourceError("no procfile", f"no Procfile at the root of {workdir.name}")
    if spec.process_type not in entries:
        known = ", ".join(sorted(entries)) or "none"
        raise SourceError(
            "unknown process type",
            f"the Procfile has no '{spec.process_type}' (it has: {known})",
        )
    return entries[spec.process_type]
