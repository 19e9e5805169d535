"""Sources: safe unpacking of hostile archives, local paths (the Procfile: test_procfile.py)."""

from __future__ import annotations

import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from console.agent.sources import (
    DEFAULT_LIMITS,
    Limits,
    SourceError,
    local_path,
    unpack,
)
from tests.processes_helpers import tar_folder, tar_member, tar_with, write_app, zip_folder

SYM, HARD = tarfile.SYMTYPE, tarfile.LNKTYPE


@pytest.fixture
def box(tmp_path: Path) -> Path:
    """A folder holding the unpack target beside a sentinel folder that must stay empty."""
    box = tmp_path / "box"
    (box / "sentinel").mkdir(parents=True)
    return box


def everything_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def assert_refused(
    archive: Path, box: Path, *words: str, limits: Limits = DEFAULT_LIMITS, kind: str = ""
) -> SourceError:
    """Unpacking fails naming ``words``; nothing lands outside, the target is gone."""
    outside = box.parent
    before = everything_under(outside) - everything_under(box)
    with pytest.raises(SourceError) as caught:
        unpack(archive, box / "target", kind, limits)
    error = caught.value
    assert error.state == "download failure"
    assert "unsafe archive" in error.message
    for word in words:
        assert word in error.message, error.message
    assert everything_under(box) == {"sentinel"}, "the target is removed, the sentinel empty"
    assert everything_under(outside) - everything_under(box) == before, "nothing written outside"
    return error


def zip_with(archive: Path, *members: tuple[str | zipfile.ZipInfo, bytes]) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in members:
            zipped.writestr(name, data)
    return archive


# Sound archives unpack whole.


@pytest.mark.parametrize(
    "pack",
    [zip_folder, tar_folder, lambda f, a: tar_folder(f, a, "w")],
    ids=["zip", "tar.gz", "tar"],
)
def test_a_sound_archive_unpacks_with_modes_and_subfolders(
    tmp_path: Path, box: Path, pack: Callable[[Path, Path], Path]
) -> None:
    app = write_app(tmp_path / "app", {"web": "./run.sh"}, **{"run.sh": "echo hi\n"})
    (app / "run.sh").chmod(0o755)
    (app / "static").mkdir()
    (app / "static" / "a.txt").write_text("a")
    archive = pack(app, tmp_path / "archive")
    unpack(archive, box / "target")
    target = box / "target"
    assert everything_under(target) == {"Procfile", "run.sh", "static", "static/a.txt"}
    assert (target / "static" / "a.txt").read_text() == "a"
    assert (target / "run.sh").stat().st_mode & stat.S_IXUSR
    assert (target / "Procfile").read_text().endswith("\nweb: ./run.sh\n")
    assert everything_under(box / "sentinel") == set()


def test_a_link_inside_the_archive_is_fine(tmp_path: Path, box: Path) -> None:
    archive = tar_with(
        tmp_path / "a.tgz",
        (tar_member("Procfile"), b"web: cat d/link\n"),
        (tar_member("d", tarfile.DIRTYPE), None),
        (tar_member("d/link", SYM, "../Procfile"), None),
        (tar_member("hard", HARD, "Procfile"), None),
    )
    unpack(archive, box / "target")
    assert (box / "target" / "d" / "link").read_text() == "web: cat d/link\n"
    assert (box / "target" / "hard").read_text() == "web: cat d/link\n"


# Hostile tars.


def test_tar_absolute_member(tmp_path: Path, box: Path) -> None:
    evil = str(box / "sentinel" / "evil")
    archive = tar_with(tmp_path / "a.tgz", (tar_member("Procfile"), b"x"), (tar_member(evil), b"x"))
    assert_refused(archive, box, repr(evil), "absolute path")


def test_tar_dotdot_member(tmp_path: Path, box: Path) -> None:
    archive = tar_with(
        tmp_path / "a.tgz", (tar_member("Procfile"), b"x"), (tar_member("../sentinel/evil"), b"x")
    )
    assert_refused(archive, box, "'../sentinel/evil'", "..")


@pytest.mark.parametrize(
    ("members", "named"),
    [
        ([("up", SYM, "../sentinel"), ("up/evil", None, "")], "'up'"),
        ([("deep/up", SYM, "../../sentinel"), ("deep/up/evil", None, "")], "'deep/up'"),
        ([("abs", SYM, "/etc"), ("abs/evil", None, "")], "'abs'"),
        ([("hard", HARD, "../sentinel/x")], "'hard'"),
        ([("hard", HARD, "/etc/passwd")], "'hard'"),
        # Each link alone stays inside; chained on disk they point outside.
        ([("l2", SYM, "."), ("l1", SYM, "l2/../sentinel"), ("l1/evil", None, "")], "'l1'"),
    ],
    ids=[
        "symlink-up",
        "nested-symlink-up",
        "symlink-absolute",
        "hardlink-up",
        "hardlink-abs",
        "chain",
    ],
)
def test_tar_links_pointing_outside(
    tmp_path: Path, box: Path, members: list[tuple[str, bytes | None, str]], named: str
) -> None:
    built = [(tar_member("Procfile"), b"web: x\n")]
    for name, kind, link in members:
        built.append(
            (tar_member(name, kind or tarfile.REGTYPE, link), b"evil" if not kind else None)
        )
    error = assert_refused(tar_with(tmp_path / "a.tgz", *built), box, named)
    assert "link" in error.message
    assert not Path("/etc/evil").exists()


@pytest.mark.parametrize(
    "kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE], ids=["chr", "blk", "fifo"]
)
def test_tar_devices_and_fifos(tmp_path: Path, box: Path, kind: bytes) -> None:
    special = tar_member("special", kind)
    special.devmajor, special.devminor = 1, 3
    archive = tar_with(tmp_path / "a.tgz", (tar_member("Procfile"), b"x"), (special, None))
    assert_refused(archive, box, "'special'", "device or special file")


def test_tar_bomb_past_the_unpacked_limit(tmp_path: Path, box: Path) -> None:
    archive = tar_with(
        tmp_path / "a.tgz", (tar_member("Procfile"), b"x"), (tar_member("zeros"), bytes(8 << 20))
    )
    assert archive.stat().st_size < 100_000, "it compresses to almost nothing"
    assert_refused(archive, box, "'zeros'", "expands past", limits=Limits(unpacked=1 << 20))


def test_tar_with_too_many_members(tmp_path: Path, box: Path) -> None:
    members = [(tar_member(f"f{i}"), b"") for i in range(11)]
    archive = tar_with(tmp_path / "many.tgz", *members)
    assert_refused(archive, box, "many.tgz", "more than 10 members", limits=Limits(members=10))


# Hostile zips.


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../sentinel/evil", ".."),
        ("a/../../sentinel/evil", ".."),
        ("..\\sentinel\\evil", ".."),
        ("/abs/evil", "absolute path"),
        ("C:/evil", "absolute path"),
    ],
    ids=["dotdot", "nested-dotdot", "backslash-dotdot", "absolute", "drive"],
)
def test_zip_member_climbing_out(tmp_path: Path, box: Path, name: str, why: str) -> None:
    archive = zip_with(tmp_path / "a.zip", ("Procfile", b"web: x\n"), (name, b"evil"))
    assert_refused(archive, box, repr(name), why)
    assert not Path("/abs/evil").exists()


def test_zip_symlink_member(tmp_path: Path, box: Path) -> None:
    link = zipfile.ZipInfo("up")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = zip_with(tmp_path / "a.zip", ("Procfile", b"web: x\n"), (link, b"../sentinel"))
    assert_refused(archive, box, "'up'", "symbolic link")


def test_zip_bomb_is_cut_at_the_limit(tmp_path: Path, box: Path) -> None:
    archive = zip_with(tmp_path / "bomb.zip", ("Procfile", b"web: x\n"), ("zeros", bytes(16 << 20)))
    assert archive.stat().st_size < 100_000, "it compresses to almost nothing"
    assert_refused(archive, box, "'zeros'", "expands past 1048576", limits=Limits(unpacked=1 << 20))


def test_zip_with_too_many_members(tmp_path: Path, box: Path) -> None:
    archive = zip_with(tmp_path / "many.zip", *[(f"f{i}", b"") for i in range(11)])
    assert_refused(archive, box, "many.zip", "more than 10 members", limits=Limits(members=10))


def test_not_an_archive(tmp_path: Path, box: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"<html>not an archive</html>")
    with pytest.raises(SourceError, match="not a zip or tar"):
        unpack(junk, box / "target", "text/html")
    with pytest.raises(SourceError, match="broken archive"):
        unpack(junk, box / "target", "application/zip")
    assert everything_under(box) == {"sentinel"}


# Local paths.


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("/srv/app", "/srv/app"),
        ("file:///srv/app.zip", "/srv/app.zip"),
        ("file:///srv/my%20app", "/srv/my app"),
        ("http://example.com/app.zip", None),
        ("relative/app", None),
    ],
)
def test_local_path(url: str, path: str | None) -> None:
    assert local_path(url) == (Path(path) if path else None)


# Links resolved against what the archive puts on disk, not by the file system (CVE-2025-4517).


def path_max_chain(tmp_path: Path) -> Path:
    """A tar whose symlink chain, resolved on disk, is longer than PATH_MAX (CVE-2025-4517).

    ``a/b/.../p/lll`` reads as 17 folders deep but is the unpack target itself on
    disk; so ``escape`` → ``a/.../p/lll/../sentinel`` reads as inside the archive
    and is the sentinel beside the target on disk. The file system's realpath gives
    up on the long chain, so a check by resolved path sees it inside too; a file is
    then written through ``escape``."""
    long_name = "d" * 247
    steps = "abcdefghijklmnop"
    members: list[tuple[tarfile.TarInfo, bytes | None]] = [(tar_member("Procfile"), b"web: x\n")]
    path = ""
    for step in steps:
        members.append((tar_member(f"{path}{long_name}", tarfile.DIRTYPE), None))
        members.append((tar_member(f"{path}{step}", SYM, long_name), None))
        path = f"{path}{long_name}/"
    deep = "/".join(steps) + "/" + "l" * 254
    members.append((tar_member(deep, SYM, "../" * len(steps)), None))
    members.append((tar_member("escape", SYM, f"{deep}/../sentinel"), None))
    members.append((tar_member("escape/evil"), b"written outside"))
    return tar_with(tmp_path / "chain.tar.gz", *members)


def test_a_symlink_chain_longer_than_path_max_is_refused(tmp_path: Path, box: Path) -> None:
    archive = path_max_chain(tmp_path)
    error = assert_refused(archive, box, "link")
    assert "written through" in error.message or "outside" in error.message
    assert not (box / "sentinel" / "evil").exists()


def test_a_symlink_then_a_file_written_through_it_is_refused(tmp_path: Path, box: Path) -> None:
    # The link points inside, so its target alone is fine: writing through it is not.
    archive = tar_with(
        tmp_path / "a.tgz",
        (tar_member("Procfile"), b"web: x\n"),
        (tar_member("sub", tarfile.DIRTYPE), None),
        (tar_member("link", SYM, "sub"), None),
        (tar_member("link/file"), b"through the link"),
    )
    assert_refused(archive, box, "'link/file'", "written through the symbolic link 'link'")


def test_a_file_replacing_a_symlink_is_refused(tmp_path: Path, box: Path) -> None:
    archive = tar_with(
        tmp_path / "a.tgz",
        (tar_member("Procfile"), b"web: x\n"),
        (tar_member("link", SYM, "Procfile"), None),
        (tar_member("link"), b"would land in the Procfile"),
    )
    assert_refused(archive, box, "'link'", "replaces the symbolic link")


def test_a_hard_link_to_a_symlink_is_refused(tmp_path: Path, box: Path) -> None:
    archive = tar_with(
        tmp_path / "a.tgz",
        (tar_member("Procfile"), b"web: x\n"),
        (tar_member("soft", SYM, "Procfile"), None),
        (tar_member("hard", HARD, "soft"), None),
    )
    assert_refused(archive, box, "'hard'", "hard link to the symbolic link")


def test_unpacked_files_are_readable_by_their_owner_only(tmp_path: Path, box: Path) -> None:
    app = write_app(tmp_path / "app", {"web": "./run.sh"}, **{"run.sh": "echo hi\n"})
    (app / "run.sh").chmod(0o755)
    unpack(tar_folder(app, tmp_path / "archive"), box / "target")
    for path in [box / "target", *(box / "target").rglob("*")]:
        assert path.stat().st_mode & 0o077 == 0, f"{path} is open to others"
    assert (box / "target" / "run.sh").stat().st_mode & stat.S_IXUSR
