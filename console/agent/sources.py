"""Application sources: fetch an archive or take a folder, unpack it safely.

Unpacking refuses absolute paths, ``..``, links that point outside, devices
and archives that expand past a size limit; a refused archive writes nothing
outside its own folder, and the error says which member was refused and why.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

import httpx

from console.agent.disk import describe_full_disk, is_disk_full

MAX_DOWNLOAD = 256 << 20
MAX_UNPACKED = 1 << 30
MAX_MEMBERS = 20_000


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


DEFAULT_LIMITS = Limits()


def local_path(source_url: str) -> Path | None:
    """The local file or folder a ``file://`` URL or plain path names; None for remote URLs."""
    parsed = urlparse(source_url)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" and source_url.startswith("/"):
        return Path(source_url)
    return None


async def download(url: str, target: Path, http: httpx.AsyncClient, limits: Limits) -> str:
    """Fetch ``url`` into ``target``; the answer's content type, for telling zip from tar."""
    if urlparse(url).scheme not in ("http", "https"):
        raise SourceError("download failure", f"unsupported source URL {url!r}")
    try:
        async with http.stream("GET", url, follow_redirects=True) as response:
            if response.status_code != 200:
                raise SourceError("download failure", f"GET {url}: HTTP {response.status_code}")
            received = 0
            with target.open("wb") as out:
                async for chunk in response.aiter_bytes():
                    received += len(chunk)
                    if received > limits.download:
                        raise SourceError(
                            "download failure", f"{url} is larger than {limits.download} bytes"
                        )
                    out.write(chunk)
            return response.headers.get("content-type", "")
    except httpx.HTTPError as exc:
        raise SourceError("download failure", f"GET {url}: {exc or type(exc).__name__}") from None


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
                target.chmod(0o755)


def _unpack_tar(archive: Path, into: Path, limits: Limits) -> None:
    with tarfile.open(archive) as tar:
        total = 0
        members = []
        for member in tar:
            members.append(member)
            if len(members) > limits.members:
                raise _refuse(archive.name, f"has more than {limits.members} members")
            _safe_relative(member.name)
            if member.isdev() or member.isfifo():
                raise _refuse(member.name, "is a device or special file")
            if member.issym() or member.islnk():
                _check_link(member, into)
            total += member.size
            if total > limits.unpacked:
                raise _refuse(member.name, f"expands past {limits.unpacked} bytes")
        try:
            # The stdlib's "data" filter checks again what we checked above, and more.
            tar.extractall(into, members=members, filter="data")
        except tarfile.FilterError as exc:
            raise _refuse(getattr(exc, "tarinfo", tarfile.TarInfo("?")).name, str(exc)) from None


def _check_link(member: tarfile.TarInfo, into: Path) -> None:
    target = PurePosixPath(member.linkname)
    base = PurePosixPath(member.name).parent if member.issym() else PurePosixPath()
    if target.is_absolute():
        raise _refuse(member.name, f"links to the absolute path {member.linkname!r}")
    resolved = (into / base / target).resolve()
    if not resolved.is_relative_to(into.resolve()):
        raise _refuse(member.name, f"links outside the archive ({member.linkname!r})")
