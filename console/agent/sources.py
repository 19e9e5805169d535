"""Application sources: fetch an archive or take a folder, unpack it safely.

Unpacking refuses absolute paths, ``..``, links that point outside, anything
written through a link, devices and archives that expand past a size limit; a
refused archive writes nothing outside its own folder, and the error says which
member was refused and why. Links are checked against the archive's own links
(what will be on disk), never by the file system's resolution, which gives up
silently on chains longer than PATH_MAX (CVE-2025-4517).

Fetching a remote source is ``downloads.py``'s.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from console.agent.credentials import make_tree_private
from console.agent.disk import describe_full_disk, is_disk_full

MAX_DOWNLOAD = 256 << 20
MAX_UNPACKED = 1 << 30
MAX_MEMBERS = 20_000
MAX_LINK_HOPS = 40
"""Links followed to resolve one path, as Linux's own limit (ELOOP) before giving up."""


class SourceError(Exception):
    """The source cannot be used; ``state`` is the process state it leads to."""

    def __init__(self, state: str, message: str) -> None:
        super().__init__(message)
        self.state = state
        self.message = message


@dataclass(frozen=True)
class Limits:
    download: int = MAX_DOWNLOAD
    unpacked: int = MAX_UNPACKED
    members: int = MAX_MEMBERS
    download_seconds: float = 300.0
    """The whole download, redirects included."""
    allow_link_local: bool = False
    """Let downloads reach link-local and cloud-metadata addresses."""


DEFAULT_LIMITS = Limits()


def local_path(source_url: str) -> Path | None:
    """The local file or folder a ``file://`` URL or plain path names; None for remote URLs."""
    parsed = urlsplit(source_url)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" and source_url.startswith("/"):
        return Path(source_url)
    return None


def unpack(
    archive: Path, into: Path, content_type: str = "", limits: Limits = DEFAULT_LIMITS
) -> None:
    """Unpack a zip or (gzip'd) tar into the empty folder ``into``, refusing anything unsafe."""
    into.mkdir(parents=True, exist_ok=True)
    kind = content_type.split(";")[0].strip().lower()
    try:
        if kind == "application/zip" or (kind not in _TAR_TYPES and zipfile.is_zipfile(archive)):
            _unpack_zip(archive, into, limits)
        elif kind in _TAR_TYPES or tarfile.is_tarfile(archive):
            _unpack_tar(archive, into, limits)
        else:
            raise SourceError("download failure", f"not a zip or tar archive ({kind or 'unknown'})")
        make_tree_private(into)
    except SourceError:
        shutil.rmtree(into, ignore_errors=True)
        raise
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        shutil.rmtree(into, ignore_errors=True)
        if is_disk_full(exc):
            raise SourceError("download failure", describe_full_disk(into, "the app")) from None
        raise SourceError("download failure", f"broken archive: {exc}") from None


_TAR_TYPES = {"application/x-gtar", "application/x-tar", "application/gzip", "application/x-gzip"}


def _refuse(member: str, why: str) -> SourceError:
    return SourceError("download failure", f"unsafe archive: {member!r} {why}")


def _safe_relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        raise _refuse(name, "has an absolute path")
    if ".." in path.parts:
        raise _refuse(name, "climbs out with '..'")
    return path


def _unpack_zip(archive: Path, into: Path, limits: Limits) -> None:
    with zipfile.ZipFile(archive) as zipped:
        members = zipped.infolist()
        if len(members) > limits.members:
            raise _refuse(archive.name, f"has more than {limits.members} members")
        for info in members:
            _safe_relative(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise _refuse(info.filename, "is a symbolic link")
            # No type bits (zipfile.writestr, some Windows tools) means a plain file.
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise _refuse(info.filename, "is a device or special file")
        written = 0
        for info in members:
            target = into / info.filename
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            # Count what actually comes out, not what the header claims.
            with zipped.open(info) as source, target.open("wb") as out:
                while chunk := source.read(1 << 16):
                    written += len(chunk)
                    if written > limits.unpacked:
                        raise _refuse(info.filename, f"expands past {limits.unpacked} bytes")
                    out.write(chunk)
            if (info.external_attr >> 16) & 0o111:
                target.chmod(0o700)


def _unpack_tar(archive: Path, into: Path, limits: Limits) -> None:
    with tarfile.open(archive) as tar:
        total = 0
        members = []
        links: dict[PurePosixPath, PurePosixPath] = {}
        for member in tar:
            members.append(member)
            if len(members) > limits.members:
                raise _refuse(archive.name, f"has more than {limits.members} members")
            path = PurePosixPath(*_safe_relative(member.name).parts)
            if member.isdev() or member.isfifo():
                raise _refuse(member.name, "is a device or special file")
            _check_not_through_link(member.name, path, links)
            if member.issym() or member.islnk():
                _check_link(member, path, links)
            if member.issym():
                links[path] = PurePosixPath(member.linkname)
            total += member.size
            if total > limits.unpacked:
                raise _refuse(member.name, f"expands past {limits.unpacked} bytes")
        try:
            # The stdlib's "data" filter checks again what we checked above, and more.
            tar.extractall(into, members=members, filter="data")
        except tarfile.FilterError as exc:
            raise _refuse(getattr(exc, "tarinfo", tarfile.TarInfo("?")).name, str(exc)) from None


def _check_not_through_link(
    name: str, path: PurePosixPath, links: dict[PurePosixPath, PurePosixPath]
) -> None:
    """Refuse a member that replaces, or is written through, a symlink earlier in the archive
    (extraction would follow the link on disk, wherever it points)."""
    for ancestor in [path, *path.parents]:
        if ancestor in links:
            why = "replaces" if ancestor == path else "is written through"
            raise _refuse(name, f"{why} the symbolic link {str(ancestor)!r}")


def _check_link(
    member: tarfile.TarInfo, path: PurePosixPath, links: dict[PurePosixPath, PurePosixPath]
) -> None:
    """A link's target, resolved through the archive's earlier symlinks, stays inside."""
    target = PurePosixPath(member.linkname)
    if target.is_absolute() or member.linkname.startswith("\\"):
        raise _refuse(member.name, f"links to the absolute path {member.linkname!r}")
    start = path.parent if member.issym() else PurePosixPath()
    if _resolve(start, target, links, member.name) is None:
        raise _refuse(member.name, f"links outside the archive ({member.linkname!r})")
    if member.islnk() and PurePosixPath(*_safe_relative(member.linkname).parts) in links:
        raise _refuse(member.name, f"is a hard link to the symbolic link {member.linkname!r}")


def _resolve(
    start: PurePosixPath,
    target: PurePosixPath,
    links: dict[PurePosixPath, PurePosixPath],
    name: str,
) -> PurePosixPath | None:
    """``start / target`` resolved lexically and through ``links`` (the archive's symlinks);
    None when it climbs above the archive's root. Too many hops is refused outright."""
    parts = list(start.parts)
    pending = list(target.parts)
    hops = 0
    while pending:
        part = pending.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(part)
        link = links.get(PurePosixPath(*parts))
        if link is not None:
            hops += 1
            if hops > MAX_LINK_HOPS:
                raise _refuse(name, f"resolves through more than {MAX_LINK_HOPS} links")
            if link.is_absolute():
                return None
            parts.pop()
            pending = list(link.parts) + pending
    return PurePosixPath(*parts)
